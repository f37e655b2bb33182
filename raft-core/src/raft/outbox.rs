//! The outgoing-message queue: everything the node sends goes through
//! here.
//!
//! - [`Outbox`]: the messages to send now (etcd's `raft.msgs`) and those
//!   that may leave only once the unstable state is persisted (votes and
//!   append acknowledgements, the node's own included: etcd's
//!   `raft.msgsAfterAppend`);
//! - `Raft::send` (etcd's `send`): fills in `from` and the term and picks
//!   the queue;
//! - merging appends (`Config::merge_appends`, not in etcd): while a Ready
//!   round is open, entries for a peer whose newest queued message is a
//!   contiguous MsgApp join that message (the peer's in-flight window then
//!   counts the messages that really travel), and a batch of proposals
//!   queues one self-acknowledgement;
//! - handing the queues out with a Ready: the messages to and from the
//!   local storage threads (rawnode.go's `newStorageAppendMsg`,
//!   `newStorageAppendRespMsg`, `newStorageApplyMsg`,
//!   `newStorageApplyRespMsg`) with async storage writes, otherwise the
//!   responses to peers for the Ready and what `advance` does (etcd's
//!   `stepsOnAdvance`: [`StepsOnAdvance`]), which steps the
//!   self-acknowledgements and applies the storage acknowledgements from
//!   their summaries ([`AppendedAck`], [`AppliedAck`]; the storage
//!   response messages, when they are stepped, use the same handlers).

use super::{log, Raft, INVALID_ID, LOCAL_APPEND_THREAD, LOCAL_APPLY_THREAD};
use crate::eraftpb::{Entry, Message, MessageType};
use crate::proto_ext::payloads_size;
use crate::ready::Ready;
use crate::storage::Storage;

/// The queued outgoing messages of one node.
#[derive(Debug, Default)]
pub struct Outbox {
    /// Messages to send now.
    pub msgs: Vec<Message>,
    /// Messages to send only once the unstable state is persisted.
    pub msgs_after_append: Vec<Message>,
    /// The newest queued MsgApp per peer, for merging appends.
    open_appends: Vec<OpenAppend>,
    /// Whether appends are merged (`Config::merge_appends`).
    merge_appends: bool,
}

/// The newest queued MsgApp to one peer: its position in `Outbox::msgs` and
/// the encoded size of its entries.
#[derive(Debug, Clone, Copy)]
struct OpenAppend {
    peer: u64,
    pos: usize,
    size: u64,
}

impl Outbox {
    /// An empty queue; `merge_appends` as in the config.
    pub(crate) fn new(merge_appends: bool) -> Outbox {
        Outbox {
            merge_appends,
            ..Default::default()
        }
    }

    /// Whether appends are merged.
    pub(crate) fn merges_appends(&self) -> bool {
        self.merge_appends
    }

    /// True when nothing is queued.
    pub(crate) fn is_empty(&self) -> bool {
        self.msgs.is_empty() && self.msgs_after_append.is_empty()
    }

    /// Takes the messages to send now; appends can no longer be merged into
    /// them.
    pub(crate) fn take_msgs(&mut self) -> Vec<Message> {
        self.open_appends.clear();
        std::mem::take(&mut self.msgs)
    }

    /// Drops everything queued (it was handed out with a Ready).
    pub(crate) fn clear(&mut self) {
        self.open_appends.clear();
        self.msgs.clear();
        self.msgs_after_append.clear();
    }

    /// Moves the after-append messages addressed to peers to `out`; the
    /// self-addressed ones stay for [`Raft::take_steps_on_advance`].
    pub(crate) fn move_peer_responses(&mut self, id: u64, out: &mut Vec<Message>) {
        if self.msgs_after_append.iter().all(|m| m.to != id) {
            // A follower's acknowledgements: all go, moved at once.
            out.append(&mut self.msgs_after_append);
            return;
        }
        self.msgs_after_append.retain_mut(|m| {
            if m.to == id {
                return true;
            }
            out.push(std::mem::take(m));
            false
        });
    }
}

