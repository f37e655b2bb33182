//! A seeded, deterministic, randomized cluster simulation that exercises
//! what the simulation in `robustness.rs` leaves out: log compaction and
//! snapshot catch-up, membership changes (simple and joint, adding empty
//! nodes, learners, promotions, demotions, removals of the leader), crash
//! restarts from storage with a durable state machine, asynchronous storage
//! writes on every node, a network that drops, delays, reorders and
//! duplicates messages and cuts links (both ways or one way), storage
//! writes that fail (the node crashes), crashes that lose the writes made
//! without a sync (`must_sync` false), forget-leader, the uncommitted-size
//! and in-flight-byte limits, every combination of pre-vote and
//! check-quorum, ReadIndex reads (safe and lease-based) whose answers
//! are checked for linearizability, and, in two seeds of five, leader churn:
//! a schedule of leaders cut off at the worst moments (the Raft paper's
//! Figure 8: a leader cut off with its tail on a minority, the next one cut
//! off before its first entry leaves it, the one after that cut off right
//! after its commit index moves).
//!
//! Safety invariants are checked after every step (one leader per term,
//! Leader Completeness at every election: the new leader holds every entry
//! seen committed; committed entries and applied states agree everywhere;
//! commit and applied indexes never go back); at the end the network heals
//! and every member of the final configuration must apply a last proposal.
//!
//! `RAFT_SIM_SEEDS=<n>` runs `n` seeds per test instead of the default
//! handful, `RAFT_SIM_FIRST=<seed>` starts at another seed (to replay one)
//! and `RAFT_SIM_STEPS=<n>` changes the steps per seed. A run goes on past
//! a failing seed and ends with the rate (seeds per second) and, for every
//! failing seed, the command that replays it. Long runs use the optimized
//! `sim` profile (overflow checks and debug assertions stay on):
//! `RAFT_SIM_SEEDS=100000 cargo test -p raft-core --profile sim --test
//! simulation -- --nocapture`. `RAFT_SIM_FAIL_FAST=1` stops at the first
//! failing seed (the mutation check: with a `mutation-*` feature of
//! raft-core, the CI budget must fail).

mod common;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use common::{cc_v1, cc_v2, Rng};
use raft_core::eraftpb::{
    ConfChangeTransition, ConfChangeType, ConfChangeV2, ConfState, Entry, EntryType, HardState,
    Message, MessageType, Snapshot,
};
use raft_core::logger::NullLogger;
use raft_core::{
    ConfChangeI, Config, Error, MemoryStorage, RawNode, SnapshotStatus, StateRole, Storage,
    LOCAL_APPEND_THREAD, LOCAL_APPLY_THREAD,
};

/// FNV-1a style mixing of a sequence of words into a running hash.
fn mix(mut h: u64, words: &[u64], bytes: &[u8]) -> u64 {
    const P: u64 = 0x0000_0100_0000_01b3;
    for w in words {
        for b in w.to_le_bytes() {
            h = (h ^ b as u64).wrapping_mul(P);
        }
    }
    for &b in bytes {
        h = (h ^ b as u64).wrapping_mul(P);
    }
    h
}

/// Hash of an entry's content (type and payload).
fn entry_hash(e: &Entry) -> u64 {
    mix(0xcbf2_9ce4_8422_2325, &[e.entry_type as u64], e.data())
}

/// Every node id a configuration mentions.
fn members(cs: &ConfState) -> BTreeSet<u64> {
    cs.voters
        .iter()
        .chain(&cs.learners)
        .chain(&cs.voters_outgoing)
        .chain(&cs.learners_next)
        .copied()
        .collect()
}

/// What one seed runs with.
#[derive(Clone, Copy, Debug)]
struct Opts {
    seed: u64,
    steps: usize,
    nodes: u64,
    async_writes: bool,
    pre_vote: bool,
    check_quorum: bool,
    step_down_on_removal: bool,
    merge_appends: bool,
    /// Lease-based reads (needs check-quorum) instead of safe ones.
    lease_reads: bool,
    /// `max_uncommitted_entries_size` (`NO_LIMIT` or a small limit).
    max_uncommitted: u64,
    /// `max_inflight_bytes` (0: no limit).
    max_inflight_bytes: u64,
    /// Leader churn (Raft paper, Figure 8; `Sim::churn_on_new_leader`):
    /// leaders are cut off in a cycle that leaves nodes with divergent
    /// tails of different terms, proposals also go to leaders of older
    /// terms, and time runs faster (more elections). Two seeds in five.
    churn: bool,
}

impl Opts {
    /// Varies the features with the seed so that every combination shows up
    /// within a few consecutive seeds.
    fn for_seed(seed: u64, steps: usize, async_writes: bool) -> Opts {
        Opts {
            seed,
            steps,
            nodes: 3 + seed % 3,
            async_writes,
            // Every combination of pre-vote and check-quorum in 8 seeds.
            pre_vote: (seed / 2) % 2 == 1,
            check_quorum: (seed / 4) % 2 == 1,
            step_down_on_removal: (seed / 3).is_multiple_of(2),
            merge_appends: seed % 4 != 1,
            lease_reads: (seed / 4) % 2 == 1 && (seed / 8) % 2 == 1,
            max_uncommitted: if (seed / 5).is_multiple_of(2) {
                1000
            } else {
                raft_core::NO_LIMIT
            },
            max_inflight_bytes: if (seed / 7).is_multiple_of(2) {
                1000
            } else {
                0
            },
            churn: seed % 5 < 2,
        }
    }
}

/// The application's durable state machine: it survives crashes.
#[derive(Clone, Debug, Default)]
struct StateMachine {
    applied: u64,
    hash: u64,
    conf: ConfState,
}

/// One node of the simulated cluster.
struct SimNode {
    raw: Option<RawNode<MemoryStorage>>,
    storage: MemoryStorage,
    cfg: Config,
    sm: StateMachine,
    /// Async mode: MsgStorageAppend / MsgStorageApply not yet performed.
    append_q: VecDeque<Message>,
    apply_q: VecDeque<Message>,
    /// When a crashed node comes back.
    down_until: u64,
    /// Commit and applied index of the current incarnation (monotonic).
    last_commit: u64,
    last_applied: u64,
    /// Whether the node applied the final proposal.
    applied_final: bool,
    /// Sync mode: the hard state as of the last Ready that had to be synced
    /// while later ones (`must_sync` false, only the commit index moved)
    /// were written without a sync: a crash may lose them.
    synced_hs: Option<HardState>,
}

/// A ReadIndex request in flight.
struct PendingRead {
    node: u64,
    /// The highest index applied anywhere when the read was issued: every
    /// write acknowledged before the read is at or below it.
    min_index: u64,
}

/// A leader cut off by the churn schedule: from `from` to `until` (healed
/// then, or `u64::MAX` until healed) it reaches, and is reached by, nobody
/// but `companion`.
#[derive(Clone, Copy, Debug)]
struct Isolation {
    from: u64,
    until: u64,
    companion: Option<u64>,
}

/// Where the leader churn schedule is (see `Sim::churn_on_new_leader`).
#[derive(Clone, Copy, Debug, Default)]
struct Churn {
    /// 0: calm until `since`; 1, 2, 3: cut off the leaders A, B, C (`cut`),
    /// phase entered at `since`.
    phase: u8,
    since: u64,
    cut: [Option<u64>; 3],
    /// Phase 3: C's term and its commit index when elected.
    term: u64,
    commit: u64,
}

/// A message on the wire.
struct InFlight {
    at: u64,
    m: Message,
}

#[derive(Default, Debug)]
struct Stats {
    delivered: u64,
    dropped: u64,
    duplicated: u64,
    snaps_sent: u64,
    snaps_applied: u64,
    compactions: u64,
    conf_changes_applied: u64,
    conf_changes_proposed: u64,
    joint_entered: u64,
    nodes_added: u64,
    nodes_removed: u64,
    leader_removed: u64,
    restarts: u64,
    proposals: u64,
    max_committed: u64,
    reads_issued: u64,
    reads_answered: u64,
    stale_lease_reads: u64,
    append_failures: u64,
    unsynced_lost: u64,
    forget_leader: u64,
    /// Terms in which a leader was seen.
    elections: u64,
    /// Leaders cut off by the churn schedule.
    churn_isolations: u64,
}

