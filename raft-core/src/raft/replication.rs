//! Log replication: proposals on the leader (the MsgProp case of etcd's
//! `stepLeader`) and appending them (`appendEntry`), sending appends and
//! heartbeats (`maybeSendAppend`, `sendHeartbeat`, `bcastAppend`,
//! `bcastHeartbeat`), handling them on followers (`handleAppendEntries`,
//! `handleHeartbeat`) and their responses on the leader (the MsgAppResp,
//! MsgHeartbeatResp and MsgUnreachable cases of `stepLeader`).

use super::{log, Raft, StateRole, INVALID_ID};
use crate::eraftpb::{Entry, Message, MessageType};
use crate::errors::{Error, Result};
use crate::proto_ext::payloads_size;
use crate::storage::Storage;
use crate::tracker::ProgressState;

impl<S: Storage> Raft<S> {
    /// A proposal of one normal entry from this node (`RawNode::propose`).
    ///
    /// On a leader the entry goes straight to [`propose_entries`]: wrapping
    /// it in a MsgProp, checking that message's bounds and routing it
    /// through `step` was about half of what a proposal cost (issue 11), and
    /// a local MsgProp takes no other branch of `step` on a leader. Anywhere
    /// else (a follower forwards it, a candidate drops it) or under a test
    /// hook, which must see every message, it is stepped as that MsgProp.
    ///
    /// [`propose_entries`]: Self::propose_entries
    pub(crate) fn propose_entry(&mut self, e: Entry) -> Result<()> {
        if self.state != StateRole::Leader || self.step_hook.is_some() {
            return self.step(Message {
                from: self.id,
                entries: vec![e],
                ..Message::with_type(MessageType::MsgProp)
            });
        }
        // The buffer keeps its capacity: no allocation per proposal.
        let mut es = std::mem::take(&mut self.proposal_buf);
        es.push(e);
        let res = self.propose_entries(&mut es);
        es.clear();
        self.proposal_buf = es;
        res
    }

    /// Leader side of MsgProp: appends `es` (taken out of the vector) to
    /// the log and has them sent, or refuses them all.
    pub(crate) fn propose_entries(&mut self, es: &mut Vec<Entry>) -> Result<()> {
        if es.is_empty() {
            return Err(Error::Invariant(format!(
                "{:x} stepped empty MsgProp",
                self.id
            )));
        }
        if !self.prs.progress.contains_key(&self.id) {
            // Removed from the configuration while leading.
            return Err(Error::ProposalDropped);
        }
        if self.lead_transferee != INVALID_ID {
            log!(
                self,
                Debug,
                "{:x} [term {}] transfer leadership to {:x} is in progress; dropping proposal",
                self.id,
                self.term,
                self.lead_transferee
            );
            return Err(Error::ProposalDropped);
        }
        self.check_proposed_conf_changes(es)?;
        if !self.append_entry(es) {
            return Err(Error::ProposalDropped);
        }
        if self.outbox.merges_appends() {
            // Merged appends would gather every proposal of this Ready
            // round into one MsgApp per peer anyway: build that message
            // once, when the messages are handed out, instead of growing it
            // proposal by proposal (issue 11: the per-proposal broadcast was
            // about a third of a 3-voter leader's instructions).
            self.appends_pending = true;
        } else {
            self.bcast_append();
        }
        Ok(())
    }

    /// Sends the appends that proposals left pending (see
    /// `propose_entries`); the Ready and anything else that hands out the
    /// queued messages calls it first. Each peer gets what its flow allows:
    /// as many messages as the size limit needs (each proposal used to
    /// send, or merge into, one), until its in-flight window is full.
    pub fn flush_appends(&mut self) {
        if !std::mem::take(&mut self.appends_pending) || self.state != StateRole::Leader {
            return;
        }
        self.for_each_peer(|r, id| {
            r.send_append(id);
            // Ends: every message moves `next` on or pauses the peer.
            while r.maybe_send_append(id, false) {}
        });
    }

