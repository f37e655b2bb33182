//! Merging appends: while a Ready round is open, entries for a peer whose
//! newest queued message is a contiguous MsgApp are added to that message
//! instead of a new one (`Config::merge_appends`). The peer's in-flight
//! window then counts the messages that really travel.

use super::Raft;
use crate::eraftpb::{Entry, MessageType};
use crate::storage::Storage;

/// The newest queued MsgApp to one peer: its position in `Raft::msgs` and
/// the encoded size of its entries.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OpenAppend {
    pub peer: u64,
    pub pos: usize,
    pub size: u64,
}

impl<S: Storage> Raft<S> {
    /// With merging on, raises the index of the self-acknowledgement queued
    /// last for this Ready to `index` instead of queueing one more: one
    /// acknowledgement of the newest entry stands for all of them (the
    /// progress only moves forward), so a batch of proposals costs one
    /// self-ack step at `advance` instead of one per entry. Returns whether
    /// it did; off (etcd's output), every append queues its own.
    pub(crate) fn extend_self_ack(&mut self, index: u64) -> bool {
        if !self.merge_appends {
            return false;
        }
        let (id, term) = (self.id, self.term);
        match self.msgs_after_append.last_mut() {
            Some(m)
                if m.to == id
                    && m.from == id
                    && m.term == term
                    && !m.reject
                    && m.msg_type() == MessageType::MsgAppResp
                    && m.index <= index =>
            {
                m.index = index;
                true
            }
            _ => false,
        }
    }

    /// Tries to add `ents` (which follow `(prev_index, prev_term)`) to the
    /// queued MsgApp for `to`. Returns the entries back when they cannot be
    /// merged: no queued append, not contiguous, another message to `to`
    /// queued after it, or the size limit.
    pub(crate) fn try_merge_append(
        &mut self,
        to: u64,
        prev_index: u64,
        prev_term: u64,
        ents: Vec<Entry>,
        ents_size: u64,
        commit: u64,
    ) -> Result<(), Vec<Entry>> {
        if !self.merge_appends || ents.is_empty() {
            return Err(ents);
        }
        let Some(k) = self.open_appends.iter().position(|o| o.peer == to) else {
            return Err(ents);
        };
        let open = self.open_appends[k];
        let term = self.term;
        let Some(prev) = self.msgs.get_mut(open.pos) else {
            return Err(ents);
        };
        if prev.to != to || prev.msg_type() != MessageType::MsgApp || prev.term != term {
            return Err(ents);
        }
        let (last_index, last_term) = match prev.entries.last() {
            Some(e) => (e.index, e.term),
            None => (prev.index, prev.log_term),
        };
        let size = open.size.saturating_add(ents_size);
        if last_index != prev_index || last_term != prev_term || size > self.max_msg_size {
            return Err(ents);
        }
        prev.entries.extend(ents);
        prev.commit = prev.commit.max(commit);
        self.open_appends[k].size = size;
        Ok(())
    }

    /// Remembers the MsgApp just queued as the open append to `to`.
    pub(crate) fn note_open_append(&mut self, to: u64, size: u64) {
        if !self.merge_appends {
            return;
        }
        let pos = self.msgs.len().wrapping_sub(1);
        self.open_appends.retain(|o| o.peer != to);
        self.open_appends.push(OpenAppend {
            peer: to,
            pos,
            size,
        });
    }

    /// Takes the queued messages; appends can no longer be merged into them.
    pub(crate) fn take_msgs(&mut self) -> Vec<crate::eraftpb::Message> {
        self.open_appends.clear();
        std::mem::take(&mut self.msgs)
    }
}

#[cfg(test)]
mod tests {
    use crate::eraftpb::{ConfState, MessageType};
    use crate::raft::Raft;
    use crate::{Config, MemoryStorage};

    fn leader(merge: bool, max_size: u64) -> Raft<MemoryStorage> {
        let store = MemoryStorage::new_with_conf_state(ConfState {
            voters: vec![1, 2, 3],
            ..Default::default()
        });
        let c = Config {
            merge_appends: merge,
            max_size_per_msg: max_size,
            logger: std::sync::Arc::new(crate::logger::NullLogger),
            ..Config::new(1)
        };
        let mut r = Raft::new(&c, store).unwrap();
        r.become_candidate();
        r.become_leader();
        for id in [2, 3] {
            let pr = r.prs.progress.get_mut(&id).unwrap();
            pr.matched = 1;
            pr.become_replicate();
        }
        r.take_msgs();
        r
    }

