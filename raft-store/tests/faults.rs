//! Damaged files and failing writes: the store recovers the last consistent
//! state or refuses with an error naming the file, never returns wrong
//! entries, and after a failed write acknowledges nothing more.

mod common;

use std::path::Path;

use bytes::Bytes;
use raft_core::eraftpb::{Entry, HardState, Snapshot};
use raft_core::{Config, RawNode, Storage};
use raft_store::{Store, StoreOptions};

use common::{files_with_ext, FailEnv, FailSwitch, TempDir};

fn ent(i: u64) -> Entry {
    Entry::new(1, i, format!("entry-{i}").into_bytes())
}

/// Writes entries 1..=n, one synced batch each, and closes the store.
fn fill(dir: &Path, n: u64) {
    let store = Store::open(StoreOptions::new(dir)).unwrap();
    let g = store.open_group(1).unwrap();
    for i in 1..=n {
        g.append(&[ent(i)]).unwrap();
    }
}

/// Opening the store and group 1 gives either an error or entries that
/// are exactly `ent(1..=last)` for some `last >= at_least`.
fn open_checked(dir: &Path, at_least: u64) -> Result<u64, String> {
    let store = Store::open(StoreOptions::new(dir)).map_err(|e| e.to_string())?;
    let g = store.open_group(1).map_err(|e| e.to_string())?;
    let last = g.last_index().unwrap();
    assert!(last >= at_least, "lost entries: last {last} < {at_least}");
    let es = g.entries(1, last + 1, u64::MAX).unwrap();
    assert_eq!(es, (1..=last).map(ent).collect::<Vec<_>>());
    Ok(last)
}

fn flip(p: &Path, at: usize) {
    let mut b = std::fs::read(p).unwrap();
    let at = at.min(b.len() - 1);
    b[at] ^= 0x5a;
    std::fs::write(p, b).unwrap();
}

#[test]
fn a_torn_log_tail_recovers_every_complete_write() {
    let dir = TempDir::new("torn");
    fill(dir.path(), 20);
    // A crash in the middle of the 21st write: its first bytes only.
    {
        let store = Store::open(StoreOptions::new(dir.path())).unwrap();
        store.open_group(1).unwrap().append(&[ent(21)]).unwrap();
    }
    let log2 = files_with_ext(dir.path(), "log").pop().unwrap();
    let full = std::fs::read(&log2).unwrap();
    std::fs::write(&log2, &full[..full.len() - 5]).unwrap();
    assert_eq!(open_checked(dir.path(), 20), Ok(20));
    // And the store keeps working on top of it.
    {
        let store = Store::open(StoreOptions::new(dir.path())).unwrap();
        store.open_group(1).unwrap().append(&[ent(21)]).unwrap();
    }
    assert_eq!(open_checked(dir.path(), 21), Ok(21));
}

#[test]
fn flipped_bytes_in_the_middle_of_a_log_are_refused_naming_the_file() {
    let dir = TempDir::new("logflip");
    fill(dir.path(), 30);
    let log = files_with_ext(dir.path(), "log").pop().unwrap();
    let len = std::fs::metadata(&log).unwrap().len() as usize;
    flip(&log, len / 3);
    let e = open_checked(dir.path(), 0).unwrap_err();
    assert!(e.contains(&log.display().to_string()), "{e}");
    assert!(e.contains("corrupt"), "{e}");
}

#[test]
fn flipped_bytes_in_a_table_are_refused_naming_the_file() {
    for at in [10usize, 200, 100_000] {
        let dir = TempDir::new("tableflip");
        fill(dir.path(), 30);
        // Reopening turns the log into a table.
        open_checked(dir.path(), 30).unwrap();
        let table = files_with_ext(dir.path(), "ldb").pop().expect("a table");
        flip(&table, at);
        let e = open_checked(dir.path(), 0).unwrap_err();
        assert!(
            e.contains(&table.display().to_string()),
            "flip at {at}: {e}"
        );
    }
}

#[test]
fn a_missing_table_is_refused_naming_it() {
    let dir = TempDir::new("missing");
    fill(dir.path(), 10);
    open_checked(dir.path(), 10).unwrap();
    let table = files_with_ext(dir.path(), "ldb").pop().expect("a table");
    std::fs::remove_file(&table).unwrap();
    let e = open_checked(dir.path(), 0).unwrap_err();
    let name = table.file_name().unwrap().to_string_lossy().to_string();
    assert!(e.contains(&name) && e.contains("missing"), "{e}");
}

