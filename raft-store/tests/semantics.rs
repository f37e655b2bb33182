//! The store's groups behave exactly like the core's `MemoryStorage`
//! (etcd semantics) under random sequences of writes, before and after
//! reopening the database, with a cache small enough that most reads go to
//! LevelDB.

mod common;

use bytes::Bytes;
use raft_core::eraftpb::{ConfState, Entry, HardState, Snapshot};
use raft_core::{MemoryStorage, Storage};
use raft_store::{Group, Store, StoreOptions};

use common::TempDir;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn opts(dir: &TempDir, cache: usize) -> StoreOptions {
    let mut o = StoreOptions::new(dir.path());
    o.cache_bytes = cache;
    o
}

/// Every read of the Storage trait gives the same answer on both.
fn same_reads(g: &Group, m: &MemoryStorage, ctx: &str) {
    assert_eq!(g.initial_state(), m.initial_state(), "{ctx}: initial_state");
    assert_eq!(g.first_index(), m.first_index(), "{ctx}: first_index");
    assert_eq!(g.last_index(), m.last_index(), "{ctx}: last_index");
    assert_eq!(g.snapshot(), m.snapshot(), "{ctx}: snapshot");
    let first = m.first_index().unwrap();
    let last = m.last_index().unwrap();
    for i in first.saturating_sub(2)..=last + 2 {
        assert_eq!(g.term(i), m.term(i), "{ctx}: term({i})");
    }
    for lo in first.saturating_sub(1)..=last + 1 {
        for hi in [lo, lo + 1, lo + 3, last + 1, last + 2] {
            for max in [0, 40, 100, u64::MAX] {
                assert_eq!(
                    g.entries(lo, hi, max),
                    m.entries(lo, hi, max),
                    "{ctx}: entries({lo}, {hi}, {max})"
                );
                // Both measure while they cut; the total is the entries'.
                let sized = g.entries_sized(lo, hi, max);
                assert_eq!(sized, m.entries_sized(lo, hi, max), "{ctx}: sized");
                if let Ok((es, size)) = sized {
                    assert_eq!(size, es.iter().map(Entry::size).sum::<u64>(), "{ctx}");
                }
            }
        }
    }
}

fn random_entries(r: &mut Rng, last: u64, term: u64) -> Vec<Entry> {
    // Start anywhere from a few below the first index to just past the end.
    let start = (last + 1).saturating_sub(r.below(6)).max(1);
    let n = 1 + r.below(5);
    (start..start + n)
        .map(|i| Entry::new(term, i, vec![r.below(256) as u8; r.below(40) as usize]))
        .collect()
}

