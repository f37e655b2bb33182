//! Side-by-side throughput of this core and raft-rs (crates.io `raft` 0.7,
//! the core TiKV runs) on the same workloads, all nodes in one process.
//!
//! Every node handles every Ready the way an application does: persist the
//! hard state and entries to its in-memory storage, queue the messages, apply
//! the committed entries, advance. Messages go from node to node in memory,
//! without encoding, for both cores. The clock starts after the election and
//! stops once every node applied every proposed entry; every node must have
//! applied exactly the proposed payloads, in order, or the run aborts without
//! printing a number.
//!
//! Usage (a bench binary without the libtest harness):
//!   cargo bench -p raft-core --bench vs_raft_rs
//!   VS_RAFT_RS_RUNS=7 VS_RAFT_RS_WORKLOADS=3v,1v cargo bench -p raft-core --bench vs_raft_rs
//!   vs_raft_rs --callgrind <ours|rs-batch|rs-nobatch|ours-enc> <workload>   (one fixed-size run; see
//!   scripts/bench-callgrind.sh, which counts instructions in `measured_rounds`)
//! Without `--bench` (as `cargo test --benches` runs it) it only smoke-runs
//! each backend on a tiny size, still checking the applied entries.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::VecDeque;
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------
// Peak heap: a global allocator that counts live bytes.

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn note_alloc(size: usize) {
    let live = LIVE.fetch_add(size, Ordering::Relaxed) + size;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

// SAFETY: every method forwards to the system allocator with the caller's
// arguments unchanged and only updates counters besides.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which
        // is the system allocator's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            note_alloc(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator (hence from System) with
        // this layout.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged; `ptr` and `layout` come from this
        // allocator per the caller's contract.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            note_alloc(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Starts a peak measurement; returns the live bytes it counts from.
fn peak_start() -> usize {
    let live = LIVE.load(Ordering::Relaxed);
    PEAK.store(live, Ordering::Relaxed);
    live
}

// ---------------------------------------------------------------------------
// Workloads, payloads and the applied-entries check.

/// One workload: `voters` nodes, `batch` proposals of `size` bytes per
/// round, `total` entries in all.
#[derive(Clone, Copy)]
struct Workload {
    key: &'static str,
    label: &'static str,
    voters: u64,
    batch: u64,
    size: usize,
    total: u64,
}

const WORKLOADS: [Workload; 5] = [
    Workload {
        key: "1v",
        label: "1 voter, 64/Ready",
        voters: 1,
        batch: 64,
        size: 128,
        total: 64 * 1000,
    },
    Workload {
        key: "3v",
        label: "3 voters, 64/round",
        voters: 3,
        batch: 64,
        size: 128,
        total: 64 * 500,
    },
    Workload {
        key: "5v",
        label: "5 voters, 64/round",
        voters: 5,
        batch: 64,
        size: 128,
        total: 64 * 300,
    },
    Workload {
        key: "4k",
        label: "3 voters, 4 KiB",
        voters: 3,
        batch: 64,
        size: 4096,
        total: 64 * 100,
    },
    Workload {
        key: "1p",
        label: "3 voters, 1/round",
        voters: 3,
        batch: 1,
        size: 128,
        total: 4000,
    },
];

/// The filler after a payload's number (a fixed pattern, compared with one
/// memcmp so that the check costs both cores little).
static FILLER: [u8; 4096] = {
    let mut f = [0u8; 4096];
    let mut i = 0;
    while i < f.len() {
        f[i] = (i as u8).wrapping_mul(31).wrapping_add(7);
        i += 1;
    }
    f
};

/// The payload of proposal `seq`: its number (little endian) then filler,
/// `size` bytes in all (8 ≤ size ≤ 4104).
fn payload(seq: u64, size: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(size);
    v.extend_from_slice(&seq.to_le_bytes());
    v.extend_from_slice(&FILLER[..size - 8]);
    v
}

/// What one node applied so far.
#[derive(Default)]
struct Applied {
    count: u64,
}

impl Applied {
    /// Checks that `data` is the next proposed payload; aborts otherwise.
    fn apply(&mut self, node: u64, data: &[u8], size: usize) {
        if data.is_empty() {
            return; // the leader's empty entry of its term
        }
        let seq = self.count;
        let ok =
            data.len() == size && data[..8] == seq.to_le_bytes() && data[8..] == FILLER[..size - 8];
        if !ok {
            fail(&format!(
                "node {node} applied a wrong entry: expected proposal {seq} of {size} bytes, got {} bytes starting {:?}",
                data.len(),
                &data[..data.len().min(8)]
            ));
        }
        self.count += 1;
    }
}

fn fail(why: &str) -> ! {
    eprintln!("vs_raft_rs: CHECK FAILED: {why}");
    std::process::exit(1);
}

/// The result of one measured run.
#[derive(Clone, Copy)]
struct Outcome {
    elapsed: Duration,
    messages: u64,
    peak_bytes: usize,
}

/// A cluster of one backend, elected and ready for proposals.
trait Cluster {
    /// Proposes `batch` payloads starting at `seq` on the leader, then
    /// handles Readys and delivers messages until every node is quiet;
    /// returns the messages sent.
    fn round(&mut self, seq: u64, batch: u64) -> u64;
    /// The number of proposals each node applied.
    fn applied(&self) -> Vec<u64>;
}

/// The measured part: every round of the workload, then the check that
/// every node applied every entry. Kept out of line so that callgrind can
/// count exactly this function (scripts/bench-callgrind.sh).
#[inline(never)]
fn measured_rounds(c: &mut dyn Cluster, w: &Workload) -> u64 {
    let mut messages = 0;
    let mut seq = 0;
    while seq < w.total {
        let batch = w.batch.min(w.total - seq);
        messages += c.round(seq, batch);
        seq += batch;
    }
    for (i, n) in c.applied().into_iter().enumerate() {
        if n != w.total {
            fail(&format!(
                "node {} applied {n} of {} proposals",
                i + 1,
                w.total
            ));
        }
    }
    messages
}

fn measure(w: &Workload, build: &dyn Fn(&Workload) -> Box<dyn Cluster>) -> Outcome {
    let base = peak_start();
    let mut c = build(w);
    let start = Instant::now();
    let messages = measured_rounds(&mut *c, w);
    let elapsed = start.elapsed();
    let peak_bytes = PEAK.load(Ordering::Relaxed) - base;
    black_box(&c);
    drop(c);
    Outcome {
        elapsed,
        messages,
        peak_bytes,
    }
}

// ---------------------------------------------------------------------------
// This core.

mod ours {
    use super::*;
    use raft_core::eraftpb::{EntryType, Message};
    use raft_core::{ConfChangeI, Config, MemoryStorage, RawNode, StateRole};

    struct Node {
        raw: RawNode<MemoryStorage>,
        storage: MemoryStorage,
        applied: Applied,
    }

    pub struct Ours {
        nodes: Vec<Node>,
        queue: VecDeque<Message>,
        /// With `encode`: the messages as raftpb bytes, with their target.
        wire: VecDeque<(u64, Vec<u8>)>,
        encode: bool,
        size: usize,
        sent: u64,
    }

    /// Builds and elects a cluster with the core's default config; with
    /// `encode`, messages travel as raftpb bytes (encoded by the sender,
    /// decoded by the receiver, payloads borrowed from the received buffer)
    /// as a real program sends them.
    pub fn build(w: &Workload, encode: bool) -> Box<dyn Cluster> {
        let ids: Vec<u64> = (1..=w.voters).collect();
        let nodes = ids
            .iter()
            .map(|&id| {
                let storage = MemoryStorage::new();
                let mut c = Config::new(id);
                c.seed = Some(id);
                c.logger = std::sync::Arc::new(raft_core::logger::NullLogger);
                let mut raw = RawNode::new(&c, storage.clone()).unwrap();
                raw.bootstrap(&ids).unwrap();
                Node {
                    raw,
                    storage,
                    applied: Applied::default(),
                }
            })
            .collect();
        let mut c = Ours {
            nodes,
            queue: VecDeque::new(),
            wire: VecDeque::new(),
            encode,
            size: w.size,
            sent: 0,
        };
        c.pump();
        c.nodes[0].raw.campaign().unwrap();
        c.pump();
        if c.nodes[0].raw.status().soft_state.raft_state != StateRole::Leader {
            fail("ours: node 1 did not become leader");
        }
        Box::new(c)
    }

    impl Ours {
        /// Handles node `i`'s Ready, if it has one; returns whether it had.
        fn handle(&mut self, i: usize) -> bool {
            let size = self.size;
            let n = &mut self.nodes[i];
            if !n.raw.has_ready() {
                return false;
            }
            let mut rd = n.raw.ready().unwrap();
            if let Some(hs) = rd.hard_state {
                n.storage.set_hard_state(hs);
            }
            // The application owns the Ready: its entries move into the
            // storage (raft-rs's MemStorage only appends a slice, cloning
            // each entry; so does this core's `append`).
            n.storage
                .append_owned(std::mem::take(&mut rd.entries))
                .unwrap();
            self.sent += rd.messages.len() as u64;
            if self.encode {
                self.wire.extend(rd.messages.iter().map(|m| {
                    let mut buf = Vec::new();
                    raft_core::message_nesting::encode_message(m, &mut buf);
                    (m.to, buf)
                }));
            } else {
                self.queue.extend(rd.messages);
            }
            for e in &rd.committed_entries {
                match e.entry_type() {
                    EntryType::EntryNormal => n.applied.apply(i as u64 + 1, e.data(), size),
                    _ => {
                        let cc = ConfChangeI::from_entry(e).unwrap().unwrap();
                        n.raw.apply_conf_change(&cc).unwrap();
                    }
                }
            }
            n.raw.advance().unwrap();
            true
        }

        /// Handles Readys and delivers messages until every node is quiet.
        fn pump(&mut self) {
            loop {
                let mut any = false;
                for i in 0..self.nodes.len() {
                    any |= self.handle(i);
                }
                while let Some(m) = self.queue.pop_front() {
                    any = true;
                    let to = m.to as usize - 1;
                    self.nodes[to].raw.step(m).unwrap();
                }
                while let Some((to, buf)) = self.wire.pop_front() {
                    any = true;
                    let m = raft_core::message_nesting::decode_message_bytes(buf.into())
                        .unwrap_or_else(|e| fail(&format!("ours: undecodable message: {e}")));
                    self.nodes[to as usize - 1].raw.step(m).unwrap();
                }
                if !any {
                    return;
                }
            }
        }
    }

    impl Cluster for Ours {
        fn round(&mut self, seq: u64, batch: u64) -> u64 {
            for s in seq..seq + batch {
                self.nodes[0].raw.propose(payload(s, self.size)).unwrap();
            }
            let before = self.sent;
            self.pump();
            self.sent - before
        }
        fn applied(&self) -> Vec<u64> {
            self.nodes.iter().map(|n| n.applied.count).collect()
        }
    }
}

// ---------------------------------------------------------------------------
// raft-rs.

mod rs {
    use super::*;
    use raft::eraftpb::{ConfState, Message};
    use raft::storage::MemStorage;
    use raft::{Config, RawNode, StateRole};

    struct Node {
        raw: RawNode<MemStorage>,
        storage: MemStorage,
        applied: Applied,
    }

    pub struct Rs {
        nodes: Vec<Node>,
        queue: VecDeque<Message>,
        size: usize,
        sent: u64,
    }

    /// Builds and elects a cluster; the message size and inflight limits
    /// are set to this core's defaults (raft-rs's default size limit, 0,
    /// would send one entry per message).
    pub fn build(w: &Workload, batch_append: bool) -> Box<dyn Cluster> {
        let ids: Vec<u64> = (1..=w.voters).collect();
        let logger = slog::Logger::root(slog::Discard, slog::o!());
        let nodes = ids
            .iter()
            .map(|&id| {
                let storage =
                    MemStorage::new_with_conf_state(ConfState::from((ids.clone(), vec![])));
                let c = Config {
                    id,
                    election_tick: 10,
                    heartbeat_tick: 1,
                    max_size_per_msg: 1024 * 1024,
                    max_inflight_msgs: 256,
                    batch_append,
                    ..Default::default()
                };
                let raw = RawNode::new(&c, storage.clone(), &logger).unwrap();
                Node {
                    raw,
                    storage,
                    applied: Applied::default(),
                }
            })
            .collect();
        let mut c = Rs {
            nodes,
            queue: VecDeque::new(),
            size: w.size,
            sent: 0,
        };
        c.nodes[0].raw.campaign().unwrap();
        c.pump();
        if c.nodes[0].raw.raft.state != StateRole::Leader {
            fail("raft-rs: node 1 did not become leader");
        }
        Box::new(c)
    }

    /// Queues messages for delivery, counting them.
    fn send(queue: &mut VecDeque<Message>, sent: &mut u64, msgs: Vec<Message>) {
        *sent += msgs.len() as u64;
        queue.extend(msgs);
    }

    impl Rs {
        /// Handles node `i`'s Ready, if it has one (raft-rs's documented
        /// order); returns whether it had.
        fn handle(&mut self, i: usize) -> bool {
            let Rs {
                nodes,
                queue,
                size,
                sent,
            } = self;
            let n = &mut nodes[i];
            if !n.raw.has_ready() {
                return false;
            }
            let mut rd = n.raw.ready();
            send(queue, sent, rd.take_messages());
            if !rd.snapshot().is_empty() {
                fail("raft-rs: unexpected snapshot");
            }
            for e in rd.take_committed_entries() {
                n.applied.apply(i as u64 + 1, &e.data, *size);
            }
            if !rd.entries().is_empty() {
                n.storage.wl().append(rd.entries()).unwrap();
            }
            if let Some(hs) = rd.hs() {
                n.storage.wl().set_hardstate(hs.clone());
            }
            send(queue, sent, rd.take_persisted_messages());
            let mut light = n.raw.advance(rd);
            if let Some(commit) = light.commit_index() {
                n.storage.wl().mut_hard_state().set_commit(commit);
            }
            send(queue, sent, light.take_messages());
            for e in light.take_committed_entries() {
                n.applied.apply(i as u64 + 1, &e.data, *size);
            }
            n.raw.advance_apply();
            true
        }

        fn pump(&mut self) {
            loop {
                let mut any = false;
                for i in 0..self.nodes.len() {
                    any |= self.handle(i);
                }
                while let Some(m) = self.queue.pop_front() {
                    any = true;
                    let to = m.to as usize - 1;
                    self.nodes[to].raw.step(m).unwrap();
                }
                if !any {
                    return;
                }
            }
        }
    }

    impl Cluster for Rs {
        fn round(&mut self, seq: u64, batch: u64) -> u64 {
            for s in seq..seq + batch {
                self.nodes[0]
                    .raw
                    .propose(Vec::new(), payload(s, self.size))
                    .unwrap();
            }
            let before = self.sent;
            self.pump();
            self.sent - before
        }
        fn applied(&self) -> Vec<u64> {
            self.nodes.iter().map(|n| n.applied.count).collect()
        }
    }
}

// ---------------------------------------------------------------------------
// Driver.

#[derive(Clone, Copy, PartialEq)]
enum Backend {
    Ours,
    RsNoBatch,
    RsBatch,
    /// Ours with messages encoded to raftpb bytes and decoded on delivery
    /// (what the C++ and Lua drivers do; scripts/bench-langs.sh).
    OursEncoded,
}

/// The backends measured side by side (the encoded run is compared with
/// `ours`, not with raft-rs, whose messages travel unencoded here).
const BACKENDS: [Backend; 4] = [
    Backend::Ours,
    Backend::RsNoBatch,
    Backend::RsBatch,
    Backend::OursEncoded,
];

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Ours => "ours",
            Backend::RsNoBatch => "rs-nobatch",
            Backend::RsBatch => "rs-batch",
            Backend::OursEncoded => "ours-enc",
        }
    }
    fn run(self, w: &Workload) -> Outcome {
        match self {
            Backend::Ours => measure(w, &|w| ours::build(w, false)),
            Backend::OursEncoded => measure(w, &|w| ours::build(w, true)),
            Backend::RsNoBatch => measure(w, &|w| rs::build(w, false)),
            Backend::RsBatch => measure(w, &|w| rs::build(w, true)),
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| fail(&format!("{name}={v} is not a valid value"))),
        Err(_) => default,
    }
}

