//! A cluster of Raft nodes in one process, each persisting its Readys
//! through its own [`Store`], with messages delivered in memory. Shared by
//! the crash-test child and the benchmark (`#[path]`-included).
#![allow(dead_code)]

use std::collections::VecDeque;
use std::path::PathBuf;

use bytes::Bytes;
use raft_core::eraftpb::{ConfState, EntryType, Message};
use raft_core::{ConfChangeI, Config, RawNode, Ready, StateRole, Storage};
use raft_store::{Group, Store, StoreOptions};

/// One member: its store, its group (id 1) and its node.
pub struct Member {
    pub id: u64,
    pub store: Store,
    pub group: Group,
    pub node: RawNode<Group>,
    pub applied: u64,
    pub conf: ConfState,
}

/// The cluster.
pub struct Cluster {
    pub members: Vec<Member>,
    outbox: VecDeque<Message>,
    /// Compact a member's log to `applied - keep` once it holds more than
    /// `2 * keep` entries (0: never), making a snapshot there first.
    pub compact_keep: u64,
    /// Time spent in `persist_ready`, and how many calls synced.
    pub persist_time: std::time::Duration,
    pub synced_persists: u64,
}

impl Cluster {
    /// Opens (or restarts from) one store per directory; members are
    /// numbered from 1. Empty stores are bootstrapped with every member.
    pub fn open(dirs: &[PathBuf], sync: bool) -> Cluster {
        Cluster::open_with(dirs, sync, StoreOptions::new("").cache_bytes)
    }

    /// [`Cluster::open`] with each group caching `cache_bytes` of entries.
    pub fn open_with(dirs: &[PathBuf], sync: bool, cache_bytes: usize) -> Cluster {
        let ids: Vec<u64> = (1..=dirs.len() as u64).collect();
        let members = dirs
            .iter()
            .zip(&ids)
            .map(|(d, &id)| {
                let mut o = StoreOptions::new(d);
                o.sync = sync;
                o.cache_bytes = cache_bytes;
                let store = Store::open(o).expect("open store");
                let group = store.open_group(1).expect("open group");
                let mut c = Config::new(id);
                c.election_tick = 10;
                c.heartbeat_tick = 1;
                c.max_inflight_msgs = 256;
                c.max_size_per_msg = 1 << 20;
                let fresh = group.last_index().unwrap() == 0 && group.hard_state().term == 0;
                let mut node = RawNode::new(&c, group.clone()).expect("node");
                if fresh {
                    node.bootstrap(&ids).expect("bootstrap");
                }
                let snap = group.snapshot().expect("snapshot");
                Member {
                    id,
                    applied: snap.metadata.index,
                    conf: snap.metadata.conf_state,
                    store,
                    group,
                    node,
                }
            })
            .collect();
        Cluster {
            members,
            outbox: VecDeque::new(),
            compact_keep: 0,
            persist_time: std::time::Duration::ZERO,
            synced_persists: 0,
        }
    }

    /// The index of the leader, if there is one.
    pub fn leader(&self) -> Option<usize> {
        self.members
            .iter()
            .position(|m| m.node.status().soft_state.raft_state == StateRole::Leader)
    }

    /// Ticks every node.
    pub fn tick(&mut self) {
        for m in &mut self.members {
            m.node.tick();
        }
    }

    /// Handles member `i`'s Ready, if any: persist (then `ack(id, &rd)`),
    /// queue messages, apply, compact, advance.
    fn handle(&mut self, i: usize, ack: &mut dyn FnMut(u64, &Ready)) -> bool {
        let keep = self.compact_keep;
        let m = &mut self.members[i];
        if !m.node.has_ready() {
            return false;
        }
        let rd = m.node.ready().expect("ready");
        let t = std::time::Instant::now();
        m.group.persist_ready(&rd).expect("persist");
        self.persist_time += t.elapsed();
        self.synced_persists += u64::from(rd.must_sync);
        ack(m.id, &rd);
        if !rd.snapshot.is_empty() {
            m.applied = rd.snapshot.metadata.index;
            m.conf = rd.snapshot.metadata.conf_state.clone();
        }
        self.outbox.extend(rd.messages);
        for e in &rd.committed_entries {
            if e.entry_type() != EntryType::EntryNormal {
                if let Some(Ok(cc)) = ConfChangeI::from_entry(e) {
                    m.conf = m.node.apply_conf_change(&cc).expect("conf change");
                }
            }
            m.applied = e.index;
        }
        m.node.advance().expect("advance");
        let first = m.group.first_index().unwrap();
        if keep > 0 && m.applied > first + 2 * keep {
            let at = m.applied - keep;
            // A crash between the two writes leaves the snapshot made.
            if m.group.snapshot().expect("snapshot").metadata.index < at {
                let data = Bytes::from(at.to_be_bytes().to_vec());
                m.group
                    .create_snapshot(at, Some(m.conf.clone()), data)
                    .expect("create snapshot");
            }
            m.group.compact(at).expect("compact");
        }
        true
    }

    /// Handles Readys and delivers messages until nothing is left to do.
    pub fn pump(&mut self, ack: &mut dyn FnMut(u64, &Ready)) {
        loop {
            let mut busy = false;
            for i in 0..self.members.len() {
                busy |= self.handle(i, ack);
            }
            while let Some(msg) = self.outbox.pop_front() {
                busy = true;
                let to = msg.to as usize - 1;
                let _ = self.members[to].node.step(msg);
            }
            if !busy {
                return;
            }
        }
    }

    /// Proposes `data` on the leader; false when there is none.
    pub fn propose(&mut self, data: Vec<u8>) -> bool {
        match self.leader() {
            Some(l) => self.members[l].node.propose(data).is_ok(),
            None => false,
        }
    }
}
