//! Throughput benchmarks of the core (a bench binary: `cargo bench -p
//! raft-core`). Each case runs several times and reports the best run, so
//! that noise from other processes shows less.

use std::collections::VecDeque;
use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use prost::Message as _;
use raft_core::eraftpb::{Entry, Message, MessageType};
// Internal (the test-internals feature, on for this crate's benches).
use raft_core::quorum::MajorityConfig;
use raft_core::{Config, MemoryStorage, RawNode, StateRole};

fn best_of(runs: usize, mut f: impl FnMut() -> Duration) -> Duration {
    (0..runs).map(|_| f()).min().unwrap_or_default()
}

fn report(name: &str, ops: u64, d: Duration) {
    let per = d.as_nanos() as f64 / ops as f64;
    println!(
        "{name:<44} {ops:>8} ops  {:>9.2} ms  {per:>9.1} ns/op  {:>12.0} ops/s",
        d.as_secs_f64() * 1e3,
        ops as f64 / d.as_secs_f64()
    );
}

struct Peer {
    node: RawNode<MemoryStorage>,
    storage: MemoryStorage,
}

fn cluster(n: u64, merge: bool) -> Vec<Peer> {
    let ids: Vec<u64> = (1..=n).collect();
    let mut peers: Vec<Peer> = ids
        .iter()
        .map(|&id| {
            let storage = MemoryStorage::new();
            let mut c = Config::new(id);
            c.seed = Some(id);
            c.merge_appends = merge;
            c.logger = std::sync::Arc::new(raft_core::logger::NullLogger);
            let mut node = RawNode::new(&c, storage.clone()).unwrap();
            node.bootstrap(&ids).unwrap();
            Peer { node, storage }
        })
        .collect();
    let mut q = VecDeque::new();
    pump(&mut peers, &mut q); // apply the bootstrap conf changes
    peers[0].node.campaign().unwrap();
    pump(&mut peers, &mut q);
    assert_eq!(
        peers[0].node.status().soft_state.raft_state,
        StateRole::Leader
    );
    peers
}

fn handle(p: &mut Peer, q: &mut VecDeque<Message>) -> usize {
    if !p.node.has_ready() {
        return 0;
    }
    let rd = p.node.ready().unwrap();
    if let Some(hs) = rd.hard_state {
        p.storage.set_hard_state(hs);
    }
    p.storage.append(&rd.entries).unwrap();
    let sent = rd.messages.len();
    q.extend(rd.messages);
    for e in &rd.committed_entries {
        if let Some(Ok(cc)) = raft_core::ConfChangeI::from_entry(e) {
            p.node.apply_conf_change(&cc).unwrap();
        }
    }
    p.node.advance().unwrap();
    sent
}

/// Runs Ready rounds and delivers messages until quiet; returns messages sent.
fn pump(peers: &mut [Peer], q: &mut VecDeque<Message>) -> usize {
    let mut sent = 0;
    loop {
        let mut any = false;
        for p in peers.iter_mut() {
            let s = handle(p, q);
            sent += s;
            any |= s > 0;
        }
        while let Some(m) = q.pop_front() {
            any = true;
            let to = m.to as usize - 1;
            let _ = peers[to].node.step(m);
        }
        if !any {
            return sent;
        }
    }
}

fn bench_replication(batch: usize, merge: bool) {
    let total = 20_000u64;
    let payload = Bytes::from(vec![7u8; 128]);
    let mut msgs = 0;
    let d = best_of(3, || {
        let mut peers = cluster(3, merge);
        let mut q = VecDeque::new();
        let start = Instant::now();
        let mut i = 0;
        msgs = 0;
        while i < total {
            for _ in 0..batch {
                peers[0].node.propose(payload.clone()).unwrap();
                i += 1;
            }
            msgs += pump(&mut peers, &mut q);
        }
        let d = start.elapsed();
        assert!(peers[2].node.status().hard_state.commit >= total);
        d
    });
    report(
        &format!("3-node replicate 128B, batch {batch}, merge {merge}"),
        total,
        d,
    );
    println!("{:<44} {msgs:>8} messages in the last run", "");
}

fn bench_single_node() {
    let total = 50_000u64;
    let d = best_of(3, || {
        let mut peers = cluster(1, true);
        let mut q = VecDeque::new();
        let start = Instant::now();
        for _ in 0..total {
            peers[0]
                .node
                .propose(Bytes::from_static(b"0123456789abcdef"))
                .unwrap();
            pump(&mut peers, &mut q);
        }
        start.elapsed()
    });
    report("1-node propose+ready+advance", total, d);
}

fn bench_codec() {
    let ents: Vec<Entry> = (0..64)
        .map(|i| Entry::new(5, 100 + i, vec![1u8; 256]))
        .collect();
    let m = Message {
        to: 2,
        from: 1,
        term: 5,
        log_term: 5,
        index: 99,
        commit: 90,
        entries: ents,
        ..Message::with_type(MessageType::MsgApp)
    };
    let n = 20_000u64;
    let mut buf = Vec::with_capacity(m.encoded_len());
    let d = best_of(3, || {
        let start = Instant::now();
        for _ in 0..n {
            buf.clear();
            m.encode(&mut buf).unwrap();
            black_box(&buf);
        }
        start.elapsed()
    });
    report("encode MsgApp (64 x 256B entries)", n, d);
    let bytes = Bytes::from(buf.clone());
    let d = best_of(3, || {
        let start = Instant::now();
        for _ in 0..n {
            black_box(Message::decode(bytes.clone()).unwrap());
        }
        start.elapsed()
    });
    report("decode MsgApp (64 x 256B entries)", n, d);
}

fn bench_quorum() {
    let mut c = MajorityConfig::new();
    for id in 1..=5 {
        c.insert(id);
    }
    let acked = |id: u64| Some(id * 10);
    let n = 1_000_000u64;
    let d = best_of(3, || {
        let start = Instant::now();
        for _ in 0..n {
            black_box(c.committed_index(&acked));
        }
        start.elapsed()
    });
    report("committed index, 5 voters", n, d);
}

fn main() {
    // `cargo test --benches` runs bench binaries with `--bench` absent;
    // keep that fast.
    let quick = !std::env::args().any(|a| a == "--bench");
    if quick {
        println!("raft_bench: pass --bench (cargo bench) to run the benchmarks");
        return;
    }
    println!(
        "{:<44} {:>8}      {:>9}     {:>9}        {:>12}",
        "case", "ops", "time", "per op", "rate"
    );
    bench_replication(1, true);
    bench_replication(64, false);
    bench_replication(64, true);
    bench_replication(1000, true);
    bench_single_node();
    bench_codec();
    bench_quorum();
}
