//! The [`Changer`]: applies conf changes to a copy of a tracker's state.

use crate::eraftpb::{ConfChangeSingle, ConfChangeType};
use crate::errors::{Error, Result};
use crate::tracker::{Progress, ProgressMap, ProgressTracker, TrackerConfig};

/// Computes configuration changes against a tracker without modifying it.
///
/// Every method returns the new configuration and progress map (to be
/// installed by the caller) or an error with etcd's message, leaving
/// everything unchanged.
#[derive(Debug, Clone, Copy)]
pub struct Changer<'a> {
    /// The tracker holding the current configuration and progress.
    pub tracker: &'a ProgressTracker,
    /// The leader's last log index; new peers start probing there.
    pub last_index: u64,
}

fn err<T>(msg: impl Into<String>) -> Result<T> {
    Err(Error::ConfChange(msg.into()))
}

impl<'a> Changer<'a> {
    /// A changer over `tracker` with the given last log index.
    pub fn new(tracker: &'a ProgressTracker, last_index: u64) -> Self {
        Changer {
            tracker,
            last_index,
        }
    }

    /// Enters a joint configuration: the current voters become the outgoing
    /// half, then `ccs` are applied to the incoming half. `auto_leave` asks
    /// Raft to leave the joint state automatically.
    ///
    /// Errors: `config is already joint`, `can't make a zero-voter config
    /// joint`, `removed all voters`, invariant violations.
    pub fn enter_joint(
        &self,
        auto_leave: bool,
        ccs: &[ConfChangeSingle],
    ) -> Result<(TrackerConfig, ProgressMap)> {
        let (mut cfg, mut prs) = self.check_and_copy()?;
        if cfg.is_joint() {
            return err("config is already joint");
        }
        if cfg.voters.incoming.is_empty() {
            // An empty config may be populated (bootstrap, tests), but it
            // cannot become joint.
            return err("can't make a zero-voter config joint");
        }
        cfg.voters.outgoing = cfg.voters.incoming.clone();
        self.apply(&mut cfg, &mut prs, ccs)?;
        cfg.auto_leave = auto_leave;
        check_and_return(cfg, prs)
    }

    /// Leaves a joint configuration: staged learners become learners, the
    /// progress of outgoing voters that are neither incoming voters nor
    /// learners is dropped, and the outgoing half is cleared.
    ///
    /// Errors: `can't leave a non-joint config`, invariant violations.
    pub fn leave_joint(&self) -> Result<(TrackerConfig, ProgressMap)> {
        let (mut cfg, mut prs) = self.check_and_copy()?;
        if !cfg.is_joint() {
            return err("can't leave a non-joint config");
        }
        for id in std::mem::take(&mut cfg.learners_next) {
            cfg.learners.insert(id);
            if let Some(pr) = prs.get_mut(&id) {
                pr.is_learner = true;
            }
        }
        for id in cfg.voters.outgoing.iter() {
            if !cfg.voters.incoming.contains(id) && !cfg.learners.contains(&id) {
                prs.remove(&id);
            }
        }
        cfg.voters.outgoing.clear();
        cfg.auto_leave = false;
        check_and_return(cfg, prs)
    }

    /// Applies `ccs` without joint consensus; in aggregate they may change
    /// the voters by at most one.
    ///
    /// Errors: `can't apply simple config change in joint config`, `removed
    /// all voters`, `more than one voter changed without entering joint
    /// config`, invariant violations.
    pub fn simple(&self, ccs: &[ConfChangeSingle]) -> Result<(TrackerConfig, ProgressMap)> {
        let (mut cfg, mut prs) = self.check_and_copy()?;
        if cfg.is_joint() {
            return err("can't apply simple config change in joint config");
        }
        self.apply(&mut cfg, &mut prs, ccs)?;
        let old = self.tracker.config.voters.incoming.ids();
        let new = cfg.voters.incoming.ids();
        if old.symmetric_difference(new).nth(1).is_some() {
            return err("more than one voter changed without entering joint config");
        }
        check_and_return(cfg, prs)
    }

    /// Applies changes to the incoming voters (the outgoing half, if any,
    /// is never modified here).
    fn apply(
        &self,
        cfg: &mut TrackerConfig,
        prs: &mut ProgressMap,
        ccs: &[ConfChangeSingle],
    ) -> Result<()> {
        for cc in ccs {
            if cc.node_id == 0 {
                // Applications zero the id of changes they decided to skip.
                continue;
            }
            match ConfChangeType::try_from(cc.change_type) {
                Ok(ConfChangeType::ConfChangeAddNode) => self.make_voter(cfg, prs, cc.node_id),
                Ok(ConfChangeType::ConfChangeAddLearnerNode) => {
                    self.make_learner(cfg, prs, cc.node_id)
                }
                Ok(ConfChangeType::ConfChangeRemoveNode) => remove(cfg, prs, cc.node_id),
                Ok(ConfChangeType::ConfChangeUpdateNode) => {}
                Err(_) => return err(format!("unexpected conf type {}", cc.change_type)),
            }
        }
        if cfg.voters.incoming.is_empty() {
            return err("removed all voters");
        }
        Ok(())
    }

