//! A Raft consensus core in etcd's RawNode style.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

/// Protobuf messages, wire-compatible with etcd's `raftpb`.
#[allow(missing_docs, clippy::all)]
pub mod eraftpb {
    include!(concat!(env!("OUT_DIR"), "/raftpb.rs"));
}

pub mod config;
pub mod describe;
pub mod errors;
pub mod log_unstable;
pub mod logger;
pub mod memory_storage;
pub mod proto_ext;
pub mod raft_log;
pub mod storage;

pub use config::{Config, ReadOnlyOption, NO_LIMIT};
pub use errors::{Error, Result, StorageError};
pub use log_unstable::Unstable;
pub use logger::{Level, Logger};
pub use memory_storage::MemoryStorage;
pub use raft_log::RaftLog;
pub use storage::{RaftState, Storage};
