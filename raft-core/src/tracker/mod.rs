//! The leader's bookkeeping of the configuration and of every peer's
//! replication progress (etcd's `tracker` package).

mod inflights;
mod progress;
mod state;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::eraftpb::ConfState;
use crate::quorum::{AckedIndexer, Index, JointConfig, VoteResult};

pub use inflights::Inflights;
pub use progress::Progress;
pub use state::ProgressState;

/// The progress of every tracked peer (voters and learners), by id.
pub type ProgressMap = BTreeMap<u64, Progress>;

impl AckedIndexer for ProgressMap {
    /// A peer's acknowledged index is its `matched` index.
    fn acked_index(&self, id: u64) -> Option<Index> {
        self.get(&id).map(|pr| pr.matched)
    }
}

/// The active configuration: voters (possibly joint), learners, and the
/// learners staged until a joint configuration is left.
///
/// Invariants (checked by the conf change code): learners and voters are
/// disjoint; every id in `learners_next` is an outgoing voter; outside of a
/// joint configuration `learners_next` is empty and `auto_leave` is false.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrackerConfig {
    /// The voters; the outgoing half is non-empty only in a joint config.
    pub voters: JointConfig,
    /// True if the joint configuration is to be left automatically once
    /// possible.
    pub auto_leave: bool,
    /// The learners.
    pub learners: BTreeSet<u64>,
    /// Outgoing voters that become learners when the joint configuration is
    /// left (a voter cannot be a learner at the same time).
    pub learners_next: BTreeSet<u64>,
}

impl TrackerConfig {
    /// True if the configuration is joint.
    pub fn is_joint(&self) -> bool {
        self.voters.is_joint()
    }
}

/// Writes ids as `(1 2 3)`, ascending, in hex.
fn fmt_id_set(f: &mut fmt::Formatter<'_>, ids: &BTreeSet<u64>) -> fmt::Result {
    f.write_str("(")?;
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            f.write_str(" ")?;
        }
        write!(f, "{id:x}")?;
    }
    f.write_str(")")
}

impl fmt::Display for TrackerConfig {
    /// `voters=(1 2 3)&&(1) learners=(2) learners_next=(1) autoleave`; empty
    /// learner sets and a false auto-leave flag print nothing.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "voters={}", self.voters)?;
        if !self.learners.is_empty() {
            f.write_str(" learners=")?;
            fmt_id_set(f, &self.learners)?;
        }
        if !self.learners_next.is_empty() {
            f.write_str(" learners_next=")?;
            fmt_id_set(f, &self.learners_next)?;
        }
        if self.auto_leave {
            f.write_str(" autoleave")?;
        }
        Ok(())
    }
}

/// Formats a [`ProgressMap`] as etcd does: one `<id decimal>: <progress>`
/// line per peer, ascending, each ending in `\n`.
#[cfg(any(test, feature = "test-internals"))]
pub fn progress_map_string(m: &ProgressMap) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for (id, pr) in m {
        // Writing into a String cannot fail.
        let _ = writeln!(out, "{id}: {pr}");
    }
    out
}

/// The configuration, the progress of every peer and the votes of the
/// current election.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressTracker {
    /// The active configuration.
    pub config: TrackerConfig,
    /// Progress of every voter and learner.
    pub progress: ProgressMap,
    /// Votes received in the current election (true = granted).
    pub votes: BTreeMap<u64, bool>,
    /// Inflight window size for new progresses.
    pub max_inflight: usize,
    /// Inflight byte limit for new progresses (0 = none).
    pub max_inflight_bytes: u64,
}

impl ProgressTracker {
    /// An empty tracker (no voters, no progress).
    pub fn new(max_inflight: usize, max_inflight_bytes: u64) -> Self {
        ProgressTracker {
            config: TrackerConfig::default(),
            progress: ProgressMap::new(),
            votes: BTreeMap::new(),
            max_inflight,
            max_inflight_bytes,
        }
    }

    /// The active configuration as a `ConfState` (sorted id lists).
    pub fn conf_state(&self) -> ConfState {
        ConfState {
            voters: self.config.voters.incoming.to_vec(),
            learners: self.config.learners.iter().copied().collect(),
            voters_outgoing: self.config.voters.outgoing.to_vec(),
            learners_next: self.config.learners_next.iter().copied().collect(),
            auto_leave: self.config.auto_leave,
        }
    }

    /// True if there is exactly one voter and no joint configuration.
    pub fn is_singleton(&self) -> bool {
        self.config.voters.is_singleton()
    }

    /// The largest index acknowledged by a (joint) quorum of voters, based on
    /// their `matched` indexes.
    pub fn committed(&self) -> u64 {
        self.config.voters.committed_index(&self.progress)
    }

    /// True if a (joint) quorum of voters is recently active. The leader's
    /// own progress is expected to be marked active by the caller, as etcd
    /// does.
    pub fn quorum_active(&self) -> bool {
        let active = |id: u64| {
            self.progress
                .get(&id)
                .filter(|pr| !pr.is_learner)
                .map(|pr| pr.recent_active)
        };
        self.config.voters.vote_result(active) == VoteResult::Won
    }

    /// All voters (both halves), sorted.
    pub fn voter_nodes(&self) -> Vec<u64> {
        self.config.voters.iter_ids().collect()
    }

