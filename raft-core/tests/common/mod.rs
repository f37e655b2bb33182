//! Shared test harness for the scenario tests: config and node builders, a
//! Raft-level message pump (etcd's `advanceMessagesAfterAppend` /
//! `readMessages`), and a [`Network`] of RawNodes that runs the full Ready
//! loop (persist, send, apply, advance) and delivers messages until the
//! cluster is quiescent, with drop / isolate / cut filters.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use raft_core::eraftpb::{
    ConfChange, ConfChangeSingle, ConfChangeTransition, ConfChangeType, ConfChangeV2, ConfState,
    Entry, EntryType, HardState, Message, MessageType,
};
use raft_core::logger::{Level, Logger, NullLogger};
use raft_core::proto_ext::is_local_msg;
use raft_core::{
    ConfChangeI, Config, MemoryStorage, Raft, RawNode, ReadState, Ready, SoftState, StateRole,
};

/// A config for node `id` with the given timers, a fixed seed and no logs.
pub fn config(id: u64, election: usize, heartbeat: usize) -> Config {
    Config {
        id,
        election_tick: election,
        heartbeat_tick: heartbeat,
        max_inflight_msgs: 256,
        max_size_per_msg: raft_core::NO_LIMIT,
        seed: Some(0x5eed_0000 + id * 7919),
        logger: Arc::new(NullLogger),
        ..Default::default()
    }
}

/// A storage whose configuration has the given voters.
pub fn storage_with_voters(voters: &[u64]) -> MemoryStorage {
    MemoryStorage::new_with_conf_state(ConfState {
        voters: voters.to_vec(),
        ..Default::default()
    })
}

/// A storage whose configuration has the given voters and learners.
pub fn storage_with(voters: &[u64], learners: &[u64]) -> MemoryStorage {
    MemoryStorage::new_with_conf_state(ConfState {
        voters: voters.to_vec(),
        learners: learners.to_vec(),
        ..Default::default()
    })
}

/// A Raft on a fresh MemoryStorage with `peers` as voters.
pub fn new_test_raft(
    id: u64,
    peers: &[u64],
    election: usize,
    heartbeat: usize,
) -> Raft<MemoryStorage> {
    Raft::new(&config(id, election, heartbeat), storage_with_voters(peers)).unwrap()
}

/// A Raft built from an explicit config and storage.
pub fn raft_with(cfg: &Config, storage: MemoryStorage) -> Raft<MemoryStorage> {
    Raft::new(cfg, storage).unwrap()
}

/// Steps the messages a Raft addressed to itself after persisting (its own
/// append acknowledgements and votes) and moves the others to `msgs`, until
/// none are left. This is what the Ready loop does for a node whose storage
/// write completed at once.
pub fn flush_self(r: &mut Raft<MemoryStorage>) {
    loop {
        let msgs = std::mem::take(&mut r.outbox.msgs_after_append);
        if msgs.is_empty() {
            break;
        }
        for m in msgs {
            if m.to == r.id {
                let _ = r.step(m);
            } else {
                r.outbox.msgs.push(m);
            }
        }
    }
}

/// All messages the Raft wants to send (after self-acknowledging).
pub fn read_messages(r: &mut Raft<MemoryStorage>) -> Vec<Message> {
    r.flush_appends();
    flush_self(r);
    std::mem::take(&mut r.outbox.msgs)
}

/// Steps `m` into `r` and flushes the self-addressed messages.
pub fn step_flush(r: &mut Raft<MemoryStorage>, m: Message) -> raft_core::Result<()> {
    let res = r.step(m);
    flush_self(r);
    res
}

/// Makes `r` leader of the next term (one round of votes from `peers`).
pub fn make_leader(r: &mut Raft<MemoryStorage>) {
    r.become_candidate();
    flush_self(r);
    let term = r.term;
    let voters: Vec<u64> = r.prs.config.voters.ids().into_iter().collect();
    for v in voters {
        // `become_candidate` records no vote: count ours explicitly.
        if r.state == StateRole::Candidate {
            let _ = r.step(Message {
                from: v,
                to: r.id,
                term,
                ..Message::with_type(MessageType::MsgVoteResp)
            });
        }
    }
    flush_self(r);
    assert_eq!(r.state, StateRole::Leader);
}

