//! Elections: starting a campaign, pre-votes, casting votes and counting
//! them (etcd's `hup`, `campaign`, `poll` and `stepCandidate`).

use bytes::Bytes;

use super::{log, CampaignType, Raft, StateRole, CAMPAIGN_TRANSFER, INVALID_ID};
use crate::eraftpb::{Message, MessageType};
use crate::errors::{Error, Result};
use crate::proto_ext::vote_resp_msg_type;
use crate::quorum::VoteResult;
use crate::storage::Storage;

impl<S: Storage> Raft<S> {
    /// Handles MsgHup: campaigns unless leader, already at the largest
    /// possible term, unpromotable or holding unapplied conf changes.
    pub(crate) fn hup(&mut self, t: CampaignType) {
        if self.state == StateRole::Leader {
            log!(
                self,
                Debug,
                "{:x} ignoring MsgHup because already leader",
                self.id
            );
            return;
        }
        if self.term >= crate::bounds::MAX_TERM_OR_INDEX {
            // Only reachable through a peer (or storage) handing us the
            // largest accepted term; peers would refuse a higher one.
            log!(
                self,
                Error,
                "{:x} cannot campaign: term {} is the largest possible",
                self.id,
                self.term
            );
            return;
        }
        if !self.promotable() {
            log!(
                self,
                Warn,
                "{:x} is unpromotable and can not campaign",
                self.id
            );
            return;
        }
        if self.has_unapplied_conf_changes() {
            log!(
                self,
                Warn,
                "{:x} cannot campaign at term {} since there are still pending configuration changes to apply (committed {}, applied {}: entries are applied when the application calls advance after each Ready)",
                self.id,
                self.term,
                self.raft_log.committed,
                self.raft_log.applied
            );
            return;
        }
        log!(
            self,
            Info,
            "{:x} is starting a new election at term {}",
            self.id,
            self.term
        );
        self.campaign(t);
    }

    fn has_unapplied_conf_changes(&self) -> bool {
        let (applied, committed) = (self.raft_log.applied, self.raft_log.committed);
        if applied >= committed {
            return false;
        }
        let mut found = false;
        let page = self.raft_log.max_applying_ents_size;
        let res = self
            .raft_log
            .scan(applied + 1, committed + 1, page, |ents| {
                if ents.iter().any(|e| {
                    matches!(
                        e.entry_type(),
                        crate::eraftpb::EntryType::EntryConfChange
                            | crate::eraftpb::EntryType::EntryConfChangeV2
                    )
                }) {
                    found = true;
                    // Stop scanning: report a sentinel error that is not a fault.
                    return Err(Error::Misuse(String::new()));
                }
                Ok(())
            });
        if let Err(e) = res {
            if !found {
                log!(
                    self,
                    Error,
                    "error scanning unapplied entries [{}, {}): {}",
                    applied + 1,
                    committed + 1,
                    e
                );
                // Refuse to campaign when the log cannot be read.
                return true;
            }
        }
        found
    }

    /// Starts a (pre-)election: becomes (pre-)candidate and asks every voter.
    pub(crate) fn campaign(&mut self, t: CampaignType) {
        if !self.promotable() {
            log!(
                self,
                Warn,
                "{:x} is unpromotable; campaign() should have been called",
                self.id
            );
        }
        let (term, vote_msg) = if t == CampaignType::PreElection {
            self.become_pre_candidate();
            (self.term + 1, MessageType::MsgPreVote)
        } else {
            self.become_candidate();
            (self.term, MessageType::MsgVote)
        };
        let ids: Vec<u64> = self.prs.config.voters.ids().into_iter().collect();
        if self.immediate_self_ack {
            // The older behaviour: count our own vote at once.
            let (_, _, res) = self.poll(self.id, vote_resp_msg_type(vote_msg), true);
            if res == VoteResult::Won {
                if t == CampaignType::PreElection {
                    self.campaign(CampaignType::Election);
                } else {
                    self.become_leader();
                }
                return;
            }
        }
        for id in ids {
            if id == self.id {
                if !self.immediate_self_ack {
                    // Our own vote counts once it is persisted: it comes
                    // back through the after-append messages.
                    self.send(Message {
                        to: id,
                        term,
                        ..Message::with_type(vote_resp_msg_type(vote_msg))
                    });
                }
                continue;
            }
            let (last_term, last_index) = (self.raft_log.last_term(), self.raft_log.last_index());
            log!(
                self,
                Info,
                "{:x} [logterm: {}, index: {}] sent {:?} request to {:x} at term {}",
                self.id,
                last_term,
                last_index,
                vote_msg,
                id,
                self.term
            );
            let context = if t == CampaignType::Transfer {
                Some(Bytes::from_static(CAMPAIGN_TRANSFER))
            } else {
                None
            };
            self.send(Message {
                to: id,
                term,
                index: last_index,
                log_term: last_term,
                context,
                ..Message::with_type(vote_msg)
            });
        }
    }

