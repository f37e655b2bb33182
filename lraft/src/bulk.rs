//! Whole Lua sequences built or read in one protected call.
//!
//! mlua protects every table insertion, element read and string creation
//! on its own (a `lua_pcall` each), which cost more than the data itself
//! in the batch accessors' profile (issue 11). These helpers do a whole
//! list inside one `Lua::exec_raw` instead.

use std::os::raw::{c_char, c_int};

use bytes::Bytes;
use mlua::ffi;
use mlua::prelude::*;

use crate::error::Error;

/// Two Lua sequences of `n` items, `(strings, integers)`, where `item(i)`
/// gives the i-th (0-based) string's bytes and integer; integers are u64
/// values passed as their two's complement, as `lua_u64` does.
///
/// Built in one protected call: mlua protects every single table insertion
/// and string creation on its own, which cost more than the data itself in
/// the batch accessors' profile (issue 11).
pub fn string_and_integer_lists<'a>(
    lua: &Lua,
    n: usize,
    item: impl Fn(usize) -> (&'a [u8], i64),
) -> LuaResult<(LuaTable, LuaTable)> {
    let size = c_int::try_from(n)
        .map_err(|_| Error::invalid("ready", format!("{n} items do not fit a Lua table")))?;
    // SAFETY: `exec_raw` runs the closure inside `lua_pcall` with at least
    // three free stack slots, and the closure uses exactly three (two tables
    // and one value at a time). A memory error raised by the Lua calls
    // longjmps to that pcall, past the closure's frame, which owns nothing
    // with a destructor: `item` and the slices it returns are borrowed from
    // the caller's frame, which the longjmp does not leave. `item` cannot
    // panic (it indexes within bounds its callers computed).
    unsafe {
        lua.exec_raw((), |state| {
            ffi::lua_createtable(state, size, 0);
            ffi::lua_createtable(state, size, 0);
            for i in 0..n {
                let (bytes, int) = item(i);
                let key = (i + 1) as ffi::lua_Integer;
                ffi::lua_pushlstring(state, bytes.as_ptr().cast::<c_char>(), bytes.len());
                ffi::lua_rawseti(state, -3, key);
                ffi::lua_pushinteger(state, int);
                ffi::lua_rawseti(state, -2, key);
            }
        })
    }
}

/// The strings of the Lua sequence `list` (`1..#list`, raw), each copied
/// into a `Bytes`. Raises a type error naming `what[i]` at the first
/// element that is not a string (numbers are not converted).
pub fn bytes_list(lua: &Lua, list: &LuaTable, what: &str) -> LuaResult<Vec<Bytes>> {
    let mut out = Vec::with_capacity(list.raw_len());
    let mut bad = 0usize;
    // SAFETY: `exec_raw` runs the closure inside `lua_pcall` with `list` as
    // its only stack value (index 1) and room for three more; the closure
    // holds at most one more value. None of the calls it makes can raise a
    // Lua error (raw reads, a type test, `lua_tolstring` on a value known to
    // be a string, which does not convert), and `out` and `bad` belong to
    // this frame. The pointer from `lua_tolstring` is valid while the string
    // is on the stack, and it is copied before the pop. The closure leaves
    // the stack empty, so `exec_raw` returns no values.
    unsafe {
        lua.exec_raw::<()>(list, |state| {
            let n = ffi::lua_rawlen(state, 1);
            for i in 1..=n {
                ffi::lua_rawgeti(state, 1, i as ffi::lua_Integer);
                if ffi::lua_type(state, -1) != ffi::LUA_TSTRING {
                    bad = i;
                    break;
                }
                let mut len = 0usize;
                let p = ffi::lua_tolstring(state, -1, &mut len);
                out.push(Bytes::copy_from_slice(std::slice::from_raw_parts(
                    p.cast::<u8>(),
                    len,
                )));
                ffi::lua_settop(state, 1);
            }
            ffi::lua_settop(state, 0);
        })?;
    }
    if bad > 0 {
        let x: LuaValue = list.raw_get(bad)?;
        return Err(Error::ty(format!("{what}[{bad}]"), "a string", &x).into());
    }
    Ok(out)
}
