//! The C enums. Values equal etcd's raftpb numbers. In structs and
//! parameters the C side passes them as `int32_t`.
//!
//! Each C enum is tied to its core enum by `From` conversions written as
//! exhaustive matches (a variant added on either side fails to compile until
//! it is mapped), and `int32_t` values from C are read with [`enum_in`]
//! through `TryFrom<i32>`, which accepts exactly the values of the enum: no
//! hand-written range bound can go stale. The unit tests below check every
//! raftpb value round-trips.

use raft_core::eraftpb::{ConfChangeTransition, ConfChangeType, EntryType, MessageType};
use raft_core::ProgressState;
use raft_core::{Level, ReadOnlyOption, SnapshotStatus, StateRole};

use crate::result::{Fail, FfiResult};

/// Reads an `int32_t` enum value from C as `E`; any other value is
/// RAFT_ERR_INVALID_ARGUMENT naming `what`.
pub fn enum_in<E: TryFrom<i32>>(v: i32, what: &str) -> FfiResult<E> {
    E::try_from(v).map_err(|_| Fail::invalid(format!("{what}: {v} is not a valid value")))
}

/// Reads an `int32_t` raftpb enum value from C (checked against `C`, the C
/// enum tied to the core's) and returns the core's number for it.
pub fn pb_enum_in<C>(v: i32, what: &str) -> FfiResult<i32>
where
    C: TryFrom<i32> + Into<i32>,
{
    Ok(enum_in::<C>(v, what)?.into())
}

/// Ties a C enum to a core enum both ways with exhaustive matches, plus
/// `TryFrom<i32>` (through the C variants) and `Into<i32>`.
macro_rules! tie {
    ($c:ident <=> $core:ty { $($cv:ident <=> $corev:path),+ $(,)? }) => {
        impl From<$core> for $c {
            fn from(v: $core) -> Self {
                match v { $($corev => $c::$cv),+ }
            }
        }
        impl From<$c> for $core {
            fn from(v: $c) -> Self {
                match v { $($c::$cv => $corev),+ }
            }
        }
        impl TryFrom<i32> for $c {
            type Error = i32;
            fn try_from(v: i32) -> Result<Self, i32> {
                $(if v == $c::$cv as i32 { return Ok($c::$cv); })+
                Err(v)
            }
        }
        impl From<$c> for i32 {
            fn from(v: $c) -> i32 {
                v as i32
            }
        }
    };
}

/// Type of a log entry (etcd `EntryType`).
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum raft_entry_type {
    /// A normal entry carrying application data.
    RAFT_ENTRY_NORMAL = 0,
    /// An entry carrying an encoded ConfChange.
    RAFT_ENTRY_CONF_CHANGE = 1,
    /// An entry carrying an encoded ConfChangeV2.
    RAFT_ENTRY_CONF_CHANGE_V2 = 2,
}

/// Type of a Raft message (etcd `MessageType`).
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum raft_message_type {
    /// Local: start an election.
    RAFT_MSG_HUP = 0,
    /// Local: leader heartbeat tick.
    RAFT_MSG_BEAT = 1,
    /// A proposal.
    RAFT_MSG_PROP = 2,
    /// Append entries.
    RAFT_MSG_APP = 3,
    /// Append response.
    RAFT_MSG_APP_RESP = 4,
    /// Vote request.
    RAFT_MSG_VOTE = 5,
    /// Vote response.
    RAFT_MSG_VOTE_RESP = 6,
    /// Snapshot.
    RAFT_MSG_SNAP = 7,
    /// Heartbeat.
    RAFT_MSG_HEARTBEAT = 8,
    /// Heartbeat response.
    RAFT_MSG_HEARTBEAT_RESP = 9,
    /// Local: a peer is unreachable.
    RAFT_MSG_UNREACHABLE = 10,
    /// Local: snapshot status report.
    RAFT_MSG_SNAP_STATUS = 11,
    /// Local: check quorum tick.
    RAFT_MSG_CHECK_QUORUM = 12,
    /// Leader transfer request.
    RAFT_MSG_TRANSFER_LEADER = 13,
    /// Tells the transferee to campaign now.
    RAFT_MSG_TIMEOUT_NOW = 14,
    /// Read index request.
    RAFT_MSG_READ_INDEX = 15,
    /// Read index response.
    RAFT_MSG_READ_INDEX_RESP = 16,
    /// Pre-vote request.
    RAFT_MSG_PRE_VOTE = 17,
    /// Pre-vote response.
    RAFT_MSG_PRE_VOTE_RESP = 18,
    /// Local: asynchronous storage append.
    RAFT_MSG_STORAGE_APPEND = 19,
    /// Local: asynchronous storage append response.
    RAFT_MSG_STORAGE_APPEND_RESP = 20,
    /// Local: asynchronous storage apply.
    RAFT_MSG_STORAGE_APPLY = 21,
    /// Local: asynchronous storage apply response.
    RAFT_MSG_STORAGE_APPLY_RESP = 22,
    /// Forget the current leader.
    RAFT_MSG_FORGET_LEADER = 23,
}

