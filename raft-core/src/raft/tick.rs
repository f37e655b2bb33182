//! Logical clocks (etcd's `tickElection`, `tickHeartbeat`): the election
//! timer of followers and candidates, and the heartbeat and check-quorum
//! timers of leaders, with the leader's step-down when its quorum is not
//! active (the MsgCheckQuorum case of `stepLeader`).

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

    /// Leader side of MsgCheckQuorum: steps down unless a quorum was heard
    /// from since the last round, then starts a new round.
    pub(crate) fn check_quorum_step_down(&mut self) {
        if !self.prs.quorum_active() {
            log!(
                self,
                Warn,
                "{:x} stepped down to follower since quorum is not active",
                self.id
            );
            let term = self.term;
            self.become_follower(term, INVALID_ID);
        }
        let id = self.id;
        for (pid, pr) in self.prs.progress.iter_mut() {
            if *pid != id {
                pr.recent_active = false;
            }
        }
    }
}
