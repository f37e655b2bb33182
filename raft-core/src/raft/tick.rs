//! Logical clocks: the election timer of followers and candidates, and the
//! heartbeat and check-quorum timers of leaders.

use super::{log, Raft, StateRole, INVALID_ID};
use crate::eraftpb::{Message, MessageType};
use crate::storage::Storage;

impl<S: Storage> Raft<S> {
    pub(crate) fn tick_election(&mut self) {
        self.election_elapsed += 1;
        if self.promotable() && self.past_election_timeout() {
            self.election_elapsed = 0;
            let m = Message {
                from: self.id,
                ..Message::with_type(MessageType::MsgHup)
            };
            if let Err(e) = self.step(m) {
                log!(self, Debug, "error occurred during election: {}", e);
            }
        }
    }

    pub(crate) fn tick_heartbeat(&mut self) {
        self.heartbeat_elapsed += 1;
        self.election_elapsed += 1;
        if self.election_elapsed >= self.election_timeout {
            self.election_elapsed = 0;
            if self.check_quorum {
                let m = Message {
                    from: self.id,
                    ..Message::with_type(MessageType::MsgCheckQuorum)
                };
                if let Err(e) = self.step(m) {
                    log!(
                        self,
                        Debug,
                        "error occurred during checking sending heartbeat: {}",
                        e
                    );
                }
            }
            if self.state == StateRole::Leader && self.lead_transferee != INVALID_ID {
                self.abort_leader_transfer();
            }
        }
        if self.state != StateRole::Leader {
            return;
        }
        if self.heartbeat_elapsed >= self.heartbeat_timeout {
            self.heartbeat_elapsed = 0;
            let m = Message {
                from: self.id,
                ..Message::with_type(MessageType::MsgBeat)
            };
            if let Err(e) = self.step(m) {
                log!(
                    self,
                    Debug,
                    "error occurred during checking sending heartbeat: {}",
                    e
                );
            }
        }
    }
}
