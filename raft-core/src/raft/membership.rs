//! Membership: validating proposed conf changes (the conf-change checks of
//! etcd's `stepLeader`), applying them (`applyConfChange`), and switching
//! the progress tracker to a new configuration (`switchToConfig`), also
//! when a node starts from a stored `ConfState`.

use super::{log, Raft, StateRole, INVALID_ID};
use crate::confchange::{self, Changer};
use crate::eraftpb::{ConfChangeV2, ConfState, Entry, EntryType, Message, MessageType};
use crate::errors::{Error, Result};
use crate::proto_ext::ConfChangeI;
use crate::storage::Storage;
use crate::tracker::{ProgressMap, TrackerConfig};

/// A MsgProp carrying `cc` (or the empty ConfChangeV2 that leaves a joint
/// configuration when `cc` is `None`).
pub(crate) fn conf_change_to_msg(cc: Option<&ConfChangeI>) -> Message {
    let entry = match cc {
        Some(cc) => {
            let (t, data) = cc.to_entry_parts();
            let mut e = Entry {
                data: Some(data),
                ..Default::default()
            };
            e.set_entry_type(t);
            e
        }
        None => {
            let mut e = Entry::default();
            e.set_entry_type(EntryType::EntryConfChangeV2);
            e
        }
    };
    Message {
        entries: vec![entry],
        ..Message::with_type(MessageType::MsgProp)
    }
}

impl<S: Storage> Raft<S> {
    /// Checks the conf changes among proposed entries (leader side); a
    /// refused one is replaced by an empty normal entry, as etcd does.
    pub(crate) fn check_proposed_conf_changes(&mut self, entries: &mut [Entry]) -> Result<()> {
        let last_index = self.raft_log.last_index();
        for (i, entry) in entries.iter_mut().enumerate() {
            let cc = match ConfChangeI::from_entry(entry) {
                None => continue,
                Some(Ok(cc)) => cc,
                Some(Err(e)) => {
                    // Undecodable conf change: refuse the whole proposal.
                    log!(
                        self,
                        Warn,
                        "{:x} dropping undecodable conf change proposal: {}",
                        self.id,
                        e
                    );
                    return Err(Error::ProposalDropped);
                }
            };
            let already_pending = self.pending_conf_index > self.raft_log.applied;
            let already_joint = !self.prs.config.voters.outgoing.is_empty();
            let wants_leave_joint = cc.as_v2().changes.is_empty();
            let failed = if already_pending {
                Some(format!(
                    "possible unapplied conf change at index {} (applied to {})",
                    self.pending_conf_index, self.raft_log.applied
                ))
            } else if already_joint && !wants_leave_joint {
                Some("must transition out of joint config first".to_string())
            } else if !already_joint && wants_leave_joint {
                Some("not in joint state; refusing empty conf change".to_string())
            } else {
                None
            };
            match failed {
                Some(reason) if !self.disable_conf_change_validation => {
                    log!(
                        self,
                        Info,
                        "{:x} ignoring conf change {} at config {}: {}",
                        self.id,
                        crate::describe::describe_conf_change(&cc),
                        self.prs.config,
                        reason
                    );
                    *entry = Entry::default();
                }
                _ => {
                    self.pending_conf_index = last_index + i as u64 + 1;
                }
            }
        }
        Ok(())
    }

    /// Applies a conf change to the configuration and returns the new
    /// ConfState.
    pub fn apply_conf_change(&mut self, cc: &ConfChangeV2) -> Result<ConfState> {
        let changer = Changer {
            tracker: &self.prs,
            last_index: self.raft_log.last_index(),
        };
        let (cfg, prs) = if cc.leave_joint() {
            changer.leave_joint()?
        } else if let Some(auto_leave) = cc.enter_joint() {
            changer.enter_joint(auto_leave, &cc.changes)?
        } else {
            changer.simple(&cc.changes)?
        };
        Ok(self.switch_to_config(cfg, prs))
    }

    /// Rebuilds the configuration from a ConfState (start-up and snapshot
    /// restore).
    pub(crate) fn restore_conf_state(&mut self, cs: &ConfState, last_index: u64) -> Result<()> {
        let changer = Changer {
            tracker: &self.prs,
            last_index,
        };
        let (cfg, prs) = confchange::restore(changer, cs)?;
        let got = self.switch_to_config(cfg, prs);
        if !got.equivalent(cs) {
            return Err(Error::Invariant(format!(
                "ConfStates not equivalent after sorting:\n{cs:?}\n{got:?}\nInputs were:\n{cs:?}"
            )));
        }
        Ok(())
    }

    /// Installs a new configuration (etcd's `switchToConfig`).
    pub(crate) fn switch_to_config(&mut self, cfg: TrackerConfig, prs: ProgressMap) -> ConfState {
        self.prs.config = cfg;
        self.prs.progress = prs;
        log!(
            self,
            Info,
            "{:x} switched to configuration {}",
            self.id,
            self.prs.config
        );
        let cs = self.prs.conf_state();
        let (present, learner) = match self.prs.progress.get(&self.id) {
            Some(pr) => (true, pr.is_learner),
            None => (false, false),
        };
        self.is_learner = present && learner;
        if (!present || self.is_learner) && self.state == StateRole::Leader {
            if self.step_down_on_removal {
                let term = self.term;
                self.become_follower(term, INVALID_ID);
            }
            return cs;
        }
        if self.state != StateRole::Leader || cs.voters.is_empty() {
            return cs;
        }
        if self.maybe_commit() {
            self.bcast_append();
        } else {
            self.for_each_peer(|r, id| {
                r.maybe_send_append(id, false);
            });
        }
        if self.lead_transferee != INVALID_ID
            && !self.prs.config.voters.contains(self.lead_transferee)
        {
            self.abort_leader_transfer();
        }
        cs
    }
}
