//! The module is built with mlua's `module` feature, which leaves the Lua C
//! API unresolved (the host interpreter provides it). Test binaries have no
//! host, so link them against the system Lua 5.4.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rustc-link-arg-tests=-llua5.4");
}
