//! What `cfg.Storage` may hold, and the boxed storage handed to the core.

use std::rc::Rc;

use mlua::prelude::*;
use raft_core::{MemoryStorage, Storage};

use crate::error::Error;
use crate::lua_storage::{LStorageBase, LuaStorage};
use crate::memory_storage::{memory_storage_from_lua, LMemoryStorage};
use crate::store::LStoreGroup;

/// A storage assignable to `cfg.Storage`.
#[derive(Debug, Clone)]
pub enum StorageRef {
    /// A `memorystorage` (shared with the Lua object it came from).
    Memory(MemoryStorage),
    /// The `base` of a storage written in Lua.
    Lua(Rc<LuaStorage>),
    /// A group of a native store (`lraft.store`).
    Store(raft_store::Group),
}

impl StorageRef {
    /// Reads a `cfg.Storage` value; anything else raises.
    pub fn from_lua_value(v: &LuaValue, what: &str) -> LuaResult<StorageRef> {
        if let Some(m) = memory_storage_from_lua(v) {
            return Ok(StorageRef::Memory(m));
        }
        if let LuaValue::UserData(ud) = v {
            if let Ok(b) = ud.borrow::<LStorageBase>() {
                return Ok(StorageRef::Lua(b.0.clone()));
            }
            if let Ok(g) = ud.borrow::<LStoreGroup>() {
                return Ok(StorageRef::Store(g.0.clone()));
            }
        }
        Err(Error::ty(what, "a memorystorage, a store group (lraft.store) or the base of a Lua storage (raft.ldbstorage(tbl))", v).into())
    }

    /// The Lua value of the storage.
    pub fn to_lua(&self, lua: &Lua) -> LuaResult<LuaValue> {
        match self {
            StorageRef::Memory(m) => LMemoryStorage(m.clone()).into_lua(lua),
            StorageRef::Lua(s) => LStorageBase(s.clone()).into_lua(lua),
            StorageRef::Store(g) => LStoreGroup(g.clone()).into_lua(lua),
        }
    }

    /// The storage for the core.
    pub fn boxed(&self) -> Box<dyn Storage> {
        match self {
            StorageRef::Memory(m) => Box::new(m.clone()),
            StorageRef::Lua(s) => Box::new(s.clone()),
            StorageRef::Store(g) => Box::new(g.clone()),
        }
    }
}
