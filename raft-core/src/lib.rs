//! A Raft consensus core in etcd's RawNode style.
//!
//! The application owns the clock, the network and the disk; the node owns
//! the protocol. A node is driven by four kinds of input: [`RawNode::tick`]
//! (logical time), [`RawNode::step`] (messages from peers),
//! [`RawNode::propose`] / [`RawNode::propose_conf_change`] (client
//! requests), and it hands back work as a [`Ready`]: entries and hard state
//! to persist, messages to send, committed entries to apply. Messages and
//! entries are protobuf, wire-compatible with etcd's `raftpb`.
//!
//! # The Ready loop
//!
//! ```
//! use raft_core::{Config, MemoryStorage, RawNode};
//! use raft_core::eraftpb::EntryType;
//!
//! let storage = MemoryStorage::new();
//! let mut config = Config::new(1);
//! config.election_tick = 10;
//! config.heartbeat_tick = 1;
//! let mut node = RawNode::new(&config, storage.clone()).unwrap();
//! node.bootstrap(&[1]).unwrap();
//!
//! let mut applied = Vec::new();
//! let mut proposed = false;
//! for _round in 0..100 {
//!     // 1. Time passes (a real application ticks every ~100ms).
//!     node.tick();
//!     // 2. Messages from peers would be stepped here: node.step(msg).
//!     // 3. Propose once we lead.
//!     if !proposed && node.status().progress.is_some() {
//!         node.propose(&b"hello"[..]).unwrap();
//!         proposed = true;
//!     }
//!     if !node.has_ready() {
//!         continue;
//!     }
//!     let mut rd = node.ready().unwrap();
//!     // 4. Persist hard state, snapshot and entries (fsync if must_sync).
//!     if let Some(hs) = &rd.hard_state {
//!         storage.set_hard_state(*hs);
//!     }
//!     if !rd.snapshot.is_empty() {
//!         storage.apply_snapshot(rd.snapshot.clone()).unwrap();
//!     }
//!     // The Ready is ours: its entries can move into the storage.
//!     storage.append_owned(std::mem::take(&mut rd.entries)).unwrap();
//!     // 5. Send rd.messages to their peers (none in a one-node cluster).
//!     assert!(rd.messages.is_empty());
//!     // 6. Apply committed entries.
//!     for e in &rd.committed_entries {
//!         match e.entry_type() {
//!             EntryType::EntryNormal if !e.data().is_empty() => applied.push(e.data().to_vec()),
//!             EntryType::EntryNormal => {}
//!             _ => {
//!                 let cc = raft_core::ConfChangeI::from_entry(e).unwrap().unwrap();
//!                 node.apply_conf_change(&cc).unwrap();
//!             }
//!         }
//!     }
//!     // 7. Tell the node the Ready was handled.
//!     node.advance().unwrap();
//! }
//! assert_eq!(applied, vec![b"hello".to_vec()]);
//! ```
//!
//! # Restart
//!
//! Store the index of the last applied entry together with the
//! application's state, and give it back as [`Config::applied`] when the
//! node is built again over its storage (without bootstrapping): the node
//! then hands out only the committed entries after that index. Left at 0,
//! it would hand every committed entry out again. The repository README
//! ("Start, restart, join") gives the order of the writes and how to add a
//! node.
//!
//! ```
//! use raft_core::{Config, MemoryStorage, RawNode};
//!
//! /// Runs the Ready loop until the node is idle; returns the indexes of
//! /// the entries applied.
//! fn drain(node: &mut RawNode<MemoryStorage>, storage: &MemoryStorage) -> Vec<u64> {
//!     let mut applied = Vec::new();
//!     while node.has_ready() {
//!         let rd = node.ready().unwrap();
//!         if let Some(hs) = &rd.hard_state {
//!             storage.set_hard_state(*hs);
//!         }
//!         storage.append(&rd.entries).unwrap();
//!         for e in &rd.committed_entries {
//!             if let Some(cc) = raft_core::ConfChangeI::from_entry(e) {
//!                 node.apply_conf_change(&cc.unwrap()).unwrap();
//!             }
//!             applied.push(e.index);
//!         }
//!         node.advance().unwrap();
//!     }
//!     applied
//! }
//!
//! let storage = MemoryStorage::new(); // stands in for the disk
//! let mut node = RawNode::new(&Config::new(1), storage.clone()).unwrap();
//! node.bootstrap(&[1]).unwrap();
//! drain(&mut node, &storage); // applies the bootstrap configuration
//! node.campaign().unwrap();
//! drain(&mut node, &storage);
//! node.propose(&b"x"[..]).unwrap();
//! let applied_index = *drain(&mut node, &storage).last().unwrap();
//! drop(node); // the process stops
//!
//! let mut config = Config::new(1);
//! config.applied = applied_index;
//! let mut node = RawNode::new(&config, storage.clone()).unwrap();
//! assert!(drain(&mut node, &storage).is_empty(), "nothing is applied twice");
//! ```
//!
//! # The public API
//!
//! [`RawNode`] with its [`Config`], [`Ready`] and [`Status`] (with a
//! [`PeerProgress`] per peer on a leader); the [`Storage`] trait, its
//! [`MemoryStorage`] and the helpers a storage applies
//! ([`storage::check_append`], [`storage::check_snapshot`]); the protobuf
//! messages ([`eraftpb`]), [`ConfChangeI`] and [`is_local_msg`];
//! [`Error`]; the [`logger`]; the [`describe`] functions that print
//! messages and entries as etcd does; [`message_nesting::encode_message`],
//! [`message_nesting::decode_message`] and
//! [`message_nesting::decode_message_bytes`] (raftpb bytes).
//! The state machine, its log, the progress tracker, the quorum and
//! configuration-change code are internal to the crate. The
//! `test-internals` feature opens them (hidden from these docs) for the
//! crate's own integration tests, benches and fuzz targets; it is not part
//! of the API and carries no semver promise.
//!
//! # Reading path: one proposal, from `propose` to apply
//!
//! 1. `raw_node.rs`: [`RawNode::propose`] hands the entry to
//!    `Raft::propose_entry` (`raft/replication.rs`). On a leader it goes
//!    straight to step 3; anywhere else it is wrapped in a MsgProp and
//!    stepped.
//! 2. `raft/step.rs`: `Raft::step` (etcd's `Step`) checks the term and
//!    dispatches by role; on a leader `step_leader` routes MsgProp to
//!    `raft/replication.rs` (a follower forwards it, `raft/follower.rs`).
//! 3. `raft/replication.rs`: `propose_entries` checks conf changes
//!    (`raft/membership.rs`), `append_entry` appends to the log
//!    (`raft_log.rs`, `log_unstable.rs`) and queues the leader's own
//!    acknowledgement, and `bcast_append` queues a MsgApp per follower.
//! 4. `raft/outbox.rs`: `send` queues those messages (merging appends
//!    when configured).
//! 5. `raw_node.rs`: [`RawNode::ready`] hands out the new entry (to
//!    persist) and the MsgApps (to send), and keeps the self-acknowledgement
//!    for [`RawNode::advance`] (`take_steps_on_advance` in
//!    `raft/outbox.rs`).
//! 6. The followers' MsgAppResp come back through [`RawNode::step`] to
//!    `handle_append_response` (`raft/replication.rs`), which updates the
//!    peer's progress (`tracker/`) and calls `maybe_commit` (`raft/mod.rs`):
//!    the quorum's committed index (`quorum/`) moves the log's commit index
//!    (`raft_log.rs`).
//! 7. `raw_node.rs`: the next [`Ready`] carries the entry in
//!    `committed_entries` (`RaftLog::next_committed_ents`); the application
//!    applies it and calls `advance`, whose MsgStorageApplyResp reaches
//!    `applied_to` (`raft/mod.rs`).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

