//! File-layer tests (outside the lib: the module-mode lib cannot link a
//! unit-test binary without a Lua host; see build.rs). The `raft.pb` codec
//! is the core's prost codec; its bytes are pinned by tests/lua/pb_spec.lua.

use std::io::Write;

use lraft::sync_env::SyncEnv;
use rusty_leveldb::env::Env;

#[test]
fn writes_and_flushes_through() {
    let dir = std::env::temp_dir().join(format!("lraft-syncenv-{}", std::process::id()));
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
