//! Result codes ([`raft_result`]), their names ([`raft_result_str`]) and the
//! internal failure type ([`Fail`]) that carries a code and a message.

use std::ffi::c_char;

use raft_core::{Error, StorageError};

/// Result of a fallible call. 0 is success; every other value is a stable
/// error code (codes are never renumbered or reused).
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum raft_result {
    /// Success.
    RAFT_OK = 0,
    /// A required pointer argument was NULL.
    RAFT_ERR_NULL = 1,
    /// An argument is out of range: an unknown enum value, an index beyond a
    /// list, a struct size that is too small, a nesting that is too deep.
    RAFT_ERR_INVALID_ARGUMENT = 2,
    /// Bytes are not a valid encoding of the expected protobuf message.
    RAFT_ERR_DECODE = 3,
    /// The node configuration is invalid.
    RAFT_ERR_CONFIG_INVALID = 4,
    /// A proposal was dropped (no leader, leader transfer in progress,
    /// uncommitted size limit, forwarding disabled, node removed).
    RAFT_ERR_PROPOSAL_DROPPED = 5,
    /// `raft_rawnode_step` was given a message type local to a node.
    RAFT_ERR_STEP_LOCAL_MSG = 6,
    /// `raft_rawnode_step` was given a response from an unknown peer.
    RAFT_ERR_STEP_PEER_NOT_FOUND = 7,
    /// A configuration change could not be applied.
    RAFT_ERR_CONF_CHANGE = 8,
    /// The call breaks the RawNode protocol (for example advance without a
    /// Ready, a reentrant call from a callback, bootstrap of a non-empty
    /// storage) or the node failed earlier on a storage error.
    RAFT_ERR_MISUSE = 9,
    /// The input would violate an invariant of the log; it was refused and
    /// the node is unchanged.
    RAFT_ERR_INVARIANT = 10,
    /// Storage: the requested index was compacted away.
    RAFT_ERR_COMPACTED = 11,
    /// Storage: the requested entries are not available.
    RAFT_ERR_UNAVAILABLE = 12,
    /// Storage: the offered snapshot is older than the one held.
    RAFT_ERR_SNAPSHOT_OUT_OF_DATE = 13,
    /// Storage: the snapshot is being built; retry later.
    RAFT_ERR_SNAPSHOT_TEMPORARILY_UNAVAILABLE = 14,
    /// Storage: any other failure (for example a callback that returned an
    /// error code not listed above).
    RAFT_ERR_STORAGE = 15,
    /// An internal panic was caught. The handle is now unusable.
    RAFT_ERR_PANIC = 16,
    /// The handle failed earlier (a caught panic, or a storage failure that
    /// left the node in an unknown state) and refuses every call but
    /// `_free`; rebuild the node from its storage.
    RAFT_ERR_POISONED = 17,
}

use raft_result::*;

/// Declares the name and description of every code once and derives from
/// that one list both [`raft_result::describe`] and [`raft_result::ALL`].
/// The enum above stays written out because cbindgen reads it; the
/// exhaustive `match` in `describe` makes the compiler refuse a code that is
/// missing from the list, and a listed name that is not a code does not
/// resolve, so the two cannot drift apart.
macro_rules! result_codes {
    ($($code:ident => $text:literal,)+) => {
        impl raft_result {
            /// Every code, in numeric order.
            pub const ALL: &'static [raft_result] = &[$($code),+];

            /// The stable name and a short description of the code,
            /// NUL-terminated.
            pub fn describe(self) -> &'static str {
                match self {
                    $($code => concat!(stringify!($code), ": ", $text, "\0"),)+
                }
            }
        }
    };
}

result_codes! {
    RAFT_OK => "success",
    RAFT_ERR_NULL => "a required pointer argument was NULL",
    RAFT_ERR_INVALID_ARGUMENT => "an argument is out of range",
    RAFT_ERR_DECODE => "malformed protobuf bytes",
    RAFT_ERR_CONFIG_INVALID => "invalid configuration",
    RAFT_ERR_PROPOSAL_DROPPED => "raft proposal dropped",
    RAFT_ERR_STEP_LOCAL_MSG => "cannot step a local message",
    RAFT_ERR_STEP_PEER_NOT_FOUND => "cannot step as peer not found",
    RAFT_ERR_CONF_CHANGE => "configuration change refused",
    RAFT_ERR_MISUSE => "call out of protocol",
    RAFT_ERR_INVARIANT => "input refused by a log invariant",
    RAFT_ERR_COMPACTED => "requested index is compacted",
    RAFT_ERR_UNAVAILABLE => "requested entries are unavailable",
    RAFT_ERR_SNAPSHOT_OUT_OF_DATE => "snapshot older than the existing one",
    RAFT_ERR_SNAPSHOT_TEMPORARILY_UNAVAILABLE => "snapshot temporarily unavailable",
    RAFT_ERR_STORAGE => "storage failure",
    RAFT_ERR_PANIC => "internal panic caught; handle unusable",
    RAFT_ERR_POISONED => "handle unusable after an earlier failure",
}

