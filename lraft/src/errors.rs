//! How errors reach Lua: as plain strings, like the `luaL_error` of the
//! original binding, so scripts can `err:match(...)`, concatenate them and
//! pass them to `string.find`.
//!
//! mlua raises a Rust error as a userdata (and prefixes "runtime error: ",
//! and appends tracebacks to errors of Lua code it called). Two pieces turn
//! that into the contract's strings:
//! - [`message`]: the readable text of an mlua error, without prefix or
//!   traceback (a storage callback's own text is kept).
//! - [`install`]: once, when the module loads, every function of the module
//!   tables and every method, field accessor and metamethod of every lraft
//!   userdata type is wrapped (in Lua, `errors.lua`) so that an error it
//!   raises is re-raised as `message(err)` at level 0 (no position added; a
//!   caller that wants a traceback uses `xpcall(f, debug.traceback)`).
//!
//! Every userdata type of the module must be listed in `samples` in
//! `lib.rs`, or, when no object can be made without resources (an open
//! store), go through [`wrap_late`] where it is created;
//! `tests/lua/errors_spec.lua` checks the result across the API.

use mlua::ffi;
use mlua::prelude::*;

/// The readable text of an error: no "runtime error: " prefix, no
/// traceback, the cause of a callback error rather than its wrapper.
pub fn message(e: &LuaError) -> String {
    match e {
        LuaError::RuntimeError(s) | LuaError::SyntaxError { message: s, .. } => strip(s),
        LuaError::CallbackError { cause, .. } => message(cause),
        LuaError::WithContext { context, cause } => format!("{context}: {}", message(cause)),
        LuaError::BadArgument { to, pos, cause, .. } => match to {
            Some(to) => format!("bad argument #{pos} to '{to}': {}", message(cause)),
            None => format!("bad argument #{pos}: {}", message(cause)),
        },
        LuaError::ExternalError(x) => strip(&x.to_string()),
        other => strip(&other.to_string()),
    }
}

/// Drops a traceback that Lua appended to an error message.
fn strip(s: &str) -> String {
    match s.find("\nstack traceback:") {
        Some(i) => s[..i].to_string(),
        None => s.to_string(),
    }
}

/// The text of any raised Lua value (an mlua error, a string, or anything
/// else through its type name).
fn value_message(v: &LuaValue) -> String {
    match v {
        LuaValue::Error(e) => message(e),
        LuaValue::String(s) => strip(&s.to_string_lossy()),
        LuaValue::Integer(i) => i.to_string(),
        LuaValue::Number(n) => n.to_string(),
        other => format!("(error object is a {} value)", other.type_name()),
    }
}

/// `getmetatable` that ignores `__metatable` (mlua protects its userdata
/// metatables that way; we only read and wrap their functions).
unsafe extern "C-unwind" fn raw_getmetatable(state: *mut ffi::lua_State) -> std::os::raw::c_int {
    // SAFETY: called by Lua with its own state; argument 1 may be any value
    // (or none, which lua_getmetatable treats as a value without a
    // metatable). One result is pushed either way.
    unsafe {
        if ffi::lua_getmetatable(state, 1) == 0 {
            ffi::lua_pushnil(state);
        }
    }
    1
}

/// `getupvalue(f, n)` -> name, value (nothing past the last upvalue).
unsafe extern "C-unwind" fn raw_getupvalue(state: *mut ffi::lua_State) -> std::os::raw::c_int {
    // SAFETY: the Lua side always calls this with a function at index 1 and
    // an integer at index 2 (errors.lua checks both); lua_getupvalue returns
    // NULL without pushing for an index out of range, and otherwise pushes
    // the value, under which we insert its name.
    unsafe {
        if ffi::lua_type(state, 1) != ffi::LUA_TFUNCTION {
            return 0;
        }
        let n = ffi::lua_tointegerx(state, 2, std::ptr::null_mut()) as std::os::raw::c_int;
        let name = ffi::lua_getupvalue(state, 1, n);
        if name.is_null() {
            return 0;
        }
        ffi::lua_pushstring(state, name);
        ffi::lua_insert(state, -2);
    }
    2
}

/// `setupvalue(f, n, v)`.
unsafe extern "C-unwind" fn raw_setupvalue(state: *mut ffi::lua_State) -> std::os::raw::c_int {
    // SAFETY: called with a function at 1, an integer at 2 and the new
    // value at 3 (errors.lua only passes upvalue indexes it just read);
    // lua_setupvalue pops the value when it succeeds and leaves the stack
    // as is otherwise. Nothing is returned.
    unsafe {
        if ffi::lua_type(state, 1) != ffi::LUA_TFUNCTION {
            return 0;
        }
        let n = ffi::lua_tointegerx(state, 2, std::ptr::null_mut()) as std::os::raw::c_int;
        ffi::lua_settop(state, 3);
        ffi::lua_setupvalue(state, 1, n);
    }
    0
}

/// Wraps the module's functions (the `tables`, recursively) and the
/// methods of the userdata `samples` (one object per type) so that every
/// error they raise reaches Lua as a string.
pub fn install(lua: &Lua, tables: &[&LuaTable], samples: Vec<LuaAnyUserData>) -> LuaResult<()> {
    let errmsg = lua.create_function(|_, v: LuaValue| Ok(value_message(&v)))?;
    // SAFETY: the three functions follow the lua_CFunction protocol above
    // and touch only their own arguments.
    let (getmt, getup, setup) = unsafe {
        (
            lua.create_c_function(raw_getmetatable)?,
            lua.create_c_function(raw_getupvalue)?,
            lua.create_c_function(raw_setupvalue)?,
        )
    };
    let patch = lua
        .load(include_str!("errors.lua"))
        .set_name("=lraft.errors")
        .into_function()?;
    // Kept in the registry so that loading `lraft` and `lraft.leveldb` (or
    // one of them twice) wraps nothing twice.
    const KEY: &str = "lraft.errors.wrappers";
    let wrappers: LuaTable = match lua.named_registry_value::<Option<LuaTable>>(KEY)? {
        Some(t) => t,
        None => {
            let t = lua.create_table()?;
            let mt = lua.create_table()?;
            mt.set("__mode", "k")?;
            t.set_metatable(Some(mt))?;
            lua.set_named_registry_value(KEY, &t)?;
            t
        }
    };
    let tables: Vec<LuaTable> = tables.iter().map(|t| (*t).clone()).collect();
    let late: LuaFunction = patch.call((
        errmsg,
        getmt,
        getup,
        setup,
        wrappers,
        lua.create_sequence_from(tables)?,
        lua.create_sequence_from(samples)?,
    ))?;
    lua.set_named_registry_value(LATE, late)
}

const LATE: &str = "lraft.errors.late";

/// Wraps the methods of `ud`'s type (once per type) for a type that has no
/// sample in `lib.rs`; a no-op before [`install`] ran (a Rust test host).
pub fn wrap_late(lua: &Lua, ud: &LuaAnyUserData) -> LuaResult<()> {
    match lua.named_registry_value::<Option<LuaFunction>>(LATE)? {
        Some(f) => f.call(ud),
        None => Ok(()),
    }
}