#[test]
fn a_log_whose_records_are_not_write_batches_is_refused_naming_it() {
    // Found by the leveldb_damage fuzz target: the manifest (same record
    // format, intact checksums) copied over the log made rusty-leveldb
    // panic decoding its records as write batches; only the store's
    // catch_unwind turned that into an error, and lraft.leveldb had none.
    let dir = TempDir::new("notbatches");
    fill(dir.path(), 10);
    let log = files_with_ext(dir.path(), "log").pop().expect("a log");
    let manifest = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("MANIFEST-")
        })
        .expect("a manifest");
    std::fs::copy(&manifest, &log).unwrap();
    let e = open_checked(dir.path(), 0).unwrap_err();
    let name = log.file_name().unwrap().to_string_lossy().to_string();
    assert!(e.contains(&name) && e.contains("write batch"), "{e}");
}

#[test]
fn a_database_without_its_current_file_is_refused() {
    // Found by the leveldb_damage fuzz target: without CURRENT,
    // rusty-leveldb created a new database and replayed the log into it,
    // without the table of the first generation.
    let dir = TempDir::new("nocurrent");
    fill(dir.path(), 8);
    {
        let store = Store::open(StoreOptions::new(dir.path())).unwrap();
        store.open_group(1).unwrap().append(&[ent(9)]).unwrap();
    }
    std::fs::remove_file(dir.path().join("CURRENT")).unwrap();
    let e = open_checked(dir.path(), 0).unwrap_err();
    assert!(e.contains("CURRENT"), "{e}");
}

#[test]
fn a_missing_log_file_is_refused_naming_it() {
    // The manifest names the log to replay from; with it gone the writes
    // it held (acknowledged ones) would be lost without trace. It used to
    // open the state before them.
    let dir = TempDir::new("missinglog");
    fill(dir.path(), 10);
    open_checked(dir.path(), 10).unwrap();
    {
        let store = Store::open(StoreOptions::new(dir.path())).unwrap();
        let g = store.open_group(1).unwrap();
        for i in 11..=15 {
            g.append(&[ent(i)]).unwrap();
        }
    }
    let logs = files_with_ext(dir.path(), "log");
    for log in &logs {
        std::fs::remove_file(log).unwrap();
    }
    let e = open_checked(dir.path(), 0).unwrap_err();
    let named = logs
        .iter()
        .any(|l| e.contains(&*l.file_name().unwrap().to_string_lossy()));
    assert!(named && e.contains("missing"), "{e}");
}

#[test]
fn a_damaged_or_missing_snapshot_file_is_refused_naming_it() {
    for damage in ["flip", "truncate", "remove"] {
        let dir = TempDir::new("snapdamage");
        let snap_path = {
            let store = Store::open(StoreOptions::new(dir.path())).unwrap();
            let g = store.open_group(4).unwrap();
            g.append(&(1..=5).map(ent).collect::<Vec<_>>()).unwrap();
            g.create_snapshot(3, None, Bytes::from(vec![42u8; 1000]))
                .unwrap();
            let p = files_with_ext(&dir.path().join("snapshots"), "snap")
                .pop()
                .unwrap();
            // Damage while open: the next read notices.
            flip(&p, 500);
            let e = g.snapshot().unwrap_err().to_string();
            assert!(e.contains(&p.display().to_string()), "{e}");
            flip(&p, 500);
            assert_eq!(g.snapshot().unwrap().data.unwrap().len(), 1000);
            p
        };
        match damage {
            "flip" => flip(&snap_path, 999),
            "truncate" => {
                let b = std::fs::read(&snap_path).unwrap();
                std::fs::write(&snap_path, &b[..999]).unwrap();
            }
            _ => std::fs::remove_file(&snap_path).unwrap(),
        }
        let store = Store::open(StoreOptions::new(dir.path())).unwrap();
        let e = store.open_group(4).unwrap_err().to_string();
        assert!(
            e.contains(&snap_path.display().to_string()),
            "{damage}: {e}"
        );
    }
}