    fn propose(r: &mut Raft<MemoryStorage>, n: usize) {
        for i in 0..n {
            let mut m = crate::eraftpb::Message::with_type(MessageType::MsgProp);
            m.from = 1;
            m.entries
                .push(crate::eraftpb::Entry::new(0, 0, format!("p{i}")));
            r.step(m).unwrap();
        }
    }

    fn apps_to(r: &Raft<MemoryStorage>, to: u64) -> Vec<usize> {
        r.msgs
            .iter()
            .filter(|m| m.to == to && m.msg_type() == MessageType::MsgApp)
            .map(|m| m.entries.len())
            .collect()
    }

    #[test]
    fn proposals_in_one_round_go_out_as_one_append_per_peer() {
        let mut r = leader(true, u64::MAX);
        propose(&mut r, 5);
        // The peers already have the leader's empty entry (index 1).
        assert_eq!(apps_to(&r, 2), vec![5]);
        assert_eq!(apps_to(&r, 3), vec![5]);
        let pr = &r.prs.progress[&2];
        assert_eq!(pr.inflights.count(), 1, "one message in flight");
        assert_eq!(pr.next_idx, 7);
        let m = r.msgs.iter().find(|m| m.to == 2).unwrap();
        assert_eq!((m.index, m.entries[4].index), (1, 6));
        // Acknowledging the last index frees the whole window.
        r.prs.progress.get_mut(&2).unwrap().inflights.free_le(6);
        assert_eq!(r.prs.progress[&2].inflights.count(), 0);
    }

    #[test]
    fn without_merging_every_proposal_is_a_message() {
        let mut r = leader(false, u64::MAX);
        propose(&mut r, 5);
        assert_eq!(apps_to(&r, 2), vec![1, 1, 1, 1, 1]);
        assert_eq!(r.prs.progress[&2].inflights.count(), 5);
    }

    #[test]
    fn the_size_limit_and_taken_messages_end_a_merge() {
        let one = crate::eraftpb::Entry::new(1, 3, "p0").size();
        // Room for two proposal-sized entries per message.
        let mut r = leader(true, 2 * one);
        propose(&mut r, 5);
        assert_eq!(apps_to(&r, 2), vec![2, 2, 1]);
        assert_eq!(r.prs.progress[&2].inflights.count(), 3);
        let sent = r.take_msgs();
        assert!(!sent.is_empty());
        propose(&mut r, 1);
        assert_eq!(apps_to(&r, 2), vec![1], "a new round starts a new message");
    }

    #[test]
    fn another_message_to_the_peer_ends_a_merge() {
        let mut r = leader(true, u64::MAX);
        propose(&mut r, 2);
        r.bcast_heartbeat();
        propose(&mut r, 1);
        let kinds: Vec<(MessageType, usize)> = r
            .msgs
            .iter()
            .filter(|m| m.to == 2)
            .map(|m| (m.msg_type(), m.entries.len()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (MessageType::MsgApp, 2),
                (MessageType::MsgHeartbeat, 0),
                (MessageType::MsgApp, 1)
            ]
        );
    }

    fn self_acks(r: &Raft<MemoryStorage>) -> Vec<u64> {
        r.msgs_after_append
            .iter()
            .filter(|m| m.to == 1 && m.msg_type() == MessageType::MsgAppResp)
            .map(|m| m.index)
            .collect()
    }

    #[test]
    fn proposals_in_one_round_queue_one_self_ack_of_the_newest_entry() {
        let mut r = leader(true, u64::MAX);
        r.msgs_after_append.clear();
        propose(&mut r, 5);
        assert_eq!(self_acks(&r), vec![6]);
        // Stepping it counts all five entries as persisted by the leader.
        let ack = r.msgs_after_append.pop().unwrap();
        r.step(ack).unwrap();
        assert_eq!(r.prs.progress[&1].matched, 6);
    }

    #[test]
    fn without_merging_every_proposal_queues_its_self_ack() {
        let mut r = leader(false, u64::MAX);
        r.msgs_after_append.clear();
        propose(&mut r, 3);
        assert_eq!(self_acks(&r), vec![2, 3, 4]);
    }

    #[test]
    fn a_self_ack_behind_another_response_is_not_extended() {
        let mut r = leader(true, u64::MAX);
        r.msgs_after_append.clear();
        propose(&mut r, 1);
        // A response queued after the ack keeps its place between the acks.
        r.send(crate::eraftpb::Message {
            to: 2,
            ..crate::eraftpb::Message::with_type(MessageType::MsgAppResp)
        });
        propose(&mut r, 2);
        assert_eq!(self_acks(&r), vec![2, 4]);
    }
}