impl Stats {
    /// Adds every counter of `s` (the maximum commit index is summed too).
    fn add(&mut self, s: &Stats) {
        self.delivered += s.delivered;
        self.dropped += s.dropped;
        self.duplicated += s.duplicated;
        self.snaps_sent += s.snaps_sent;
        self.snaps_applied += s.snaps_applied;
        self.compactions += s.compactions;
        self.conf_changes_applied += s.conf_changes_applied;
        self.conf_changes_proposed += s.conf_changes_proposed;
        self.joint_entered += s.joint_entered;
        self.nodes_added += s.nodes_added;
        self.nodes_removed += s.nodes_removed;
        self.leader_removed += s.leader_removed;
        self.restarts += s.restarts;
        self.proposals += s.proposals;
        self.max_committed += s.max_committed;
        self.reads_issued += s.reads_issued;
        self.reads_answered += s.reads_answered;
        self.stale_lease_reads += s.stale_lease_reads;
        self.append_failures += s.append_failures;
        self.unsynced_lost += s.unsynced_lost;
        self.forget_leader += s.forget_leader;
        self.elections += s.elections;
        self.churn_isolations += s.churn_isolations;
    }
}

struct Sim {
    o: Opts,
    rng: Rng,
    now: u64,
    ctx: String,
    nodes: BTreeMap<u64, SimNode>,
    /// Ids shut down for good after their removal.
    gone: BTreeSet<u64>,
    next_id: u64,
    wire: Vec<InFlight>,
    cut: BTreeSet<(u64, u64)>,
    /// True once the network healed: no more injected faults.
    healing: bool,
    drop_pct: u64,
    dup_pct: u64,
    max_delay: u64,
    /// term -> leader.
    leaders: BTreeMap<u64, u64>,
    /// Leader churn: its own generator (the other seeds' schedules stay
    /// as they were), the isolations by node and the cycle's state.
    churn_rng: Rng,
    isolations: BTreeMap<u64, Isolation>,
    churn: Churn,
    /// index -> (term, content hash) of every entry seen committed.
    committed: BTreeMap<u64, (u64, u64)>,
    /// applied index -> (state machine hash, configuration) after applying.
    applied: BTreeMap<u64, (u64, ConfState)>,
    /// Highest index in `applied` and its configuration.
    latest_conf: (u64, ConfState),
    /// Removed node id -> (time at which the operator shuts it down, index
    /// of its removal).
    shutdown_at: BTreeMap<u64, (u64, u64)>,
    /// Index of the final entry, once applied somewhere.
    final_index: Option<u64>,
    /// ReadIndex requests by context.
    reads: BTreeMap<Vec<u8>, PendingRead>,
    /// The highest commit index any node had when it handed out a Ready.
    max_commit_seen: u64,
    stats: Stats,
    trace: bool,
}

impl Sim {
    fn new(o: Opts) -> Sim {
        let mut sim = Sim {
            o,
            rng: Rng::new(o.seed ^ 0x51_4d_00),
            now: 0,
            ctx: String::new(),
            nodes: BTreeMap::new(),
            gone: BTreeSet::new(),
            next_id: o.nodes + 1,
            wire: Vec::new(),
            cut: BTreeSet::new(),
            healing: false,
            drop_pct: 3,
            dup_pct: 2,
            max_delay: 3,
            leaders: BTreeMap::new(),
            churn_rng: Rng::new(o.seed ^ 0xf1_68),
            isolations: BTreeMap::new(),
            churn: Churn::default(),
            committed: BTreeMap::new(),
            applied: BTreeMap::new(),
            latest_conf: (0, ConfState::default()),
            shutdown_at: BTreeMap::new(),
            final_index: None,
            reads: BTreeMap::new(),
            max_commit_seen: 0,
            stats: Stats::default(),
            trace: std::env::var("RAFT_SIM_TRACE").is_ok(),
        };
        let peers: Vec<u64> = (1..=o.nodes).collect();
        for &id in &peers {
            sim.spawn(id);
            let raw = sim.nodes.get_mut(&id).unwrap().raw.as_mut().unwrap();
            raw.bootstrap(&peers).unwrap();
        }
        // The operator persists the bootstrap before the cluster starts:
        // a node crashing before its first async append would otherwise
        // restart with no configuration (found at async seed 73284, where
        // no member kept one and the cluster could never elect a leader).
        sim.healing = true;
        for &id in &peers {
            sim.process(id);
            while sim.run_append(id) || sim.run_apply(id) {
                sim.process(id);
            }
        }
        sim.healing = false;
        sim
    }

    fn config(&self, id: u64) -> Config {
        Config {
            id,
            election_tick: 10,
            heartbeat_tick: 2,
            max_size_per_msg: 300,
            max_inflight_msgs: 8,
            pre_vote: self.o.pre_vote,
            check_quorum: self.o.check_quorum,
            step_down_on_removal: self.o.step_down_on_removal,
            async_storage_writes: self.o.async_writes,
            merge_appends: self.o.merge_appends,
            read_only_option: if self.o.lease_reads {
                raft_core::ReadOnlyOption::LeaseBased
            } else {
                raft_core::ReadOnlyOption::Safe
            },
            max_uncommitted_entries_size: self.o.max_uncommitted,
            max_inflight_bytes: self.o.max_inflight_bytes,
            seed: Some(self.o.seed.wrapping_mul(1_000_003) + id),
            logger: Arc::new(NullLogger),
            ..Default::default()
        }
    }

    /// Starts a node with an empty storage.
    fn spawn(&mut self, id: u64) {
        let cfg = self.config(id);
        let storage = MemoryStorage::new();
        let raw = RawNode::new(&cfg, storage.clone()).unwrap();
        self.nodes.insert(
            id,
            SimNode {
                raw: Some(raw),
                storage,
                cfg,
                sm: StateMachine::default(),
                append_q: VecDeque::new(),
                apply_q: VecDeque::new(),
                down_until: 0,
                last_commit: 0,
                last_applied: 0,
                applied_final: false,
                synced_hs: None,
            },
        );
    }

