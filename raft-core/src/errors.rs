//! Error types of the Raft core.

use thiserror::Error;

/// Errors a [`Storage`](crate::Storage) reports, with etcd's error kinds.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum StorageError {
    /// The requested index is older than the storage's first index: it was
    /// compacted away.
    #[error("requested index is unavailable due to compaction")]
    Compacted,
    /// The requested index is beyond the storage's last index.
    #[error("requested entry at index is unavailable")]
    Unavailable,
    /// A snapshot older than the one already held was offered.
    #[error("requested index is older than the existing snapshot")]
    SnapshotOutOfDate,
    /// The snapshot is being built; the caller should retry later.
    #[error("snapshot is temporarily unavailable")]
    SnapshotTemporarilyUnavailable,
    /// Any other failure of the storage (I/O error, a failing callback).
    #[error("storage error: {0}")]
    Other(String),
}

/// Errors returned by the Raft core.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum Error {
    /// The storage failed.
    #[error(transparent)]
    Store(#[from] StorageError),
    /// A proposal was dropped (no leader, a leader transfer in progress, the
    /// uncommitted-size limit reached, forwarding disabled, or the node was
    /// removed).
    #[error("raft proposal dropped")]
    ProposalDropped,
    /// `step` was given a message type that only the node itself may create.
    #[error("raft: cannot step raft local message")]
    StepLocalMsg,
    /// `step` was given a response from a peer that is not in the
    /// configuration.
    #[error("raft: cannot step as peer not found")]
    StepPeerNotFound,
    /// The configuration is invalid.
    #[error("invalid config: {0}")]
    ConfigInvalid(String),
    /// A conf change could not be applied.
    #[error("{0}")]
    ConfChange(String),
    /// Bytes could not be decoded as the expected protobuf message.
    #[error("decode error: {0}")]
    Decode(String),
    /// `advance` was called without a matching `ready`, or a similar misuse
    /// of the RawNode protocol.
    #[error("{0}")]
    Misuse(String),
    /// The node hit a storage failure or an internal error earlier and
    /// refuses every further call; rebuild it from storage.
    #[error("raft node failed earlier and refuses further calls: {0}")]
    Poisoned(String),
    /// An internal invariant was violated by the input (for example a
    /// message asking to commit beyond the local log). The node refused the
    /// input and is unchanged.
    #[error("{0}")]
    Invariant(String),
}

/// Result type of the Raft core.
pub type Result<T> = std::result::Result<T, Error>;

impl From<prost::DecodeError> for Error {
    fn from(e: prost::DecodeError) -> Self {
        Error::Decode(e.to_string())
    }
}
