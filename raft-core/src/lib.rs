//! A Raft consensus core in etcd's RawNode style.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

/// Protobuf messages, wire-compatible with etcd's `raftpb`.
#[allow(missing_docs, clippy::all)]
pub mod eraftpb {
    include!(concat!(env!("OUT_DIR"), "/raftpb.rs"));
}

pub mod confchange;
pub mod config;
pub mod errors;
pub mod logger;
pub mod proto_ext;
pub mod quorum;
pub mod storage;
pub mod tracker;

pub use config::{Config, ReadOnlyOption, NO_LIMIT};
pub use errors::{Error, Result, StorageError};
pub use logger::{Level, Logger};
pub use storage::{RaftState, Storage};
