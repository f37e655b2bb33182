//! Cryptographic helpers for Lua programs built on `lraft`: HMAC-SHA-256
//! (RustCrypto `hmac` + `sha2`), a constant-time comparison, and random
//! bytes from the operating system. The key-value example uses them for its
//! challenge-response handshake (examples/kv/PROTOCOL.md).
//!
//! ```lua
//! local raft = require("lraft")
//! local mac = raft.hmac_sha256(secret, nonce)   -- 32 raw bytes
//! assert(raft.constant_time_eq(mac, theirs))
//! local nonce = raft.random_bytes(32)
//! ```

use hmac::{Hmac, Mac};
use mlua::prelude::*;
use sha2::Sha256;

use crate::error::Error;
use crate::util::{to_bytes, to_u64};

/// The most bytes `random_bytes` hands out in one call.
pub const MAX_RANDOM_BYTES: u64 = 1 << 20;

/// HMAC-SHA-256 of `data` under `key` (RFC 2104; any key length).
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // new_from_slice accepts every key length for HMAC, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn lua_hmac(lua: &Lua, (key, data): (LuaValue, LuaValue)) -> LuaResult<LuaString> {
    let key = to_bytes(&key, "hmac_sha256: key")?;
    let data = to_bytes(&data, "hmac_sha256: data")?;
    lua.create_string(hmac_sha256(&key, &data))
}

fn lua_eq(_: &Lua, (a, b): (LuaValue, LuaValue)) -> LuaResult<bool> {
    let a = to_bytes(&a, "constant_time_eq: a")?;
    let b = to_bytes(&b, "constant_time_eq: b")?;
    Ok(constant_time_eq(&a, &b))
}

fn lua_random(lua: &Lua, n: LuaValue) -> LuaResult<LuaString> {
    let n = to_u64(&n, "random_bytes: n")?;
    if n > MAX_RANDOM_BYTES {
        return Err(Error::invalid(
            "random_bytes",
            format!("n must be at most {MAX_RANDOM_BYTES}, got {}", n as i64),
        )
        .into());
    }
    let mut buf = vec![0u8; n as usize];
    getrandom::getrandom(&mut buf)
        .map_err(|e| Error::invalid("random_bytes", format!("the OS random source failed: {e}")))?;
    lua.create_string(&buf)
}

/// Adds `hmac_sha256`, `constant_time_eq` and `random_bytes` to the module
/// table `t`.
pub fn register(lua: &Lua, t: &LuaTable) -> LuaResult<()> {
    t.set("hmac_sha256", lua.create_function(lua_hmac)?)?;
    t.set("constant_time_eq", lua.create_function(lua_eq)?)?;
    t.set("random_bytes", lua.create_function(lua_random)?)?;
    Ok(())
}