fn selected_workloads() -> Vec<Workload> {
    let pick = std::env::var("VS_RAFT_RS_WORKLOADS").unwrap_or_default();
    let scale: f64 = env_or("VS_RAFT_RS_SCALE", 1.0);
    let all = WORKLOADS
        .iter()
        .filter(|w| pick.is_empty() || pick.split(',').any(|k| k.trim() == w.key));
    let ws: Vec<Workload> = all
        .map(|w| {
            let mut w = *w;
            w.total = ((w.total as f64 * scale) as u64 / w.batch).max(1) * w.batch;
            w
        })
        .collect();
    if ws.is_empty() {
        fail(&format!(
            "VS_RAFT_RS_WORKLOADS={pick} names no workload (keys: 1v, 3v, 5v, 4k, 1p)"
        ));
    }
    ws
}

/// `--callgrind <backend> <workload>`: one run at the workload's fixed size.
fn callgrind(args: &[String]) {
    let (Some(b), Some(k)) = (args.first(), args.get(1)) else {
        fail("usage: vs_raft_rs --callgrind <ours|rs-nobatch|rs-batch|ours-enc> <1v|3v|5v|4k|1p>");
    };
    let backend = BACKENDS
        .into_iter()
        .find(|x| x.name() == b)
        .unwrap_or_else(|| fail(&format!("unknown backend {b}")));
    let w = WORKLOADS
        .iter()
        .find(|w| w.key == k)
        .unwrap_or_else(|| fail(&format!("unknown workload {k}")));
    let o = backend.run(w);
    println!(
        "{} {} entries={} messages={} peak_bytes={}",
        backend.name(),
        w.key,
        w.total,
        o.messages,
        o.peak_bytes
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--callgrind") {
        callgrind(&args[i + 1..]);
        return;
    }
    if !args.iter().any(|a| a == "--bench") {
        // `cargo test --benches`: a quick check of every backend.
        for w in &WORKLOADS {
            let mut w = *w;
            w.total = w.batch * 3;
            for b in BACKENDS {
                b.run(&w);
            }
        }
        println!("vs_raft_rs: smoke run passed; pass --bench (cargo bench) to measure");
        return;
    }
    let runs: usize = env_or("VS_RAFT_RS_RUNS", 5);
    let workloads = selected_workloads();
    println!(
        "vs_raft_rs: {runs} interleaved runs per (backend, workload), medians; ours = raft-core defaults, rs = raft 0.7"
    );
    println!(
        "{:<22} {:<11} {:>8} {:>12} {:>9} {:>11} {:>12}",
        "workload", "backend", "entries", "entries/s", "messages", "peak MiB", "ours/rs-best"
    );
    for w in &workloads {
        let mut rates: Vec<Vec<f64>> = vec![Vec::new(); BACKENDS.len()];
        let mut last: Vec<Option<Outcome>> = vec![None; BACKENDS.len()];
        for _ in 0..runs {
            for (k, b) in BACKENDS.into_iter().enumerate() {
                let o = b.run(w);
                rates[k].push(w.total as f64 / o.elapsed.as_secs_f64());
                last[k] = Some(o);
            }
        }
        let med: Vec<f64> = rates.into_iter().map(median).collect();
        let rs_best = med[1].max(med[2]);
        for (k, b) in BACKENDS.into_iter().enumerate() {
            let o = last[k].expect("ran");
            let ratio = match b {
                Backend::Ours => format!("{:.2}", med[0] / rs_best),
                Backend::OursEncoded => format!("({:.2} of ours)", med[k] / med[0]),
                _ => String::new(),
            };
            println!(
                "{:<22} {:<11} {:>8} {:>12.0} {:>9} {:>11.2} {:>12}",
                w.label,
                b.name(),
                w.total,
                med[k],
                o.messages,
                o.peak_bytes as f64 / (1024.0 * 1024.0),
                ratio
            );
        }
    }
}
