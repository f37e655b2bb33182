//! Leadership transfer: MsgTransferLeader on the leader (its case in etcd's
//! `stepLeader`), MsgTimeoutNow (`sendTimeoutNow`) and
//! `abortLeaderTransfer`.

use super::{log, Raft, INVALID_ID};
use crate::eraftpb::{Message, MessageType};
use crate::storage::Storage;

impl<S: Storage> Raft<S> {
    /// Leader side of MsgTransferLeader (`m.from` is the transferee).
    pub(crate) fn handle_transfer_leader(&mut self, m: &Message) {
        let Some(is_learner) = self.prs.progress.get(&m.from).map(|p| p.is_learner) else {
            return;
        };
        if is_learner {
            log!(
                self,
                Debug,
                "{:x} is learner. Ignored transferring leadership",
                self.id
            );
            return;
        }
        let transferee = m.from;
        let last = self.lead_transferee;
        if last != INVALID_ID {
            if last == transferee {
                log!(
                    self,
                    Info,
                    "{:x} [term {}] transfer leadership to {:x} is in progress, ignores request to same node {:x}",
                    self.id,
                    self.term,
                    transferee,
                    transferee
                );
                return;
            }
            self.abort_leader_transfer();
            log!(
                self,
                Info,
                "{:x} [term {}] abort previous transferring leadership to {:x}",
                self.id,
                self.term,
                last
            );
        }
        if transferee == self.id {
            log!(
                self,
                Debug,
                "{:x} is already leader. Ignored transferring leadership to self",
                self.id
            );
            return;
        }
        log!(
            self,
            Info,
            "{:x} [term {}] starts to transfer leadership to {:x}",
            self.id,
            self.term,
            transferee
        );
        self.election_elapsed = 0;
        self.lead_transferee = transferee;
        let matched = self.prs.progress.get(&transferee).map_or(0, |p| p.matched);
        if matched == self.raft_log.last_index() {
            self.send_timeout_now(transferee);
            log!(
                self,
                Info,
                "{:x} sends MsgTimeoutNow to {:x} immediately as {:x} already has up-to-date log",
                self.id,
                transferee,
                transferee
            );
        } else {
            self.send_append(transferee);
        }
    }

    pub(crate) fn send_timeout_now(&mut self, to: u64) {
        self.send(Message {
            to,
            ..Message::with_type(MessageType::MsgTimeoutNow)
        });
    }

    /// Gives up a leadership transfer in progress.
    pub fn abort_leader_transfer(&mut self) {
        self.lead_transferee = INVALID_ID;
    }
}
