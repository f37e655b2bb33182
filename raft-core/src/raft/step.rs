//! The entry point for messages: term checks common to every role (etcd's
//! `Step`), storage-thread acknowledgements, votes, and dispatch to the
//! role's step function (or a test hook). The leader's (`stepLeader`) is
//! here, as it only routes each message to the file of its concern; the
//! candidate's (`stepCandidate`) is in `election`, the follower's
//! (`stepFollower`) in `follower`.

use super::outbox::{AppendedAck, AppliedAck};
use super::{log, CampaignType, Raft, StateRole, CAMPAIGN_TRANSFER, INVALID_ID};
use crate::eraftpb::{Message, MessageType};
use crate::errors::{Error, Result};
use crate::storage::Storage;

impl<S: Storage> Raft<S> {
    /// The entry point for every message (etcd's `Step`).
    #[inline]
    pub fn step(&mut self, mut m: Message) -> Result<()> {
        self.step_in_place(&mut m)
    }

    /// [`step`](Self::step) on a message the caller owns; what is kept of
    /// it is taken out. `RawNode::step` calls this: passing the message by
    /// value through each call copied it every time.
    pub(crate) fn step_in_place(&mut self, m: &mut Message) -> Result<()> {
        let t = m.msg_type();
        // Terms and indexes near 2^64 would wrap the arithmetic on them.
        crate::bounds::check_message(m)?;
        if m.term == 0 && super::always_carries_term(t) && m.from != self.id {
            // Peers always send these with their term. Without one the
            // message would be taken for a local one of the current term:
            // a vote answered without a term, a heartbeat turning a
            // candidate into a follower of term 0. Malformed; refuse it.
            return Err(Error::Invariant(format!(
                "{:x} refused a {:?} without a term from {:x}",
                self.id, t, m.from
            )));
        }
        if m.term == 0 {
            // Local message.
        } else if m.term > self.term {
            if matches!(t, MessageType::MsgVote | MessageType::MsgPreVote) {
                let force = m.context() == CAMPAIGN_TRANSFER;
                let in_lease = self.check_quorum
                    && self.leader_id != INVALID_ID
                    && self.election_elapsed < self.election_timeout;
                if !force && in_lease {
                    self.log_vote_decision(
                        "ignored",
                        m,
                        format_args!(
                            ": lease is not expired (remaining ticks: {})",
                            self.election_timeout - self.election_elapsed
                        ),
                    );
                    return Ok(());
                }
            }
            match t {
                MessageType::MsgPreVote => {}
                MessageType::MsgPreVoteResp if !m.reject => {}
                _ => {
                    log!(
                        self,
                        Info,
                        "{:x} [term: {}] received a {:?} message with higher term from {:x} [term: {}]",
                        self.id,
                        self.term,
                        t,
                        m.from,
                        m.term
                    );
                    if matches!(
                        t,
                        MessageType::MsgApp | MessageType::MsgHeartbeat | MessageType::MsgSnap
                    ) {
                        self.become_follower(m.term, m.from);
                    } else {
                        self.become_follower(m.term, INVALID_ID);
                    }
                }
            }
        } else if m.term < self.term {
            if matches!(t, MessageType::MsgHeartbeat | MessageType::MsgApp) {
                // A stale leader learns our term from the answer and steps
                // down (Raft §5.1). etcd answers only with check-quorum or
                // pre-vote on; without them it relies on this node's
                // MsgVote to raise the leader's term. But a node that
                // cannot campaign (a learner, or a voter missing from its
                // own outdated configuration, or an empty new node) and
                // sits at a higher term then ignores the leader forever
                // and never catches up, and a leader needing its vote in
                // the quorum stalls the cluster (found by the randomized
                // simulation, seeds 11932 and 60041 among others).
                self.send(Message {
                    to: m.from,
                    ..Message::with_type(MessageType::MsgAppResp)
                });
            } else if matches!(t, MessageType::MsgPreVote | MessageType::MsgVote) {
                // A stale (pre-)candidate learns our term from the rejection
                // (Raft §5.1). etcd answers only stale pre-votes and ignores
                // stale votes; then a voter with an outdated configuration
                // that keeps raising its term can starve a candidate it never
                // contacts, and the cluster never elects a leader.
                self.log_vote_decision("rejected", m, format_args!(""));
                self.send(Message {
                    to: m.from,
                    term: self.term,
                    reject: true,
                    ..Message::with_type(crate::proto_ext::vote_resp_msg_type(t))
                });
            } else if t == MessageType::MsgStorageAppendResp {
                // An acknowledgement from an older term: `ack_appended`
                // ignores its entries and keeps its snapshot.
                self.ack_appended(AppendedAck::of(m))?;
            } else {
                log!(
                    self,
                    Info,
                    "{:x} [term: {}] ignored a {:?} message with lower term from {:x} [term: {}]",
                    self.id,
                    self.term,
                    t,
                    m.from,
                    m.term
                );
            }
            return Ok(());
        }

        match t {
            MessageType::MsgHup => {
                if self.pre_vote {
                    self.hup(CampaignType::PreElection);
                } else {
                    self.hup(CampaignType::Election);
                }
                Ok(())
            }
            MessageType::MsgStorageAppendResp => self.ack_appended(AppendedAck::of(m)),
            MessageType::MsgStorageApplyResp => {
                let size = m.entries.iter().map(|e| e.size()).sum();
                match AppliedAck::of(&m.entries, size) {
                    Some(ack) => self.ack_applied(ack),
                    None => Ok(()),
                }
            }
            MessageType::MsgVote | MessageType::MsgPreVote => {
                self.handle_vote_request(std::mem::take(m));
                Ok(())
            }
            _ => self.step_role(m),
        }
    }

    /// The role's step function for `m`; those that keep the message or
    /// its parts take them out of it. By reference: a message is large, and
    /// moving it through each call cost a copy of it per call.
    pub(crate) fn step_role(&mut self, m: &mut Message) -> Result<()> {
        if let Some(mut hook) = self.step_hook.take() {
            let res = hook(m);
            if self.step_hook.is_none() {
                self.step_hook = Some(hook);
            }
            return res;
        }
        match self.state {
            StateRole::Leader => self.step_leader(m),
            StateRole::Candidate | StateRole::PreCandidate => self.step_candidate(m),
            StateRole::Follower => self.step_follower(m),
        }
    }

    /// The leader's step function (etcd's `stepLeader`).
    fn step_leader(&mut self, m: &mut Message) -> Result<()> {
        match m.msg_type() {
            MessageType::MsgBeat => {
                self.bcast_heartbeat();
                return Ok(());
            }
            MessageType::MsgCheckQuorum => {
                self.check_quorum_step_down();
                return Ok(());
            }
            MessageType::MsgProp => return self.propose_entries(&mut m.entries),
            MessageType::MsgReadIndex => {
                self.handle_read_index_request(std::mem::take(m));
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
            MessageType::MsgAppResp => self.handle_append_response(m)?,
            MessageType::MsgHeartbeatResp => self.handle_heartbeat_response(m),
            MessageType::MsgSnapStatus => self.handle_snapshot_status(m),
            MessageType::MsgUnreachable => self.handle_unreachable(m.from),
            MessageType::MsgTransferLeader => self.handle_transfer_leader(m),
            _ => {}
        }
        Ok(())
    }
}
