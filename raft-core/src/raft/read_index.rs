//! Linearizable reads on the leader: ReadIndex requests confirmed by a
//! heartbeat quorum (`ReadOnlySafe`) or by the lease (`ReadOnlyLeaseBased`)
//! (the MsgReadIndex case of etcd's `stepLeader`, `sendMsgReadIndexResponse`,
//! `releasePendingReadIndexMessages`).

use super::{log, Raft, INVALID_ID};
use crate::config::ReadOnlyOption;
use crate::eraftpb::{Message, MessageType};
use crate::quorum::VoteResult;
use crate::read_only::ReadState;
use crate::storage::Storage;

impl<S: Storage> Raft<S> {
    /// Leader side of MsgReadIndex.
    pub(crate) fn handle_read_index_request(&mut self, m: Message) {
        if m.entries.len() != 1 {
            log!(
                self,
                Error,
                "{:x} invalid format of MsgReadIndex from {:x}, entries count: {}",
                self.id,
                m.from,
                m.entries.len()
            );
            return;
        }
        if self.prs.is_singleton() {
            let committed = self.raft_log.committed;
            if let Some(resp) = self.response_to_read_index_req(m, committed) {
                self.send(resp);
            }
            return;
        }
        if !self.committed_entry_in_current_term() {
            self.pending_read_index_messages.push(m);
            return;
        }
        self.send_read_index_response(m);
    }

    fn send_read_index_response(&mut self, m: Message) {
        match self.read_only.option {
            ReadOnlyOption::Safe => {
                let ctx = m.entries[0].data.clone().unwrap_or_default();
                let committed = self.raft_log.committed;
                self.read_only.add_request(committed, m);
                self.read_only.recv_ack(self.id, &ctx);
                self.bcast_heartbeat_with_ctx(Some(ctx));
            }
            ReadOnlyOption::LeaseBased => {
                let committed = self.raft_log.committed;
                if let Some(resp) = self.response_to_read_index_req(m, committed) {
                    self.send(resp);
                }
            }
        }
    }

    /// Answers the reads that waited for the first commit of the term.
    pub(crate) fn release_pending_read_index_messages(&mut self) {
        if self.pending_read_index_messages.is_empty() {
            return;
        }
        if !self.committed_entry_in_current_term() {
            log!(
                self,
                Error,
                "pending MsgReadIndex should be released only after first commit in current term"
            );
            return;
        }
        let msgs = std::mem::take(&mut self.pending_read_index_messages);
        for m in msgs {
            self.send_read_index_response(m);
        }
    }

    /// Counts a heartbeat response as an acknowledgement of pending reads.
    pub(crate) fn handle_read_index_ack(&mut self, m: &Message) {
        if self.read_only.option != ReadOnlyOption::Safe || m.context().is_empty() {
            return;
        }
        let Some(acks) = self.read_only.recv_ack(m.from, m.context()) else {
            return;
        };
        let acks = acks.clone();
        if self
            .prs
            .config
            .voters
            .vote_result(|id| acks.get(&id).copied())
            != VoteResult::Won
        {
            return;
        }
        for rs in self.read_only.advance(m.context()) {
            if let Some(resp) = self.response_to_read_index_req(rs.req, rs.index) {
                self.send(resp);
            }
        }
    }

    /// A local request becomes a ReadState; a forwarded one a response.
    fn response_to_read_index_req(&mut self, req: Message, read_index: u64) -> Option<Message> {
        if req.from == INVALID_ID || req.from == self.id {
            let ctx = req
                .entries
                .first()
                .and_then(|e| e.data.clone())
                .unwrap_or_default();
            self.read_states.push(ReadState {
                index: read_index,
                request_ctx: ctx,
            });
            return None;
        }
        Some(Message {
            to: req.from,
            index: read_index,
            entries: req.entries,
            ..Message::with_type(MessageType::MsgReadIndexResp)
        })
    }
}
