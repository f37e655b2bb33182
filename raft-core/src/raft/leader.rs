//! The leader's step function: heartbeats, check-quorum, proposals and
//! the responses of followers.

use super::{log, Raft, INVALID_ID};
use crate::eraftpb::{Message, MessageType};
use crate::errors::{Error, Result};
use crate::storage::Storage;

impl<S: Storage> Raft<S> {
    /// The leader's step function.
    pub(crate) fn step_leader(&mut self, m: Message) -> Result<()> {
        match m.msg_type() {
            MessageType::MsgBeat => {
                self.bcast_heartbeat();
                return Ok(());
            }
            MessageType::MsgCheckQuorum => {
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
                return Ok(());
            }
            MessageType::MsgProp => return self.handle_proposal(m),
            MessageType::MsgReadIndex => {
                self.handle_read_index_request(m);
                return Ok(());
            }
            MessageType::MsgForgetLeader => return Ok(()),
            _ => {}
        }
        if !self.prs.progress.contains_key(&m.from) {
            log!(
                self,
                Debug,
                "{:x} no progress available for {:x}",
                self.id,
                m.from
            );
            return Ok(());
        }
        match m.msg_type() {
            MessageType::MsgAppResp => self.handle_append_response(&m)?,
            MessageType::MsgHeartbeatResp => self.handle_heartbeat_response(&m),
            MessageType::MsgSnapStatus => self.handle_snapshot_status(&m),
            MessageType::MsgUnreachable => self.handle_unreachable(m.from),
            MessageType::MsgTransferLeader => self.handle_transfer_leader(&m),
            _ => {}
        }
        Ok(())
    }

    /// Leader side of MsgProp.
    fn handle_proposal(&mut self, mut m: Message) -> Result<()> {
        if m.entries.is_empty() {
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
        self.check_proposed_conf_changes(&mut m.entries)?;
        if !self.append_entry(std::mem::take(&mut m.entries)) {
            return Err(Error::ProposalDropped);
        }
        self.bcast_append();
        Ok(())
    }
}