#[test]
fn flipped_bytes_anywhere_never_give_wrong_entries() {
    // Every byte position of every file of a small database: opening gives
    // an error or exactly the written entries (a prefix when the damage is
    // in the log's tail).
    let dir = TempDir::new("everybyte");
    fill(dir.path(), 8);
    open_checked(dir.path(), 8).unwrap();
    {
        // A second generation: a table plus a fresh log.
        let store = Store::open(StoreOptions::new(dir.path())).unwrap();
        store.open_group(1).unwrap().append(&[ent(9)]).unwrap();
    }
    let pristine = TempDir::new("everybyte-copy");
    std::fs::create_dir_all(pristine.path()).unwrap();
    let files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.file_name().unwrap() != "LOCK")
        .collect();
    for f in &files {
        std::fs::copy(f, pristine.path().join(f.file_name().unwrap())).unwrap();
    }
    let restore = || {
        std::fs::remove_dir_all(dir.path()).unwrap();
        std::fs::create_dir_all(dir.path()).unwrap();
        for f in &files {
            std::fs::copy(pristine.path().join(f.file_name().unwrap()), f).unwrap();
        }
    };
    let mut refused = 0;
    let mut opened = 0;
    for f in files.iter().filter(|f| {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        name.ends_with(".ldb") || name.ends_with(".log") || name.starts_with("MANIFEST-")
    }) {
        restore();
        let len = std::fs::metadata(f).unwrap().len() as usize;
        for at in (0..len).step_by(3) {
            restore();
            flip(f, at);
            match open_checked(dir.path(), 0) {
                Ok(_) => opened += 1,
                Err(_) => refused += 1,
            }
        }
    }
    eprintln!("{opened} damaged databases opened (torn-tail or unused bytes), {refused} refused");
    assert!(refused > 0);
}

#[test]
fn a_failed_write_is_not_acknowledged_and_stops_the_store_and_the_node() {
    let dir = TempDir::new("failwrite");
    let switch = FailSwitch::default();
    let mut o = StoreOptions::new(dir.path());
    o.env = Some(Box::new(FailEnv::new(switch.clone())));
    let store = Store::open(o).unwrap();
    let g = store.open_group(1).unwrap();
    let mut node = RawNode::new(&Config::new(1), g.clone()).unwrap();
    node.bootstrap(&[1]).unwrap();
    let mut persisted = 0;
    for _ in 0..50 {
        node.tick();
        if node.status().progress.is_some() && persisted < 20 {
            node.propose(&b"x"[..]).unwrap();
        }
        if node.has_ready() {
            let rd = node.ready().unwrap();
            g.persist_ready(&rd).unwrap();
            persisted += rd.entries.len();
            node.advance().unwrap();
        }
    }
    assert!(persisted > 5);
    let before = g.last_index().unwrap();
    // The disk fills up.
    switch.set(true);
    node.propose(&b"lost"[..]).unwrap();
    let rd = node.ready().unwrap();
    assert!(!rd.entries.is_empty());
    let e = g.persist_ready(&rd).unwrap_err().to_string();
    assert!(e.contains("no space left"), "{e}");
    // Nothing more is served, with the reason.
    let e = g.last_index().unwrap_err().to_string();
    assert!(
        e.contains("failed earlier") && e.contains("no space left"),
        "{e}"
    );
    assert!(g.append(&[ent(before + 1)]).is_err());
    assert!(g.set_hard_state(HardState::default()).is_err());
    assert!(store.open_group(2).is_err());
    // The node stops at its next storage read.
    let _ = node.advance();
    let _ = node.propose(&b"more"[..]);
    let _ = node.ready();
    let _ = node.advance();
    assert!(node.is_failed(), "the node keeps running on a failed store");
    assert!(node.failure().unwrap().contains("no space left"));
    // Even when the disk recovers, this handle stays failed; reopening
    // gives the acknowledged state only.
    switch.set(false);
    assert!(g.last_index().is_err());
    drop(node);
    drop(g);
    drop(store);
    // The failed write may still reach the disk when the database is
    // closed (as a write cut by a crash may); it was never acknowledged.
    let store = Store::open(StoreOptions::new(dir.path())).unwrap();
    let g = store.open_group(1).unwrap();
    let last = g.last_index().unwrap();
    assert!(last == before || last == before + 1, "{last} vs {before}");
    for e in g.entries(before, last + 1, u64::MAX).unwrap() {
        assert!(e.index == before || e.data() == b"lost");
    }
}

#[test]
fn a_failed_snapshot_file_write_stops_the_group() {
    let dir = TempDir::new("failsnap");
    let store = Store::open(StoreOptions::new(dir.path())).unwrap();
    let g = store.open_group(1).unwrap();
    g.append(&(1..=3).map(ent).collect::<Vec<_>>()).unwrap();
    // A read-only snapshot directory.
    let sd = dir.path().join("snapshots");
    std::fs::remove_dir(&sd).unwrap();
    std::fs::write(&sd, b"not a directory").unwrap();
    let mut s = Snapshot::default();
    s.metadata.index = 10;
    s.metadata.term = 2;
    s.data = Some(Bytes::from_static(b"state"));
    let e = g.apply_snapshot(&s).unwrap_err().to_string();
    assert!(e.contains("snapshot file"), "{e}");
    let e = g.last_index().unwrap_err().to_string();
    assert!(e.contains("refuses further work"), "{e}");
    assert_eq!(
        std::fs::read(&sd).unwrap(),
        b"not a directory",
        "nothing else touched"
    );
}

