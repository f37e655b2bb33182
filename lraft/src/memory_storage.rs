//! `lraft.memorystorage()`: the core's in-memory [`MemoryStorage`] as a Lua
//! object. The object and every config holding it share one storage, so
//! the application appends through the object while the node reads through
//! `cfg.Storage`.

use std::rc::Rc;

use bytes::Bytes;
use mlua::prelude::*;
use raft_core::eraftpb::{ConfState, Entry, Snapshot};
use raft_core::{Error, MemoryStorage, RaftState, Storage};

use crate::error::{code_or_raise, Error as LraftError, ERR_APPEND_OUT_OF_DATA, OK};
use crate::list::LList;
use crate::pb::entry::entries_from_lua;
use crate::pb::hardstate::{hardstate_from_lua, LHardState};
use crate::pb::presence::Hs;
use crate::pb::snapshot::{conf_state_from_lua, snapshot_from_lua, LSnapshot};
use crate::ready::LReady;
use crate::util::{key_str, lua_u64, to_bytes, to_u64, to_u64_trunc, unknown_member};

/// A memory storage as seen from Lua.
#[derive(Debug, Clone, Default)]
pub struct LMemoryStorage(pub MemoryStorage);

/// `err, value` for a storage query.
pub(crate) fn query(r: raft_core::Result<u64>, what: &str) -> LuaResult<(i64, LuaValue)> {
    match r {
        Ok(v) => Ok((OK, lua_u64(v))),
        Err(e) => Ok((code_or_raise(e, what)?, LuaValue::Integer(0))),
    }
}

/// The entries of an `append` argument, raising when they are not
/// consecutive (so that an invariant error of the append itself can only
/// be a gap after the last index).
pub(crate) fn contiguous_entries(v: &LuaValue, what: &str) -> LuaResult<Vec<Entry>> {
    let ents = entries_from_lua(v, what)?;
    for (k, w) in ents.windows(2).enumerate() {
        if w[0].index.checked_add(1) != Some(w[1].index) {
            return Err(LraftError::invalid(
                what,
                format!(
                    "entries are not contiguous at position {} (index {} after {})",
                    k + 2,
                    w[1].index,
                    w[0].index
                ),
            )
            .into());
        }
    }
    Ok(ents)
}

/// `lo, hi, max_size` of an `Entries` call (max nil = no limit).
pub(crate) fn entries_args(
    lo: &LuaValue,
    hi: &LuaValue,
    max: &LuaValue,
    what: &str,
) -> LuaResult<(u64, u64, u64)> {
    let lo = to_u64(lo, &format!("{what}: lo"))?;
    let hi = to_u64(hi, &format!("{what}: hi"))?;
    let max = if max.is_nil() {
        u64::MAX
    } else {
        to_u64_trunc(max, &format!("{what}: max_size"))?
    };
    Ok((lo, hi, max))
}

/// `err, entries` for the result of an `Entries` call.
pub(crate) fn entries_result(
    lua: &Lua,
    r: raft_core::Result<Vec<Entry>>,
    what: &str,
) -> LuaResult<(i64, LuaValue)> {
    match r {
        Ok(ents) => Ok((OK, LList::entries_view(Rc::new(ents)).into_lua(lua)?)),
        Err(e) => Ok((
            code_or_raise(e, what)?,
            LuaValue::Table(lua.create_table()?),
        )),
    }
}

/// `index, conf state, data` of a `create_snapshot` call.
pub(crate) fn create_snapshot_args(
    i: &LuaValue,
    cs: &LuaValue,
    data: &LuaValue,
    what: &str,
) -> LuaResult<(u64, Option<ConfState>, Bytes)> {
    let i = to_u64(i, &format!("{what}: index"))?;
    let cs = if cs.is_nil() {
        None
    } else {
        Some(conf_state_from_lua(cs, &format!("{what}: conf state"))?)
    };
    let data = if data.is_nil() {
        Bytes::new()
    } else {
        to_bytes(data, &format!("{what}: data"))?
    };
    Ok((i, cs, data))
}

