//! Damaged LevelDB files read back through the workspace's one LevelDB
//! layer (`raft_store::ldb`). Two small databases are built once,
//! deterministically: a raft-store database (two Raft groups, entries in a
//! table and in a log, hard states, a snapshot file, a compaction) and a
//! plain key-value database written as `lraft.leveldb` (hence
//! ldbstorage.lua) writes it, one synced write at a time. Each input picks
//! one, damages a copy of its files (flipped bytes, overwritten ranges,
//! truncations, garbage appended, files removed, copied over others or
//! under a new number) and opens it again. Refusing is fine; a panic, or
//! anything read that was not written, is a finding:
//! - raft-store: every entry served is the one written at its index, and
//!   the hard state and snapshot are ones that were written;
//! - key-value: the whole database is the state after some prefix of the
//!   writes (a torn tail or a lost log file gives an earlier state, never a
//!   mix).
#![no_main]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use arbitrary::Arbitrary;
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use raft_core::eraftpb::{ConfState, Entry, HardState};
use raft_core::Storage;
use raft_store::ldb;
use raft_store::{Store, StoreOptions};
use rusty_leveldb::{LdbIterator, WriteBatch};

#[derive(Arbitrary, Debug)]
enum Damage {
    /// XOR `mask` (0 counts as 1) into the byte at `at` (modulo the length).
    Flip {
        file: u8,
        at: u32,
        mask: u8,
    },
    /// Overwrite bytes from `at` on.
    Write {
        file: u8,
        at: u32,
        bytes: Vec<u8>,
    },
    /// Cut the file to `len` (modulo its length + 1).
    Truncate {
        file: u8,
        len: u32,
    },
    /// Append garbage.
    Append {
        file: u8,
        bytes: Vec<u8>,
    },
    Remove {
        file: u8,
    },
    /// Replace file `dst` with a copy of `src`.
    CopyOver {
        src: u8,
        dst: u8,
    },
    /// Copy `src` under its own extension with another file number.
    CopyAs {
        src: u8,
        number: u8,
    },
}

#[derive(Arbitrary, Debug)]
struct Input {
    /// false: the raft-store database; true: the key-value one.
    kv: bool,
    damage: Vec<Damage>,
}

/// What was written to the raft-store database, per group.
#[derive(Default)]
struct GroupHistory {
    entries: BTreeMap<u64, Entry>,
    hard_states: BTreeSet<(u64, u64, u64)>,
    /// (index, term, data) of every snapshot created.
    snapshots: BTreeSet<(u64, u64, Vec<u8>)>,
}

struct Template {
    dir: PathBuf,
    /// The raft-store database's history, by group id.
    groups: BTreeMap<u64, GroupHistory>,
    /// The key-value database's state after each write (the first is empty).
    kv_states: Vec<BTreeMap<Vec<u8>, Vec<u8>>>,
}

const SCRATCH_PREFIX: &str = "raft-fuzz-leveldb-";

