//! Crash test: a child process (tests/support/crash_child.rs) runs a
//! 3-node cluster persisting every Ready through the store and prints each
//! acknowledgement; it is SIGKILLed at a random moment, the stores are
//! reopened, and every acknowledged hard state and entry must be there.
//! The next round restarts the cluster from the same directories.
//!
//! `RAFT_STORE_CRASH_ROUNDS` sets the number of rounds (default 50) and
//! `RAFT_STORE_CRASH_SEED` the seed.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use raft_core::eraftpb::HardState;
use raft_core::Storage;
use raft_store::{Store, StoreOptions};

use common::TempDir;

/// What member `n` acknowledged, across rounds.
#[derive(Default, Clone)]
struct Acked {
    hs: HardState,
    /// index -> (term, crc of data)
    ents: BTreeMap<u64, (u64, u32)>,
}

impl Acked {
    fn apply(&mut self, line: &str) {
        let mut f: Vec<&str> = line.split(' ').collect();
        // A Ready that only moved the commit index is not synced (etcd's
        // must_sync): it may be lost, so only synced hard states count.
        let synced = f.remove(2) == "S";
        if f[2] != "-" && synced {
            self.hs = HardState {
                term: f[2].parse().unwrap(),
                vote: f[3].parse().unwrap(),
                commit: f[4].parse().unwrap(),
            };
        }
        let snap: u64 = f[5].parse().unwrap();
        if snap > 0 {
            self.ents.clear();
        }
        let mut first = true;
        for e in &f[6..] {
            let p: Vec<&str> = e.split(':').collect();
            let (i, t) = (p[0].parse().unwrap(), p[1].parse().unwrap());
            let crc = u32::from_str_radix(p[2], 16).unwrap();
            if first {
                self.ents.split_off(&i);
                first = false;
            }
            self.ents.insert(i, (t, crc));
        }
    }
}

fn check(dir: &std::path::Path, n: usize, a: &Acked, round: u32) {
    let store = Store::open(StoreOptions::new(dir.join(format!("n{n}"))))
        .unwrap_or_else(|e| panic!("round {round}: member {n} does not reopen: {e}"));
    let g = store.open_group(1).unwrap();
    let hs = g.hard_state();
    let ctx = format!("round {round} member {n}: disk {hs:?}, acked {:?}", a.hs);
    assert!(hs.term >= a.hs.term, "{ctx}: term went back");
    if hs.term == a.hs.term && a.hs.vote != 0 {
        assert_eq!(hs.vote, a.hs.vote, "{ctx}: vote changed within a term");
    }
    assert!(hs.commit >= a.hs.commit, "{ctx}: commit went back");
    let first = g.first_index().unwrap();
    let last = g.last_index().unwrap();
    for (&i, &(t, crc)) in a.ents.range(first..) {
        if i > last {
            // Only a later write of a newer term may have cut the tail.
            let lt = g.term(last).unwrap();
            assert!(
                lt > t,
                "{ctx}: acknowledged entry {i} (term {t}) is gone, last {last}"
            );
            continue;
        }
        let e = &g.entries(i, i + 1, u64::MAX).unwrap()[0];
        if e.term == t {
            assert_eq!(crc32c::crc32c(e.data()), crc, "{ctx}: entry {i} changed");
        } else {
            assert!(
                e.term > t && i > a.hs.commit,
                "{ctx}: acknowledged entry {i} (term {t}) replaced by term {}",
                e.term
            );
        }
    }
}

#[test]
fn a_second_process_cannot_open_a_store_in_use() {
    let dir = TempDir::new("crash-lock");
    let held = Store::open(StoreOptions::new(dir.path().join("n1"))).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_raft-store-crash-child"))
        .arg(dir.path())
        .arg("1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("locked"), "{err}");
    drop(held);
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    let rounds: u32 = std::env::var("RAFT_STORE_CRASH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(50);
    let mut x: u64 = std::env::var("RAFT_STORE_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_1234_abcd_0001);
    let dir = TempDir::new("crash");
    std::fs::create_dir_all(dir.path()).unwrap();
    let mut acked = vec![Acked::default(); 4];
    let mut total_acks = 0usize;
    for round in 0..rounds {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut child = Command::new(env!("CARGO_BIN_EXE_raft-store-crash-child"))
            .arg(dir.path())
            .arg(x.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert_eq!(line, "STARTED\n", "round {round}: the child did not start");
        let reader = std::thread::spawn(move || {
            let mut lines = Vec::new();
            loop {
                let mut l = String::new();
                match out.read_line(&mut l) {
                    Ok(0) | Err(_) => break,
                    // A line cut by the kill has no newline: not an ack.
                    Ok(_) if l.ends_with('\n') => lines.push(l.trim_end().to_string()),
                    Ok(_) => break,
                }
            }
            lines
        });
        std::thread::sleep(Duration::from_millis(5 + x % 300));
        child.kill().unwrap();
        child.wait().unwrap();
        let lines = reader.join().unwrap();
        total_acks += lines.len();
        for l in &lines {
            let n: usize = l.split(' ').nth(1).unwrap().parse().unwrap();
            acked[n].apply(l);
        }
        for (n, a) in acked.iter().enumerate().skip(1) {
            check(dir.path(), n, a, round);
        }
    }
    eprintln!("{rounds} rounds, {total_acks} acknowledged Readys checked");
    assert!(total_acks > 0);
}