/// A message of type `t` from `from` to `to` at `term`.
pub fn msg(t: MessageType, from: u64, to: u64, term: u64) -> Message {
    Message {
        from,
        to,
        term,
        ..Message::with_type(t)
    }
}

/// A local MsgHup.
pub fn hup(id: u64) -> Message {
    Message {
        from: id,
        to: id,
        ..Message::with_type(MessageType::MsgHup)
    }
}

/// A MsgProp from `from` to `to` with one entry of payload `data`.
pub fn prop(from: u64, to: u64, data: &[u8]) -> Message {
    Message {
        from,
        to,
        entries: vec![Entry {
            data: Some(Bytes::copy_from_slice(data)),
            ..Default::default()
        }],
        ..Message::with_type(MessageType::MsgProp)
    }
}

/// A normal entry at (term, index) with no payload.
pub fn ent(term: u64, index: u64) -> Entry {
    Entry {
        term,
        index,
        ..Default::default()
    }
}

/// A normal entry at (term, index) with a payload.
pub fn dent(term: u64, index: u64, data: &[u8]) -> Entry {
    Entry::new(term, index, Bytes::copy_from_slice(data))
}

/// The (term, index) pairs of a slice of entries.
pub fn ids(ents: &[Entry]) -> Vec<(u64, u64)> {
    ents.iter().map(|e| (e.term, e.index)).collect()
}

/// All entries of a Raft's log (stable and unstable) from its first index.
pub fn log_of(r: &Raft<MemoryStorage>) -> Vec<Entry> {
    r.raft_log.all_entries()
}

/// The payloads of the normal, non-empty entries.
pub fn payloads(ents: &[Entry]) -> Vec<Vec<u8>> {
    ents.iter()
        .filter(|e| e.entry_type() == EntryType::EntryNormal && !e.data().is_empty())
        .map(|e| e.data().to_vec())
        .collect()
}

/// A V1 conf change.
pub fn cc_v1(t: ConfChangeType, node: u64) -> ConfChange {
    let mut cc = ConfChange {
        node_id: node,
        ..Default::default()
    };
    cc.set_change_type(t);
    cc
}

/// A V2 conf change with the given transition.
pub fn cc_v2(changes: &[(ConfChangeType, u64)], tr: ConfChangeTransition) -> ConfChangeV2 {
    let mut cc = ConfChangeV2 {
        changes: changes
            .iter()
            .map(|&(t, id)| ConfChangeSingle::new(t, id))
            .collect(),
        ..Default::default()
    };
    cc.set_transition(tr);
    cc
}

/// Persists a Ready into `storage` (snapshot, entries, hard state).
pub fn persist(storage: &MemoryStorage, rd: &Ready) {
    if !rd.snapshot.is_empty() {
        storage.apply_snapshot(rd.snapshot.clone()).unwrap();
    }
    storage.append(&rd.entries).unwrap();
    if let Some(hs) = rd.hard_state {
        storage.set_hard_state(hs);
    }
}

/// One member of a [`Network`].
pub struct Node {
    /// The node.
    pub raw: RawNode<MemoryStorage>,
    /// The application's handle on the node's storage.
    pub storage: MemoryStorage,
    /// Every committed entry handed to the application, in order (a
    /// snapshot restore is recorded as a marker entry with the snapshot's
    /// index and term and type EntryConfChangeV2 with no data).
    pub applied: Vec<Entry>,
    /// The configuration after the last applied conf change.
    pub conf_state: ConfState,
    /// Index of the last applied entry (or snapshot).
    pub applied_index: u64,
    /// The config the node was built with.
    pub cfg: Config,
    /// Every read state handed out by a Ready.
    pub read_states: Vec<ReadState>,
    /// Every soft state change handed out by a Ready.
    pub soft_states: Vec<SoftState>,
}