#[test]
fn random_writes_match_memory_storage_and_survive_reopen() {
    for seed in 1..=12u64 {
        let dir = TempDir::new("sem");
        let mut r = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let m = MemoryStorage::new();
        let cache = [0, 100, 1 << 20][(seed % 3) as usize];
        let mut store = Store::open(opts(&dir, cache)).unwrap();
        let mut g = store.open_group(7).unwrap();
        let mut term = 1;
        for step in 0..120 {
            let ctx = format!("seed {seed} step {step}");
            let last = m.last_index().unwrap();
            let first = m.first_index().unwrap();
            match r.below(10) {
                0..=3 => {
                    if r.below(4) == 0 {
                        term += 1;
                    }
                    let es = random_entries(&mut r, last, term);
                    assert_eq!(g.append(&es), m.append(&es), "{ctx}: append");
                }
                4 => {
                    let i = first.saturating_sub(1) + r.below(last + 3 - first);
                    assert_eq!(g.compact(i), m.compact(i), "{ctx}: compact({i})");
                }
                5 => {
                    let i = first.saturating_sub(2) + r.below(last + 4 - first);
                    let cs = (r.below(2) == 0).then(|| ConfState {
                        voters: vec![1, r.below(5) + 2],
                        ..Default::default()
                    });
                    let data = Bytes::from(vec![7u8; r.below(3) as usize * 10]);
                    assert_eq!(
                        g.create_snapshot(i, cs.clone(), data.clone()),
                        m.create_snapshot(i, cs, data),
                        "{ctx}: create_snapshot({i})"
                    );
                }
                6 => {
                    let mut s = Snapshot::default();
                    s.metadata.index = (last + r.below(6)).saturating_sub(2);
                    s.metadata.term = term;
                    s.metadata.conf_state.voters = vec![1, 2, 3];
                    if r.below(2) == 0 {
                        s.data = Some(Bytes::from(vec![9u8; 33]));
                    }
                    assert_eq!(
                        g.apply_snapshot(&s),
                        m.apply_snapshot(s.clone()),
                        "{ctx}: apply_snapshot"
                    );
                }
                7 => {
                    let hs = HardState {
                        term,
                        vote: r.below(4),
                        commit: r.below(last + 1),
                    };
                    g.set_hard_state(hs).unwrap();
                    m.set_hard_state(hs);
                }
                8 => {
                    // A whole Ready: hard state and entries in one batch.
                    let hs = HardState {
                        term,
                        vote: 1,
                        commit: last,
                    };
                    let es = random_entries(&mut r, last, term);
                    let got = g.persist(Some(hs), &Snapshot::default(), &es, true);
                    let want = m.append(&es);
                    assert_eq!(got, want, "{ctx}: persist");
                    if want.is_ok() {
                        m.set_hard_state(hs);
                    }
                }
                _ => {
                    drop(g);
                    drop(store);
                    store = Store::open(opts(&dir, cache)).unwrap();
                    g = store.open_group(7).unwrap();
                }
            }
            assert_eq!(g.hard_state(), m.hard_state(), "{ctx}: hard_state");
            same_reads(&g, &m, &ctx);
            assert!(g.cached_bytes() <= cache, "{ctx}: cache over its bound");
        }
    }
}

#[test]
fn groups_do_not_see_each_other_and_drop_removes_one() {
    let dir = TempDir::new("groups");
    let store = Store::open(opts(&dir, 1 << 20)).unwrap();
    let ids = [0u64, 1, 255, 256, u64::MAX];
    for &id in &ids {
        let g = store.open_group(id).unwrap();
        let es: Vec<Entry> = (1..=id % 7 + 2)
            .map(|i| Entry::new(id % 5 + 1, i, id.to_be_bytes().to_vec()))
            .collect();
        g.append(&es).unwrap();
        g.set_hard_state(HardState {
            term: id % 5 + 1,
            vote: 1,
            commit: 1,
        })
        .unwrap();
    }
    store.drop_group(256).unwrap();
    let held = store.open_group(1).unwrap();
    drop(store);
    drop(held);
    let store = Store::open(opts(&dir, 1 << 20)).unwrap();
    for &id in &ids {
        let g = store.open_group(id).unwrap();
        if id == 256 {
            assert_eq!(g.last_index().unwrap(), 0);
            assert_eq!(g.hard_state(), HardState::default());
            continue;
        }
        assert_eq!(g.last_index().unwrap(), id % 7 + 2, "group {id}");
        for e in g.entries(1, id % 7 + 3, u64::MAX).unwrap() {
            assert_eq!(e.data(), id.to_be_bytes(), "group {id}");
            assert_eq!(e.term, id % 5 + 1);
        }
        assert_eq!(g.hard_state().term, id % 5 + 1);
    }
    // A handle of a dropped group refuses work.
    let g = store.open_group(3).unwrap();
    g.append(&[Entry::new(1, 1, vec![1])]).unwrap();
    store.drop_group(3).unwrap();
    let e = g.last_index().unwrap_err().to_string();
    assert!(e.contains("dropped"), "{e}");
}