impl<S: Storage> Raft<S> {
    /// Queues a message, filling in `from` and the term as etcd's `send`.
    pub(crate) fn send(&mut self, mut m: Message) {
        if m.from == INVALID_ID {
            m.from = self.id;
        }
        let t = m.msg_type();
        match t {
            // Vote messages always carry their term explicitly.
            MessageType::MsgVote
            | MessageType::MsgVoteResp
            | MessageType::MsgPreVote
            | MessageType::MsgPreVoteResp => {}
            MessageType::MsgProp | MessageType::MsgReadIndex => {}
            _ => m.term = self.term,
        }
        if matches!(
            t,
            MessageType::MsgAppResp | MessageType::MsgVoteResp | MessageType::MsgPreVoteResp
        ) {
            self.outbox.msgs_after_append.push(m);
        } else if m.to == self.id {
            // Never send to ourselves outside the after-append path; a
            // self-addressed message here would be a bug, so drop it loudly.
            log!(self, Error, "{:x} dropping self-addressed {:?}", self.id, t);
        } else {
            // Any message to the peer closes its open append: entries
            // merged later would overtake this message.
            let ob = &mut self.outbox;
            if !ob.open_appends.is_empty() {
                ob.open_appends.retain(|o| o.peer != m.to);
            }
            ob.msgs.push(m);
        }
    }