/// Kind of a single membership change (etcd `ConfChangeType`).
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum raft_conf_change_type {
    /// Add a voter.
    RAFT_CONF_CHANGE_ADD_NODE = 0,
    /// Remove a node.
    RAFT_CONF_CHANGE_REMOVE_NODE = 1,
    /// Update a node (no membership effect).
    RAFT_CONF_CHANGE_UPDATE_NODE = 2,
    /// Add a learner.
    RAFT_CONF_CHANGE_ADD_LEARNER_NODE = 3,
}

/// How a ConfChangeV2 uses joint consensus (etcd `ConfChangeTransition`).
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum raft_conf_change_transition {
    /// Joint consensus only when needed, left automatically.
    RAFT_CONF_CHANGE_TRANSITION_AUTO = 0,
    /// Joint consensus, left automatically.
    RAFT_CONF_CHANGE_TRANSITION_JOINT_IMPLICIT = 1,
    /// Joint consensus, left by an explicit empty ConfChangeV2.
    RAFT_CONF_CHANGE_TRANSITION_JOINT_EXPLICIT = 2,
}

/// Role of a node.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum raft_state_role {
    /// Follower.
    RAFT_STATE_FOLLOWER = 0,
    /// Candidate.
    RAFT_STATE_CANDIDATE = 1,
    /// Leader.
    RAFT_STATE_LEADER = 2,
    /// Pre-candidate (pre-vote round).
    RAFT_STATE_PRE_CANDIDATE = 3,
}

/// Severity of a log line passed to a `raft_log_fn`.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum raft_log_level {
    /// Detailed traces.
    RAFT_LOG_DEBUG = 0,
    /// Role changes, elections, configuration switches.
    RAFT_LOG_INFO = 1,
    /// Unusual but handled situations.
    RAFT_LOG_WARN = 2,
    /// Errors the core recovered from.
    RAFT_LOG_ERROR = 3,
    /// Conditions that make the node refuse further work.
    RAFT_LOG_FATAL = 4,
    /// As a threshold: log nothing.
    RAFT_LOG_OFF = 5,
}

/// How ReadIndex requests are served.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum raft_read_only_option {
    /// Confirm leadership with a heartbeat round (linearizable).
    RAFT_READ_ONLY_SAFE = 0,
    /// Rely on the leader lease (requires check_quorum).
    RAFT_READ_ONLY_LEASE_BASED = 1,
}

/// Outcome of sending a snapshot, for `raft_rawnode_report_snapshot`.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum raft_snapshot_status {
    /// The snapshot was delivered.
    RAFT_SNAPSHOT_FINISH = 0,
    /// Sending the snapshot failed.
    RAFT_SNAPSHOT_FAILURE = 1,
}

