//! The C enums. Values equal etcd's raftpb numbers. In structs and
//! parameters the C side passes them as `int32_t`; the library checks the
//! value before use.

// The enums are the C constants: cbindgen exports them; Rust code checks
// the plain `int32_t` values it receives against their ranges instead.
#![allow(dead_code)]

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