    /// With merging on, raises the index of the self-acknowledgement queued
    /// last for this Ready to `index` instead of queueing one more: one
    /// acknowledgement of the newest entry stands for all of them (the
    /// progress only moves forward), so a batch of proposals costs one
    /// self-ack step at `advance` instead of one per entry. Returns whether
    /// it did; off (etcd's output), every append queues its own.
    pub(crate) fn extend_self_ack(&mut self, index: u64) -> bool {
        if !self.outbox.merge_appends {
            return false;
        }
        let (id, term) = (self.id, self.term);
        match self.outbox.msgs_after_append.last_mut() {
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
        let (term, max_size) = (self.term, self.max_msg_size);
        let ob = &mut self.outbox;
        if !ob.merge_appends || ents.is_empty() {
            return Err(ents);
        }
        let Some(k) = ob.open_appends.iter().position(|o| o.peer == to) else {
            return Err(ents);
        };
        let open = ob.open_appends[k];
        let Some(prev) = ob.msgs.get_mut(open.pos) else {
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
        if last_index != prev_index || last_term != prev_term || size > max_size {
            return Err(ents);
        }
        prev.entries.extend(ents);
        prev.commit = prev.commit.max(commit);
        ob.open_appends[k].size = size;
        Ok(())
    }

    /// Remembers the MsgApp just queued as the open append to `to`.
    pub(crate) fn note_open_append(&mut self, to: u64, size: u64) {
        let ob = &mut self.outbox;
        if !ob.merge_appends {
            return;
        }
        let pos = ob.msgs.len().wrapping_sub(1);
        ob.open_appends.retain(|o| o.peer != to);
        ob.open_appends.push(OpenAppend {
            peer: to,
            pos,
            size,
        });
    }

    /// With async storage writes: the MsgStorageAppend for a Ready, carrying
    /// its entries, hard state and snapshot and, as responses, the
    /// after-append messages and the append acknowledgement (etcd's
    /// `newStorageAppendMsg`); `None` when the Ready has nothing to persist
    /// and nothing waits for persistence.
    pub(crate) fn storage_append_msg(&self, rd: &Ready) -> Option<Message> {
        let needed = !rd.entries.is_empty()
            || rd.hard_state.as_ref().is_some_and(|h| !h.is_empty())
            || !rd.snapshot.is_empty()
            || !self.outbox.msgs_after_append.is_empty();
        if !needed {
            return None;
        }
        let mut m = Message {
            to: LOCAL_APPEND_THREAD,
            from: self.id,
            entries: rd.entries.clone(),
            ..Message::with_type(MessageType::MsgStorageAppend)
        };
        if let Some(hs) = rd.hard_state.as_ref().filter(|h| !h.is_empty()) {
            m.term = hs.term;
            m.vote = hs.vote;
            m.commit = hs.commit;
        }
        if !rd.snapshot.is_empty() {
            m.snapshot = Some(Box::new(rd.snapshot.clone()));
        }
        m.responses = self.outbox.msgs_after_append.clone();
        m.responses.extend(self.storage_append_resp_msg(rd));
        Some(m)
    }

    /// What acknowledges a Ready's entries and snapshot once persisted;
    /// `None` when it has neither (etcd's `needStorageAppendRespMsg`).
    fn storage_append_ack(&self, rd: &Ready) -> Option<AppendedAck> {
        let has_ents = self.raft_log.has_next_or_in_progress_unstable_ents();
        if !has_ents && rd.snapshot.is_empty() {
            return None;
        }
        let (log_term, index) = if has_ents {
            self.raft_log.last_entry_id()
        } else {
            (0, 0)
        };
        Some(AppendedAck {
            term: self.term,
            index,
            log_term,
            snapshot_index: (!rd.snapshot.is_empty()).then_some(rd.snapshot.metadata.index),
        })
    }

    /// The acknowledgement of a Ready's entries and snapshot once persisted
    /// as a message (etcd's `newStorageAppendRespMsg`); `None` when it has
    /// neither.
    fn storage_append_resp_msg(&self, rd: &Ready) -> Option<Message> {
        let ack = self.storage_append_ack(rd)?;
        let mut m = Message {
            to: self.id,
            from: LOCAL_APPEND_THREAD,
            term: ack.term,
            index: ack.index,
            log_term: ack.log_term,
            ..Message::with_type(MessageType::MsgStorageAppendResp)
        };
        if ack.snapshot_index.is_some() {
            m.snapshot = Some(Box::new(rd.snapshot.clone()));
        }
        Some(m)
    }

    /// Entries up to `(ack.log_term, ack.index)` and the snapshot at
    /// `ack.snapshot_index` are persisted: what a MsgStorageAppendResp
    /// carrying them does (etcd's handling of it). One from an older term
    /// only counts for its snapshot: the entries it names may have been
    /// replaced since.
    pub(crate) fn ack_appended(&mut self, ack: AppendedAck) -> crate::errors::Result<()> {
        if ack.term != 0 && ack.term < self.term {
            if ack.index != 0 {
                log!(
                    self,
                    Info,
                    "{:x} [term: {}] ignored entry appends from a {:?} message with lower term [term: {}]",
                    self.id,
                    self.term,
                    MessageType::MsgStorageAppendResp,
                    ack.term
                );
            }
        } else if ack.index != 0 {
            self.raft_log.stable_to(ack.index, ack.log_term);
        }
        match ack.snapshot_index {
            Some(i) => self.applied_snap(i),
            None => Ok(()),
        }
    }

    /// With async storage writes: the MsgStorageApply for committed entries,
    /// carrying their acknowledgement (etcd's `newStorageApplyMsg`).
    pub(crate) fn storage_apply_msg(&self, ents: &[Entry]) -> Message {
        Message {
            to: LOCAL_APPLY_THREAD,
            from: self.id,
            entries: ents.to_vec(),
            responses: vec![self.storage_apply_resp_msg(ents)],
            ..Message::with_type(MessageType::MsgStorageApply)
        }
    }

    /// The acknowledgement of applied entries (etcd's
    /// `newStorageApplyRespMsg`).
    fn storage_apply_resp_msg(&self, ents: &[Entry]) -> Message {
        Message {
            to: self.id,
            from: LOCAL_APPLY_THREAD,
            entries: ents.to_vec(),
            ..Message::with_type(MessageType::MsgStorageApplyResp)
        }
    }

    /// Without async storage writes, once a Ready is accepted: what
    /// `advance` does to acknowledge it (etcd's `stepsOnAdvance`): step the
    /// self-addressed after-append messages (the others went into the
    /// Ready) and the acknowledgement of its entries and snapshot, then
    /// acknowledge its committed entries, whose encoded size is
    /// `committed_size`.
    pub(crate) fn take_steps_on_advance(
        &mut self,
        rd: &Ready,
        committed_size: u64,
    ) -> StepsOnAdvance {
        let msgs = std::mem::take(&mut self.outbox.msgs_after_append);
        let appended = self.storage_append_ack(rd);
        let applied = AppliedAck::of(&rd.committed_entries, committed_size);
        StepsOnAdvance {
            msgs,
            appended,
            applied,
        }
    }

    /// Entries up to `ack.index` were applied: what a MsgStorageApplyResp
    /// carrying them does (etcd's handling of it), from their summary.
    pub(crate) fn ack_applied(&mut self, ack: AppliedAck) -> crate::errors::Result<()> {
        self.applied_to(ack.index, ack.size)?;
        self.reduce_uncommitted_size(ack.payloads);
        Ok(())
    }
}

/// What a MsgStorageAppendResp tells the node: the term it was made in,
/// the last persisted entry (index 0 when none) and the persisted
/// snapshot's index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AppendedAck {
    /// The term of the node when the Ready was handed out (0: local).
    pub term: u64,
    /// The index of the last persisted entry, 0 when the Ready had none.
    pub index: u64,
    /// That entry's term.
    pub log_term: u64,
    /// The index of the persisted snapshot, if the Ready had one.
    pub snapshot_index: Option<u64>,
}

impl AppendedAck {
    /// What the MsgStorageAppendResp `m` tells.
    pub(crate) fn of(m: &Message) -> AppendedAck {
        AppendedAck {
            term: m.term,
            index: m.index,
            log_term: m.log_term,
            snapshot_index: m.snapshot.as_ref().map(|s| s.metadata.index),
        }
    }
}

/// What a MsgStorageApplyResp tells the node, reduced to what handling it
/// needs: the last applied index and the sizes of the applied entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AppliedAck {
    /// The index of the last applied entry.
    pub index: u64,
    /// The applied entries' total encoded size (the applying budget).
    pub size: u64,
    /// Their total payload size (the uncommitted-size budget).
    pub payloads: u64,
}

