//! The C mirrors of the raftpb messages and their conversion from C input
//! into the core's protobuf types (validated: unknown enum values, NULL
//! arrays with a length, and over-deep nesting are refused).
//!
//! The same structs describe decoded messages; those views are built by
//! [`crate::decoded::Arena`].

use raft_core::eraftpb::{
    ConfChange, ConfChangeSingle, ConfChangeV2, ConfState, Entry, HardState, Message, Snapshot,
    SnapshotMetadata,
};

use crate::bytes::raft_bytes;
use crate::enums::{
    pb_enum_in, raft_conf_change_transition, raft_conf_change_type, raft_entry_type,
    raft_message_type,
};
use crate::result::{Fail, FfiResult};

/// Term, vote and commit index: the state persisted before messages are sent.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct raft_hard_state {
    /// Current term.
    pub term: u64,
    /// Candidate voted for in the current term (0 = none).
    pub vote: u64,
    /// Highest index known committed.
    pub commit: u64,
}

/// Cluster membership (etcd `ConfState`). The arrays may be NULL when their
/// length is 0.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct raft_conf_state {
    /// Voters of the incoming configuration.
    pub voters: *const u64,
    /// Number of `voters`.
    pub voters_len: usize,
    /// Learners.
    pub learners: *const u64,
    /// Number of `learners`.
    pub learners_len: usize,
    /// Voters of the outgoing configuration (joint consensus only).
    pub voters_outgoing: *const u64,
    /// Number of `voters_outgoing`.
    pub voters_outgoing_len: usize,
    /// Voters that become learners when the joint state is left.
    pub learners_next: *const u64,
    /// Number of `learners_next`.
    pub learners_next_len: usize,
    /// Whether the joint state is left automatically.
    pub auto_leave: bool,
}

/// A log entry. `entry_type` is a `raft_entry_type` value.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct raft_entry {
    /// A `raft_entry_type`.
    pub entry_type: i32,
    /// Term of the entry.
    pub term: u64,
    /// Index of the entry.
    pub index: u64,
    /// Payload (NULL data = absent).
    pub data: raft_bytes,
}

/// A single membership change (etcd `ConfChange`). `change_type` is a
/// `raft_conf_change_type` value.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct raft_conf_change {
    /// Application-chosen identifier.
    pub id: u64,
    /// A `raft_conf_change_type`.
    pub change_type: i32,
    /// The node concerned.
    pub node_id: u64,
    /// Application context (NULL data = absent).
    pub context: raft_bytes,
}

/// One change inside a `raft_conf_change_v2`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct raft_conf_change_single {
    /// A `raft_conf_change_type`.
    pub change_type: i32,
    /// The node concerned.
    pub node_id: u64,
}

/// A (possibly joint) membership change (etcd `ConfChangeV2`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct raft_conf_change_v2 {
    /// A `raft_conf_change_transition`.
    pub transition: i32,
    /// The changes (NULL allowed when `changes_len` is 0).
    pub changes: *const raft_conf_change_single,
    /// Number of `changes`.
    pub changes_len: usize,
    /// Application context (NULL data = absent).
    pub context: raft_bytes,
}

/// A snapshot: application data plus the log position and membership it
/// covers. An empty snapshot has `index` 0.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct raft_snapshot {
    /// Application state (NULL data = absent).
    pub data: raft_bytes,
    /// Index of the last entry covered.
    pub index: u64,
    /// Term of that entry.
    pub term: u64,
    /// Membership at `index`.
    pub conf_state: raft_conf_state,
}

/// A Raft message (etcd `Message`). Only used to encode or inspect
/// messages; the node takes and produces encoded bytes.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct raft_message {
    /// A `raft_message_type`.
    pub msg_type: i32,
    /// Recipient.
    pub to: u64,
    /// Sender.
    pub from: u64,
    /// Sender's term.
    pub term: u64,
    /// Term of the entry at `index`.
    pub log_term: u64,
    /// Log index the message refers to.
    pub index: u64,
    /// Entries (NULL allowed when `entries_len` is 0).
    pub entries: *const raft_entry,
    /// Number of `entries`.
    pub entries_len: usize,
    /// Leader's commit index.
    pub commit: u64,
    /// The snapshot, or NULL when absent.
    pub snapshot: *const raft_snapshot,
    /// Whether a request was rejected.
    pub reject: bool,
    /// Hint for the follower's log position after a rejection.
    pub reject_hint: u64,
    /// Context (NULL data = absent).
    pub context: raft_bytes,
    /// Vote (async storage writes).
    pub vote: u64,
    /// Responses (async storage writes; NULL allowed when 0).
    pub responses: *const raft_message,
    /// Number of `responses`.
    pub responses_len: usize,
}

/// Deepest nesting of `responses` (levels below the top message) accepted
/// when encoding and when decoding a message or stepping its bytes.
pub const RAFT_MAX_MESSAGE_DEPTH: usize = 8;

// One limit for encoding and decoding: the core's (a literal above for
// cbindgen).
const _: () = assert!(RAFT_MAX_MESSAGE_DEPTH == raft_core::message_nesting::MAX_MESSAGE_DEPTH);