impl Node {
    /// The node's Raft.
    pub fn raft(&self) -> &Raft<MemoryStorage> {
        &self.raw.raft
    }
}

/// A filter deciding whether a message is dropped.
pub type MsgFilter = Box<dyn FnMut(&Message) -> bool>;

/// A set of RawNodes connected by a lossy in-memory network.
pub struct Network {
    /// The nodes by id.
    pub nodes: BTreeMap<u64, Node>,
    /// Directed links (from, to) whose messages are dropped.
    pub cut: BTreeSet<(u64, u64)>,
    /// Message types dropped everywhere.
    pub ignored: BTreeSet<i32>,
    /// Extra drop rule.
    pub filter: Option<MsgFilter>,
    /// Every message delivered (for assertions), when `record` is true.
    pub delivered: Vec<Message>,
    /// Whether to record delivered messages.
    pub record: bool,
}

impl Network {
    /// A network of `ids` voters with default test configs (election 10,
    /// heartbeat 1).
    pub fn new(ids: &[u64]) -> Network {
        Network::with_config(ids, |_| {})
    }

    /// A network of `ids` voters whose configs are adjusted by `f`.
    pub fn with_config(ids: &[u64], f: impl Fn(&mut Config)) -> Network {
        let mut nodes = BTreeMap::new();
        for &id in ids {
            let mut c = config(id, 10, 1);
            f(&mut c);
            let storage = storage_with_voters(ids);
            nodes.insert(id, Network::make_node(&c, storage));
        }
        Network::from_nodes(nodes)
    }

    /// A network from prepared nodes.
    pub fn from_nodes(nodes: BTreeMap<u64, Node>) -> Network {
        Network {
            nodes,
            cut: BTreeSet::new(),
            ignored: BTreeSet::new(),
            filter: None,
            delivered: Vec::new(),
            record: false,
        }
    }

    /// Builds a node from a config and a storage (its conf state taken from
    /// the storage).
    pub fn make_node(c: &Config, storage: MemoryStorage) -> Node {
        use raft_core::Storage;
        let cs = storage.initial_state().unwrap().conf_state;
        let raw = RawNode::new(c, storage.clone()).unwrap();
        let applied_index = raw.raft.raft_log.applied;
        Node {
            raw,
            storage,
            applied: Vec::new(),
            conf_state: cs,
            applied_index,
            read_states: Vec::new(),
            soft_states: Vec::new(),
            cfg: c.clone(),
        }
    }

    /// Adds (or replaces) a node.
    pub fn add_node(&mut self, c: &Config, storage: MemoryStorage) {
        self.nodes.insert(c.id, Network::make_node(c, storage));
    }

    /// Crashes node `id` and restarts it from its storage (volatile state
    /// lost, `applied` kept as the application's applied index).
    pub fn restart(&mut self, id: u64) {
        let node = self.nodes.get_mut(&id).unwrap();
        let mut c = node.cfg.clone();
        c.applied = node.applied_index;
        node.raw = RawNode::new(&c, node.storage.clone()).unwrap();
    }

    /// The node `id`.
    pub fn node(&self, id: u64) -> &Node {
        &self.nodes[&id]
    }

    /// The node `id`, mutably.
    pub fn node_mut(&mut self, id: u64) -> &mut Node {
        self.nodes.get_mut(&id).unwrap()
    }

    /// The Raft of node `id`.
    pub fn raft(&self, id: u64) -> &Raft<MemoryStorage> {
        &self.nodes[&id].raw.raft
    }

    /// The Raft of node `id`, mutably.
    pub fn raft_mut(&mut self, id: u64) -> &mut Raft<MemoryStorage> {
        &mut self.nodes.get_mut(&id).unwrap().raw.raft
    }

