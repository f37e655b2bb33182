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