    /// Adds `id` as an incoming voter, promoting it if it is a learner.
    fn make_voter(&self, cfg: &mut TrackerConfig, prs: &mut ProgressMap, id: u64) {
        match prs.get_mut(&id) {
            None => self.init_progress(cfg, prs, id, false),
            Some(pr) => {
                pr.is_learner = false;
                cfg.learners.remove(&id);
                cfg.learners_next.remove(&id);
                cfg.voters.incoming.insert(id);
            }
        }
    }

    /// Makes `id` a learner, or stages it in `learners_next` while it is
    /// still an outgoing voter (a peer is never a voter and a learner at
    /// the same time).
    fn make_learner(&self, cfg: &mut TrackerConfig, prs: &mut ProgressMap, id: u64) {
        let Some(pr) = prs.get_mut(&id) else {
            self.init_progress(cfg, prs, id, true);
            return;
        };
        if pr.is_learner {
            return;
        }
        // Remove it as an incoming voter (as `remove` does), but keep its
        // progress.
        cfg.voters.incoming.remove(id);
        cfg.learners.remove(&id);
        cfg.learners_next.remove(&id);
        if cfg.voters.outgoing.contains(id) {
            cfg.learners_next.insert(id);
        } else {
            pr.is_learner = true;
            cfg.learners.insert(id);
        }
    }

    /// Starts tracking a new peer, probing from the last index.
    fn init_progress(
        &self,
        cfg: &mut TrackerConfig,
        prs: &mut ProgressMap,
        id: u64,
        learner: bool,
    ) {
        if learner {
            cfg.learners.insert(id);
        } else {
            cfg.voters.incoming.insert(id);
        }
        let mut pr = Progress::new(
            self.last_index.max(1),
            self.tracker.max_inflight,
            self.tracker.max_inflight_bytes,
        );
        pr.is_learner = learner;
        // A new peer counts as active so that check-quorum does not step the
        // leader down before the peer had a chance to respond.
        pr.recent_active = true;
        prs.insert(id, pr);
    }

    /// Clones the tracker's configuration and progress after checking its
    /// invariants.
    fn check_and_copy(&self) -> Result<(TrackerConfig, ProgressMap)> {
        check_and_return(self.tracker.config.clone(), self.tracker.progress.clone())
    }
}

/// Removes `id` as an incoming voter and learner; its progress is kept
/// only while it is an outgoing voter. Unknown ids are ignored.
fn remove(cfg: &mut TrackerConfig, prs: &mut ProgressMap, id: u64) {
    if !prs.contains_key(&id) {
        return;
    }
    cfg.voters.incoming.remove(id);
    cfg.learners.remove(&id);
    cfg.learners_next.remove(&id);
    if !cfg.voters.outgoing.contains(id) {
        prs.remove(&id);
    }
}

fn check_and_return(cfg: TrackerConfig, prs: ProgressMap) -> Result<(TrackerConfig, ProgressMap)> {
    check_invariants(&cfg, &prs)?;
    Ok((cfg, prs))
}

/// Checks that the configuration and the progress map agree.
pub(crate) fn check_invariants(cfg: &TrackerConfig, prs: &ProgressMap) -> Result<()> {
    let tracked = cfg
        .voters
        .iter_ids()
        .chain(cfg.learners.iter().copied())
        .chain(cfg.learners_next.iter().copied());
    for id in tracked {
        if !prs.contains_key(&id) {
            return err(format!("no progress for {id}"));
        }
    }
    // Staged learners are staged because they are still outgoing voters.
    for id in &cfg.learners_next {
        if !cfg.voters.outgoing.contains(*id) {
            return err(format!("{id} is in LearnersNext, but not Voters[1]"));
        }
        if prs.get(id).is_some_and(|pr| pr.is_learner) {
            return err(format!(
                "{id} is in LearnersNext, but is already marked as learner"
            ));
        }
    }
    // Learners and voters are disjoint.
    for id in &cfg.learners {
        if cfg.voters.outgoing.contains(*id) {
            return err(format!("{id} is in Learners and Voters[1]"));
        }
        if cfg.voters.incoming.contains(*id) {
            return err(format!("{id} is in Learners and Voters[0]"));
        }
        if prs.get(id).is_some_and(|pr| !pr.is_learner) {
            return err(format!("{id} is in Learners, but is not marked as learner"));
        }
    }
    if !cfg.is_joint() {
        if !cfg.learners_next.is_empty() {
            return err("cfg.LearnersNext must be nil when not joint");
        }
        if cfg.auto_leave {
            return err("AutoLeave must be false when not joint");
        }
    }
    Ok(())
}