    /// Moves entries into the leader's log at the current term. Returns
    /// false (and appends nothing) when the uncommitted-size limit refuses
    /// them.
    pub(crate) fn append_entry(&mut self, es: &mut Vec<Entry>) -> bool {
        let li = self.raft_log.last_index();
        for (i, e) in es.iter_mut().enumerate() {
            e.term = self.term;
            e.index = li + 1 + i as u64;
        }
        if !self.increase_uncommitted_size(es) {
            log!(
                self,
                Warn,
                "{:x} appending new entries to log would exceed uncommitted entry size limit; dropping proposal",
                self.id
            );
            return false;
        }
        let li = match self.raft_log.append(es) {
            Ok(li) => li,
            Err(e) => {
                log!(
                    self,
                    Error,
                    "{:x} failed to append to its own log: {}",
                    self.id,
                    e
                );
                return false;
            }
        };
        if self.immediate_self_ack {
            let id = self.id;
            if let Some(pr) = self.prs.progress.get_mut(&id) {
                pr.maybe_update(li);
            }
            self.maybe_commit();
        } else if !self.extend_self_ack(li) {
            // Self-acknowledge once the entries are persisted.
            self.send(Message {
                to: self.id,
                index: li,
                ..Message::with_type(MessageType::MsgAppResp)
            });
        }
        true
    }

    /// Sends an append (or a snapshot) to `to`, even an empty one.
    pub(crate) fn send_append(&mut self, to: u64) {
        self.maybe_send_append(to, true);
    }

    /// Sends an append to `to` if its flow allows; with `send_if_empty`
    /// false, only when there are entries to send. True if a message went.
    pub(crate) fn maybe_send_append(&mut self, to: u64, send_if_empty: bool) -> bool {
        let (paused, next, state, inflights_full) = match self.prs.progress.get(&to) {
            Some(pr) => (pr.is_paused(), pr.next_idx, pr.state, pr.inflights.full()),
            None => return false,
        };
        if paused {
            return false;
        }
        if !send_if_empty
            && ((state == ProgressState::Replicate && inflights_full)
                || next == self.raft_log.last_index().saturating_add(1))
        {
            // Nothing would go: no entries are read with the window full,
            // and none are left past the last index. Decided before the
            // term lookup and the read (this is how `flush_appends` finds
            // the end of every peer's loop).
            return false;
        }
        let prev_index = next - 1;
        let prev_term = match self.raft_log.term(prev_index) {
            Ok(t) => t,
            Err(_) => return self.maybe_send_snapshot(to),
        };
        let mut ents = Ok((Vec::new(), 0));
        if state != ProgressState::Replicate || !inflights_full {
            ents = self.raft_log.entries_sized(next, self.max_msg_size);
        }
        let (ents, size) = match ents {
            Ok(e) => e,
            Err(_) => return self.maybe_send_snapshot(to),
        };
        if ents.is_empty() && !send_if_empty {
            return false;
        }
        let (n, bytes) = (ents.len(), payloads_size(&ents));
        let commit = self.raft_log.committed;
        let merged = self.try_merge_append(to, prev_index, prev_term, ents, size, commit);
        let ents = match merged {
            Ok(()) => {
                if let Some(pr) = self.prs.progress.get_mut(&to) {
                    pr.sent_more_entries(n, bytes);
                    pr.set_sent_commit(commit);
                }
                return true;
            }
            Err(ents) => ents,
        };
        self.send(Message {
            to,
            index: prev_index,
            log_term: prev_term,
            entries: ents,
            commit,
            ..Message::with_type(MessageType::MsgApp)
        });
        if n > 0 {
            self.note_open_append(to, size);
        }
        if let Some(pr) = self.prs.progress.get_mut(&to) {
            pr.sent_entries(n, bytes);
            pr.set_sent_commit(commit);
        }
        true
    }

