//! C ABI of `raft-core`: the library behind `libraft.so`, `libraft.a`, the
//! generated header `include/raft.h` and the C++ wrapper `include/raft.hpp`.
//!
//! Every exported function is `raft_<type>_<verb>`, returns a stable
//! [`raft_result`] code when it can fail, writes out-parameters only on
//! success, refuses NULL where a value is required, and runs its body under a
//! panic guard (module `guard`), so that no panic crosses the C boundary.
//!
//! Handles: `raft_rawnode` (a RawNode), `raft_ready` (one Ready),
//! `raft_memory_storage` (the in-memory storage) and `raft_decoded` (the
//! owner of decoded protobuf views). A storage written in C is a
//! `raft_storage_callbacks` table. The durable LevelDB store of `raft-store`
//! is `raft_store` with one `raft_store_group` per Raft group. The C
//! declarations and their rules are in `include/raft.h`.

// The C names (`raft_rawnode`, `RAFT_OK`, ...) are the ABI; keep them in Rust.
#![allow(non_camel_case_types)]
#![deny(missing_docs)]

mod bytes;
mod callback_storage;
mod codec;
mod config;
mod decoded;
mod enums;
mod guard;
mod last_error;
mod logger;
mod memory_storage;
mod messages;
mod raw_node;
mod ready;
mod result;
mod status;
mod store;

pub use result::raft_result;

/// Version of the C ABI described by `raft.h`. It changes whenever a struct
/// layout, a function signature or the meaning of a code changes
/// incompatibly; compare it with [`raft_abi_version`] at start-up.
pub const RAFT_ABI_VERSION: u32 = 1;

/// Returns the ABI version the library was built with (RAFT_ABI_VERSION of
/// its own header). A program compiled against another header version must
/// not use the library.
#[no_mangle]
pub extern "C" fn raft_abi_version() -> u32 {
    RAFT_ABI_VERSION
}

/// The project's version (`MAJOR.MINOR.PATCH`, the workspace version in
/// Cargo.toml), NUL-terminated.
const VERSION: &std::ffi::CStr = match std::ffi::CStr::from_bytes_with_nul(
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes(),
) {
    Ok(v) => v,
    Err(_) => panic!("the package version contains no NUL byte"),
};

/// Returns the library's version, `"MAJOR.MINOR.PATCH"` (the same string as
/// `lraft._VERSION` in Lua and the `Version:` of raft.pc). The string is
/// static: never free it. The soname of libraft.so carries MAJOR.
#[no_mangle]
pub extern "C" fn raft_version() -> *const std::ffi::c_char {
    VERSION.as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raft_version_is_the_workspace_version() {
        // SAFETY: raft_version returns a static NUL-terminated string.
        let v = unsafe { std::ffi::CStr::from_ptr(raft_version()) };
        assert_eq!(v.to_str(), Ok(env!("CARGO_PKG_VERSION")));
        assert_eq!(v.to_str().map(|s| s.split('.').count()), Ok(3));
    }
}