/// How a leader replicates to a peer (etcd `tracker.StateType`), in
/// `raft_progress.state`.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum raft_progress_state {
    /// The leader does not yet know where the peer's log matches the
    /// leader's and probes it with at most one append per heartbeat.
    RAFT_PROGRESS_STATE_PROBE = 0,
    /// The peer's log matches; appends are streamed, limited by the
    /// inflight window.
    RAFT_PROGRESS_STATE_REPLICATE = 1,
    /// The peer needs a snapshot; appends wait until it is applied.
    RAFT_PROGRESS_STATE_SNAPSHOT = 2,
}

tie!(raft_entry_type <=> EntryType {
    RAFT_ENTRY_NORMAL <=> EntryType::EntryNormal,
    RAFT_ENTRY_CONF_CHANGE <=> EntryType::EntryConfChange,
    RAFT_ENTRY_CONF_CHANGE_V2 <=> EntryType::EntryConfChangeV2,
});

tie!(raft_message_type <=> MessageType {
    RAFT_MSG_HUP <=> MessageType::MsgHup,
    RAFT_MSG_BEAT <=> MessageType::MsgBeat,
    RAFT_MSG_PROP <=> MessageType::MsgProp,
    RAFT_MSG_APP <=> MessageType::MsgApp,
    RAFT_MSG_APP_RESP <=> MessageType::MsgAppResp,
    RAFT_MSG_VOTE <=> MessageType::MsgVote,
    RAFT_MSG_VOTE_RESP <=> MessageType::MsgVoteResp,
    RAFT_MSG_SNAP <=> MessageType::MsgSnap,
    RAFT_MSG_HEARTBEAT <=> MessageType::MsgHeartbeat,
    RAFT_MSG_HEARTBEAT_RESP <=> MessageType::MsgHeartbeatResp,
    RAFT_MSG_UNREACHABLE <=> MessageType::MsgUnreachable,
    RAFT_MSG_SNAP_STATUS <=> MessageType::MsgSnapStatus,
    RAFT_MSG_CHECK_QUORUM <=> MessageType::MsgCheckQuorum,
    RAFT_MSG_TRANSFER_LEADER <=> MessageType::MsgTransferLeader,
    RAFT_MSG_TIMEOUT_NOW <=> MessageType::MsgTimeoutNow,
    RAFT_MSG_READ_INDEX <=> MessageType::MsgReadIndex,
    RAFT_MSG_READ_INDEX_RESP <=> MessageType::MsgReadIndexResp,
    RAFT_MSG_PRE_VOTE <=> MessageType::MsgPreVote,
    RAFT_MSG_PRE_VOTE_RESP <=> MessageType::MsgPreVoteResp,
    RAFT_MSG_STORAGE_APPEND <=> MessageType::MsgStorageAppend,
    RAFT_MSG_STORAGE_APPEND_RESP <=> MessageType::MsgStorageAppendResp,
    RAFT_MSG_STORAGE_APPLY <=> MessageType::MsgStorageApply,
    RAFT_MSG_STORAGE_APPLY_RESP <=> MessageType::MsgStorageApplyResp,
    RAFT_MSG_FORGET_LEADER <=> MessageType::MsgForgetLeader,
});

tie!(raft_conf_change_type <=> ConfChangeType {
    RAFT_CONF_CHANGE_ADD_NODE <=> ConfChangeType::ConfChangeAddNode,
    RAFT_CONF_CHANGE_REMOVE_NODE <=> ConfChangeType::ConfChangeRemoveNode,
    RAFT_CONF_CHANGE_UPDATE_NODE <=> ConfChangeType::ConfChangeUpdateNode,
    RAFT_CONF_CHANGE_ADD_LEARNER_NODE <=> ConfChangeType::ConfChangeAddLearnerNode,
});

tie!(raft_conf_change_transition <=> ConfChangeTransition {
    RAFT_CONF_CHANGE_TRANSITION_AUTO <=> ConfChangeTransition::ConfChangeTransitionAuto,
    RAFT_CONF_CHANGE_TRANSITION_JOINT_IMPLICIT <=> ConfChangeTransition::ConfChangeTransitionJointImplicit,
    RAFT_CONF_CHANGE_TRANSITION_JOINT_EXPLICIT <=> ConfChangeTransition::ConfChangeTransitionJointExplicit,
});