    /// Sends a heartbeat carrying `min(match, committed)` to `to`.
    pub(crate) fn send_heartbeat(&mut self, to: u64, ctx: Option<bytes::Bytes>) {
        let Some(pr) = self.prs.progress.get(&to) else {
            return;
        };
        let commit = pr.matched.min(self.raft_log.committed);
        self.send(Message {
            to,
            commit,
            context: ctx,
            ..Message::with_type(MessageType::MsgHeartbeat)
        });
        if let Some(pr) = self.prs.progress.get_mut(&to) {
            pr.set_sent_commit(commit);
        }
    }

    /// Runs `f` for every peer (every tracked id but our own), in id
    /// order, using a reused buffer for the ids.
    pub(crate) fn for_each_peer(&mut self, mut f: impl FnMut(&mut Self, u64)) {
        let mut ids = std::mem::take(&mut self.peer_buf);
        ids.clear();
        ids.extend(
            self.prs
                .progress
                .keys()
                .copied()
                .filter(|id| *id != self.id),
        );
        for &id in &ids {
            f(self, id);
        }
        self.peer_buf = ids;
    }

    /// Sends appends to every peer.
    pub(crate) fn bcast_append(&mut self) {
        self.for_each_peer(|r, id| r.send_append(id));
    }

    /// Sends heartbeats to every peer, with the newest pending read context.
    pub(crate) fn bcast_heartbeat(&mut self) {
        let ctx = self.read_only.last_pending_request_ctx();
        self.bcast_heartbeat_with_ctx(ctx);
    }

    pub(crate) fn bcast_heartbeat_with_ctx(&mut self, ctx: Option<bytes::Bytes>) {
        self.for_each_peer(|r, id| r.send_heartbeat(id, ctx.clone()));
    }

    /// Follower side of MsgApp.
    pub(crate) fn handle_append_entries(&mut self, m: &mut Message) {
        if m.index < self.raft_log.committed {
            let committed = self.raft_log.committed;
            self.send(Message {
                to: m.from,
                index: committed,
                ..Message::with_type(MessageType::MsgAppResp)
            });
            return;
        }
        match self
            .raft_log
            .maybe_append(m.index, m.log_term, m.commit, std::mem::take(&mut m.entries))
        {
            Ok(Some(last)) => {
                self.send(Message {
                    to: m.from,
                    index: last,
                    ..Message::with_type(MessageType::MsgAppResp)
                });
                return;
            }
            Ok(None) => {}
            Err(e) => {
                // The message contradicts our committed log: it cannot come
                // from a correct leader. Refuse it without changing state.
                log!(
                    self,
                    Error,
                    "{:x} rejected MsgApp from {:x}: {}",
                    self.id,
                    m.from,
                    e
                );
                return;
            }
        }
        let own_term = self
            .raft_log
            .zero_term_on_out_of_bounds(self.raft_log.term(m.index));
        log!(
            self,
            Debug,
            "{:x} [logterm: {}, index: {}] rejected MsgApp [logterm: {}, index: {}] from {:x}",
            self.id,
            own_term,
            m.index,
            m.log_term,
            m.index,
            m.from
        );
        let hint_index = m.index.min(self.raft_log.last_index());
        let (hint_index, hint_term) = self.raft_log.find_conflict_by_term(hint_index, m.log_term);
        self.send(Message {
            to: m.from,
            index: m.index,
            reject: true,
            reject_hint: hint_index,
            log_term: hint_term,
            ..Message::with_type(MessageType::MsgAppResp)
        });
    }

    /// Follower side of MsgHeartbeat.
    pub(crate) fn handle_heartbeat(&mut self, m: Message) {
        if let Err(e) = self.raft_log.commit_to(m.commit) {
            // A correct leader never sends a commit index beyond what we
            // acknowledged; ignore the bogus commit but still answer.
            log!(
                self,
                Error,
                "{:x} ignored heartbeat commit from {:x}: {}",
                self.id,
                m.from,
                e
            );
        }
        self.send(Message {
            to: m.from,
            context: m.context,
            ..Message::with_type(MessageType::MsgHeartbeatResp)
        });
    }

