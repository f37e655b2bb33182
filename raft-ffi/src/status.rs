//! The node status as a C struct ([`raft_status`]).

use raft_core::{StateRole, Status};

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
    pub fn of(s: &Status, role: fn(StateRole) -> i32) -> raft_status {
        raft_status {
            id: s.id,
            term: s.hard_state.term,
            vote: s.hard_state.vote,
            commit: s.hard_state.commit,
            leader_id: s.soft_state.leader_id,
            raft_state: role(s.soft_state.raft_state),
            applied: s.applied,
            lead_transferee: s.lead_transferee,
        }
    }
}