/// The C array `(p, n)`; NULL is accepted when `n` is 0.
pub fn in_array<'a, T>(p: *const T, n: usize, what: &str) -> FfiResult<&'a [T]> {
    if n == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(Fail::null(what));
    }
    if n > isize::MAX as usize / std::mem::size_of::<T>().max(1) {
        return Err(Fail::invalid(format!("{what}: length {n} is too large")));
    }
    // SAFETY: `p` is non-NULL and the caller promises `n` valid, initialized
    // elements that stay unchanged for the duration of the call.
    Ok(unsafe { std::slice::from_raw_parts(p, n) })
}

impl From<&HardState> for raft_hard_state {
    fn from(h: &HardState) -> Self {
        raft_hard_state {
            term: h.term,
            vote: h.vote,
            commit: h.commit,
        }
    }
}

impl From<&raft_hard_state> for HardState {
    fn from(h: &raft_hard_state) -> Self {
        HardState {
            term: h.term,
            vote: h.vote,
            commit: h.commit,
        }
    }
}

/// Converts a C conf state.
pub fn conf_state_in(c: &raft_conf_state) -> FfiResult<ConfState> {
    Ok(ConfState {
        voters: in_array(c.voters, c.voters_len, "conf_state.voters")?.to_vec(),
        learners: in_array(c.learners, c.learners_len, "conf_state.learners")?.to_vec(),
        voters_outgoing: in_array(
            c.voters_outgoing,
            c.voters_outgoing_len,
            "conf_state.voters_outgoing",
        )?
        .to_vec(),
        learners_next: in_array(
            c.learners_next,
            c.learners_next_len,
            "conf_state.learners_next",
        )?
        .to_vec(),
        auto_leave: c.auto_leave,
    })
}

/// Converts a C entry.
pub fn entry_in(e: &raft_entry) -> FfiResult<Entry> {
    Ok(Entry {
        entry_type: pb_enum_in::<raft_entry_type>(e.entry_type, "entry.entry_type")?,
        term: e.term,
        index: e.index,
        data: e.data.to_opt_bytes("entry.data")?,
    })
}

/// Converts a C conf change.
pub fn conf_change_in(c: &raft_conf_change) -> FfiResult<ConfChange> {
    Ok(ConfChange {
        id: c.id,
        change_type: pb_enum_in::<raft_conf_change_type>(c.change_type, "conf_change.change_type")?,
        node_id: c.node_id,
        context: c.context.to_opt_bytes("conf_change.context")?,
    })
}

/// Converts a C conf change v2.
pub fn conf_change_v2_in(c: &raft_conf_change_v2) -> FfiResult<ConfChangeV2> {
    let changes = in_array(c.changes, c.changes_len, "conf_change_v2.changes")?
        .iter()
        .map(|s| {
            Ok(ConfChangeSingle {
                change_type: pb_enum_in::<raft_conf_change_type>(
                    s.change_type,
                    "conf_change_v2.changes.change_type",
                )?,
                node_id: s.node_id,
            })
        })
        .collect::<FfiResult<Vec<_>>>()?;
    Ok(ConfChangeV2 {
        transition: pb_enum_in::<raft_conf_change_transition>(
            c.transition,
            "conf_change_v2.transition",
        )?,
        changes,
        context: c.context.to_opt_bytes("conf_change_v2.context")?,
    })
}

/// Converts a C snapshot.
pub fn snapshot_in(s: &raft_snapshot) -> FfiResult<Snapshot> {
    Ok(Snapshot {
        data: s.data.to_opt_bytes("snapshot.data")?,
        metadata: SnapshotMetadata {
            conf_state: conf_state_in(&s.conf_state)?,
            index: s.index,
            term: s.term,
        },
    })
}

/// Converts a C message, refusing nesting deeper than
/// [`RAFT_MAX_MESSAGE_DEPTH`].
pub fn message_in(m: &raft_message, depth: usize) -> FfiResult<Message> {
    if depth > RAFT_MAX_MESSAGE_DEPTH {
        return Err(Fail::invalid(format!(
            "message responses nested deeper than the limit of {RAFT_MAX_MESSAGE_DEPTH} levels"
        )));
    }
    let entries = in_array(m.entries, m.entries_len, "message.entries")?
        .iter()
        .map(entry_in)
        .collect::<FfiResult<Vec<_>>>()?;
    // SAFETY: a non-NULL `snapshot` points to a valid raft_snapshot for the
    // duration of the call (contract of the encode functions).
    let snapshot = match unsafe { m.snapshot.as_ref() } {
        Some(s) => Some(snapshot_in(s)?),
        None => None,
    };
    let responses = in_array(m.responses, m.responses_len, "message.responses")?
        .iter()
        .map(|r| message_in(r, depth + 1))
        .collect::<FfiResult<Vec<_>>>()?;
    Ok(Message {
        msg_type: pb_enum_in::<raft_message_type>(m.msg_type, "message.msg_type")?,
        to: m.to,
        from: m.from,
        term: m.term,
        log_term: m.log_term,
        index: m.index,
        entries,
        commit: m.commit,
        snapshot: snapshot.map(Box::new),
        reject: m.reject,
        reject_hint: m.reject_hint,
        context: m.context.to_opt_bytes("message.context")?,
        vote: m.vote,
        responses,
    })
}