    /// Leader side of MsgAppResp.
    pub(crate) fn handle_append_response(&mut self, m: &Message) -> Result<()> {
        let from = m.from;
        let committed = self.raft_log.committed;
        let last_index = self.raft_log.last_index();
        if m.index > last_index {
            // No correct follower acknowledges or rejects an index we never
            // sent; ignore the message instead of corrupting the progress.
            log!(
                self,
                Warn,
                "{:x} ignored MsgAppResp from {:x} for index {} beyond last index {}",
                self.id,
                from,
                m.index,
                last_index
            );
            return Ok(());
        }
        let Some(pr) = self.prs.progress.get_mut(&from) else {
            return Ok(());
        };
        pr.recent_active = true;
        if m.reject {
            log!(
                self,
                Debug,
                "{:x} received MsgAppResp(rejected, hint: (index {}, term {})) from {:x} for index {}",
                self.id,
                m.reject_hint,
                m.log_term,
                from,
                m.index
            );
            let mut next_probe_idx = m.reject_hint;
            if m.log_term > 0 {
                next_probe_idx = self
                    .raft_log
                    .find_conflict_by_term(m.reject_hint, m.log_term)
                    .0;
            }
            let pr = self.prs.progress.get_mut(&from).ok_or_else(no_progress)?;
            if pr.maybe_decr_to(m.index, next_probe_idx) {
                log!(
                    self,
                    Debug,
                    "{:x} decreased progress of {:x} to [{}]",
                    self.id,
                    from,
                    pr
                );
                if pr.state == ProgressState::Replicate {
                    pr.become_probe();
                }
                self.send_append(from);
            }
            return Ok(());
        }
        if !(pr.maybe_update(m.index)
            || (pr.matched == m.index && pr.state == ProgressState::Probe))
        {
            return Ok(());
        }
        match pr.state {
            ProgressState::Probe => pr.become_replicate(),
            ProgressState::Snapshot if pr.matched + 1 >= self.raft_log.first_index() => {
                log!(
                    self,
                    Debug,
                    "{:x} recovered from needing snapshot, resumed sending replication messages to {:x} [{}]",
                    self.id,
                    from,
                    pr
                );
                pr.become_probe();
                pr.become_replicate();
            }
            ProgressState::Replicate => pr.inflights.free_le(m.index),
            ProgressState::Snapshot => {}
        }
        let can_bump = pr.can_bump_commit(committed);
        if self.maybe_commit() {
            self.release_pending_read_index_messages();
            self.bcast_append();
        } else if self.id != from && can_bump {
            self.send_append(from);
        }
        if self.id != from {
            while self.maybe_send_append(from, false) {}
        }
        let matched = self.prs.progress.get(&from).map_or(0, |p| p.matched);
        if from == self.lead_transferee && matched == last_index {
            log!(
                self,
                Info,
                "{:x} sent MsgTimeoutNow to {:x} after received MsgAppResp",
                self.id,
                from
            );
            self.send_timeout_now(from);
        }
        Ok(())
    }

    /// Leader side of MsgHeartbeatResp.
    pub(crate) fn handle_heartbeat_response(&mut self, m: &Message) {
        let last_index = self.raft_log.last_index();
        let Some(pr) = self.prs.progress.get_mut(&m.from) else {
            return;
        };
        pr.recent_active = true;
        pr.msg_app_flow_paused = false;
        if pr.matched < last_index || pr.state == ProgressState::Probe {
            self.send_append(m.from);
        }
        self.handle_read_index_ack(m);
    }

    /// Leader side of MsgUnreachable.
    pub(crate) fn handle_unreachable(&mut self, from: u64) {
        if let Some(pr) = self.prs.progress.get_mut(&from) {
            if pr.state == ProgressState::Replicate {
                pr.become_probe();
            }
            log!(
                self,
                Debug,
                "{:x} failed to send message to {:x} because it is unreachable [{}]",
                self.id,
                from,
                pr
            );
        }
    }
}

fn no_progress() -> Error {
    Error::Invariant("progress vanished".into())
}