    /// Drops every message from and to `id`.
    pub fn isolate(&mut self, id: u64) {
        let others: Vec<u64> = self.nodes.keys().copied().filter(|&o| o != id).collect();
        for o in others {
            self.cut.insert((id, o));
            self.cut.insert((o, id));
        }
    }

    /// Drops the messages between `a` and `b` (both ways).
    pub fn cut(&mut self, a: u64, b: u64) {
        self.cut.insert((a, b));
        self.cut.insert((b, a));
    }

    /// Splits the network into two groups that cannot talk to each other.
    pub fn partition(&mut self, a: &[u64], b: &[u64]) {
        for &x in a {
            for &y in b {
                self.cut(x, y);
            }
        }
    }

    /// Drops messages of type `t` everywhere.
    pub fn ignore(&mut self, t: MessageType) {
        self.ignored.insert(t as i32);
    }

    /// Heals every cut and stops ignoring message types.
    pub fn recover(&mut self) {
        self.cut.clear();
        self.ignored.clear();
        self.filter = None;
    }

    fn dropped(&mut self, m: &Message) -> bool {
        if self.cut.contains(&(m.from, m.to)) || self.ignored.contains(&m.msg_type) {
            return true;
        }
        match &mut self.filter {
            Some(f) => f(m),
            None => false,
        }
    }

    /// Runs the Ready loop of node `id` until it has nothing left and
    /// returns the messages it wants to send.
    pub fn process_ready(&mut self, id: u64) -> Vec<Message> {
        let mut out = Vec::new();
        let Some(node) = self.nodes.get_mut(&id) else {
            return out;
        };
        while node.raw.has_ready() {
            let rd = node.raw.ready().unwrap();
            handle_ready(node, rd, &mut out);
            node.raw.advance().unwrap();
        }
        out
    }

    /// Delivers one message to its target (ignoring the step error the
    /// target may return, as a real transport would).
    pub fn deliver(&mut self, m: Message) {
        let Some(node) = self.nodes.get_mut(&m.to) else {
            return;
        };
        if is_local_msg(m.msg_type()) {
            let _ = node.raw.raft.step(m);
        } else {
            let _ = node.raw.step(m);
        }
    }

    /// Delivers `msgs` and everything they cause until no message is left.
    pub fn send(&mut self, msgs: Vec<Message>) {
        let mut queue: VecDeque<Message> = msgs.into();
        let mut budget = 1_000_000usize;
        while let Some(m) = queue.pop_front() {
            budget -= 1;
            assert!(budget > 0, "network did not quiesce");
            if self.dropped(&m) {
                continue;
            }
            let to = m.to;
            if self.record {
                self.delivered.push(m.clone());
            }
            self.deliver(m);
            queue.extend(self.process_ready(to));
        }
    }

    /// Processes the Ready of every node and delivers the resulting traffic.
    pub fn settle(&mut self) {
        let ids: Vec<u64> = self.nodes.keys().copied().collect();
        let mut msgs = Vec::new();
        for id in ids {
            msgs.extend(self.process_ready(id));
        }
        self.send(msgs);
    }

    /// Node `id` campaigns; the network settles.
    pub fn campaign(&mut self, id: u64) {
        self.send(vec![hup(id)]);
    }

    /// Node `id` proposes `data`; the network settles. Returns the result of
    /// the proposal.
    pub fn propose(&mut self, id: u64, data: &[u8]) -> raft_core::Result<()> {
        let res = self.node_mut(id).raw.propose(Bytes::copy_from_slice(data));
        self.settle();
        res
    }

    /// Node `id` proposes a conf change; the network settles.
    pub fn propose_conf_change(
        &mut self,
        id: u64,
        cc: impl Into<ConfChangeI>,
    ) -> raft_core::Result<()> {
        let res = self.node_mut(id).raw.propose_conf_change(cc);
        self.settle();
        res
    }

    /// Ticks node `id` once; the network settles.
    pub fn tick(&mut self, id: u64) {
        self.node_mut(id).raw.tick();
        self.settle();
    }

