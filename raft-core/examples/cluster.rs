//! A three-node cluster in one process: elect a leader, replicate
//! proposals, cut the leader off, elect a new one, restart the old leader
//! from its persisted state, and check that every node applied the same log
//! exactly once.
//!
//! "Persisted state" is simulated: a node's MemoryStorage (log and hard
//! state) and its applied index outlive its RawNode, which is dropped and
//! built again. A real program writes them to disk in the same order (see
//! the README, "Start, restart, join").
//!
//! Run with `cargo run --release -p raft-core --example cluster`.

use std::collections::VecDeque;
use std::time::Instant;

use raft_core::eraftpb::{EntryType, Message};
use raft_core::{ConfChangeI, Config, MemoryStorage, RawNode, StateRole};

struct Peer {
    node: RawNode<MemoryStorage>,
    storage: MemoryStorage,
    /// The application state: every applied proposal.
    applied: Vec<Vec<u8>>,
    /// The index of the last applied entry, persisted with `applied` and
    /// passed back as `Config::applied` on restart.
    applied_index: u64,
    alive: bool,
}

fn handle_ready(p: &mut Peer, outbox: &mut VecDeque<Message>) {
    if !p.node.has_ready() {
        return;
    }
    let rd = p.node.ready().expect("ready");
    if let Some(hs) = &rd.hard_state {
        p.storage.set_hard_state(*hs);
    }
    if !rd.snapshot.is_empty() {
        p.storage
            .apply_snapshot(rd.snapshot.clone())
            .expect("snapshot");
    }
    p.storage.append(&rd.entries).expect("append");
    outbox.extend(rd.messages);
    for e in &rd.committed_entries {
        match e.entry_type() {
            EntryType::EntryNormal => {
                if !e.data().is_empty() {
                    p.applied.push(e.data().to_vec());
                }
            }
            _ => {
                if let Some(Ok(cc)) = ConfChangeI::from_entry(e) {
                    p.node.apply_conf_change(&cc).expect("conf change");
                }
            }
        }
        p.applied_index = e.index;
    }
    p.node.advance().expect("advance");
}

fn run_round(peers: &mut [Peer], outbox: &mut VecDeque<Message>) {
    for p in peers.iter_mut() {
        if p.alive {
            handle_ready(p, outbox);
        }
    }
    while let Some(m) = outbox.pop_front() {
        let (from, to) = (m.from as usize - 1, m.to as usize - 1);
        if to < peers.len() && peers[to].alive && peers[from].alive {
            let _ = peers[to].node.step(m);
            handle_ready(&mut peers[to], outbox);
        }
    }
}

fn leader(peers: &[Peer]) -> Option<usize> {
    peers
        .iter()
        .position(|p| p.alive && p.node.raft.state == StateRole::Leader)
}

/// The configuration of node `id`; `applied` is the persisted applied
/// index (0 on the first start).
fn config(id: u64, applied: u64) -> Config {
    let mut c = Config::new(id);
    c.election_tick = 10;
    c.heartbeat_tick = 1;
    c.pre_vote = true;
    c.check_quorum = true;
    c.seed = Some(id * 7919);
    c.applied = applied;
    c
}

fn main() {
    let mut peers: Vec<Peer> = (1..=3)
        .map(|id| {
            let storage = MemoryStorage::new();
            let mut node = RawNode::new(&config(id, 0), storage.clone()).expect("node");
            node.bootstrap(&[1, 2, 3]).expect("bootstrap");
            Peer {
                node,
                storage,
                applied: Vec::new(),
                applied_index: 0,
                alive: true,
            }
        })
        .collect();
    let mut outbox = VecDeque::new();
    let start = Instant::now();
    let mut ticks = 0;
    while leader(&peers).is_none() {
        for p in peers.iter_mut() {
            p.node.tick();
        }
        ticks += 1;
        run_round(&mut peers, &mut outbox);
    }
    let l = leader(&peers).unwrap();
    println!("node {} elected leader after {} ticks", l + 1, ticks);

    let n = 10_000;
    for i in 0..n {
        let l = leader(&peers).unwrap();
        peers[l]
            .node
            .propose(format!("entry-{i}").into_bytes())
            .expect("propose");
        if i % 64 == 63 {
            run_round(&mut peers, &mut outbox);
        }
    }
    run_round(&mut peers, &mut outbox);
    let elapsed = start.elapsed();
    println!(
        "replicated {} proposals to 3 nodes in {:.1} ms ({:.0} proposals/s)",
        n,
        elapsed.as_secs_f64() * 1000.0,
        n as f64 / elapsed.as_secs_f64()
    );

    let old = leader(&peers).unwrap();
    peers[old].alive = false;
    println!("node {} cut off from the cluster", old + 1);
    let mut ticks = 0;
    while leader(&peers).is_none() {
        for p in peers.iter_mut().filter(|p| p.alive) {
            p.node.tick();
        }
        ticks += 1;
        run_round(&mut peers, &mut outbox);
        assert!(ticks < 1000, "no new leader");
    }
    let l = leader(&peers).unwrap();
    println!("node {} elected leader after {} ticks", l + 1, ticks);
    peers[l]
        .node
        .propose(&b"after failover"[..])
        .expect("propose");
    run_round(&mut peers, &mut outbox);
    for _ in 0..5 {
        for p in peers.iter_mut().filter(|p| p.alive) {
            p.node.tick();
        }
        run_round(&mut peers, &mut outbox);
    }
    let live: Vec<&Peer> = peers.iter().filter(|p| p.alive).collect();
    assert_eq!(live[0].applied, live[1].applied, "logs diverged");
    assert_eq!(live[0].applied.len(), n + 1);
    println!(
        "both live nodes applied the same {} entries; last = {:?}",
        live[0].applied.len(),
        String::from_utf8_lossy(live[0].applied.last().unwrap())
    );

    // Restart the old leader: a new RawNode over its storage, told through
    // Config::applied which entries its state machine already holds.
    let p = &mut peers[old];
    println!(
        "restarting node {} from its storage (applied index {})",
        old + 1,
        p.applied_index
    );
    p.node =
        RawNode::new(&config(old as u64 + 1, p.applied_index), p.storage.clone()).expect("restart");
    p.alive = true;
    for _ in 0..20 {
        for p in peers.iter_mut() {
            p.node.tick();
        }
        run_round(&mut peers, &mut outbox);
    }
    for p in &peers {
        assert_eq!(
            p.applied, peers[0].applied,
            "a node applied a different log"
        );
    }
    println!(
        "all three nodes applied the same {} entries, each once",
        peers[0].applied.len()
    );
}
