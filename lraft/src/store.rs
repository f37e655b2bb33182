//! `lraft.store`: the native durable Raft log store of `raft-store` (LevelDB
//! with fsync, many groups per database) as Lua objects. A group is usable
//! as `cfg.Storage` and has memorystorage's write methods, plus `persist`
//! for a whole Ready in one synced batch.
//!
//! ```lua
//! local store = assert(raft.store.open(path, { sync = true, cache_bytes = 4 << 20 }))
//! local g = store:group(1)
//! cfg.Storage = g
//! -- in the Ready loop:
//! g:persist(rd)              -- hard state, snapshot, entries: durable now
//! store:close()
//! ```

use mlua::prelude::*;
use raft_core::Storage;
use raft_store::{Group, Store, StoreOptions};

use crate::error::{code_or_raise, Error, ERR_APPEND_OUT_OF_DATA, OK};
use crate::memory_storage::{
    add_storage_queries, contiguous_entries, create_snapshot_args, snapshot_result,
};
use crate::pb::hardstate::{hardstate_from_lua, LHardState};
use crate::pb::presence::Hs;
use crate::pb::snapshot::snapshot_from_lua;
use crate::ready::LReady;
use crate::util::{key_str, to_bool, to_u64, type_desc, unknown_member};

/// An open store (`lraft.store.open`).
pub struct LStore(Store);

/// A group of a store: a storage for `cfg.Storage`.
#[derive(Clone)]
pub struct LStoreGroup(pub Group);

fn raise(what: &str, e: raft_core::Error) -> LuaError {
    Error::core(what, e).into()
}

fn options_from_lua(path: String, v: &LuaValue) -> LuaResult<StoreOptions> {
    let mut o = StoreOptions::new(path);
    let t = match v {
        LuaValue::Nil => return Ok(o),
        LuaValue::Table(t) => t,
        other => {
            return Err(Error::invalid(
                "store.open",
                format!("options must be a table, got {}", type_desc(other)),
            )
            .into())
        }
    };
    for pair in t.pairs::<LuaValue, LuaValue>() {
        let (k, val) = pair?;
        let name = key_str(&k).unwrap_or_default();
        let what = format!("store.open: option {name}");
        match name.as_str() {
            "sync" => o.sync = to_bool(&val, &what)?,
            "cache_bytes" => {
                if matches!(val, LuaValue::Integer(i) if i < 0)
                    || matches!(val, LuaValue::Number(f) if f < 0.0)
                {
                    return Err(Error::invalid(what, "must not be negative").into());
                }
                o.cache_bytes = usize::try_from(to_u64(&val, &what)?).unwrap_or(usize::MAX)
            }
            _ => {
                return Err(Error::invalid("store.open", format!("unknown option '{name}'")).into())
            }
        }
    }
    Ok(o)
}

/// `lraft.store.open(path[, {sync=, cache_bytes=}])` -> store, or nil and
/// a message (a damaged file, a directory another process holds).
fn open(lua: &Lua, (path, opts): (LuaValue, LuaValue)) -> LuaResult<LuaMultiValue> {
    let LuaValue::String(p) = &path else {
        return Err(Error::invalid(
            "store.open",
            format!("path must be a string, got {}", type_desc(&path)),
        )
        .into());
    };
    let path = p.to_str()?.to_string();
    if path.is_empty() {
        return Err(Error::invalid("store.open", "path is empty").into());
    }
    let o = options_from_lua(path, &opts)?;
    match Store::open(o) {
        Ok(s) => {
            let ud = lua.create_userdata(LStore(s))?;
            crate::errors::wrap_late(lua, &ud)?;
            ud.into_lua_multi(lua)
        }
        Err(e) => (LuaValue::Nil, e.to_string()).into_lua_multi(lua),
    }
}

