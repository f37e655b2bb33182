//! The LevelDB layer's two rusty-leveldb workarounds: recovery after a crash that left a torn record at
//! the end of the write-ahead log.

use std::io::Write;
use std::path::{Path, PathBuf};

use raft_store::ldb::{base_options, get_key, SyncEnv};
use rusty_leveldb::env::Env;
use rusty_leveldb::DB;

fn log_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    v.sort();
    v
}

fn put_synced(db: &mut DB, k: &[u8], v: &[u8]) {
    let mut b = rusty_leveldb::WriteBatch::default();
    b.put(k, v);
    db.write(b, true).unwrap();
}

#[test]
fn synced_writes_after_a_torn_log_tail_survive_the_next_recovery() {
    let dir = std::env::temp_dir().join(format!("raft-store-ldb-torn-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    {
        let mut db = DB::open(&dir, base_options()).unwrap();
        put_synced(&mut db, b"k1", b"v1");
    }
    // A crash in the middle of writing a record leaves its first bytes.
    let log = log_files(&dir).pop().expect("a log file");
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .unwrap()
        .write_all(&[0x9a, 0x13, 0x77, 0x01, 0xff, 0x7f, 0x01, 0x42, 0x42])
        .unwrap();
    {
        let mut db = DB::open(&dir, base_options()).unwrap();
        assert_eq!(db.get(b"k1").as_deref(), Some(&b"v1"[..]));
        put_synced(&mut db, b"k2", b"v2");
    }
    let mut db = DB::open(&dir, base_options()).unwrap();
    assert_eq!(db.get(b"k1").as_deref(), Some(&b"v1"[..]));
    assert_eq!(
        db.get(b"k2").as_deref(),
        Some(&b"v2"[..]),
        "a synced write made after recovering from a torn log was lost"
    );
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_newest_value_is_read_when_it_ends_a_table_block() {
    // Small blocks and a varying number of keys before "k" put a block
    // boundary right after the newest version of "k" for some layouts; that
    // version is also the last write, so the lookup key equals it.
    for block_size in [16, 24, 32] {
        for fillers in 0..6u8 {
            let dir = std::env::temp_dir().join(format!(
                "raft-store-ldb-block-end-{}-{block_size}-{fillers}",
                std::process::id()
            ));
            let _ = std::fs::remove_dir_all(&dir);
            let opts = || rusty_leveldb::Options {
                block_size,
                ..base_options()
            };
            {
                let mut db = DB::open(&dir, opts()).unwrap();
                for f in 0..fillers {
                    put_synced(&mut db, &[b'a', f], b"x");
                }
                for i in 0..5u8 {
                    put_synced(&mut db, b"k", &[b'v', b'0' + i]);
                }
            }
            // Reopening turns the log into a table holding every version.
            let mut db = DB::open(&dir, opts()).unwrap();
            assert_eq!(
                get_key(&mut db, b"k").unwrap().as_deref(),
                Some(&b"v4"[..]),
                "block size {block_size}, {fillers} keys before"
            );
            assert_eq!(get_key(&mut db, b"j").unwrap(), None);
            assert_eq!(get_key(&mut db, b"l").unwrap(), None);
            drop(db);
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

#[test]
fn writes_and_flushes_through() {
    let dir = std::env::temp_dir().join(format!("raft-store-syncenv-{}", std::process::id()));
    let env = SyncEnv::new();
    env.mkdir(&dir).unwrap();
    let p = dir.join("f");
    {
        let mut w = env.open_writable_file(&p).unwrap();
        w.write_all(b"abc").unwrap();
        w.flush().unwrap();
    }
    {
        let mut w = env.open_appendable_file(&p).unwrap();
        w.write_all(b"def").unwrap();
    }
    assert_eq!(std::fs::read(&p).unwrap(), b"abcdef");
    env.rename(&p, &dir.join("g")).unwrap();
    assert!(!p.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
