//! The committed `include/raft.h` must be exactly what cbindgen generates
//! from the current sources (written by build.rs to `$OUT_DIR/raft.h`).

#[test]
fn committed_header_is_current() {
    let generated = include_str!(concat!(env!("OUT_DIR"), "/raft.h"));
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../include/raft.h");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "{path} is stale: run `RAFT_FFI_UPDATE_HEADER=1 cargo build -p raft-ffi` and commit it"
    );
}
