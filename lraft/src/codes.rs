//! The contract's integer error codes and their mapping from core errors.

use raft_core::{Error, StorageError};

/// Success.
pub const OK: i64 = 0;
/// The requested index was compacted away.
pub const ERR_COMPACTED: i64 = 1;
/// The snapshot is older than the current one.
pub const ERR_SNAP_OUT_OF_DATE: i64 = 2;
/// The requested entry is not available.
pub const ERR_UNAVAILABLE: i64 = 3;
/// The snapshot is being built.
pub const ERR_SNAPSHOT_TEMPORARILY_UNAVAILABLE: i64 = 4;
/// Serialisation failed.
pub const ERR_SERIA_FAIL: i64 = 5;
/// An append would leave a gap in the log.
pub const ERR_APPEND_OUT_OF_DATA: i64 = 6;
/// The proposal was dropped.
pub const ERR_PROPOSAL_DROPPED: i64 = 7;
/// A local message type was stepped.
pub const ERR_STEP_LOCAL_MSG: i64 = 8;
/// A response from an unknown peer was stepped.
pub const ERR_STEP_PEER_NOT_FOUND: i64 = 9;
/// Generic failure.
pub const ERR_FALSE: i64 = 10;

/// Every code by its Lua name.
pub const ERROR_CODES: &[(&str, i64)] = &[
    ("OK", OK),
    ("ErrCompacted", ERR_COMPACTED),
    ("ErrSnapOutOfDate", ERR_SNAP_OUT_OF_DATE),
    ("ErrUnavailable", ERR_UNAVAILABLE),
    (
        "ErrSnapshotTemporarilyUnavailable",
        ERR_SNAPSHOT_TEMPORARILY_UNAVAILABLE,
    ),
    ("ErrSeriaFail", ERR_SERIA_FAIL),
    ("ErrAppendOutOfData", ERR_APPEND_OUT_OF_DATA),
    ("ErrProposalDropped", ERR_PROPOSAL_DROPPED),
    ("ErrStepLocalMsg", ERR_STEP_LOCAL_MSG),
    ("ErrStepPeerNotFound", ERR_STEP_PEER_NOT_FOUND),
    ("ErrFalse", ERR_FALSE),
];

/// The code of an expected storage outcome, or `None` for a real failure.
pub fn storage_code(e: &StorageError) -> Option<i64> {
    match e {
        StorageError::Compacted => Some(ERR_COMPACTED),
        StorageError::Unavailable => Some(ERR_UNAVAILABLE),
        StorageError::SnapshotOutOfDate => Some(ERR_SNAP_OUT_OF_DATE),
        StorageError::SnapshotTemporarilyUnavailable => Some(ERR_SNAPSHOT_TEMPORARILY_UNAVAILABLE),
        StorageError::Other(_) => None,
    }
}

/// The storage error for a code returned by a Lua storage callback.
pub fn storage_error(code: i64, callback: &str) -> StorageError {
    match code {
        ERR_COMPACTED => StorageError::Compacted,
        ERR_UNAVAILABLE => StorageError::Unavailable,
        ERR_SNAP_OUT_OF_DATE => StorageError::SnapshotOutOfDate,
        ERR_SNAPSHOT_TEMPORARILY_UNAVAILABLE => StorageError::SnapshotTemporarilyUnavailable,
        other => StorageError::Other(format!(
            "storage callback {callback} returned error code {other}"
        )),
    }
}

/// The code of a core error that is an expected Raft outcome, or `None` for
/// an error that must be raised.
pub fn error_code(e: &Error) -> Option<i64> {
    match e {
        Error::Store(s) => storage_code(s),
        Error::ProposalDropped => Some(ERR_PROPOSAL_DROPPED),
        Error::StepLocalMsg => Some(ERR_STEP_LOCAL_MSG),
        Error::StepPeerNotFound => Some(ERR_STEP_PEER_NOT_FOUND),
        _ => None,
    }
}