impl LuaUserData for LStore {
    fn add_methods<M: LuaUserDataMethods<Self>>(m: &mut M) {
        m.add_method("group", |lua, t, id: LuaValue| {
            let id = to_u64(&id, "store:group: id")?;
            let g =
                t.0.open_group(id)
                    .map(LStoreGroup)
                    .map_err(|e| raise("store:group", e))?;
            let ud = lua.create_userdata(g)?;
            crate::errors::wrap_late(lua, &ud)?;
            Ok(ud)
        });
        m.add_method("drop_group", |_, t, id: LuaValue| {
            let id = to_u64(&id, "store:drop_group: id")?;
            t.0.drop_group(id).map_err(|e| raise("store:drop_group", e))
        });
        m.add_method("close", |_, t, ()| {
            t.0.close().map_err(|e| raise("store:close", e))
        });
        m.add_method("path", |_, t, ()| Ok(t.0.path().display().to_string()));
        m.add_meta_method(LuaMetaMethod::Close, |_, t, ()| {
            t.0.close().map_err(|e| raise("store:close", e))
        });
        m.add_meta_method(LuaMetaMethod::ToString, |_, t, ()| {
            Ok(format!("store({})", t.0.path().display()))
        });
    }
}

impl LuaUserData for LStoreGroup {
    fn add_methods<M: LuaUserDataMethods<Self>>(m: &mut M) {
        // The optional second argument (ldbstorage's sync flag) is
        // accepted and ignored: every write is synced when the store syncs.
        m.add_method("append", |_, t, (v, _sync): (LuaValue, LuaValue)| {
            let what = "store group:append";
            let ents = contiguous_entries(&v, what)?;
            match t.0.append(&ents) {
                Ok(()) => Ok(OK),
                Err(raft_core::Error::Invariant(_)) => Ok(ERR_APPEND_OUT_OF_DATA),
                Err(e) => code_or_raise(e, what),
            }
        });
        m.add_method("apply_snapshot", |_, t, v: LuaValue| {
            let what = "store group:apply_snapshot";
            let s = snapshot_from_lua(&v, what)?;
            match t.0.apply_snapshot(&s) {
                Ok(()) => Ok(OK),
                Err(e) => code_or_raise(e, what),
            }
        });
        m.add_method("set_hardstate", |_, t, v: LuaValue| {
            let what = "store group:set_hardstate";
            let hs = hardstate_from_lua(&v, what)?;
            t.0.set_hard_state(hs.hs).map_err(|e| raise(what, e))
        });
        m.add_method("compact", |_, t, v: LuaValue| {
            let what = "store group:compact";
            let i = to_u64(&v, what)?;
            match t.0.compact(i) {
                Ok(()) => Ok(OK),
                Err(e) => code_or_raise(e, what),
            }
        });
        m.add_method(
            "create_snapshot",
            |lua, t, (i, cs, data): (LuaValue, LuaValue, LuaValue)| {
                let what = "store group:create_snapshot";
                let (i, cs, data) = create_snapshot_args(&i, &cs, &data, what)?;
                snapshot_result(lua, t.0.create_snapshot(i, cs, data), what)
            },
        );
        m.add_method("persist", |_, t, rd: LuaValue| {
            let what = "store group:persist";
            let LuaValue::UserData(ud) = &rd else {
                return Err(Error::ty(what, "a ready", &rd).into());
            };
            let rd = ud
                .borrow::<LReady>()
                .map_err(|_| Error::ty(what, "a ready", &rd))?;
            let (hs, snap, ents, must_sync) = rd.persisted_parts();
            t.0.persist(hs, snap, ents, must_sync)
                .map_err(|e| raise(what, e))
        });
        add_storage_queries(m, "store group", |t| &t.0);
        m.add_method("id", |_, t, ()| Ok(crate::util::lua_u64(t.0.id())));
        m.add_meta_method(LuaMetaMethod::Index, |_, t, k: LuaValue| {
            match key_str(&k).as_deref() {
                Some("hardstate") => Ok(LHardState(Hs::full(t.0.hard_state()))),
                _ => Err(unknown_member("store group", &k)),
            }
        });
        m.add_meta_method(LuaMetaMethod::ToString, |_, t, ()| {
            let first = t.0.first_index().unwrap_or(0);
            let last = t.0.last_index().unwrap_or(0);
            Ok(format!(
                "store group {}{{first={first}, last={last}}}",
                t.0.id()
            ))
        });
    }
}

/// Builds the `lraft.store` table.
pub fn module(lua: &Lua) -> LuaResult<LuaTable> {
    let t = lua.create_table()?;
    t.set("open", lua.create_function(open)?)?;
    Ok(t)
}
