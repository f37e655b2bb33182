//! Durable Raft log storage over LevelDB, and the workspace's one LevelDB
//! layer.
//!
//! A [`Store`] is one LevelDB database directory serving the logs of any
//! number of Raft groups; [`Store::open_group`] gives a [`Group`], which
//! implements the core's [`Storage`](raft_core::Storage) and etcd
//! `MemoryStorage`'s write methods (append with conflict truncation,
//! compact, create/apply snapshot, set hard state) plus
//! [`Group::persist_ready`], which writes a whole Ready as one atomic batch
//! with one fsync. Snapshot data lives in checksummed files beside the
//! database; bounds and recent entries are served from memory.
//!
//! ```
//! use raft_core::{Config, RawNode};
//! use raft_store::{Store, StoreOptions};
//!
//! let dir = std::env::temp_dir().join(format!("raft-store-doc-{}", std::process::id()));
//! # let _ = std::fs::remove_dir_all(&dir);
//! let store = Store::open(StoreOptions::new(&dir)).unwrap();
//! let group = store.open_group(1).unwrap();
//! let mut node = RawNode::new(&Config::new(1), group.clone()).unwrap();
//! node.bootstrap(&[1]).unwrap();
//! let rd = node.ready().unwrap();
//! group.persist_ready(&rd).unwrap(); // durable from here on
//! # drop(node); drop(group); drop(store);
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```
//!
//! # Damage and failures
//! - Opening checks every table, log and manifest file before LevelDB reads
//!   it ([`ldb::verify`]): a damaged table, or a log or manifest damaged
//!   anywhere but its torn tail, is refused with an error naming the file.
//!   A torn tail (a write cut by a crash) is dropped: the state before it
//!   opens. Every value carries a CRC32C of its key and body, a group's
//!   entries must be contiguous, and a snapshot file must match the length
//!   and CRC32C recorded for it (checked when the group opens and on every
//!   read); otherwise the error names what is damaged. A missing table or
//!   snapshot file is refused naming it, and so is a missing current log
//!   file or a lost manifest record ([`ldb::verify`]).
//! - A failed write returns an error and the store refuses every further
//!   call with that reason, so a node on it stops at its next storage read.
//! - The `LOCK` file of the directory is held while the store is open; a
//!   second open (another process, or another `Store` here) is refused.
//! - Writes of a Ready without `must_sync` (a commit index alone) are not
//!   fsynced, as etcd allows; everything else is durable when the call
//!   returns.
//!
//! # Why a crate of its own
//! raft-core stays free of I/O and of LevelDB: it is the protocol only, and
//! builds and tests without touching a disk. The LevelDB layer (the
//! fsyncing env and the rusty-leveldb workarounds, module [`ldb`]) is used
//! both by this store and by lraft's `lraft.leveldb` binding, so it lives
//! once, here, rather than in either user; raft-ffi and lraft depend on
//! this crate to expose the store to C, C++ and Lua.

#![deny(missing_docs)]

mod cache;
mod group;
mod keys;
pub mod ldb;
mod record;
mod snapfile;
mod store;

pub use group::Group;
pub use store::{Store, StoreOptions};
