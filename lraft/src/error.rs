//! lraft's one error type ([`Error`]) and the contract's integer error
//! codes.
//!
//! A failure reaches a script in one of two ways (contract §1):
//! - an expected Raft outcome (a dropped proposal, a compacted index, a
//!   local message stepped, ...) is *returned* as one of the integer codes
//!   below ([`code_of`]);
//! - everything else (a wrong argument, a misused node, a failed disk, a
//!   storage callback that broke its contract) is *raised* as a plain string
//!   (`errors.rs` turns the raised value into that string).
//!
//! Every raised error is built as an [`Error`], so its text has one shape,
//! `<what>: <why>`, where `what` names the function, field or argument.

use std::fmt;

use mlua::prelude::*;
use raft_core::StorageError;

use crate::util::type_desc;

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

/// Every code by its Lua name (the module table's fields).
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

/// Everything lraft raises.
#[derive(Debug)]
pub enum Error {
    /// A value of the wrong Lua type:
    /// "`what`: expected `expected`, got `got`".
    Type {
        /// The argument, field or result that was read.
        what: String,
        /// What it should have been ("an integer", "a table", ...).
        expected: &'static str,
        /// The type that was given ("nil", "string", a userdata's name).
        got: String,
    },
    /// A value of the right type that cannot be used, or a call that breaks
    /// the protocol: "`what`: `why`".
    Invalid {
        /// The argument, field or call.
        what: String,
        /// Why it was refused.
        why: String,
    },
    /// A member that an object does not have: "`ty` has no member '`name`'".
    UnknownMember {
        /// The object's type name.
        ty: String,
        /// The member that was read or written.
        name: String,
    },
    /// A member that may not be read or written this way:
    /// "`member` is `rule`" (read-only, write-only).
    Access {
        /// The object and member, as `type.member`.
        member: String,
        /// The rule that was broken.
        rule: &'static str,
    },
    /// An error of the Raft core that is raised rather than returned as a
    /// code: "`what`: `err`".
    Core {
        /// The call that failed.
        what: String,
        /// The core's error.
        err: raft_core::Error,
    },
    /// A failure of a file, database or store: "`what`: `why`".
    Io {
        /// The operation and its path.
        what: String,
        /// The system's or the store's reason.
        why: String,
    },
}

impl Error {
    /// `what` should have been `expected` but is `got`.
    pub fn ty(what: impl Into<String>, expected: &'static str, got: &LuaValue) -> Error {
        Error::Type {
            what: what.into(),
            expected,
            got: type_desc(got),
        }
    }

    /// `what` should have been `expected` but is `got` (a description of
    /// the value, for results that may be absent: "nothing").
    pub fn ty_desc(what: impl Into<String>, expected: &'static str, got: String) -> Error {
        Error::Type {
            what: what.into(),
            expected,
            got,
        }
    }

    /// `what` was refused because `why`.
    pub fn invalid(what: impl Into<String>, why: impl Into<String>) -> Error {
        Error::Invalid {
            what: what.into(),
            why: why.into(),
        }
    }

    /// `ty` has no member `key`.
    pub fn unknown_member(ty: &str, key: &LuaValue) -> Error {
        let name = match key {
            LuaValue::String(s) => s.to_string_lossy(),
            other => format!("{other:?}"),
        };
        Error::UnknownMember {
            ty: ty.to_string(),
            name,
        }
    }

    /// `member` may not be used this way (`rule`: read-only, write-only).
    pub fn access(member: impl Into<String>, rule: &'static str) -> Error {
        Error::Access {
            member: member.into(),
            rule,
        }
    }

    /// The core refused `what` with `err`.
    pub fn core(what: impl Into<String>, err: raft_core::Error) -> Error {
        Error::Core {
            what: what.into(),
            err,
        }
    }

    /// `what` failed on a file, database or store because `why`.
    pub fn io(what: impl Into<String>, why: impl fmt::Display) -> Error {
        Error::Io {
            what: what.into(),
            why: why.to_string(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Type {
                what,
                expected,
                got,
            } => write!(f, "{what}: expected {expected}, got {got}"),
            Error::Invalid { what, why } | Error::Io { what, why } => write!(f, "{what}: {why}"),
            Error::UnknownMember { ty, name } => write!(f, "{ty} has no member '{name}'"),
            Error::Access { member, rule } => write!(f, "{member} is {rule}"),
            Error::Core { what, err } => write!(f, "{what}: {err}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<Error> for LuaError {
    fn from(e: Error) -> LuaError {
        LuaError::runtime(e.to_string())
    }
}

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
pub fn code_of(e: &raft_core::Error) -> Option<i64> {
    match e {
        raft_core::Error::Store(s) => storage_code(s),
        raft_core::Error::ProposalDropped => Some(ERR_PROPOSAL_DROPPED),
        raft_core::Error::StepLocalMsg => Some(ERR_STEP_LOCAL_MSG),
        raft_core::Error::StepPeerNotFound => Some(ERR_STEP_PEER_NOT_FOUND),
        _ => None,
    }
}

/// The contract code of an expected outcome; any other core error is
/// raised with `what` as context.
pub fn code_or_raise(e: raft_core::Error, what: &str) -> LuaResult<i64> {
    match code_of(&e) {
        Some(c) => Ok(c),
        None => Err(Error::core(what, e).into()),
    }
}
