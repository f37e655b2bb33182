//! The child process of the crash test (tests/crash.rs): runs a 3-node
//! cluster whose members persist every Ready through their own store in
//! `<dir>/n1..n3` (restarting from whatever is there), and prints one line
//! per persisted Ready, after `persist_ready` returned:
//!
//! `A <node> <S|N> <hs term> <hs vote> <hs commit> <snapshot index> <idx>:<term>:<crc> ...`
//!
//! (`S` when the Ready was synced (`must_sync`), `N` when not: a Ready that
//! only moves the commit index is not fsynced, as etcd allows; `-` for no
//! hard state). It runs until killed (or for 60 s at most).

#[path = "cluster.rs"]
mod cluster;

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use raft_core::Ready;

fn ack_line(id: u64, rd: &Ready) -> String {
    let mut s = format!("A {id} {} ", if rd.must_sync { "S" } else { "N" });
    match &rd.hard_state {
        Some(hs) => s += &format!("{} {} {}", hs.term, hs.vote, hs.commit),
        None => s += "- - -",
    }
    s += &format!(" {}", rd.snapshot.metadata.index);
    for e in &rd.entries {
        s += &format!(" {}:{}:{:08x}", e.index, e.term, crc32c::crc32c(e.data()));
    }
    s.push('\n');
    s
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().expect("usage: crash-child <dir> <seed>"));
    let seed: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(1);
    let dirs: Vec<PathBuf> = (1..=3).map(|i| dir.join(format!("n{i}"))).collect();
    let mut c = cluster::Cluster::open(&dirs, true);
    c.compact_keep = 40;
    let out = std::io::stdout();
    let mut ack = |id: u64, rd: &Ready| {
        // One write per line, so a kill never leaves half a line that
        // looks complete.
        let mut o = out.lock();
        o.write_all(ack_line(id, rd).as_bytes()).unwrap();
        o.flush().unwrap();
    };
    {
        let mut o = out.lock();
        o.write_all(b"STARTED\n").unwrap();
        o.flush().unwrap();
    }
    let start = Instant::now();
    let mut n = 0u64;
    let mut x = seed | 1;
    while start.elapsed() < Duration::from_secs(60) {
        c.tick();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        for _ in 0..(x % 8) {
            n += 1;
            c.propose(format!("{seed}-{n}").into_bytes());
        }
        c.pump(&mut ack);
        // Now and then a member restarts campaigning (a new term, votes,
        // conflicting tails on followers).
        if x % 97 == 1 {
            let i = (x / 97 % 3) as usize;
            let _ = c.members[i].node.campaign();
            c.pump(&mut ack);
        }
    }
}