tie!(raft_state_role <=> StateRole {
    RAFT_STATE_FOLLOWER <=> StateRole::Follower,
    RAFT_STATE_CANDIDATE <=> StateRole::Candidate,
    RAFT_STATE_LEADER <=> StateRole::Leader,
    RAFT_STATE_PRE_CANDIDATE <=> StateRole::PreCandidate,
});

tie!(raft_log_level <=> Level {
    RAFT_LOG_DEBUG <=> Level::Debug,
    RAFT_LOG_INFO <=> Level::Info,
    RAFT_LOG_WARN <=> Level::Warn,
    RAFT_LOG_ERROR <=> Level::Error,
    RAFT_LOG_FATAL <=> Level::Fatal,
    RAFT_LOG_OFF <=> Level::Off,
});

tie!(raft_read_only_option <=> ReadOnlyOption {
    RAFT_READ_ONLY_SAFE <=> ReadOnlyOption::Safe,
    RAFT_READ_ONLY_LEASE_BASED <=> ReadOnlyOption::LeaseBased,
});

tie!(raft_snapshot_status <=> SnapshotStatus {
    RAFT_SNAPSHOT_FINISH <=> SnapshotStatus::Finish,
    RAFT_SNAPSHOT_FAILURE <=> SnapshotStatus::Failure,
});

tie!(raft_progress_state <=> ProgressState {
    RAFT_PROGRESS_STATE_PROBE <=> ProgressState::Probe,
    RAFT_PROGRESS_STATE_REPLICATE <=> ProgressState::Replicate,
    RAFT_PROGRESS_STATE_SNAPSHOT <=> ProgressState::Snapshot,
});

/// The C code of a core raftpb enum value (prost keeps them as `i32`).
macro_rules! pb_tied {
    ($c:ident, $core:ty) => {
        impl $c {
            /// The C value of a raftpb number, if it is one.
            pub fn of_pb(v: i32) -> Option<Self> {
                <$core>::try_from(v).ok().map(Self::from)
            }
        }
    };
}
pb_tied!(raft_entry_type, EntryType);
pb_tied!(raft_message_type, MessageType);
pb_tied!(raft_conf_change_type, ConfChangeType);
pb_tied!(raft_conf_change_transition, ConfChangeTransition);

#[cfg(test)]
mod tests {
    use super::*;

    /// Every raftpb number is a C value with the same number, and nothing
    /// else is: the C enums cannot fall behind the core's.
    #[test]
    fn c_enums_accept_exactly_the_raftpb_values() {
        for v in -3..64 {
            assert_eq!(
                EntryType::try_from(v).is_ok(),
                raft_entry_type::try_from(v).is_ok()
            );
            assert_eq!(
                MessageType::try_from(v).is_ok(),
                raft_message_type::try_from(v).is_ok(),
                "{v}"
            );
            assert_eq!(
                ConfChangeType::try_from(v).is_ok(),
                raft_conf_change_type::try_from(v).is_ok()
            );
            assert_eq!(
                ConfChangeTransition::try_from(v).is_ok(),
                raft_conf_change_transition::try_from(v).is_ok()
            );
            if let Some(c) = raft_message_type::of_pb(v) {
                assert_eq!(i32::from(c), v);
                assert_eq!(MessageType::from(c) as i32, v);
            }
        }
    }

    #[test]
    fn other_enums_round_trip() {
        for v in -1..8 {
            if let Ok(l) = raft_log_level::try_from(v) {
                assert_eq!(Level::from(l) as i32, v);
            }
            if let Ok(r) = raft_state_role::try_from(v) {
                assert_eq!(raft_state_role::from(StateRole::from(r)) as i32, v);
            }
        }
        assert!(raft_log_level::try_from(6).is_err());
        assert!(enum_in::<raft_snapshot_status>(2, "status").is_err());
        assert_eq!(
            SnapshotStatus::from(enum_in::<raft_snapshot_status>(1, "s").unwrap()),
            SnapshotStatus::Failure
        );
    }
}