#[test]
fn a_ready_is_one_write_with_one_fsync_only_when_it_must_sync() {
    let dir = TempDir::new("onesync");
    let switch = FailSwitch::default();
    let mut o = StoreOptions::new(dir.path());
    o.env = Some(Box::new(FailEnv::new(switch.clone())));
    let store = Store::open(o).unwrap();
    let g = store.open_group(1).unwrap();
    let hs = HardState {
        term: 2,
        vote: 1,
        commit: 0,
    };
    let es: Vec<Entry> = (1..=50).map(ent).collect();
    let before = switch.flushes();
    g.persist(Some(hs), &Snapshot::default(), &es, true)
        .unwrap();
    assert_eq!(
        switch.flushes() - before,
        1,
        "hard state and entries: one fsync"
    );
    let before = switch.flushes();
    let commit = HardState { commit: 50, ..hs };
    g.persist(Some(commit), &Snapshot::default(), &[], false)
        .unwrap();
    assert_eq!(
        switch.flushes() - before,
        0,
        "a commit-only Ready is not synced"
    );
    let mut snap = Snapshot::default();
    snap.metadata.index = 60;
    snap.metadata.term = 3;
    snap.data = Some(Bytes::from_static(b"state"));
    let before = switch.flushes();
    g.persist(None, &snap, &[Entry::new(3, 61, vec![1])], false)
        .unwrap();
    assert_eq!(switch.flushes() - before, 1, "a snapshot is always synced");
    drop(g);
    drop(store);
    let store = Store::open(StoreOptions::new(dir.path())).unwrap();
    let g = store.open_group(1).unwrap();
    assert_eq!(g.hard_state(), commit);
    assert_eq!(
        (g.first_index().unwrap(), g.last_index().unwrap()),
        (61, 61)
    );
}

#[test]
fn a_manifest_cut_anywhere_never_opens_a_state_that_never_was() {
    use raft_store::ldb::{base_options, open_checked};
    use rusty_leveldb::LdbIterator;
    // Found by the leveldb_damage fuzz target: the manifest record that
    // adds the table written at the second open (and moves the log
    // number past the log it replaced, which is then deleted) is dropped
    // as a torn tail when the manifest is cut or damaged at its end; the
    // database then opened with the second generation's writes but
    // without the first's.
    let dir = TempDir::new("manifestcut");
    let mut states = vec![std::collections::BTreeMap::new()];
    {
        let mut db = open_checked(dir.path(), base_options()).unwrap();
        for i in 0..20u32 {
            let k = format!("a{i:02}").into_bytes();
            db.put(&k, b"first").unwrap();
            db.flush().unwrap();
            let mut s = states.last().unwrap().clone();
            s.insert(k, b"first".to_vec());
            states.push(s);
        }
    }
    {
        // Reopening writes the first generation into a table.
        let mut db = open_checked(dir.path(), base_options()).unwrap();
        for i in 0..5u32 {
            let k = format!("b{i}").into_bytes();
            db.put(&k, b"second").unwrap();
            db.flush().unwrap();
            let mut s = states.last().unwrap().clone();
            s.insert(k, b"second".to_vec());
            states.push(s);
        }
    }
    let current = std::fs::read_to_string(dir.path().join("CURRENT")).unwrap();
    let manifest = dir.path().join(current.trim());
    let pristine = std::fs::read(&manifest).unwrap();
    let saved: Vec<(std::path::PathBuf, Vec<u8>)> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.file_name().unwrap() != "LOCK")
        .map(|p| {
            let b = std::fs::read(&p).unwrap();
            (p, b)
        })
        .collect();
    let mut refused = 0;
    for cut in 0..pristine.len() {
        for e in std::fs::read_dir(dir.path()).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() && p.file_name().unwrap() != "LOCK" {
                std::fs::remove_file(p).unwrap();
            }
        }
        for (p, b) in &saved {
            std::fs::write(p, b).unwrap();
        }
        std::fs::write(&manifest, &pristine[..cut]).unwrap();
        let Ok(mut db) = open_checked(dir.path(), base_options()) else {
            refused += 1;
            continue;
        };
        let mut it = db.new_iter().unwrap();
        let mut got = std::collections::BTreeMap::new();
        while let Some((k, v)) = it.next() {
            got.insert(k.to_vec(), v.to_vec());
        }
        assert!(
            states.contains(&got),
            "manifest cut at {cut} of {}: a state that never was ({} keys)",
            pristine.len(),
            got.len()
        );
    }
    assert!(refused > 0);
}