impl raft_result {
    /// The code for a number, if it is one.
    pub fn from_i32(v: i32) -> Option<raft_result> {
        raft_result::ALL.iter().copied().find(|c| *c as i32 == v)
    }
}

/// Returns a static, NUL-terminated description of `code` that starts with
/// the code's name (for example `"RAFT_ERR_NULL: ..."`), or
/// `"RAFT_ERR_UNKNOWN"` for a number that is not a code. Never NULL; the
/// string lives as long as the library is loaded.
#[no_mangle]
pub extern "C" fn raft_result_str(code: i32) -> *const c_char {
    match raft_result::from_i32(code) {
        Some(c) => c.describe().as_ptr().cast(),
        None => c"RAFT_ERR_UNKNOWN: not a raft_result code".as_ptr(),
    }
}

/// A failure inside the library: the code returned to C and the message
/// stored as the last error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fail {
    /// The code returned to the caller.
    pub code: raft_result,
    /// The human-readable message.
    pub msg: String,
}

impl Fail {
    /// A failure with `code` and `msg`.
    pub fn new(code: raft_result, msg: impl Into<String>) -> Fail {
        Fail {
            code,
            msg: msg.into(),
        }
    }
    /// RAFT_ERR_NULL naming the argument.
    pub fn null(arg: &str) -> Fail {
        Fail::new(RAFT_ERR_NULL, format!("argument `{arg}` is NULL"))
    }
    /// RAFT_ERR_INVALID_ARGUMENT with a message.
    pub fn invalid(msg: impl Into<String>) -> Fail {
        Fail::new(RAFT_ERR_INVALID_ARGUMENT, msg)
    }
}

/// Result type of the library's internals.
pub type FfiResult<T> = Result<T, Fail>;

/// The code of a storage error.
pub fn storage_code(e: &StorageError) -> raft_result {
    match e {
        StorageError::Compacted => RAFT_ERR_COMPACTED,
        StorageError::Unavailable => RAFT_ERR_UNAVAILABLE,
        StorageError::SnapshotOutOfDate => RAFT_ERR_SNAPSHOT_OUT_OF_DATE,
        StorageError::SnapshotTemporarilyUnavailable => RAFT_ERR_SNAPSHOT_TEMPORARILY_UNAVAILABLE,
        StorageError::Other(_) => RAFT_ERR_STORAGE,
    }
}

impl From<Error> for Fail {
    fn from(e: Error) -> Fail {
        let code = match &e {
            Error::Store(s) => storage_code(s),
            Error::ProposalDropped => RAFT_ERR_PROPOSAL_DROPPED,
            Error::StepLocalMsg => RAFT_ERR_STEP_LOCAL_MSG,
            Error::StepPeerNotFound => RAFT_ERR_STEP_PEER_NOT_FOUND,
            Error::ConfigInvalid(_) => RAFT_ERR_CONFIG_INVALID,
            Error::ConfChange(_) => RAFT_ERR_CONF_CHANGE,
            Error::Decode(_) => RAFT_ERR_DECODE,
            Error::Misuse(_) => RAFT_ERR_MISUSE,
            Error::Invariant(_) => RAFT_ERR_INVARIANT,
            Error::Poisoned(_) => RAFT_ERR_POISONED,
        };
        Fail::new(code, e.to_string())
    }
}

impl From<prost::DecodeError> for Fail {
    fn from(e: prost::DecodeError) -> Fail {
        Fail::new(RAFT_ERR_DECODE, format!("decode error: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn every_code_has_its_own_name_and_round_trips() {
        // Codes are dense from 0 and listed in numeric order.
        for (i, c) in raft_result::ALL.iter().enumerate() {
            assert_eq!(*c as i32, i as i32, "{c:?} out of order");
        }
        for v in 0..raft_result::ALL.len() as i32 {
            let c = raft_result::from_i32(v).expect("dense codes");
            assert_eq!(c as i32, v);
            // SAFETY: raft_result_str returns a static NUL-terminated string.
            let s = unsafe { CStr::from_ptr(raft_result_str(v)) }
                .to_str()
                .unwrap();
            assert!(s.starts_with(&format!("{c:?}:")), "{s}");
        }
        // SAFETY: as above.
        let s = unsafe { CStr::from_ptr(raft_result_str(999)) };
        assert!(s.to_str().unwrap().starts_with("RAFT_ERR_UNKNOWN"));
        assert_eq!(raft_result::from_i32(-1), None);
        assert_eq!(raft_result::from_i32(raft_result::ALL.len() as i32), None);
    }

    #[test]
    fn core_errors_map_to_codes() {
        let f: Fail = Error::Store(StorageError::Compacted).into();
        assert_eq!(f.code, RAFT_ERR_COMPACTED);
        let f: Fail = Error::ProposalDropped.into();
        assert_eq!(f.code, RAFT_ERR_PROPOSAL_DROPPED);
        let f: Fail = Error::Misuse("advance without ready".into()).into();
        assert_eq!(
            (f.code, f.msg.as_str()),
            (RAFT_ERR_MISUSE, "advance without ready")
        );
    }
}
