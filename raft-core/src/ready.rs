//! The [`Ready`] batch handed from the node to the application.

use crate::eraftpb::{Entry, HardState, Message, Snapshot};
use crate::raft::SoftState;
use crate::read_only::ReadState;

/// Everything the application must do after a round of node activity:
/// persist `hard_state`, `entries` and `snapshot` (durably when
/// `must_sync`), then send `messages`, apply `committed_entries`, and call
/// `advance`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ready {
    /// The leader and role, when they changed since the last Ready.
    pub soft_state: Option<SoftState>,
    /// Term, vote and commit, when they changed since the last Ready.
    pub hard_state: Option<HardState>,
    /// Answers to ReadIndex requests.
    pub read_states: Vec<ReadState>,
    /// Entries to append to stable storage before sending messages.
    pub entries: Vec<Entry>,
    /// A snapshot to persist (empty, index 0, when none).
    pub snapshot: Snapshot,
    /// Committed entries to apply to the state machine.
    pub committed_entries: Vec<Entry>,
    /// Messages to send to peers once `entries` and `hard_state` are
    /// persisted. With async storage writes they also include the
    /// MsgStorageAppend / MsgStorageApply requests to the local threads.
    pub messages: Vec<Message>,
    /// Whether the hard state and entries must be written durably (fsync)
    /// before messages are sent.
    pub must_sync: bool,
}

impl Ready {
    /// True when the Ready carries nothing.
    pub fn is_empty(&self) -> bool {
        self.soft_state.is_none()
            && self.hard_state.is_none()
            && self.read_states.is_empty()
            && self.entries.is_empty()
            && self.snapshot.is_empty()
            && self.committed_entries.is_empty()
            && self.messages.is_empty()
    }
}

/// Whether a Ready with `entries_len` new entries and hard state `st`
/// (previously `prev`) must be persisted synchronously: entries, term and
/// vote must be durable before messages are sent; a commit index alone need
/// not be.
pub fn must_sync(st: &HardState, prev: &HardState, entries_len: usize) -> bool {
    entries_len != 0 || st.vote != prev.vote || st.term != prev.term
}