    fn live(&self) -> Vec<u64> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.raw.is_some())
            .map(|(id, _)| *id)
            .collect()
    }

    fn leader(&self) -> Option<u64> {
        // The leader of the highest term among live nodes.
        self.nodes
            .iter()
            .filter_map(|(id, n)| n.raw.as_ref().map(|r| (id, &r.raft)))
            .filter(|(_, r)| r.state == StateRole::Leader)
            .max_by_key(|(_, r)| r.term)
            .map(|(id, _)| *id)
    }

    fn raw(&mut self, id: u64) -> Option<&mut RawNode<MemoryStorage>> {
        self.nodes.get_mut(&id).and_then(|n| n.raw.as_mut())
    }

    // ------------------------------------------------------------ network

    fn send(&mut self, m: Message) {
        let at = self.now + self.rng.below(self.max_delay + 1);
        self.wire.push(InFlight { at, m });
    }

    /// Whether a message to `to` cannot arrive (cut link, node down or gone).
    fn unreachable(&self, from: u64, to: u64) -> bool {
        self.cut.contains(&(from, to)) || self.nodes.get(&to).is_none_or(|n| n.raw.is_none())
    }

    /// Delivers (or drops, or duplicates) one random message that is due.
    fn deliver_one(&mut self) -> bool {
        let due: Vec<usize> = (0..self.wire.len())
            .filter(|&i| self.wire[i].at <= self.now)
            .collect();
        let Some(i) = self.rng.pick(&due) else {
            return false;
        };
        let f = self.wire.swap_remove(i);
        let m = f.m;
        let (from, to) = (m.from, m.to);
        let is_snap = m.msg_type() == MessageType::MsgSnap;
        if self.unreachable(from, to) || self.rng.chance(self.drop_pct) {
            self.stats.dropped += 1;
            if is_snap {
                self.report_snapshot(from, to, SnapshotStatus::Failure);
            } else if self.rng.chance(20) {
                if let Some(raw) = self.raw(from) {
                    expect_ok(raw.report_unreachable(to), "report_unreachable");
                }
            }
            return true;
        }
        if self.rng.chance(self.dup_pct) {
            self.stats.duplicated += 1;
            let at = self.now + self.rng.below(2 * self.max_delay + 2);
            self.wire.push(InFlight { at, m: m.clone() });
        }
        self.stats.delivered += 1;
        if self.trace {
            eprintln!(
                "{} deliver {:?} {}->{} term {} idx {} lt {} commit {} ents {} rej {}",
                self.ctx,
                m.msg_type(),
                from,
                to,
                m.term,
                m.index,
                m.log_term,
                m.commit,
                m.entries.len(),
                m.reject
            );
        }
        if is_snap {
            self.stats.snaps_sent += 1;
        }
        let ctx = format!("{}: step {:?}", self.ctx, m.msg_type());
        let raw = self.raw(to).unwrap();
        expect_step(raw.step(m), &ctx);
        if is_snap {
            self.report_snapshot(from, to, SnapshotStatus::Finish);
        }
        if self.rng.chance(80) {
            self.process(to);
        }
        true
    }

    fn report_snapshot(&mut self, leader: u64, to: u64, st: SnapshotStatus) {
        if let Some(raw) = self.raw(leader) {
            expect_ok(raw.report_snapshot(to, st), "report_snapshot");
        }
    }

    // ------------------------------------------------------- ready loop

    /// Runs the Ready loop of node `id` (sync: persist, send, apply,
    /// advance; async: hand the storage work to the local queues).
    fn process(&mut self, id: u64) {
        let async_writes = self.o.async_writes;
        loop {
            let Some(node) = self.nodes.get_mut(&id) else {
                return;
            };
            let Some(raw) = node.raw.as_mut() else {
                return;
            };
            if !raw.has_ready() {
                break;
            }
            let mut rd = match raw.ready() {
                Ok(rd) => rd,
                Err(e) => panic!("{}: ready of {id}: {e}", self.ctx),
            };
            // Before anything of this Ready can crash the node.
            self.max_commit_seen = self.max_commit_seen.max(raw.raft.raft_log.committed);
            self.observe_leader(id);
            self.churn_watch(id);
            let read_states = std::mem::take(&mut rd.read_states);
            self.check_reads(id, read_states);
            let node = self.nodes.get_mut(&id).unwrap();
            if async_writes {
                let mut out = Vec::new();
                for m in rd.messages {
                    match m.to {
                        LOCAL_APPEND_THREAD => node.append_q.push_back(m),
                        LOCAL_APPLY_THREAD => node.apply_q.push_back(m),
                        _ => out.push(m),
                    }
                }
                for m in out {
                    self.send(m);
                }
                continue;
            }
            if self.storage_fails() {
                // The write fails: the application cannot go on and
                // crashes; nothing of this Ready was persisted or sent.
                self.stats.append_failures += 1;
                let down = self.rng.below(40);
                self.crash(id, down);
                return;
            }
            let node = self.nodes.get_mut(&id).unwrap();
            if rd.must_sync || !rd.snapshot.is_empty() {
                node.synced_hs = None;
            } else if node.synced_hs.is_none() {
                node.synced_hs = Some(node.storage.hard_state());
            }
            if !rd.snapshot.is_empty() {
                node.storage.apply_snapshot(rd.snapshot.clone()).unwrap();
                self.restore_sm(id, &rd.snapshot);
            }
            let node = self.nodes.get_mut(&id).unwrap();
            node.storage.append(&rd.entries).unwrap();
            if let Some(hs) = rd.hard_state {
                node.storage.set_hard_state(hs);
            }
            for m in rd.messages {
                assert!(m.to != id, "{}: message to self {m:?}", self.ctx);
                self.send(m);
            }
            for e in &rd.committed_entries {
                self.apply_entry(id, e);
            }
            let raw = self.raw(id).unwrap();
            if let Err(e) = raw.advance() {
                panic!("advance of {id}: {e}");
            }
        }
    }

    /// Async mode: performs the oldest pending storage append of `id`.
    fn run_append(&mut self, id: u64) -> bool {
        if self.nodes.get(&id).is_none_or(|n| n.append_q.is_empty()) {
            return false;
        }
        if self.storage_fails() {
            self.stats.append_failures += 1;
            let down = self.rng.below(40);
            self.crash(id, down);
            return false;
        }
        let Some(m) = self.nodes.get_mut(&id).and_then(|n| n.append_q.pop_front()) else {
            return false;
        };
        assert_eq!(m.msg_type(), MessageType::MsgStorageAppend);
        if let Some(snap) = m.snapshot.as_deref().filter(|s| !s.is_empty()) {
            // The state machine applies in log order: what was committed
            // before the snapshot is applied first.
            while self.run_apply(id) {}
            let node = &self.nodes[&id];
            node.storage.apply_snapshot(snap.clone()).unwrap();
            self.restore_sm(id, snap);
        }
        let node = self.nodes.get_mut(&id).unwrap();
        node.storage.append(&m.entries).unwrap();
        if m.term != 0 || m.vote != 0 || m.commit != 0 {
            node.storage.set_hard_state(HardState {
                term: m.term,
                vote: m.vote,
                commit: m.commit,
            });
        }
        for resp in m.responses {
            if resp.to == id {
                let ctx = format!("{}: local {:?}", self.ctx, resp.msg_type());
                if let Some(raw) = self.raw(id) {
                    expect_step(raw.step(resp), &ctx);
                }
            } else {
                self.send(resp);
            }
        }
        true
    }

    /// Async mode: performs the oldest pending apply of `id`.
    fn run_apply(&mut self, id: u64) -> bool {
        let Some(m) = self.nodes.get_mut(&id).and_then(|n| n.apply_q.pop_front()) else {
            return false;
        };
        assert_eq!(m.msg_type(), MessageType::MsgStorageApply);
        for e in &m.entries {
            self.apply_entry(id, e);
        }
        for resp in m.responses {
            assert_eq!(resp.to, id);
            let ctx = format!("{}: local {:?}", self.ctx, resp.msg_type());
            let raw = self.raw(id).unwrap();
            expect_step(raw.step(resp), &ctx);
        }
        true
    }

    /// Applies one committed entry to the state machine of `id`.
    fn apply_entry(&mut self, id: u64, e: &Entry) {
        let ctx = self.ctx.clone();
        let node = self.nodes.get_mut(&id).unwrap();
        assert_eq!(
            e.index,
            node.sm.applied + 1,
            "{ctx}: node {id} applies {} after {}",
            e.index,
            node.sm.applied
        );
        if let Some(cc) = ConfChangeI::from_entry(e) {
            let cc = cc.unwrap_or_else(|err| panic!("{ctx}: undecodable conf change: {err}"));
            let raw = node.raw.as_mut().unwrap();
            let cs = match raw.apply_conf_change(&cc) {
                Ok(cs) => cs,
                Err(err) => {
                    let log = &raw.raft.raft_log;
                    let ents = log
                        .slice(log.first_index(), log.last_index() + 1, u64::MAX)
                        .unwrap_or_default();
                    let ccs: Vec<String> = ents
                        .iter()
                        .filter_map(|x| {
                            ConfChangeI::from_entry(x)
                                .map(|c| format!("{}@{}: {:?}", x.index, x.term, c))
                        })
                        .collect();
                    panic!(
                        "{ctx}: node {id} apply {cc:?} at {}: {err}\nconf state {:?}\n{}",
                        e.index,
                        node.sm.conf,
                        ccs.join("\n")
                    )
                }
            };
            if raw.raft.state == StateRole::Leader && !members(&cs).contains(&id) {
                self.stats.leader_removed += 1;
            }
            node.sm.conf = cs;
            self.stats.conf_changes_applied += 1;
        }
        if e.entry_type() == EntryType::EntryNormal && e.data() == b"final" {
            node.applied_final = true;
            // Several "final" proposals may commit (one per leader term).
            self.final_index = Some(self.final_index.map_or(e.index, |i| i.min(e.index)));
        }
        node.sm.hash = mix(
            node.sm.hash,
            &[e.index, e.term],
            &entry_hash(e).to_le_bytes(),
        );
        node.sm.applied = e.index;
        let sm = node.sm.clone();
        self.record_applied(id, &sm);
    }

    /// The application installs a snapshot into its state machine.
    fn restore_sm(&mut self, id: u64, snap: &Snapshot) {
        let ctx = self.ctx.clone();
        let node = self.nodes.get_mut(&id).unwrap();
        let idx = snap.metadata.index;
        assert!(
            idx > node.sm.applied,
            "{ctx}: node {id} got snapshot {idx} at applied {}",
            node.sm.applied
        );
        let data: [u8; 8] = snap.data().try_into().expect("snapshot data is a hash");
        node.sm = StateMachine {
            applied: idx,
            hash: u64::from_le_bytes(data),
            conf: snap.metadata.conf_state.clone(),
        };
        if let Some(f) = self.final_index {
            node.applied_final |= idx >= f;
        }
        self.stats.snaps_applied += 1;
        let sm = node.sm.clone();
        self.record_applied(id, &sm);
    }

    /// Checks (or records) the state machine at its applied index against
    /// every other node's at the same index.
    fn record_applied(&mut self, id: u64, sm: &StateMachine) {
        match self.applied.get(&sm.applied) {
            Some((h, cs)) => {
                assert_eq!(
                    *h, sm.hash,
                    "{}: node {id} diverged at applied index {}",
                    self.ctx, sm.applied
                );
                // Bootstrapped nodes apply their bootstrap entries with the
                // whole initial configuration in place (as etcd); a node
                // that replays them starts from an empty one. From the end
                // of the bootstrap entries on, configurations must agree.
                assert!(
                    sm.applied <= self.o.nodes || cs == &sm.conf,
                    "{}: node {id} has configuration {:?} at applied index {}, others {cs:?}",
                    self.ctx,
                    sm.conf,
                    sm.applied
                );
            }
            None => {
                self.applied.insert(sm.applied, (sm.hash, sm.conf.clone()));
                if sm.applied > self.latest_conf.0 {
                    let before = members(&self.latest_conf.1);
                    let after = members(&sm.conf);
                    if !sm.conf.voters_outgoing.is_empty()
                        && self.latest_conf.1.voters_outgoing.is_empty()
                    {
                        self.stats.joint_entered += 1;
                    }
                    if self.trace {
                        eprintln!(
                            "{}: node {id} conf at {} {:?}",
                            self.ctx, sm.applied, sm.conf
                        );
                    }
                    for gone in before.difference(&after) {
                        // The operator shuts a removed node down a while
                        // after its removal committed.
                        let at = self.now + self.rng.below(300);
                        self.shutdown_at.entry(*gone).or_insert((at, sm.applied));
                        self.stats.nodes_removed += 1;
                    }
                    self.latest_conf = (sm.applied, sm.conf.clone());
                }
            }
        }
    }

    // --------------------------------------------------------- actions

    fn propose(&mut self) {
        let live = self.live();
        let target = if self.o.churn && self.churn_rng.chance(60) {
            // Any node that believes it leads (of an older term too).
            let leading: Vec<u64> = live
                .iter()
                .copied()
                .filter(|id| self.nodes[id].raw.as_ref().unwrap().raft.state == StateRole::Leader)
                .collect();
            self.churn_rng.pick(&leading)
        } else if self.rng.chance(60) {
            self.leader()
        } else {
            self.rng.pick(&live)
        };
        let Some(id) = target else { return };
        self.stats.proposals += 1;
        let data = format!("s{}-{}", self.o.seed, self.stats.proposals);
        let raw = self.raw(id).unwrap();
        expect_proposal(raw.propose(Bytes::from(data)), "propose");
        self.process(id);
    }

    /// The leader proposes a random, valid membership change.
    fn change_membership(&mut self) {
        let Some(l) = self.leader() else { return };
        let raw = self.raw(l).unwrap();
        let r = &raw.raft;
        if r.pending_conf_index > r.raft_log.applied {
            return;
        }
        let cs = r.prs.conf_state();
        let voters = cs.voters.clone();
        let learners = cs.learners.clone();
        use ConfChangeType::*;
        // Voters are only removed or demoted from configurations of three
        // or more: with two, a removed leader that stepped down (or crashed)
        // before the others learned the commit is the only node that can
        // complete the outgoing majority, it cannot campaign (not a member)
        // and refuses the others' votes when its log is longer: the cluster
        // stalls for good (as etcd's would; see the report of this test).
        let cc: ConfChangeI = if !cs.voters_outgoing.is_empty() {
            // Leave the joint configuration (needed for explicit ones).
            ConfChangeV2::default().into()
        } else {
            let total = voters.len() + learners.len();
            let transition = match self.rng.below(3) {
                0 => ConfChangeTransition::ConfChangeTransitionAuto,
                1 => ConfChangeTransition::ConfChangeTransitionJointImplicit,
                _ => ConfChangeTransition::ConfChangeTransitionJointExplicit,
            };
            let simple = |rng: &mut Rng, t: ConfChangeType, id: u64| -> ConfChangeI {
                if rng.chance(50) {
                    cc_v1(t, id).into()
                } else {
                    let tr = if rng.chance(70) {
                        ConfChangeTransition::ConfChangeTransitionAuto
                    } else {
                        ConfChangeTransition::ConfChangeTransitionJointExplicit
                    };
                    cc_v2(&[(t, id)], tr).into()
                }
            };
            match self.rng.below(8) {
                0 if voters.len() < 5 && total < 7 => {
                    let id = self.new_node();
                    simple(&mut self.rng, ConfChangeAddNode, id)
                }
                1 if total < 7 => {
                    let id = self.new_node();
                    simple(&mut self.rng, ConfChangeAddLearnerNode, id)
                }
                2 if !learners.is_empty() && voters.len() < 5 => {
                    let id = self.rng.pick(&learners).unwrap();
                    simple(&mut self.rng, ConfChangeAddNode, id)
                }
                3 if voters.len() >= 3 => {
                    // Remove a voter, the leader itself now and then.
                    let id = if self.rng.chance(25) {
                        l
                    } else {
                        self.rng.pick(&voters).unwrap()
                    };
                    simple(&mut self.rng, ConfChangeRemoveNode, id)
                }
                4 if !learners.is_empty() => {
                    let id = self.rng.pick(&learners).unwrap();
                    simple(&mut self.rng, ConfChangeRemoveNode, id)
                }
                5 if voters.len() >= 3 => {
                    let id = self.rng.pick(&voters).unwrap();
                    simple(&mut self.rng, ConfChangeAddLearnerNode, id)
                }
                6 if voters.len() >= 3 && total < 7 => {
                    // Replace a voter by a new node in one joint step.
                    let old = self.rng.pick(&voters).unwrap();
                    let new = self.new_node();
                    cc_v2(
                        &[(ConfChangeAddNode, new), (ConfChangeRemoveNode, old)],
                        transition,
                    )
                    .into()
                }
                7 if voters.len() >= 3 => {
                    // Demote one voter and promote a learner (or add a
                    // new voter) in one joint step.
                    let old = self.rng.pick(&voters).unwrap();
                    let new = match self.rng.pick(&learners) {
                        Some(x) => x,
                        None if total < 7 => self.new_node(),
                        None => return,
                    };
                    cc_v2(
                        &[(ConfChangeAddLearnerNode, old), (ConfChangeAddNode, new)],
                        transition,
                    )
                    .into()
                }
                _ => return,
            }
        };
        self.stats.conf_changes_proposed += 1;
        let raw = self.raw(l).unwrap();
        expect_proposal(raw.propose_conf_change(cc), "propose_conf_change");
        self.process(l);
    }

    /// Creates an empty, unbootstrapped node for a conf change that adds it.
    fn new_node(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.spawn(id);
        self.stats.nodes_added += 1;
        id
    }

    /// Snapshots node `id`'s state machine into its storage and compacts the
    /// log up to (a little before) the applied index.
    fn compact(&mut self, id: u64) {
        let keep = self.rng.below(4);
        let node = &self.nodes[&id];
        if node.raw.is_none() {
            return;
        }
        let sm = &node.sm;
        let snap_index = node.storage.snapshot().unwrap().metadata.index;
        if sm.applied <= snap_index {
            return;
        }
        node.storage
            .create_snapshot(
                sm.applied,
                Some(sm.conf.clone()),
                Bytes::copy_from_slice(&sm.hash.to_le_bytes()),
            )
            .unwrap();
        let upto = sm.applied.saturating_sub(keep);
        if upto >= node.storage.first_index().unwrap() {
            node.storage.compact(upto).unwrap();
        }
        self.stats.compactions += 1;
    }

    fn crash(&mut self, id: u64, down_for: u64) {
        let now = self.now;
        let node = self.nodes.get_mut(&id).unwrap();
        if node.raw.is_none() {
            return;
        }
        node.raw = None;
        node.append_q.clear();
        node.apply_q.clear();
        node.down_until = now + down_for;
        // What was written without a sync may be lost.
        if let Some(hs) = node.synced_hs.take() {
            if self.rng.chance(50) {
                node.storage.set_hard_state(hs);
                self.stats.unsynced_lost += 1;
            }
        }
    }

    /// Whether the next storage write fails (never while healing).
    fn storage_fails(&mut self) -> bool {
        !self.healing && self.rng.chance(1) && self.rng.chance(30)
    }

    /// A random live node asks for a linearizable read.
    fn read(&mut self) {
        let live = self.live();
        let Some(id) = self.rng.pick(&live) else {
            return;
        };
        self.stats.reads_issued += 1;
        let ctx = format!("read-{}", self.stats.reads_issued).into_bytes();
        let min_index = self.applied.keys().next_back().copied().unwrap_or(0);
        self.reads.insert(
            ctx.clone(),
            PendingRead {
                node: id,
                min_index,
            },
        );
        let raw = self.raw(id).unwrap();
        expect_proposal(raw.read_index(Bytes::from(ctx)), "read_index");
        self.process(id);
    }

    /// Checks the answers to ReadIndex requests handed out to `id`: the
    /// read index covers every write applied anywhere before the read was
    /// issued (so every acknowledged one), and is committed. The node
    /// serves the read once it applied up to that index, so it returns a
    /// state at least that new, which `record_applied` checks is the one
    /// every node has at that index.
    fn check_reads(&mut self, id: u64, states: Vec<raft_core::ReadState>) {
        // Committed somewhere now, or seen committed before (the leader
        // that confirmed the read may have crashed since, even within the
        // step, when a storage write failed).
        let committed_now = self
            .nodes
            .values()
            .filter_map(|n| n.raw.as_ref().map(|r| r.raft.raft_log.committed))
            .chain([self.max_commit_seen])
            .max()
            .unwrap_or(0);
        for rs in states {
            // A duplicated request may be answered twice.
            let Some(p) = self.reads.get(rs.request_ctx.as_ref()) else {
                panic!("{}: node {id} answered an unknown read {:?}", self.ctx, rs);
            };
            assert_eq!(p.node, id, "{}: read answered on another node", self.ctx);
            if self.o.lease_reads && rs.index < p.min_index {
                // A lease-based read is only linearizable while clocks
                // drift little: the old leader's lease must run out before
                // a new leader is elected. Here nodes tick independently
                // and a restarted node forgets the lease it granted, so
                // stale lease reads happen (and are counted, not failed).
                self.stats.stale_lease_reads += 1;
                self.stats.reads_answered += 1;
                continue;
            }
            assert!(
                rs.index >= p.min_index,
                "{}: stale read on node {id}: read index {} below {} applied before the read was issued",
                self.ctx,
                rs.index,
                p.min_index
            );
            assert!(
                rs.index <= committed_now,
                "{}: read index {} on node {id} beyond every commit index ({committed_now})",
                self.ctx,
                rs.index
            );
            self.stats.reads_answered += 1;
        }
    }

    /// Restarts node `id` from its storage and durable state machine.
    fn restart(&mut self, id: u64) {
        let ctx = self.ctx.clone();
        let node = self.nodes.get_mut(&id).unwrap();
        let sm = node.sm.clone();
        // What the application applied is known committed: its commit
        // index is durable with its state (with async writes the apply
        // thread may have run ahead of the hard state's commit).
        let mut hs = node.storage.hard_state();
        if hs.commit < sm.applied {
            hs.commit = sm.applied;
            node.storage.set_hard_state(hs);
        }
        // The configuration at the applied index is durable with the state
        // machine: raft restarts from it.
        if sm.applied > node.storage.snapshot().unwrap().metadata.index {
            node.storage
                .create_snapshot(
                    sm.applied,
                    Some(sm.conf.clone()),
                    Bytes::copy_from_slice(&sm.hash.to_le_bytes()),
                )
                .unwrap();
        }
        let mut cfg = node.cfg.clone();
        cfg.applied = sm.applied;
        let raw = RawNode::new(&cfg, node.storage.clone())
            .unwrap_or_else(|e| panic!("{ctx}: restart of {id}: {e}"));
        node.last_commit = raw.raft.raft_log.committed;
        node.last_applied = raw.raft.raft_log.applied;
        node.raw = Some(raw);
        self.stats.restarts += 1;
    }

    fn shutdown(&mut self, id: u64) {
        if self.trace {
            eprintln!("{}: shutdown {id} latest {:?}", self.ctx, self.latest_conf);
        }
        if self.nodes.remove(&id).is_some() {
            self.gone.insert(id);
        }
    }

    /// Restarts nodes whose downtime is over and shuts removed ones down.
    fn scheduled(&mut self) {
        self.shutdown_removed(false);
        if self.o.churn && self.churn.phase != 0 && self.now > self.churn.since + 400 {
            self.churn_calm();
        }
        self.run_isolations();
        let now = self.now;
        let back: Vec<u64> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.raw.is_none() && n.down_until <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in back {
            self.restart(id);
        }
    }

    /// The operator shuts removed nodes down once every member of the
    /// configuration applied their removal (before that, the members may
    /// still need them: a removed leader may be the only one that knows the
    /// removal committed, and a joint configuration needs the votes of its
    /// outgoing half). `now` ignores the scheduled time.
    fn shutdown_removed(&mut self, now: bool) {
        let members = members(&self.latest_conf.1);
        let due: Vec<u64> = self
            .shutdown_at
            .iter()
            .filter(|(_, &(at, removed_at))| {
                (now || at <= self.now)
                    && members
                        .iter()
                        .all(|m| self.nodes.get(m).is_none_or(|n| n.sm.applied >= removed_at))
            })
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            self.shutdown_at.remove(&id);
            self.shutdown(id);
        }
    }

    fn partition(&mut self) {
        let ids: Vec<u64> = self.nodes.keys().copied().collect();
        match self.rng.below(6) {
            0 => {
                let (a, b) = (self.rng.pick(&ids).unwrap(), self.rng.pick(&ids).unwrap());
                if a != b {
                    self.cut.insert((a, b));
                    self.cut.insert((b, a));
                }
            }
            3 => {
                // One-way: a's messages to b are lost, b's reach a.
                let (a, b) = (self.rng.pick(&ids).unwrap(), self.rng.pick(&ids).unwrap());
                if a != b {
                    self.cut.insert((a, b));
                }
            }
            4 => {
                // One node hears everyone but nobody hears it (or the
                // other way round).
                let a = self.rng.pick(&ids).unwrap();
                let outgoing = self.rng.chance(50);
                for &b in &ids {
                    if a != b {
                        self.cut.insert(if outgoing { (a, b) } else { (b, a) });
                    }
                }
            }
            1 => {
                let a = self.rng.pick(&ids).unwrap();
                for &b in &ids {
                    if a != b {
                        self.cut.insert((a, b));
                        self.cut.insert((b, a));
                    }
                }
            }
            2 => {
                // A random bipartition.
                let side: Vec<bool> = ids.iter().map(|_| self.rng.chance(50)).collect();
                for (i, &a) in ids.iter().enumerate() {
                    for (j, &b) in ids.iter().enumerate() {
                        if side[i] != side[j] {
                            self.cut.insert((a, b));
                        }
                    }
                }
            }
            _ => self.cut.clear(),
        }
        if self.rng.chance(30) {
            self.cut.clear();
        }
    }

    /// Runs node `id`'s Ready loop and, with async writes, some of its
    /// pending storage work.
    fn work(&mut self, id: u64) {
        self.process(id);
        if self.o.async_writes {
            if self.rng.chance(60) {
                let all = self.rng.chance(50);
                while self.run_append(id) && all {}
                self.process(id);
            }
            if self.rng.chance(60) {
                let all = self.rng.chance(50);
                while self.run_apply(id) && all {}
                self.process(id);
            }
        }
    }

    fn step(&mut self) {
        self.now += 1;
        self.scheduled();
        for _ in 0..self.rng.below(4) {
            self.deliver_one();
        }
        if self.o.churn && self.churn_rng.chance(20) {
            // Leader churn: time runs faster, so elections come often.
            for id in self.live() {
                self.raw(id).unwrap().tick();
                self.work(id);
            }
        }
        let live = self.live();
        let pick = self.rng.pick(&live);
        match self.rng.below(100) {
            0..=29 => {
                if let Some(id) = pick {
                    self.raw(id).unwrap().tick();
                    if self.rng.chance(70) {
                        self.work(id);
                    }
                }
            }
            30..=39 => {
                if let Some(id) = pick {
                    self.work(id);
                }
            }
            40..=54 => self.propose(),
            55..=57 => self.change_membership(),
            58..=61 => {
                if let Some(id) = pick {
                    self.compact(id);
                }
            }
            62..=63 => {
                self.partition();
                // The churn schedule's cuts stay.
                self.run_isolations();
            }
            64 => {
                if let Some(id) = pick.filter(|_| self.rng.chance(50)) {
                    let down = if self.rng.chance(30) {
                        0
                    } else {
                        self.rng.below(80)
                    };
                    self.crash(id, down);
                }
            }
            65 => {
                self.drop_pct = self.rng.below(15);
                self.dup_pct = self.rng.below(6);
                self.max_delay = self.rng.below(8);
            }
            66 => {
                if let (Some(l), Some(to)) = (self.leader(), pick) {
                    let raw = self.raw(l).unwrap();
                    expect_proposal(raw.transfer_leader(to), "transfer_leader");
                    self.process(l);
                }
            }
            67..=74 => {
                // A round of ticks on every live node.
                for id in live {
                    self.raw(id).unwrap().tick();
                    self.work(id);
                }
            }
            75..=80 => self.read(),
            81 => {
                if let Some(id) = pick {
                    self.stats.forget_leader += 1;
                    let raw = self.raw(id).unwrap();
                    expect_ok(raw.forget_leader(), "forget_leader");
                    self.work(id);
                }
            }
            _ => {}
        }
    }

    // ------------------------------------------------------ invariants

    /// Notes node `id` if it is the leader of a term not seen before: at
    /// most one leader per term (Election Safety), and a new leader holds
    /// every entry seen committed so far (Leader Completeness, Raft §5.4).
    /// Under leader churn, the new leader may be cut off soon.
    fn observe_leader(&mut self, id: u64) {
        let Some(r) = self.nodes.get(&id).and_then(|n| n.raw.as_ref()) else {
            return;
        };
        let r = &r.raft;
        if r.state != StateRole::Leader {
            return;
        }
        if let Some(&prev) = self.leaders.get(&r.term) {
            assert_eq!(prev, id, "{}: two leaders in term {}", self.ctx, r.term);
            return;
        }
        self.leaders.insert(r.term, id);
        self.stats.elections += 1;
        self.check_leader_completeness(id);
        if self.o.churn && !self.healing {
            self.churn_on_new_leader(id);
        }
    }

    /// Cuts node `id` off from `from` on (from everyone but `companion`)
    /// until it is healed.
    fn isolate(&mut self, id: u64, from: u64, companion: Option<u64>) {
        let iso = Isolation {
            from,
            until: u64::MAX,
            companion,
        };
        self.isolations.insert(id, iso);
        self.stats.churn_isolations += 1;
        self.run_isolations();
    }

    /// Ends the isolation of `id`, if any.
    fn heal(&mut self, id: Option<u64>) {
        if let Some(iso) = id.and_then(|id| self.isolations.get_mut(&id)) {
            iso.until = self.now;
        }
        self.run_isolations();
    }

    /// The leader churn schedule (Raft paper, Figure 8), a cycle: after a
    /// calm spell, the leader A is cut off (with at most one other node)
    /// and keeps taking proposals; the next leader B is cut off at once
    /// (its entries reach nobody) and A comes back; the leader after that,
    /// C, is cut off a few steps into its term and B comes back; at the
    /// next leader (or after a while) everything heals.
    fn churn_on_new_leader(&mut self, id: u64) {
        let now = self.now;
        let [a, b, _] = self.churn.cut;
        match self.churn.phase {
            0 if now >= self.churn.since => {
                let others: Vec<u64> = self.nodes.keys().filter(|&&x| x != id).copied().collect();
                let companion = if self.churn_rng.chance(50) {
                    self.churn_rng.pick(&others)
                } else {
                    None
                };
                let from = now + self.churn_rng.below(4);
                self.isolate(id, from, companion);
                self.churn = Churn {
                    phase: 1,
                    since: now,
                    cut: [Some(id), None, None],
                    ..Churn::default()
                };
            }
            1 if Some(id) != a => {
                self.isolate(id, now, None);
                self.heal(a);
                self.churn.phase = 2;
                self.churn.since = now;
                self.churn.cut[1] = Some(id);
            }
            2 if Some(id) != b => {
                // Cut off once its commit index moves (see churn_watch).
                let r = &self.nodes[&id].raw.as_ref().unwrap().raft;
                self.churn.term = r.term;
                self.churn.commit = r.raft_log.committed;
                self.churn.phase = 3;
                self.churn.since = now;
                self.churn.cut[2] = Some(id);
            }
            4 => self.churn_calm(),
            _ => {}
        }
    }

    /// Leader churn, phase 3: leader C is cut off right after its commit
    /// index moved in its term, and B comes back.
    fn churn_watch(&mut self, id: u64) {
        if !self.o.churn || self.healing || self.churn.phase != 3 || self.churn.cut[2] != Some(id) {
            return;
        }
        let Some(r) = self.nodes.get(&id).and_then(|n| n.raw.as_ref()) else {
            return;
        };
        let r = &r.raft;
        if r.state != StateRole::Leader || r.term != self.churn.term {
            self.churn_calm();
        } else if r.raft_log.committed > self.churn.commit {
            self.isolate(id, self.now, None);
            self.heal(self.churn.cut[1]);
            self.churn.phase = 4;
            self.churn.since = self.now;
        }
    }

    /// Ends a churn cycle: everything heals, calm for a while.
    fn churn_calm(&mut self) {
        for id in self.churn.cut {
            self.heal(id);
        }
        self.churn = Churn {
            phase: 0,
            since: self.now + 10 + self.churn_rng.below(50),
            cut: [None; 3],
            ..Churn::default()
        };
    }

    /// Leader Completeness: the log of new leader `id` holds every entry
    /// seen committed on any node, with the same term and content (entries
    /// it compacted away are in its snapshot, which only holds applied,
    /// hence committed, state: the applied-state check covers those).
    fn check_leader_completeness(&self, id: u64) {
        let ctx = &self.ctx;
        let r = &self.nodes[&id].raw.as_ref().unwrap().raft;
        let Some(&hi) = self.committed.keys().next_back() else {
            return;
        };
        let log = &r.raft_log;
        assert!(
            hi <= log.last_index(),
            "{ctx}: new leader {id} of term {} lacks committed entry {hi} (its last index is {})",
            r.term,
            log.last_index()
        );
        let first = log.first_index();
        if first > hi {
            return;
        }
        let ents = log
            .slice(first, hi + 1, u64::MAX)
            .unwrap_or_else(|e| panic!("{ctx}: slice of new leader {id}: {e}"));
        for e in &ents {
            if let Some(&(term, hash)) = self.committed.get(&e.index) {
                assert_eq!(
                    (e.term, entry_hash(e)),
                    (term, hash),
                    "{ctx}: new leader {id} of term {} has entry {} of term {} where term {term} was committed",
                    r.term,
                    e.index,
                    e.term
                );
            }
        }
    }

    /// Leader churn: cuts off the leaders whose isolation began, and
    /// reconnects those whose isolation is over.
    fn run_isolations(&mut self) {
        let now = self.now;
        let ids: Vec<u64> = self.nodes.keys().copied().collect();
        let mut over = Vec::new();
        for (&a, iso) in self.isolations.iter_mut() {
            if iso.until <= now {
                over.push(a);
            } else if iso.from <= now {
                for &b in &ids {
                    if b != a && Some(b) != iso.companion {
                        self.cut.insert((a, b));
                        self.cut.insert((b, a));
                    }
                }
            }
        }
        for a in over {
            self.isolations.remove(&a);
            self.cut.retain(|&(x, y)| x != a && y != a);
        }
    }

    fn check(&mut self) {
        let ctx = self.ctx.clone();
        let ids: Vec<u64> = self.live();
        for &id in &ids {
            self.observe_leader(id);
            self.churn_watch(id);
        }
        for id in ids {
            let node = self.nodes.get_mut(&id).unwrap();
            let raw = node.raw.as_ref().unwrap();
            let r = &raw.raft;
            let log = &r.raft_log;
            assert!(log.applied <= log.committed, "{ctx}: {id} applied > commit");
            assert!(
                log.committed <= log.last_index(),
                "{ctx}: {id} commit > last"
            );
            assert!(
                log.committed >= node.last_commit,
                "{ctx}: commit of {id} went back from {} to {}",
                node.last_commit,
                log.committed
            );
            assert!(
                log.applied >= node.last_applied,
                "{ctx}: applied of {id} went back from {} to {}",
                node.last_applied,
                log.applied
            );
            let lo = log.first_index().max(node.last_commit + 1);
            if lo <= log.committed {
                let ents = log
                    .slice(lo, log.committed + 1, u64::MAX)
                    .unwrap_or_else(|e| panic!("{ctx}: slice of {id}: {e}"));
                for e in &ents {
                    let v = (e.term, entry_hash(e));
                    let prev = *self.committed.entry(e.index).or_insert(v);
                    assert_eq!(
                        prev, v,
                        "{ctx}: committed entry {} differs on node {id}",
                        e.index
                    );
                }
            }
            node.last_commit = log.committed;
            node.last_applied = log.applied;
            self.stats.max_committed = self.stats.max_committed.max(log.committed);
            // Once all work is handed out and done, raft's configuration is
            // the application's.
            if !raw.has_ready() && node.append_q.is_empty() && node.apply_q.is_empty() {
                assert_eq!(
                    r.prs.conf_state(),
                    node.sm.conf,
                    "{ctx}: node {id} raft config differs from applied one"
                );
                assert_eq!(log.applied, node.sm.applied, "{ctx}: node {id} applied");
            }
        }
    }

    // --------------------------------------------------------- healing

    /// Heals the network, shuts removed nodes down, restarts crashed ones,
    /// and runs until every member of the configuration applied a final
    /// proposal.
    fn heal_and_finish(&mut self) {
        self.healing = true;
        self.isolations.clear();
        self.cut.clear();
        self.drop_pct = 0;
        self.dup_pct = 0;
        self.max_delay = 0;
        let down: Vec<u64> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.raw.is_none())
            .map(|(id, _)| *id)
            .collect();
        for id in down {
            self.restart(id);
        }
        let mut proposed_in_term = 0;
        // Without pre-vote, a lagging voter whose stale configuration leaves
        // out a current voter raises its term again and again, and every
        // raise makes the leader step down once it hears of it (stale
        // requests are answered with the current term, raft/step.rs); the
        // random election timeouts settle it, hence the generous bound.
        for round in 0..20000 {
            self.ctx = format!("seed {} final round {round}", self.o.seed);
            self.now += 1;
            self.shutdown_removed(true);
            for id in self.live() {
                self.raw(id).unwrap().tick();
            }
            // The application keeps taking snapshots: a leader whose last
            // snapshot predates a new member's addition can only catch that
            // member up with a newer one (the member ignores a snapshot
            // whose configuration lacks it).
            for id in self.live() {
                self.compact(id);
            }
            // Run everything to quiescence (or for a while: a leader and a
            // follower can exchange a snapshot and its report forever).
            for _ in 0..100 {
                let mut busy = false;
                for id in self.live() {
                    self.process(id);
                    while self.run_append(id) {
                        busy = true;
                    }
                    self.process(id);
                    while self.run_apply(id) {
                        busy = true;
                    }
                    self.process(id);
                }
                for _ in 0..1000 {
                    if !self.deliver_one() {
                        break;
                    }
                    busy = true;
                }
                if !busy {
                    break;
                }
            }
            self.check();
            let members = members(&self.latest_conf.1);
            let done = !members.is_empty()
                && members
                    .iter()
                    .all(|id| self.nodes.get(id).is_some_and(|n| n.applied_final));
            if done {
                return;
            }
            if let Some(l) = self.leader() {
                let term = self.raw(l).unwrap().raft.term;
                let r = &self.raw(l).unwrap().raft;
                if r.pending_conf_index <= r.raft_log.applied
                    && !r.prs.config.voters.outgoing.is_empty()
                {
                    self.change_membership();
                }
                if proposed_in_term != term && self.final_index.is_none() {
                    let raw = self.raw(l).unwrap();
                    if raw.propose(Bytes::from_static(b"final")).is_ok() {
                        proposed_in_term = term;
                    }
                    self.process(l);
                }
            }
        }
        let states: Vec<String> = self
            .nodes
            .iter()
            .map(|(id, n)| match &n.raw {
                Some(raw) => format!(
                    "{id}: {:?} term {} lead {} commit {} applied {} final {} conf {:?}",
                    raw.raft.state,
                    raw.raft.term,
                    raw.raft.leader_id,
                    raw.raft.raft_log.committed,
                    n.sm.applied,
                    n.applied_final,
                    n.sm.conf
                ),
                None => format!("{id}: down"),
            })
            .collect();
        panic!(
            "seed {}: the healed cluster did not apply the final entry on every member of {:?}\n{}",
            self.o.seed,
            self.latest_conf,
            states.join("\n")
        );
    }
}

