//! The follower's step function: forwarding proposals and reads to the
//! leader, accepting appends, heartbeats and snapshots, and leader transfer
//! or forget-leader requests.

use super::{log, CampaignType, Raft, INVALID_ID};
use crate::eraftpb::{Message, MessageType};
use crate::errors::{Error, Result};
use crate::read_only::ReadState;
use crate::storage::Storage;

impl<S: Storage> Raft<S> {
    pub(crate) fn step_follower(&mut self, m: &mut Message) -> Result<()> {
        match m.msg_type() {
            MessageType::MsgProp => {
                if self.leader_id == INVALID_ID {
                    return self.drop_proposal_without_leader();
                } else if self.disable_proposal_forwarding {
                    log!(
                        self,
                        Info,
                        "{:x} not forwarding to leader {:x} at term {}; dropping proposal",
                        self.id,
                        self.leader_id,
                        self.term
                    );
                    return Err(Error::ProposalDropped);
                }
                m.to = self.leader_id;
                self.send(std::mem::take(m));
            }
            MessageType::MsgApp => {
                self.election_elapsed = 0;
                self.leader_id = m.from;
                self.handle_append_entries(m);
            }
            MessageType::MsgHeartbeat => {
                self.election_elapsed = 0;
                self.leader_id = m.from;
                self.handle_heartbeat(std::mem::take(m));
            }
            MessageType::MsgSnap => {
                self.election_elapsed = 0;
                self.leader_id = m.from;
                self.handle_snapshot(std::mem::take(m));
            }
            MessageType::MsgTransferLeader => {
                if self.leader_id == INVALID_ID {
                    log!(
                        self,
                        Info,
                        "{:x} no leader at term {}; dropping leader transfer msg",
                        self.id,
                        self.term
                    );
                    return Ok(());
                }
                m.to = self.leader_id;
                self.send(std::mem::take(m));
            }
            MessageType::MsgForgetLeader => {
                if self.read_only.option == crate::config::ReadOnlyOption::LeaseBased {
                    log!(
                        self,
                        Error,
                        "ignoring MsgForgetLeader due to ReadOnlyLeaseBased"
                    );
                    return Ok(());
                }
                if self.leader_id != INVALID_ID {
                    log!(
                        self,
                        Info,
                        "{:x} forgetting leader {:x} at term {}",
                        self.id,
                        self.leader_id,
                        self.term
                    );
                    self.leader_id = INVALID_ID;
                }
            }
            MessageType::MsgTimeoutNow => {
                log!(
                    self,
                    Info,
                    "{:x} [term {}] received MsgTimeoutNow from {:x} and starts an election to get leadership.",
                    self.id,
                    self.term,
                    m.from
                );
                self.hup(CampaignType::Transfer);
            }
            MessageType::MsgReadIndex => {
                if self.leader_id == INVALID_ID {
                    log!(
                        self,
                        Info,
                        "{:x} no leader at term {}; dropping index reading msg",
                        self.id,
                        self.term
                    );
                    return Ok(());
                }
                m.to = self.leader_id;
                self.send(std::mem::take(m));
            }
            MessageType::MsgReadIndexResp => {
                if m.entries.len() != 1 {
                    log!(
                        self,
                        Error,
                        "{:x} invalid format of MsgReadIndexResp from {:x}, entries count: {}",
                        self.id,
                        m.from,
                        m.entries.len()
                    );
                    return Ok(());
                }
                let ctx = m.entries[0].data.clone().unwrap_or_default();
                self.read_states.push(ReadState {
                    index: m.index,
                    request_ctx: ctx,
                });
            }
            _ => {}
        }
        Ok(())
    }
}