/// Where scratch directories go: tmpfs when there is one (opening a
/// database fsyncs several times).
fn scratch_base() -> PathBuf {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

/// This process's scratch directory.
fn scratch() -> PathBuf {
    scratch_base().join(format!("{SCRATCH_PREFIX}{}", std::process::id()))
}

/// Removes the scratch directories of fuzzing processes that are gone
/// (libFuzzer ends a process without running destructors).
fn remove_stale_scratch() {
    let Ok(rd) = fs::read_dir(scratch_base()) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let Some(pid) = name.strip_prefix(SCRATCH_PREFIX) else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

fn entry(term: u64, index: u64) -> Entry {
    // Sizes vary so that the table has several data blocks.
    let len = 40 + (index * 37 % 300) as usize;
    let data: Vec<u8> = (0..len).map(|i| (index as usize * 31 + i) as u8).collect();
    Entry::new(term, index, data)
}

fn hs(term: u64, vote: u64, commit: u64) -> HardState {
    HardState { term, vote, commit }
}

/// Builds the raft-store database in `dir`: two generations (the first
/// one ends up in a table when the second opens, the second in a log).
fn build_store(dir: &Path) -> BTreeMap<u64, GroupHistory> {
    let mut groups: BTreeMap<u64, GroupHistory> = BTreeMap::new();
    for generation in 0..2u64 {
        let store = Store::open(StoreOptions::new(dir)).unwrap();
        for id in [1u64, 2] {
            let g = store.open_group(id).unwrap();
            let h = groups.entry(id).or_default();
            let n = if id == 1 { 24 } else { 6 };
            let from = generation * n + 1;
            let mut i = from;
            while i < from + n {
                let batch: Vec<Entry> = (i..(i + 1 + i % 4).min(from + n))
                    .map(|x| entry(1 + generation, x))
                    .collect();
                i += batch.len() as u64;
                g.append(&batch).unwrap();
                for e in batch {
                    h.entries.insert(e.index, e);
                }
            }
            let st = hs(1 + generation, 1, i - 2);
            g.set_hard_state(st.clone()).unwrap();
            h.hard_states.insert((st.term, st.vote, st.commit));
            if id == 1 {
                let at = i - 5;
                let data = format!("snapshot of group {id} at {at}").repeat(20);
                let cs = ConfState {
                    voters: vec![1, 2, 3],
                    ..Default::default()
                };
                let snap = g
                    .create_snapshot(at, Some(cs), Bytes::from(data.clone()))
                    .unwrap();
                let m = snap.metadata.clone();
                h.snapshots.insert((m.index, m.term, data.into_bytes()));
                g.compact(at - 2).unwrap();
            }
        }
        store.close().unwrap();
    }
    groups
}

/// Builds the key-value database in `dir` as `lraft.leveldb` writes:
/// synced puts, deletes and batches, over two generations.
fn build_kv(dir: &Path) -> Vec<BTreeMap<Vec<u8>, Vec<u8>>> {
    let mut state = BTreeMap::new();
    let mut states = vec![state.clone()];
    let mut n = 0u64;
    for _generation in 0..2 {
        let mut db = rusty_leveldb::DB::open(dir, ldb::base_options()).unwrap();
        for _ in 0..30 {
            n += 1;
            let k = format!("key-{:02}", n * 7 % 23).into_bytes();
            let v = format!("value {n} ")
                .repeat(1 + (n % 9) as usize)
                .into_bytes();
            match n % 6 {
                0 => {
                    db.delete(&k).unwrap();
                    state.remove(&k);
                }
                1 => {
                    let mut b = WriteBatch::default();
                    let k2 = format!("key-{:02}", n * 11 % 23).into_bytes();
                    b.put(&k, &v);
                    b.put(&k2, &v);
                    db.write(b, true).unwrap();
                    state.insert(k, v.clone());
                    state.insert(k2, v);
                    states.push(state.clone());
                    continue;
                }
                _ => {
                    db.put(&k, &v).unwrap();
                    state.insert(k, v);
                }
            }
            db.flush().unwrap();
            states.push(state.clone());
        }
        db.close().unwrap();
    }
    states
}

fn template() -> &'static Template {
    static T: OnceLock<Template> = OnceLock::new();
    T.get_or_init(|| {
        remove_stale_scratch();
        let dir = scratch().join("template");
        let _ = fs::remove_dir_all(&dir);
        let groups = build_store(&dir.join("store"));
        let kv_states = build_kv(&dir.join("kv"));
        Template {
            dir,
            groups,
            kv_states,
        }
    })
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else if e.file_name() != "LOCK" {
            fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

/// Every regular file under `dir`, sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

fn damage(dir: &Path, d: &Damage) {
    let fs_ = files(dir);
    if fs_.is_empty() {
        return;
    }
    let pick = |i: u8| fs_[i as usize % fs_.len()].clone();
    match d {
        Damage::Flip { file, at, mask } => {
            let p = pick(*file);
            let mut b = fs::read(&p).unwrap();
            if !b.is_empty() {
                let i = *at as usize % b.len();
                b[i] ^= (*mask).max(1);
                fs::write(&p, b).unwrap();
            }
        }
        Damage::Write { file, at, bytes } => {
            let p = pick(*file);
            let mut b = fs::read(&p).unwrap();
            let at = *at as usize % (b.len() + 1);
            for (j, x) in bytes.iter().enumerate() {
                match b.get_mut(at + j) {
                    Some(y) => *y = *x,
                    None => b.push(*x),
                }
            }
            fs::write(&p, b).unwrap();
        }
        Damage::Truncate { file, len } => {
            let p = pick(*file);
            let b = fs::read(&p).unwrap();
            let len = *len as usize % (b.len() + 1);
            fs::write(&p, &b[..len]).unwrap();
        }
        Damage::Append { file, bytes } => {
            let p = pick(*file);
            let mut b = fs::read(&p).unwrap();
            b.extend_from_slice(bytes);
            fs::write(&p, b).unwrap();
        }
        Damage::Remove { file } => {
            fs::remove_file(pick(*file)).unwrap();
        }
        Damage::CopyOver { src, dst } => {
            let (s, t) = (pick(*src), pick(*dst));
            if s != t {
                fs::copy(s, t).unwrap();
            }
        }
        Damage::CopyAs { src, number } => {
            let s = pick(*src);
            let ext = s.extension().and_then(|x| x.to_str()).unwrap_or("");
            if !ext.is_empty() {
                let t = s.with_file_name(format!("{:06}.{ext}", number % 16));
                if t != s {
                    fs::copy(s, t).unwrap();
                }
            }
        }
    }
}

/// Opens the damaged raft-store database; what it serves must have been
/// written.
fn check_store(dir: &Path, t: &Template) {
    let Ok(store) = Store::open(StoreOptions::new(dir)) else {
        return;
    };
    for (&id, h) in &t.groups {
        let Ok(g) = store.open_group(id) else {
            continue;
        };
        if let Ok(rs) = g.initial_state() {
            let st = &rs.hard_state;
            assert!(
                *st == HardState::default()
                    || h.hard_states.contains(&(st.term, st.vote, st.commit)),
                "group {id}: hard state {st:?} was never written"
            );
        }
        if let Ok(s) = g.snapshot() {
            let m = &s.metadata;
            assert!(
                m.index == 0 || h.snapshots.contains(&(m.index, m.term, s.data().to_vec())),
                "group {id}: snapshot at {} (term {}) was never written",
                m.index,
                m.term
            );
        }
        let (Ok(first), Ok(last)) = (g.first_index(), g.last_index()) else {
            continue;
        };
        assert!(
            first <= last + 1,
            "group {id}: first {first} > last {last} + 1"
        );
        if first > last {
            continue;
        }
        if let Ok(es) = g.entries(first, last + 1, u64::MAX) {
            assert_eq!(es.len() as u64, last + 1 - first, "group {id}: entries");
            for e in &es {
                assert_eq!(
                    Some(e),
                    h.entries.get(&e.index),
                    "group {id}: entry {} is not the one written",
                    e.index
                );
            }
        }
    }
}

/// Opens the damaged key-value database as `lraft.leveldb` opens it; its
/// contents must be the state after some prefix of the writes.
fn check_kv(dir: &Path, t: &Template) {
    let Ok(mut db) = open_kv(dir) else {
        return;
    };
    let Ok(mut it) = db.new_iter() else {
        return;
    };
    let mut got = BTreeMap::new();
    while let Some((k, v)) = it.next() {
        got.insert(k.to_vec(), v.to_vec());
    }
    drop(it);
    assert!(
        t.kv_states.contains(&got),
        "the key-value database holds a state that never was: {got:?}"
    );
    for (k, v) in &got {
        assert_eq!(ldb::get_key(&mut db, k).ok().flatten().as_ref(), Some(v));
    }
}

/// The way `lraft.leveldb` opens a database.
fn open_kv(dir: &Path) -> Result<rusty_leveldb::DB, ldb::OpenError> {
    ldb::open_checked(dir, ldb::base_options())
}

fuzz_target!(|input: Input| {
    let t = template();
    let which = if input.kv { "kv" } else { "store" };
    let work = scratch().join("work");
    let _ = fs::remove_dir_all(&work);
    copy_dir(&t.dir.join(which), &work);
    for d in input.damage.iter().take(8) {
        damage(&work, d);
    }
    if input.kv {
        check_kv(&work, t);
    } else {
        check_store(&work, t);
    }
});
