//! The node status as C structs: [`raft_status`] and the leader's view of
//! each peer, [`raft_progress`].

use raft_core::{PeerProgress, Status};

use crate::enums::{raft_progress_state, raft_state_role};

/// A snapshot of a node's state, filled by `raft_rawnode_status`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct raft_status {
    /// Node id.
    pub id: u64,
    /// Current term.
    pub term: u64,
    /// Vote in the current term (0 = none).
    pub vote: u64,
    /// Commit index.
    pub commit: u64,
    /// Known leader (0 = none).
    pub leader_id: u64,
    /// A `raft_state_role`.
    pub raft_state: i32,
    /// Applied index.
    pub applied: u64,
    /// Target of a leader transfer in progress (0 = none).
    pub lead_transferee: u64,
}

impl raft_status {
    /// The C form of a core status.
    pub fn of(s: &Status) -> raft_status {
        raft_status {
            id: s.id,
            term: s.hard_state.term,
            vote: s.hard_state.vote,
            commit: s.hard_state.commit,
            leader_id: s.soft_state.leader_id,
            raft_state: raft_state_role::from(s.soft_state.raft_state).into(),
            applied: s.applied,
            lead_transferee: s.lead_transferee,
        }
    }
}

/// What the leader knows about one peer's log (etcd `tracker.Progress`),
/// filled by `raft_rawnode_progress`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct raft_progress {
    /// Peer id (the leader lists itself too).
    pub id: u64,
    /// Highest index known to match the leader's log.
    pub r#match: u64,
    /// Index of the next entry the leader will send.
    pub next: u64,
    /// A `raft_progress_state`.
    pub state: i32,
    /// In RAFT_PROGRESS_STATE_SNAPSHOT, the index of the snapshot being
    /// sent; 0 otherwise.
    pub pending_snapshot: u64,
    /// Whether the peer was heard from since the last check-quorum round
    /// (always true for the leader itself).
    pub recent_active: bool,
    /// Whether appends to the peer are currently throttled (a probe is
    /// outstanding, the inflight window is full, or a snapshot is pending).
    pub paused: bool,
    /// Whether the peer is a learner.
    pub is_learner: bool,
    /// Number of append messages in flight to the peer.
    pub inflight_count: usize,
}

impl raft_progress {
    /// The C form of the progress of peer `id`.
    pub fn of(id: u64, p: &PeerProgress) -> raft_progress {
        raft_progress {
            id,
            r#match: p.matched,
            next: p.next_idx,
            state: raft_progress_state::from(p.state).into(),
            pending_snapshot: p.pending_snapshot,
            recent_active: p.recent_active,
            paused: p.paused,
            is_learner: p.is_learner,
            inflight_count: p.inflight_count,
        }
    }
}
