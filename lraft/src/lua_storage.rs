//! `lraft.ldbstorage(tbl)`: a [`Storage`] whose methods call back into a Lua
//! table (`tbl:InitialState()`, `tbl:Entries(lo, hi, max_size)`, ...).
//!
//! The core calls storage methods with `&self` from inside rawnode calls, so
//! callbacks run while the node is busy; they must not call the same node
//! again (the node raises a clear error if they do). A callback that raises,
//! is missing or returns the wrong types becomes a storage error whose
//! message names the callback; the rawnode call then raises it.

use std::rc::Rc;

use mlua::prelude::*;
use raft_core::eraftpb::{Entry, HardState, Snapshot};
use raft_core::{RaftState, Result as CoreResult, Storage, StorageError};

use crate::error::Error;
use crate::error::{storage_error, OK};
use crate::pb::entry::entries_from_lua;
use crate::pb::hardstate::LHardState;
use crate::pb::snapshot::LSnapshot;
use crate::util::type_desc;

/// The storage object handed to the core.
#[derive(Debug)]
pub struct LuaStorage {
    tbl: LuaTable,
}

/// The Lua-visible wrapper (`s.base`), assignable to `cfg.Storage`.
#[derive(Debug, Clone)]
pub struct LStorageBase(pub Rc<LuaStorage>);

impl LuaUserData for LStorageBase {
    fn add_fields<F: LuaUserDataFields<Self>>(f: &mut F) {
        f.add_field_method_get("impl", |_, t| Ok(t.0.tbl.clone()));
    }
    fn add_methods<M: LuaUserDataMethods<Self>>(m: &mut M) {
        m.add_meta_method(LuaMetaMethod::ToString, |_, _, ()| Ok("ldbstorage base"));
        m.add_meta_method(LuaMetaMethod::Index, |_, _, k: LuaValue| -> LuaResult<()> {
            Err(crate::util::unknown_member("ldbstorage base", &k))
        });
    }
}

/// `lraft.ldbstorage(tbl)`.
pub fn new_lua_storage(_: &Lua, v: LuaValue) -> LuaResult<LStorageBase> {
    match v {
        LuaValue::Table(tbl) => Ok(LStorageBase(Rc::new(LuaStorage { tbl }))),
        other => Err(Error::ty(
            "lraft.ldbstorage",
            "a table implementing the storage callbacks",
            &other,
        )
        .into()),
    }
}

fn fail(name: &str, msg: impl std::fmt::Display) -> raft_core::Error {
    raft_core::Error::Store(StorageError::Other(format!(
        "storage callback {name}: {msg}"
    )))
}

impl LuaStorage {
    fn call(&self, name: &str, args: impl IntoLuaMulti) -> CoreResult<Vec<LuaValue>> {
        let f: LuaValue = self.tbl.get(name).map_err(|e| {
            fail(
                name,
                format!("lookup failed: {}", crate::errors::message(&e)),
            )
        })?;
        let f = match f {
            LuaValue::Function(f) => f,
            LuaValue::Nil => return Err(fail(name, "is missing")),
            other => {
                return Err(fail(
                    name,
                    format!("is not a function but a {}", type_desc(&other)),
                ))
            }
        };
        let args = (self.tbl.clone(), args);
        f.call::<LuaMultiValue>(args)
            .map(|v| v.into_iter().collect())
            .map_err(|e| fail(name, format!("raised: {}", crate::errors::message(&e))))
    }

    fn code(name: &str, v: Option<&LuaValue>) -> CoreResult<()> {
        match v {
            Some(LuaValue::Integer(c)) if *c == OK => Ok(()),
            Some(LuaValue::Integer(c)) => Err(raft_core::Error::Store(storage_error(*c, name))),
            Some(LuaValue::Number(f)) if *f == OK as f64 => Ok(()),
            other => Err(fail(
                name,
                format!(
                    "expected an error code as the first result, got {}",
                    other.map(type_desc).unwrap_or_else(|| "nothing".into())
                ),
            )),
        }
    }

    fn index_result(&self, name: &str, args: impl IntoLuaMulti) -> CoreResult<u64> {
        let r = self.call(name, args)?;
        Self::code(name, r.first())?;
        match r.get(1) {
            Some(LuaValue::Integer(i)) if *i >= 0 => Ok(*i as u64),
            Some(LuaValue::Number(f)) if *f >= 0.0 && f.fract() == 0.0 && *f < 1.8e19 => {
                Ok(*f as u64)
            }
            other => Err(fail(
                name,
                format!(
                    "expected a non-negative integer as the second result, got {}",
                    other.map(type_desc).unwrap_or_else(|| "nothing".into())
                ),
            )),
        }
    }

