//! Generates the C header with cbindgen into `$OUT_DIR/raft.h`.
//!
//! The committed `include/raft.h` must equal it: the test
//! `tests/header.rs` (and `tests/cpp/run.sh`) fail otherwise. Refresh the
//! committed copy with `RAFT_FFI_UPDATE_HEADER=1 cargo build -p raft-ffi`.
//!
//! On Linux it also gives the shared library the soname
//! `libraft.so.<major version>`, the name an installed library is found by
//! (scripts/install.sh installs `libraft.so.<version>` and that link).

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=RAFT_FFI_UPDATE_HEADER");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        let major = std::env::var("CARGO_PKG_VERSION_MAJOR").expect("set by cargo");
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libraft.so.{major}");
    }
    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("raft-ffi/cbindgen.toml is readable and valid");
    let bindings = cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates raft.h");
    bindings.write_to_file(out_dir.join("raft.h"));
    if std::env::var_os("RAFT_FFI_UPDATE_HEADER").is_some_and(|v| !v.is_empty()) {
        bindings.write_to_file(crate_dir.join("..").join("include").join("raft.h"));
    }
}