#[test]
fn a_second_open_of_the_same_directory_is_refused_until_closed() {
    let dir = TempDir::new("lock");
    let store = Store::open(opts(&dir, 0)).unwrap();
    let e = Store::open(opts(&dir, 0)).unwrap_err().to_string();
    assert!(e.contains("locked"), "{e}");
    assert!(e.contains(&dir.path().display().to_string()), "{e}");
    store.close().unwrap();
    assert!(store.open_group(1).is_err(), "a closed store refuses work");
    Store::open(opts(&dir, 0)).unwrap();
}

#[test]
fn snapshot_data_lives_in_a_checksummed_file_that_replaces_the_old_one() {
    let dir = TempDir::new("snapfile");
    let store = Store::open(opts(&dir, 0)).unwrap();
    let g = store.open_group(2).unwrap();
    g.append(
        &(1..=10)
            .map(|i| Entry::new(1, i, vec![1]))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    g.create_snapshot(5, None, Bytes::from_static(b"state@5"))
        .unwrap();
    g.create_snapshot(8, None, Bytes::from_static(b"state@8"))
        .unwrap();
    let snaps = common::files_with_ext(&dir.path().join("snapshots"), "snap");
    assert_eq!(snaps.len(), 1, "the older file is removed: {snaps:?}");
    assert_eq!(std::fs::read(&snaps[0]).unwrap(), b"state@8");
    assert_eq!(g.snapshot().unwrap().data.unwrap(), &b"state@8"[..]);
}

#[test]
fn indexes_near_2_pow_64_are_refused_like_memory_storage_without_panics() {
    let dir = TempDir::new("absurd");
    let store = Store::open(opts(&dir, 1 << 20)).unwrap();
    let g = store.open_group(1).unwrap();
    let m = MemoryStorage::new();
    let es = [Entry::new(1, 1, vec![1]), Entry::new(1, 2, vec![2])];
    assert_eq!(g.append(&es), m.append(&es));
    let max = u64::MAX;
    let huge = [Entry::new(1, max - 1, vec![1]), Entry::new(1, max, vec![2])];
    assert_eq!(g.append(&huge), m.append(&huge));
    let wrap = [Entry::new(1, max, vec![1]), Entry::new(1, 0, vec![2])];
    assert_eq!(g.append(&wrap), m.append(&wrap));
    assert_eq!(g.compact(max), m.compact(max));
    assert_eq!(
        g.create_snapshot(max, None, Bytes::new()),
        m.create_snapshot(max, None, Bytes::new())
    );
    for (lo, hi) in [(max, max), (1, max), (max - 1, max), (0, max)] {
        assert_eq!(g.entries(lo, hi, max), m.entries(lo, hi, max), "{lo} {hi}");
    }
    assert_eq!(g.term(max), m.term(max));
    // A snapshot at the very last index, then everything still answers.
    let mut s = Snapshot::default();
    s.metadata.index = max;
    s.metadata.term = max;
    s.data = Some(Bytes::from_static(b"end"));
    assert_eq!(g.apply_snapshot(&s), m.apply_snapshot(s.clone()));
    same_reads_at_end(&g, &m);
    drop(g);
    drop(store);
    let store = Store::open(opts(&dir, 1 << 20)).unwrap();
    let g = store.open_group(1).unwrap();
    same_reads_at_end(&g, &m);
    let more = [Entry::new(max, max, vec![3])];
    assert_eq!(g.append(&more), m.append(&more));
}

fn same_reads_at_end(g: &Group, m: &MemoryStorage) {
    let max = u64::MAX;
    assert_eq!(g.first_index(), m.first_index());
    assert_eq!(g.last_index(), m.last_index());
    assert_eq!(g.term(max), m.term(max));
    assert_eq!(g.term(max - 1), m.term(max - 1));
    assert_eq!(g.entries(max, max, max), m.entries(max, max, max));
    assert_eq!(g.snapshot(), m.snapshot());
}