/// `err, snapshot` for the result of a `create_snapshot` call.
pub(crate) fn snapshot_result(
    lua: &Lua,
    r: raft_core::Result<Snapshot>,
    what: &str,
) -> LuaResult<(i64, LuaValue)> {
    match r {
        Ok(s) => Ok((OK, LSnapshot::new(s).into_lua(lua)?)),
        Err(e) => Ok((code_or_raise(e, what)?, LSnapshot::default().into_lua(lua)?)),
    }
}

/// The two values of `InitialState`.
pub(crate) fn initial_state_values(st: RaftState) -> (LHardState, LSnapshot) {
    let mut snap = Snapshot::default();
    snap.metadata.conf_state = st.conf_state;
    (LHardState(Hs::full(st.hard_state)), LSnapshot::new(snap))
}

impl LMemoryStorage {
    fn append(&self, v: &LuaValue) -> LuaResult<i64> {
        let ents = contiguous_entries(v, "memorystorage:append")?;
        match self.0.append_owned(ents) {
            Ok(()) => Ok(OK),
            // Consecutiveness was checked above: the only invariant left is
            // a gap after the last index.
            Err(Error::Invariant(_)) => Ok(ERR_APPEND_OUT_OF_DATA),
            Err(e) => code_or_raise(e, "memorystorage:append"),
        }
    }

    /// What a Ready asks to persist, in one call: its snapshot (if any),
    /// its entries, then its hard state. An error code as `append` gives.
    fn persist(&self, rd: &LuaValue) -> LuaResult<i64> {
        let what = "memorystorage:persist";
        let LuaValue::UserData(ud) = rd else {
            return Err(LraftError::ty(what, "a ready", rd).into());
        };
        let rd = ud
            .borrow::<LReady>()
            .map_err(|_| LraftError::ty(what, "a ready", rd))?;
        let (hs, snap, ents, _) = rd.persisted_parts();
        match self.0.persist(hs, snap, ents) {
            Ok(()) => Ok(OK),
            // As `append`: an invariant error is a gap after the last index
            // (the Ready's snapshot and entries passed the core's checks).
            Err(Error::Invariant(_)) => Ok(ERR_APPEND_OUT_OF_DATA),
            Err(e) => code_or_raise(e, what),
        }
    }

    fn create_snapshot(
        &self,
        lua: &Lua,
        i: &LuaValue,
        cs: &LuaValue,
        data: &LuaValue,
    ) -> LuaResult<(i64, LuaValue)> {
        let what = "memorystorage:create_snapshot";
        let (i, cs, data) = create_snapshot_args(i, cs, data, what)?;
        snapshot_result(lua, self.0.create_snapshot(i, cs, data), what)
    }
}