impl AppliedAck {
    /// The acknowledgement of `ents`, whose total encoded size is `size`
    /// (none when `ents` is empty).
    pub(crate) fn of(ents: &[Entry], size: u64) -> Option<AppliedAck> {
        ents.last().map(|last| AppliedAck {
            index: last.index,
            size,
            payloads: payloads_size(ents),
        })
    }
}

/// What `advance` does for an accepted Ready without async storage writes,
/// in etcd's order. etcd steps a MsgStorageAppendResp and a
/// MsgStorageApplyResp (the latter carrying a copy of the committed
/// entries); here both acknowledgements are summarised when the Ready is
/// handed out and applied directly, as stepping them would, so no message
/// is built and no entry is copied or measured again.
#[derive(Debug, Default)]
pub(crate) struct StepsOnAdvance {
    /// Stepped first, in order: the self-addressed after-append messages.
    pub msgs: Vec<Message>,
    /// Then the acknowledgement of the persisted entries and snapshot.
    pub appended: Option<AppendedAck>,
    /// Then that of the applied committed entries.
    pub applied: Option<AppliedAck>,
}

impl StepsOnAdvance {
    /// True when `advance` has nothing to do.
    pub(crate) fn is_empty(&self) -> bool {
        self.msgs.is_empty() && self.appended.is_none() && self.applied.is_none()
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
        r.outbox.take_msgs();
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
        r.flush_appends();
    }

    fn apps_to(r: &Raft<MemoryStorage>, to: u64) -> Vec<usize> {
        r.outbox.msgs
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
        let m = r.outbox.msgs.iter().find(|m| m.to == 2).unwrap();
        assert_eq!((m.index, m.entries[4].index), (1, 6));
        // Acknowledging the last index frees the whole window.
        r.prs.progress.get_mut(&2).unwrap().inflights.free_le(6);
        assert_eq!(r.prs.progress[&2].inflights.count(), 0);
    }

    #[test]
    fn merged_proposals_wait_for_the_flush_and_a_step_down_drops_them() {
        let mut r = leader(true, u64::MAX);
        for i in 0..3 {
            let mut m = crate::eraftpb::Message::with_type(MessageType::MsgProp);
            m.from = 1;
            m.entries
                .push(crate::eraftpb::Entry::new(0, 0, format!("p{i}")));
            r.step(m).unwrap();
        }
        assert!(apps_to(&r, 2).is_empty(), "no append before the flush");
        assert!(r.appends_pending);
        r.flush_appends();
        assert_eq!(apps_to(&r, 2), vec![3]);
        assert_eq!(apps_to(&r, 3), vec![3]);
        assert!(!r.appends_pending);
        r.flush_appends();
        assert_eq!(apps_to(&r, 2), vec![3], "a second flush sends nothing");

        // A leader that steps down before the flush sends no append.
        r.outbox.take_msgs();
        let mut m = crate::eraftpb::Message::with_type(MessageType::MsgProp);
        m.from = 1;
        m.entries.push(crate::eraftpb::Entry::new(0, 0, "late"));
        r.step(m).unwrap();
        let term = r.term;
        r.become_follower(term + 1, 2);
        r.flush_appends();
        assert!(apps_to(&r, 2).is_empty() && apps_to(&r, 3).is_empty());
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
        let sent = r.outbox.take_msgs();
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
            .outbox
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
        r.outbox.msgs_after_append
            .iter()
            .filter(|m| m.to == 1 && m.msg_type() == MessageType::MsgAppResp)
            .map(|m| m.index)
            .collect()
    }

    #[test]
    fn proposals_in_one_round_queue_one_self_ack_of_the_newest_entry() {
        let mut r = leader(true, u64::MAX);
        r.outbox.msgs_after_append.clear();
        propose(&mut r, 5);
        assert_eq!(self_acks(&r), vec![6]);
        // Stepping it counts all five entries as persisted by the leader.
        let ack = r.outbox.msgs_after_append.pop().unwrap();
        r.step(ack).unwrap();
        assert_eq!(r.prs.progress[&1].matched, 6);
    }

    #[test]
    fn without_merging_every_proposal_queues_its_self_ack() {
        let mut r = leader(false, u64::MAX);
        r.outbox.msgs_after_append.clear();
        propose(&mut r, 3);
        assert_eq!(self_acks(&r), vec![2, 3, 4]);
    }

    #[test]
    fn a_self_ack_behind_another_response_is_not_extended() {
        let mut r = leader(true, u64::MAX);
        r.outbox.msgs_after_append.clear();
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