/// Protobuf messages, wire-compatible with etcd's `raftpb`.
#[allow(missing_docs, clippy::all)]
pub mod eraftpb {
    include!(concat!(env!("OUT_DIR"), "/raftpb.rs"));
}

// The public API: the modules a user names, and the items re-exported
// below. Everything else is internal to the crate.
pub mod describe;
pub mod logger;
mod message_fast_path;
pub mod message_nesting;
pub mod storage;

mod config;
mod errors;
mod memory_storage;
mod raw_node;
mod ready;
mod status;

/// Declares internal modules: crate-private, except with the
/// `test-internals` feature, which makes them public (and hidden from the
/// docs) for this crate's own integration tests, benches and fuzz targets.
/// They are not part of the API and carry no semver promise.
macro_rules! internal_modules {
    ($($(#[$attr:meta])* $name:ident;)*) => {
        $(
            $(#[$attr])*
            #[cfg(feature = "test-internals")]
            #[doc(hidden)]
            pub mod $name;
            $(#[$attr])*
            #[cfg(not(feature = "test-internals"))]
            pub(crate) mod $name;
        )*
    };
}

/// Declares an internal struct whose fields are `pub(crate)`, except with
/// the `test-internals` feature, which makes them `pub` for this crate's
/// own tests. Write the fields `pub(crate)`, as they are without the
/// feature.
macro_rules! internal_fields {
    (
        $(#[$attr:meta])*
        pub struct $name:ident<$g:ident: $bound:path> {
            $($(#[$fattr:meta])* $_vis:vis $field:ident: $ty:ty,)*
        }
    ) => {
        $(#[$attr])*
        pub struct $name<$g: $bound> {
            $(
                $(#[$fattr])*
                #[cfg(feature = "test-internals")]
                pub $field: $ty,
                $(#[$fattr])*
                #[cfg(not(feature = "test-internals"))]
                pub(crate) $field: $ty,
            )*
        }
    };
}

internal_modules! {
    bounds;
    confchange;
    log_unstable;
    proto_ext;
    quorum;
    raft;
    raft_log;
    read_only;
    tracker;
}

pub use self::bounds::MAX_TERM_OR_INDEX;
pub use self::config::{Config, ReadOnlyOption, NO_LIMIT};
pub use self::errors::{Error, Result, StorageError};
pub use self::logger::{Level, Logger};
pub use self::memory_storage::MemoryStorage;
pub use self::proto_ext::{is_local_msg, ConfChangeI};
pub use self::raft::{
    SoftState, StateRole, StepHook, INVALID_ID, LOCAL_APPEND_THREAD, LOCAL_APPLY_THREAD,
};
pub use self::raw_node::{RawNode, SnapshotStatus, ADVANCE_WARNING_ELECTIONS};
pub use self::read_only::ReadState;
pub use self::ready::Ready;
pub use self::status::{PeerProgress, Status};
pub use self::storage::{RaftState, Storage};
pub use self::tracker::ProgressState;

/// The state machine and its log, for this crate's tests only (the
/// `test-internals` feature; not part of the API).
#[cfg(feature = "test-internals")]
#[doc(hidden)]
pub use self::{raft::Raft, raft_log::RaftLog};