/// Adds the storage callbacks of the contract (`FirstIndex`, `LastIndex`,
/// `Term`, `Entries`, `Snapshot`, `InitialState`) to a Lua type wrapping a
/// core storage (memorystorage, a store group): one implementation for both.
pub(crate) fn add_storage_queries<T, S, M>(m: &mut M, name: &'static str, storage: fn(&T) -> &S)
where
    T: LuaUserData + 'static,
    S: Storage + 'static,
    M: LuaUserDataMethods<T>,
{
    m.add_method("FirstIndex", move |_, t, ()| {
        query(storage(t).first_index(), &format!("{name}:FirstIndex"))
    });
    m.add_method("LastIndex", move |_, t, ()| {
        query(storage(t).last_index(), &format!("{name}:LastIndex"))
    });
    m.add_method("Term", move |_, t, i: LuaValue| {
        let what = format!("{name}:Term");
        let i = to_u64(&i, &what)?;
        query(storage(t).term(i), &what)
    });
    m.add_method(
        "Entries",
        move |lua, t, (lo, hi, max): (LuaValue, LuaValue, LuaValue)| {
            let what = format!("{name}:Entries");
            let (lo, hi, max) = entries_args(&lo, &hi, &max, &what)?;
            entries_result(lua, storage(t).entries(lo, hi, max), &what)
        },
    );
    m.add_method("Snapshot", move |lua, t, ()| {
        let s = storage(t)
            .snapshot()
            .map_err(|e| LraftError::core(format!("{name}:Snapshot"), e))?;
        (LSnapshot::new(s), OK).into_lua_multi(lua)
    });
    m.add_method("InitialState", move |_, t, ()| {
        let st = storage(t)
            .initial_state()
            .map_err(|e| LraftError::core(format!("{name}:InitialState"), e))?;
        Ok(initial_state_values(st))
    });
}

impl LuaUserData for LMemoryStorage {
    fn add_methods<M: LuaUserDataMethods<Self>>(m: &mut M) {
        m.add_method("append", |_, t, v: LuaValue| t.append(&v));
        m.add_method("persist", |_, t, rd: LuaValue| t.persist(&rd));
        m.add_method("apply_snapshot", |_, t, v: LuaValue| {
            let s = snapshot_from_lua(&v, "memorystorage:apply_snapshot")?;
            match t.0.apply_snapshot(s) {
                Ok(()) => Ok(OK),
                Err(e) => code_or_raise(e, "memorystorage:apply_snapshot"),
            }
        });
        m.add_method("set_hardstate", |_, t, v: LuaValue| {
            let hs = hardstate_from_lua(&v, "memorystorage:set_hardstate")?;
            t.0.set_hard_state(hs.hs);
            Ok(())
        });
        m.add_method("compact", |_, t, v: LuaValue| {
            let i = to_u64(&v, "memorystorage:compact")?;
            match t.0.compact(i) {
                Ok(()) => Ok(OK),
                Err(e) => code_or_raise(e, "memorystorage:compact"),
            }
        });
        m.add_method(
            "create_snapshot",
            |lua, t, (i, cs, data): (LuaValue, LuaValue, LuaValue)| {
                t.create_snapshot(lua, &i, &cs, &data)
            },
        );
        add_storage_queries(m, "memorystorage", |t| &t.0);
        m.add_meta_method(LuaMetaMethod::Index, |_, t, k: LuaValue| {
            match key_str(&k).as_deref() {
                Some("hardstate") => Ok(LHardState(Hs::full(t.0.hard_state()))),
                _ => Err(unknown_member("memorystorage", &k)),
            }
        });
        m.add_meta_method(
            LuaMetaMethod::NewIndex,
            |_, t, (k, v): (LuaValue, LuaValue)| match key_str(&k).as_deref() {
                Some("hardstate") => {
                    let hs = hardstate_from_lua(&v, "memorystorage.hardstate")?;
                    t.0.set_hard_state(hs.hs);
                    Ok(())
                }
                _ => Err(unknown_member("memorystorage", &k)),
            },
        );
        m.add_meta_method(LuaMetaMethod::ToString, |_, t, ()| {
            let first = t.0.first_index().unwrap_or(0);
            let last = t.0.last_index().unwrap_or(0);
            Ok(format!("memorystorage{{first={first}, last={last}}}"))
        });
    }
}

/// `lraft.memorystorage()`.
pub fn new_memory_storage(_: &Lua, _: ()) -> LuaResult<LMemoryStorage> {
    Ok(LMemoryStorage(MemoryStorage::new()))
}

/// Reads a memorystorage argument, if `v` is one.
pub fn memory_storage_from_lua(v: &LuaValue) -> Option<MemoryStorage> {
    match v {
        LuaValue::UserData(ud) => ud.borrow::<LMemoryStorage>().ok().map(|s| s.0.clone()),
        _ => None,
    }
}