fn expect_ok(res: raft_core::Result<()>, what: &str) {
    if let Err(e) = res {
        panic!("{what}: unexpected error {e}");
    }
}

/// Errors a proposal may legitimately meet (no leader, transfer, pending
/// conf change, removed node).
fn expect_proposal(res: raft_core::Result<()>, what: &str) {
    match res {
        Ok(()) | Err(Error::ProposalDropped) => {}
        Err(e) => panic!("{what}: unexpected error {e}"),
    }
}

/// Errors stepping a peer's message may legitimately return.
fn expect_step(res: raft_core::Result<()>, ctx: &str) {
    match res {
        Ok(()) | Err(Error::ProposalDropped) | Err(Error::StepPeerNotFound) => {}
        Err(e) => panic!("{ctx}: unexpected error {e}"),
    }
}

fn run(o: Opts) -> Stats {
    let mut sim = Sim::new(o);
    for step in 0..o.steps {
        sim.ctx = format!("seed {} step {step}", o.seed);
        sim.step();
        sim.check();
    }
    sim.heal_and_finish();
    sim.stats
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `RAFT_SIM_SEEDS` seeds (default `default_seeds`) of one mode from
/// `first_seed` (or `RAFT_SIM_FIRST`), keeps going after a failing seed, and
/// at the end prints the rate, every failing seed with the command that
/// replays it, and fails if there was any.
fn run_seeds(test: &str, first_seed: u64, default_seeds: usize, async_writes: bool) {
    let seeds = env_usize("RAFT_SIM_SEEDS", default_seeds) as u64;
    let steps = env_usize("RAFT_SIM_STEPS", 3000);
    // RAFT_SIM_FIRST=<seed> starts at another seed (to replay one run).
    let first_seed = env_usize("RAFT_SIM_FIRST", first_seed as usize) as u64;
    let started = std::time::Instant::now();
    let mut total = Stats::default();
    let mut failed = Vec::new();
    for seed in first_seed..first_seed + seeds {
        let o = Opts::for_seed(seed, steps, async_writes);
        let s = match std::panic::catch_unwind(|| run(o)) {
            Ok(s) => s,
            Err(_) => {
                failed.push(seed);
                eprintln!("FAILED seed {seed}; replay: {}", replay_command(test, seed));
                if std::env::var("RAFT_SIM_FAIL_FAST").is_ok() {
                    break;
                }
                continue;
            }
        };
        if std::env::var("RAFT_SIM_VERBOSE").is_ok() {
            eprintln!("{o:?}\n  {s:?}");
        }
        total.add(&s);
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "{test}: {seeds} seeds x {steps} steps in {secs:.1}s ({:.1} seeds/s), {} failed: {total:?}",
        seeds as f64 / secs.max(1e-9),
        failed.len()
    );
    if !failed.is_empty() {
        for &seed in &failed {
            eprintln!("  replay seed {seed}: {}", replay_command(test, seed));
        }
        panic!(
            "{test}: {} of {seeds} seeds failed: {failed:?}",
            failed.len()
        );
    }
    if seeds < 4 {
        return;
    }
    // The runs exercised what they are meant to.
    assert!(total.snaps_applied > 0, "no snapshot was ever applied");
    assert!(total.conf_changes_applied > 0, "no conf change was applied");
    assert!(
        total.joint_entered > 0,
        "no joint configuration was entered"
    );
    assert!(total.nodes_removed > 0, "no node was removed");
    assert!(total.restarts > 0, "no restart");
    assert!(total.reads_answered > 0, "no read was answered");
    assert!(total.forget_leader > 0, "no forget-leader");
    assert!(
        total.churn_isolations > 0,
        "no leader was cut off by the churn schedule"
    );
    if seeds >= 50 {
        assert!(total.append_failures > 0, "no storage write failed");
        if !async_writes {
            assert!(total.unsynced_lost > 0, "no unsynced write was lost");
        }
    }
}

/// The one command that replays `seed` of test `test`.
fn replay_command(test: &str, seed: u64) -> String {
    let steps = env_usize("RAFT_SIM_STEPS", 3000);
    // A deliberately broken build (the mutation check) replays with its
    // feature.
    let mutations: Vec<&str> = [
        (
            cfg!(feature = "mutation-vote-without-log-check"),
            "mutation-vote-without-log-check",
        ),
        (
            cfg!(feature = "mutation-commit-old-term"),
            "mutation-commit-old-term",
        ),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect();
    let features = if mutations.is_empty() {
        String::new()
    } else {
        format!(" --features {}", mutations.join(","))
    };
    format!(
        "RAFT_SIM_FIRST={seed} RAFT_SIM_SEEDS=1 RAFT_SIM_STEPS={steps} cargo test -p raft-core --profile sim --test simulation{features} -- --exact {test}"
    )
}

#[test]
fn simulation_with_compaction_membership_and_restarts() {
    run_seeds(
        "simulation_with_compaction_membership_and_restarts",
        1,
        8,
        false,
    );
}

#[test]
fn simulation_with_async_storage_writes() {
    run_seeds("simulation_with_async_storage_writes", 101, 8, true);
}

// ----------------------------------------------- regression found by the sim

/// Performs every pending local storage message of an async-writes node
/// (persist, apply conf changes, step the responses), apart from the apply
/// messages when `hold_applies` is set, which are returned instead.
fn run_local(
    raw: &mut RawNode<MemoryStorage>,
    storage: &MemoryStorage,
    hold_applies: bool,
) -> Vec<Message> {
    let mut held = Vec::new();
    while raw.has_ready() {
        let rd = raw.ready().unwrap();
        for m in rd.messages {
            match m.to {
                LOCAL_APPEND_THREAD => {
                    if let Some(s) = m.snapshot.as_deref().cloned().filter(|s| !s.is_empty()) {
                        storage.apply_snapshot(s).unwrap();
                    }
                    storage.append(&m.entries).unwrap();
                    if m.term != 0 || m.vote != 0 || m.commit != 0 {
                        storage.set_hard_state(HardState {
                            term: m.term,
                            vote: m.vote,
                            commit: m.commit,
                        });
                    }
                    let id = raw.id();
                    for resp in m.responses.into_iter().filter(|r| r.to == id) {
                        raw.step(resp).unwrap();
                    }
                }
                LOCAL_APPLY_THREAD if hold_applies => held.push(m),
                LOCAL_APPLY_THREAD => apply_locally(raw, m),
                _ => {}
            }
        }
    }
    held
}

fn apply_locally(raw: &mut RawNode<MemoryStorage>, m: Message) {
    for e in &m.entries {
        if let Some(cc) = ConfChangeI::from_entry(e) {
            raw.apply_conf_change(&cc.unwrap()).unwrap();
        }
    }
    for resp in m.responses {
        raw.step(resp).unwrap();
    }
}

/// With async storage writes, a follower handed a conf change to its apply
/// thread and then got a snapshot whose configuration already reflects later
/// changes. Restoring it at once let the pending `apply_conf_change` land on
/// top of the snapshot's configuration, leaving the node with a membership
/// no other node has. The snapshot must be ignored until the handed-out
/// entries are applied (the leader sends it again).
#[test]
fn snapshot_is_ignored_while_handed_out_conf_changes_are_unapplied() {
    use prost::Message as _;
    let cfg = Config {
        id: 2,
        election_tick: 10,
        heartbeat_tick: 1,
        async_storage_writes: true,
        seed: Some(7),
        logger: Arc::new(NullLogger),
        ..Default::default()
    };
    let storage = MemoryStorage::new_with_conf_state(ConfState {
        voters: vec![1, 2, 3],
        ..Default::default()
    });
    let mut raw = RawNode::new(&cfg, storage.clone()).unwrap();
    // Leader 1 replicates and commits entry 1: add voter 4.
    let mut add4 = Entry::new(
        1,
        1,
        cc_v1(ConfChangeType::ConfChangeAddNode, 4).encode_to_vec(),
    );
    add4.set_entry_type(EntryType::EntryConfChange);
    let app = Message {
        from: 1,
        to: 2,
        term: 1,
        commit: 1,
        entries: vec![add4],
        ..Message::with_type(MessageType::MsgApp)
    };
    raw.step(app).unwrap();
    let held = run_local(&mut raw, &storage, true);
    assert_eq!(held.len(), 1, "entry 1 is with the apply thread");
    // Node 4 was removed again at index 3; the leader compacted and sends
    // its snapshot at 3.
    let mut snap = Snapshot::default();
    snap.metadata.index = 3;
    snap.metadata.term = 1;
    snap.metadata.conf_state = ConfState {
        voters: vec![1, 2, 3],
        ..Default::default()
    };
    let msg_snap = Message {
        from: 1,
        to: 2,
        term: 1,
        snapshot: Some(Box::new(snap.clone())),
        ..Message::with_type(MessageType::MsgSnap)
    };
    raw.step(msg_snap.clone()).unwrap();
    // The apply thread finishes entry 1 only now.
    for m in held {
        apply_locally(&mut raw, m);
    }
    run_local(&mut raw, &storage, false);
    // The leader retries the snapshot.
    raw.step(msg_snap).unwrap();
    run_local(&mut raw, &storage, false);
    assert_eq!(raw.raft.raft_log.committed, 3);
    assert_eq!(raw.raft.raft_log.applied, 3);
    assert_eq!(
        raw.raft.prs.conf_state(),
        snap.metadata.conf_state,
        "the configuration at index 3 is the snapshot's"
    );
}