    fn snapshot_value(name: &str, v: Option<&LuaValue>) -> CoreResult<Snapshot> {
        if let Some(LuaValue::UserData(ud)) = v {
            if let Ok(s) = ud.borrow::<LSnapshot>() {
                return Ok(s.get());
            }
        }
        Err(fail(
            name,
            format!(
                "expected a snapshot, got {}",
                v.map(type_desc).unwrap_or_else(|| "nothing".into())
            ),
        ))
    }
}

impl Storage for LuaStorage {
    fn initial_state(&self) -> CoreResult<RaftState> {
        const NAME: &str = "InitialState";
        let r = self.call(NAME, ())?;
        let hard_state: HardState = match r.first() {
            Some(LuaValue::UserData(ud)) if ud.is::<LHardState>() => {
                ud.borrow::<LHardState>().map_err(|e| fail(NAME, e))?.0.hs
            }
            Some(LuaValue::Nil) => HardState::default(),
            other => {
                return Err(fail(
                    NAME,
                    format!(
                        "expected a hardstate as the first result, got {}",
                        other.map(type_desc).unwrap_or_else(|| "nothing".into())
                    ),
                ))
            }
        };
        let conf_state = match r.get(1) {
            None | Some(LuaValue::Nil) => Default::default(),
            v => Self::snapshot_value(NAME, v)?.metadata.conf_state,
        };
        Ok(RaftState {
            hard_state,
            conf_state,
        })
    }

    fn entries(&self, low: u64, high: u64, max_size: u64) -> CoreResult<Vec<Entry>> {
        const NAME: &str = "Entries";
        let max = if max_size > i64::MAX as u64 {
            i64::MAX
        } else {
            max_size as i64
        };
        let r = self.call(NAME, (low as i64, high as i64, max))?;
        Self::code(NAME, r.first())?;
        let list = r.get(1).cloned().unwrap_or(LuaValue::Nil);
        let ents = entries_from_lua(&list, "result").map_err(|e| {
            fail(
                NAME,
                format!("bad entry list: {}", crate::errors::message(&e)),
            )
        })?;
        if ents.is_empty() && low < high {
            return Err(fail(NAME, "returned no entries for a non-empty range"));
        }
        if ents.len() as u64 > high.saturating_sub(low) {
            return Err(fail(NAME, "returned more entries than requested"));
        }
        for (k, e) in ents.iter().enumerate() {
            if e.index != low + k as u64 {
                return Err(fail(
                    NAME,
                    format!(
                        "entry {} has index {}, expected {}",
                        k + 1,
                        e.index,
                        low + k as u64
                    ),
                ));
            }
        }
        Ok(ents)
    }

    fn term(&self, idx: u64) -> CoreResult<u64> {
        self.index_result("Term", idx as i64)
    }

    fn first_index(&self) -> CoreResult<u64> {
        self.index_result("FirstIndex", ())
    }

    fn last_index(&self) -> CoreResult<u64> {
        self.index_result("LastIndex", ())
    }

    fn snapshot(&self) -> CoreResult<Snapshot> {
        const NAME: &str = "Snapshot";
        let r = self.call(NAME, ())?;
        if let Some(c) = r.get(1) {
            if !c.is_nil() {
                Self::code(NAME, Some(c))?;
            }
        }
        Self::snapshot_value(NAME, r.first())
    }
}

impl Storage for LStorageBase {
    fn initial_state(&self) -> CoreResult<RaftState> {
        self.0.initial_state()
    }
    fn entries(&self, low: u64, high: u64, max_size: u64) -> CoreResult<Vec<Entry>> {
        self.0.entries(low, high, max_size)
    }
    fn term(&self, idx: u64) -> CoreResult<u64> {
        self.0.term(idx)
    }
    fn first_index(&self) -> CoreResult<u64> {
        self.0.first_index()
    }
    fn last_index(&self) -> CoreResult<u64> {
        self.0.last_index()
    }
    fn snapshot(&self) -> CoreResult<Snapshot> {
        self.0.snapshot()
    }
}
