//! A 3-node RawNode cluster (synchronous storage) driven by a structured
//! sequence of ticks, campaigns, proposals, conf changes, reads, restarts
//! and deliveries (in any order, dropped, duplicated or with a mutated
//! field). Checks after every operation: no panic; per node applied <=
//! committed <= last index and commit never going back; while no mutated
//! message was delivered (Raft does not survive forged messages), at most
//! one leader per term and every committed entry the same on every node.
#![no_main]

use std::collections::BTreeMap;
use std::sync::Arc;

use arbitrary::Arbitrary;
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use raft_core::eraftpb::{ConfChange, ConfChangeType, ConfState, Message};
use raft_core::logger::NullLogger;
use raft_core::{ConfChangeI, Config, MemoryStorage, RawNode, StateRole};

#[derive(Arbitrary, Debug)]
enum Op {
    Tick(u8),
    TickAll,
    Campaign(u8),
    Propose(u8, u8),
    ConfChange(u8, u8, u8),
    ReadIndex(u8),
    Restart(u8),
    Compact(u8),
    Deliver(u16),
    Drop(u16),
    Duplicate(u16),
    Mutate(u16, u8, u64),
}

struct Node {
    raw: RawNode<MemoryStorage>,
    storage: MemoryStorage,
    applied: u64,
    last_commit: u64,
}

struct Cluster {
    nodes: BTreeMap<u64, Node>,
    wire: Vec<Message>,
    leaders: BTreeMap<u64, u64>,
    committed: BTreeMap<u64, (u64, Option<Bytes>)>,
    forged: bool,
}

fn config(id: u64, applied: u64) -> Config {
    Config {
        id,
        election_tick: 6,
        heartbeat_tick: 1,
        applied,
        max_size_per_msg: 64,
        max_inflight_msgs: 4,
        pre_vote: id % 2 == 0,
        check_quorum: id == 3,
        seed: Some(id),
        logger: Arc::new(NullLogger),
        ..Default::default()
    }
}

impl Cluster {
    fn new() -> Cluster {
        let mut nodes = BTreeMap::new();
        for id in 1..=3 {
            let storage = MemoryStorage::new_with_conf_state(ConfState {
                voters: vec![1, 2, 3],
                ..Default::default()
            });
            let raw = RawNode::new(&config(id, 0), storage.clone()).unwrap();
            nodes.insert(
                id,
                Node {
                    raw,
                    storage,
                    applied: 0,
                    last_commit: 0,
                },
            );
        }
        Cluster {
            nodes,
            wire: Vec::new(),
            leaders: BTreeMap::new(),
            committed: BTreeMap::new(),
            forged: false,
        }
    }

    fn id(&self, n: u8) -> u64 {
        1 + (n as u64 % 3)
    }

    /// Runs the Ready loop of `id`: persist, send, apply, advance.
    fn process(&mut self, id: u64) {
        let node = self.nodes.get_mut(&id).unwrap();
        if node.raw.is_failed() {
            return;
        }
        while node.raw.has_ready() {
            let Ok(rd) = node.raw.ready() else { return };
            if !rd.snapshot.is_empty() {
                node.storage.apply_snapshot(rd.snapshot.clone()).unwrap();
                node.applied = rd.snapshot.metadata.index;
            }
            node.storage.append(&rd.entries).unwrap();
            if let Some(hs) = rd.hard_state {
                node.storage.set_hard_state(hs);
            }
            self.wire.extend(rd.messages);
            for e in &rd.committed_entries {
                if let Some(Ok(cc)) = ConfChangeI::from_entry(e) {
                    let _ = node.raw.apply_conf_change(&cc);
                }
                node.applied = e.index;
            }
            if node.raw.advance().is_err() {
                return;
            }
        }
    }

    fn deliver(&mut self, m: Message) {
        let to = m.to;
        if let Some(node) = self.nodes.get_mut(&to) {
            let _ = node.raw.step(m);
            self.process(to);
        }
    }