    /// Forgets all votes, for a new election.
    pub fn reset_votes(&mut self) {
        self.votes.clear();
    }

    /// Records `id`'s vote; only the first vote of a peer counts.
    pub fn record_vote(&mut self, id: u64, granted: bool) {
        self.votes.entry(id).or_insert(granted);
    }

    /// Counts the granted and rejected votes of tracked non-learners, and the
    /// election outcome so far.
    pub fn tally_votes(&self) -> (usize, usize, VoteResult) {
        let (mut granted, mut rejected) = (0, 0);
        for (id, pr) in &self.progress {
            if pr.is_learner {
                continue;
            }
            match self.votes.get(id) {
                Some(true) => granted += 1,
                Some(false) => rejected += 1,
                None => {}
            }
        }
        let result = self
            .config
            .voters
            .vote_result(|id| self.votes.get(&id).copied());
        (granted, rejected, result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracker(incoming: &[u64], outgoing: &[u64], learners: &[u64]) -> ProgressTracker {
        let mut t = ProgressTracker::new(10, 0);
        t.config.voters.incoming = incoming.iter().copied().collect();
        t.config.voters.outgoing = outgoing.iter().copied().collect();
        t.config.learners = learners.iter().copied().collect();
        for id in incoming.iter().chain(outgoing).chain(learners) {
            let mut pr = Progress::new(1, 10, 0);
            pr.is_learner = learners.contains(id);
            t.progress.insert(*id, pr);
        }
        t
    }

    #[test]
    fn config_display() {
        let mut c = TrackerConfig::default();
        assert_eq!(c.to_string(), "voters=()");
        c.voters.incoming = [1, 2, 3].into_iter().collect();
        c.voters.outgoing = [1].into_iter().collect();
        c.learners = [2].into_iter().collect();
        c.learners_next = [1].into_iter().collect();
        c.auto_leave = true;
        assert_eq!(
            c.to_string(),
            "voters=(1 2 3)&&(1) learners=(2) learners_next=(1) autoleave"
        );
        c.learners = [26].into_iter().collect();
        c.learners_next.clear();
        c.auto_leave = false;
        assert_eq!(c.to_string(), "voters=(1 2 3)&&(1) learners=(1a)");
    }

    #[test]
    fn conf_state_is_sorted() {
        let mut t = tracker(&[3, 1, 2], &[5, 4], &[9, 7]);
        t.config.learners_next = [4].into_iter().collect();
        t.config.auto_leave = true;
        let cs = t.conf_state();
        assert_eq!(cs.voters, vec![1, 2, 3]);
        assert_eq!(cs.voters_outgoing, vec![4, 5]);
        assert_eq!(cs.learners, vec![7, 9]);
        assert_eq!(cs.learners_next, vec![4]);
        assert!(cs.auto_leave);
        assert_eq!(t.voter_nodes(), vec![1, 2, 3, 4, 5]);
    }

    #[test]
    fn committed_uses_match_of_voters_only() {
        let mut t = tracker(&[1, 2, 3], &[], &[4]);
        for (id, m) in [(1, 10), (2, 7), (3, 2), (4, 100)] {
            t.progress.get_mut(&id).unwrap().matched = m;
        }
        assert_eq!(t.committed(), 7);
        t.config.voters.outgoing = [3, 4].into_iter().collect();
        assert_eq!(t.committed(), 2);
    }

    #[test]
    fn singleton() {
        assert!(tracker(&[1], &[], &[2]).is_singleton());
        assert!(!tracker(&[1], &[2], &[]).is_singleton());
        assert!(!tracker(&[1, 2], &[], &[]).is_singleton());
    }

    #[test]
    fn votes_first_wins_and_learners_ignored() {
        let mut t = tracker(&[1, 2, 3], &[], &[4]);
        t.record_vote(1, true);
        t.record_vote(1, false);
        t.record_vote(4, true);
        assert_eq!(t.tally_votes(), (1, 0, VoteResult::Pending));
        t.record_vote(2, false);
        t.record_vote(3, false);
        assert_eq!(t.tally_votes(), (1, 2, VoteResult::Lost));
        t.reset_votes();
        t.record_vote(2, true);
        t.record_vote(3, true);
        assert_eq!(t.tally_votes(), (2, 0, VoteResult::Won));
    }

    #[test]
    fn quorum_active_needs_joint_majority() {
        let mut t = tracker(&[1, 2, 3], &[3, 4, 5], &[6]);
        let set = |t: &mut ProgressTracker, ids: &[u64]| {
            for (id, pr) in t.progress.iter_mut() {
                pr.recent_active = ids.contains(id);
            }
        };
        set(&mut t, &[1, 2, 6]);
        assert!(!t.quorum_active());
        set(&mut t, &[1, 3, 4]);
        assert!(t.quorum_active());
        set(&mut t, &[1, 2, 4, 5]);
        assert!(t.quorum_active());
        set(&mut t, &[3]);
        assert!(!t.quorum_active());
    }


    #[test]
    fn progress_map_format() {
        let t = tracker(&[1], &[], &[2]);
        assert_eq!(
            progress_map_string(&t.progress),
            "1: StateProbe match=0 next=1 inactive\n2: StateProbe match=0 next=1 learner inactive\n"
        );
    }
}