    /// Ticks every node `n` times, settling after each round.
    pub fn tick_all(&mut self, n: usize) {
        let ids: Vec<u64> = self.nodes.keys().copied().collect();
        for _ in 0..n {
            for &id in &ids {
                self.node_mut(id).raw.tick();
            }
            self.settle();
        }
    }

    /// The current leaders (node ids whose state is Leader).
    pub fn leaders(&self) -> Vec<u64> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.raw.raft.state == StateRole::Leader)
            .map(|(id, _)| *id)
            .collect()
    }

    /// Payloads applied by node `id`.
    pub fn applied_payloads(&self, id: u64) -> Vec<Vec<u8>> {
        payloads(&self.node(id).applied)
    }
}

/// Handles one Ready for `node`: persist, collect messages, apply.
pub fn handle_ready(node: &mut Node, rd: Ready, out: &mut Vec<Message>) {
    if !rd.snapshot.is_empty() {
        let s = &rd.snapshot;
        node.storage.apply_snapshot(s.clone()).unwrap();
        node.conf_state = s.metadata.conf_state.clone();
        node.applied_index = s.metadata.index;
        let mut marker = ent(s.metadata.term, s.metadata.index);
        marker.set_entry_type(EntryType::EntryConfChangeV2);
        marker.data = None;
        node.applied.push(marker);
    }
    node.storage.append(&rd.entries).unwrap();
    if let Some(hs) = rd.hard_state {
        node.storage.set_hard_state(hs);
    }
    node.read_states.extend(rd.read_states);
    node.soft_states.extend(rd.soft_state);
    out.extend(rd.messages);
    for e in rd.committed_entries {
        node.applied_index = e.index;
        if let Some(cc) = ConfChangeI::from_entry(&e) {
            let cc = cc.unwrap();
            node.conf_state = node.raw.apply_conf_change(&cc).unwrap();
        }
        node.applied.push(e);
    }
}

/// Runs the Ready loop of a lone RawNode (no peers to deliver to),
/// returning the Readys handled.
pub fn drain_ready(raw: &mut RawNode<MemoryStorage>, storage: &MemoryStorage) -> Vec<Ready> {
    let mut out = Vec::new();
    while raw.has_ready() {
        let rd = raw.ready().unwrap();
        persist(storage, &rd);
        for e in &rd.committed_entries {
            if let Some(cc) = ConfChangeI::from_entry(e) {
                raw.apply_conf_change(&cc.unwrap()).unwrap();
            }
        }
        out.push(rd);
        raw.advance().unwrap();
    }
    out
}

/// A hard state.
pub fn hs(term: u64, vote: u64, commit: u64) -> HardState {
    HardState { term, vote, commit }
}

/// The types of a list of messages.
pub fn types(msgs: &[Message]) -> Vec<MessageType> {
    msgs.iter().map(|m| m.msg_type()).collect()
}

/// A tiny deterministic generator (xorshift64*) for seeded randomized tests.
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed` (any value, zero included).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// A value in `[0, n)`; 0 when `n` is 0.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
    /// True with the given probability in percent.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    /// A random element of `xs`, if any.
    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> Option<T> {
        if xs.is_empty() {
            None
        } else {
            Some(xs[self.below(xs.len() as u64) as usize])
        }
    }
}

/// A logger that keeps every line at its level or above, for tests that
/// check what a node logged.
pub struct CaptureLogger {
    min: Level,
    lines: Mutex<Vec<String>>,
}

impl CaptureLogger {
    /// A logger keeping the lines at `min` and above.
    pub fn at(min: Level) -> Arc<CaptureLogger> {
        Arc::new(CaptureLogger {
            min,
            lines: Mutex::new(Vec::new()),
        })
    }

    /// The lines kept so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

impl Logger for CaptureLogger {
    fn enabled(&self, level: Level) -> bool {
        level >= self.min
    }
    fn log(&self, _: Level, msg: std::fmt::Arguments<'_>) {
        self.lines.lock().unwrap().push(msg.to_string());
    }
}