    fn check(&mut self) {
        for (&id, node) in &mut self.nodes {
            let r = &node.raw.raft;
            let log = &r.raft_log;
            assert!(log.applied <= log.committed, "{id}: applied beyond commit");
            assert!(log.committed <= log.last_index(), "{id}: commit beyond log");
            assert!(log.committed >= node.last_commit, "{id}: commit went back");
            node.last_commit = log.committed;
            if self.forged {
                continue;
            }
            if r.state == StateRole::Leader {
                let prev = *self.leaders.entry(r.term).or_insert(id);
                assert_eq!(prev, id, "two leaders in term {}", r.term);
            }
            let lo = log.first_index();
            if lo <= log.committed {
                let ents = log.slice(lo, log.committed + 1, u64::MAX).unwrap();
                for e in ents {
                    let v = (e.term, e.data.clone());
                    let prev = self.committed.entry(e.index).or_insert(v.clone());
                    assert_eq!(*prev, v, "committed entry {} differs on {id}", e.index);
                }
            }
        }
    }

    fn run(&mut self, op: Op) {
        match op {
            Op::Tick(n) => {
                let id = self.id(n);
                self.nodes.get_mut(&id).unwrap().raw.tick();
                self.process(id);
            }
            Op::TickAll => {
                for id in 1..=3 {
                    self.nodes.get_mut(&id).unwrap().raw.tick();
                    self.process(id);
                }
            }
            Op::Campaign(n) => {
                let id = self.id(n);
                let _ = self.nodes.get_mut(&id).unwrap().raw.campaign();
                self.process(id);
            }
            Op::Propose(n, b) => {
                let id = self.id(n);
                let _ = self
                    .nodes
                    .get_mut(&id)
                    .unwrap()
                    .raw
                    .propose(vec![b; 1 + b as usize % 40]);
                self.process(id);
            }
            Op::ConfChange(n, kind, target) => {
                let id = self.id(n);
                let t = match kind % 3 {
                    0 => ConfChangeType::ConfChangeAddNode,
                    1 => ConfChangeType::ConfChangeAddLearnerNode,
                    _ => ConfChangeType::ConfChangeRemoveNode,
                };
                let mut cc = ConfChange::default();
                cc.set_change_type(t);
                cc.node_id = 1 + target as u64 % 4;
                let _ = self.nodes.get_mut(&id).unwrap().raw.propose_conf_change(cc);
                self.process(id);
            }
            Op::ReadIndex(n) => {
                let id = self.id(n);
                let _ = self.nodes.get_mut(&id).unwrap().raw.read_index(vec![n]);
                self.process(id);
            }
            Op::Restart(n) => {
                let id = self.id(n);
                let node = self.nodes.get_mut(&id).unwrap();
                // What was applied is committed: the durable commit index
                // may lag behind it only by what the Ready loop wrote.
                let applied = node.applied.min(node.storage.hard_state().commit);
                if let Ok(raw) = RawNode::new(&config(id, applied), node.storage.clone()) {
                    node.raw = raw;
                    node.last_commit = node.raw.raft.raft_log.committed;
                    node.applied = applied;
                }
            }
            Op::Compact(n) => {
                let id = self.id(n);
                let node = &self.nodes[&id];
                let applied = node.raw.raft.raft_log.applied;
                let cs = node.raw.raft.prs.conf_state();
                if node
                    .storage
                    .create_snapshot(applied, Some(cs), Bytes::new())
                    .is_ok()
                {
                    let _ = node.storage.compact(applied);
                }
            }
            Op::Deliver(i) | Op::Drop(i) | Op::Duplicate(i) | Op::Mutate(i, _, _)
                if self.wire.is_empty() =>
            {
                let _ = i;
            }
            Op::Deliver(i) => {
                let m = self.wire.remove(i as usize % self.wire.len());
                self.deliver(m);
            }
            Op::Drop(i) => {
                let k = i as usize % self.wire.len();
                self.wire.remove(k);
            }
            Op::Duplicate(i) => {
                let m = self.wire[i as usize % self.wire.len()].clone();
                self.deliver(m);
            }
            Op::Mutate(i, field, v) => {
                let mut m = self.wire.remove(i as usize % self.wire.len());
                match field % 8 {
                    0 => m.term = v,
                    1 => m.index = v,
                    2 => m.log_term = v,
                    3 => m.commit = v,
                    4 => m.reject = !m.reject,
                    5 => m.reject_hint = v,
                    6 => m.from = v % 5,
                    _ => m.msg_type = (v % 24) as i32,
                }
                self.forged = true;
                self.deliver(m);
            }
        }
        self.check();
    }
}

fuzz_target!(|ops: Vec<Op>| {
    let mut c = Cluster::new();
    for op in ops.into_iter().take(2000) {
        c.run(op);
    }
});