    /// Records a vote and returns the tally.
    pub(crate) fn poll(&mut self, id: u64, t: MessageType, v: bool) -> (usize, usize, VoteResult) {
        if v {
            log!(
                self,
                Info,
                "{:x} received {:?} from {:x} at term {}",
                self.id,
                t,
                id,
                self.term
            );
        } else {
            log!(
                self,
                Info,
                "{:x} received {:?} rejection from {:x} at term {}",
                self.id,
                t,
                id,
                self.term
            );
        }
        self.prs.record_vote(id, v);
        self.prs.tally_votes()
    }

    /// Logs a decision on a vote request in etcd's words: `verb` is `cast`,
    /// `rejected` or `ignored`; `suffix` follows the term (the lease reason).
    pub(crate) fn log_vote_decision(
        &self,
        verb: &str,
        m: &Message,
        suffix: std::fmt::Arguments<'_>,
    ) {
        log!(
            self,
            Info,
            "{:x} [logterm: {}, index: {}, vote: {:x}] {} {:?} {} {:x} [logterm: {}, index: {}] at term {}{}",
            self.id,
            self.raft_log.last_term(),
            self.raft_log.last_index(),
            self.vote,
            verb,
            m.msg_type(),
            if verb == "cast" { "for" } else { "from" },
            m.from,
            m.log_term,
            m.index,
            self.term,
            suffix
        );
    }

    /// Answers MsgVote / MsgPreVote (after the term checks in `step`).
    pub(crate) fn handle_vote_request(&mut self, m: Message) {
        let t = m.msg_type();
        let can_vote = self.vote == m.from
            || (self.vote == INVALID_ID && self.leader_id == INVALID_ID)
            || (t == MessageType::MsgPreVote && m.term > self.term);
        // The `mutation-vote-without-log-check` feature breaks this rule on
        // purpose, to show the simulation catches it (README).
        let up_to_date = cfg!(feature = "mutation-vote-without-log-check")
            || self.raft_log.is_up_to_date(m.index, m.log_term);
        if can_vote && up_to_date {
            self.log_vote_decision("cast", &m, format_args!(""));
            self.send(Message {
                to: m.from,
                term: m.term,
                ..Message::with_type(vote_resp_msg_type(t))
            });
            if t == MessageType::MsgVote {
                self.election_elapsed = 0;
                self.vote = m.from;
            }
        } else {
            self.log_vote_decision("rejected", &m, format_args!(""));
            self.send(Message {
                to: m.from,
                term: self.term,
                reject: true,
                ..Message::with_type(vote_resp_msg_type(t))
            });
        }
    }

    /// The step function of candidates and pre-candidates.
    pub(crate) fn step_candidate(&mut self, m: &mut Message) -> Result<()> {
        let my_vote_resp = if self.state == StateRole::PreCandidate {
            MessageType::MsgPreVoteResp
        } else {
            MessageType::MsgVoteResp
        };
        let t = m.msg_type();
        match t {
            MessageType::MsgProp => {
                return self.drop_proposal_without_leader();
            }
            MessageType::MsgApp => {
                self.become_follower(m.term, m.from);
                self.handle_append_entries(m);
            }
            MessageType::MsgHeartbeat => {
                self.become_follower(m.term, m.from);
                self.handle_heartbeat(std::mem::take(m));
            }
            MessageType::MsgSnap => {
                self.become_follower(m.term, m.from);
                self.handle_snapshot(std::mem::take(m));
            }
            _ if t == my_vote_resp => {
                let (gr, rj, res) = self.poll(m.from, t, !m.reject);
                log!(
                    self,
                    Info,
                    "{:x} has received {} {:?} votes and {} vote rejections",
                    self.id,
                    gr,
                    t,
                    rj
                );
                match res {
                    VoteResult::Won => {
                        if self.state == StateRole::PreCandidate {
                            self.campaign(CampaignType::Election);
                        } else if self.prs.votes.get(&self.id) != Some(&true) {
                            // A deliberate deviation from etcd: the peers'
                            // votes are a quorum, but our own term and vote
                            // are not yet durable (with async storage
                            // writes the vote requests leave before they
                            // are). Leading now, then crashing before the
                            // write, would let this node restart in the
                            // previous term, win this term again (the same
                            // peers may grant their vote to the same
                            // candidate twice, Raft §5.2) and append other
                            // entries at indexes its first leadership
                            // already replicated under the same term:
                            // followers keep those (Log Matching, §5.3
                            // trusts index and term) and apply entries the
                            // leader never committed. Seed 29778 of the
                            // async simulation. So a candidate leads only
                            // once its own vote is persisted; it comes back
                            // through the after-append messages.
                            log!(
                                self,
                                Info,
                                "{:x} won the election at term {}; it leads once its own vote is persisted",
                                self.id,
                                self.term
                            );
                        } else {
                            self.become_leader();
                            self.bcast_append();
                        }
                    }
                    VoteResult::Lost => {
                        let term = self.term;
                        self.become_follower(term, INVALID_ID);
                    }
                    VoteResult::Pending => {}
                }
            }
            MessageType::MsgTimeoutNow => {
                log!(
                    self,
                    Debug,
                    "{:x} [term {} state {}] ignored MsgTimeoutNow from {:x}",
                    self.id,
                    self.term,
                    self.state,
                    m.from
                );
            }
            _ => {}
        }
        Ok(())
    }
}
