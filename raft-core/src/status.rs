//! What an application may observe of a node: [`Status`] (etcd's
//! `raft.Status`) and, on a leader, a [`PeerProgress`] per peer: a read-only
//! copy of the leader's replication state (etcd's `tracker.Progress`), so
//! that nothing outside the crate reaches into the tracker.

use std::collections::BTreeMap;
use std::fmt;

use crate::eraftpb::{ConfState, HardState};
use crate::raft::SoftState;
use crate::tracker::{Progress, ProgressState};

/// A snapshot of the node's state for observation, from
/// [`RawNode::status`](crate::RawNode::status).
#[derive(Debug, Clone)]
pub struct Status {
    /// The node id.
    pub id: u64,
    /// Term, vote and commit.
    pub hard_state: HardState,
    /// Leader and role.
    pub soft_state: SoftState,
    /// The applied index.
    pub applied: u64,
    /// The target of a leadership transfer in progress, or 0.
    pub lead_transferee: u64,
    /// The current membership (voters, outgoing voters of a joint
    /// configuration, learners, learners to add on leaving it, auto-leave);
    /// every role knows it.
    pub config: ConfState,
    /// The progress of every peer (the leader included); only a leader has
    /// it.
    pub progress: Option<BTreeMap<u64, PeerProgress>>,
}

/// What the leader knows about one peer's log, copied out of its tracker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerProgress {
    /// Highest index known to match the leader's log.
    pub matched: u64,
    /// Index of the next entry the leader will send.
    pub next_idx: u64,
    /// How the leader replicates to the peer.
    pub state: ProgressState,
    /// In [`ProgressState::Snapshot`], the index of the snapshot being sent;
    /// 0 otherwise.
    pub pending_snapshot: u64,
    /// Whether the peer was heard from since the last check-quorum round
    /// (always true for the leader itself).
    pub recent_active: bool,
    /// Whether appends to the peer are throttled (a probe is outstanding,
    /// the inflight window is full, or a snapshot is pending).
    pub paused: bool,
    /// Whether the peer is a learner.
    pub is_learner: bool,
    /// Append messages in flight to the peer.
    pub inflight_count: usize,
    /// Whether the inflight window is full.
    pub inflight_full: bool,
}

impl From<&Progress> for PeerProgress {
    fn from(p: &Progress) -> PeerProgress {
        PeerProgress {
            matched: p.matched,
            next_idx: p.next_idx,
            state: p.state,
            pending_snapshot: p.pending_snapshot,
            recent_active: p.recent_active,
            paused: p.is_paused(),
            is_learner: p.is_learner,
            inflight_count: p.inflights.count(),
            inflight_full: p.inflights.full(),
        }
    }
}

impl fmt::Display for PeerProgress {
    /// `StateReplicate match=14 next=17 paused inflight=3[full]` and
    /// friends, as etcd prints a progress.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} match={} next={}",
            self.state, self.matched, self.next_idx
        )?;
        if self.is_learner {
            f.write_str(" learner")?;
        }
        if self.paused {
            f.write_str(" paused")?;
        }
        if self.pending_snapshot > 0 {
            write!(f, " pendingSnap={}", self.pending_snapshot)?;
        }
        if !self.recent_active {
            f.write_str(" inactive")?;
        }
        if self.inflight_count > 0 {
            write!(f, " inflight={}", self.inflight_count)?;
            if self.inflight_full {
                f.write_str("[full]")?;
            }
        }
        Ok(())
    }
}
