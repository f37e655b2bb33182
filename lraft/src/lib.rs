//! The `lraft` Lua 5.4 module: an etcd-style RawNode over `raft-core`, the
//! `pb` message types, storages (in memory, written in Lua, and the native
//! durable store `lraft.store`) and a LevelDB binding (`lraft.leveldb`).
//! The API follows the `lraft` compatibility contract.

pub mod bulk;
pub mod config;
pub mod crypto;
pub mod error;
pub mod errors;
pub mod leveldb;
pub mod list;
pub mod logger;
pub mod lua_storage;
pub mod memory_storage;
pub mod pb;
pub mod raw_node;
pub mod readstate;
pub mod ready;
pub mod status;
pub mod storage_ref;
pub mod store;
pub mod util;

use mlua::prelude::*;

/// Builds the module table.
pub fn module(lua: &Lua) -> LuaResult<LuaTable> {
    let t = lua.create_table()?;
    t.set("pb", pb::module(lua)?)?;
    t.set(
        "ldbstorage",
        lua.create_function(lua_storage::new_lua_storage)?,
    )?;
    t.set("rawnode", lua.create_function(raw_node::new_raw_node)?)?;
    t.set(
        "memorystorage",
        lua.create_function(memory_storage::new_memory_storage)?,
    )?;
    t.set("readstate", lua.create_function(readstate::new_readstate)?)?;
    t.set("leveldb", leveldb::module(lua)?)?;
    t.set("store", store::module(lua)?)?;
    crypto::register(lua, &t)?;
    t.set(
        "config",
        lua.create_function(|_, ()| Ok(config::LConfig::default()))?,
    )?;
    t.set(
        "default_logger",
        lua.create_function(|_, ()| Ok(logger::LLogger))?,
    )?;
    for (i, name) in logger::LEVELS.iter().enumerate() {
        t.set(*name, i as i64)?;
    }
    t.set(
        "IsLocalMsg",
        lua.create_function(|_, v: LuaValue| {
            let n = util::to_u64(&v, "IsLocalMsg")? as i64;
            Ok(i32::try_from(n)
                .ok()
                .and_then(|n| raft_core::eraftpb::MessageType::try_from(n).ok())
                .map(raft_core::is_local_msg)
                .unwrap_or(false))
        })?,
    )?;
    t.set(
        "IsEmptyHardState",
        lua.create_function(|_, v: LuaValue| {
            if v.is_nil() {
                return Ok(true);
            }
            let hs = pb::hardstate::hardstate_from_lua(&v, "IsEmptyHardState")?;
            Ok(hs.hs.is_empty())
        })?,
    )?;
    t.set("_VERSION", env!("CARGO_PKG_VERSION"))?;
    t.set("None", 0)?;
    t.set("noLimit", i64::MAX)?;
    for (name, v) in error::ERROR_CODES {
        t.set(*name, *v)?;
    }
    for (i, name) in [
        "StateFollower",
        "StateCandidate",
        "StateLeader",
        "StatePreCandidate",
    ]
    .iter()
    .enumerate()
    {
        t.set(*name, i as i64)?;
    }
    Ok(t)
}

/// One object of every userdata type of the module, so that
/// [`errors::install`] can wrap each type's methods. A new type must be
/// added here (`tests/lua/errors_spec.lua` checks the whole API).
fn samples(lua: &Lua) -> LuaResult<Vec<LuaAnyUserData>> {
    let snap = pb::snapshot::LSnapshot::default();
    let mut out = vec![
        lua.create_userdata(raw_node::new_raw_node(lua, ())?)?,
        lua.create_userdata(config::LConfig::default())?,
        lua.create_userdata(memory_storage::LMemoryStorage::default())?,
        lua.create_userdata(lua_storage::new_lua_storage(
            lua,
            LuaValue::Table(lua.create_table()?),
        )?)?,
        lua.create_userdata(readstate::LReadState::default())?,
        lua.create_userdata(ready::LReady::new(Default::default(), 0, 0))?,
        lua.create_userdata(list::LList::entries_view(Default::default()))?,
        lua.create_userdata(logger::LLogger)?,
        lua.create_userdata(pb::entry::LEntry::default())?,
        lua.create_userdata(pb::message::LMessage::default())?,
        lua.create_userdata(pb::hardstate::LHardState::default())?,
        lua.create_userdata(pb::confchange::LConfChange::default())?,
        lua.create_userdata(pb::confchange::LConfChangeV2::default())?,
        lua.create_userdata(pb::snapshot::LConfState::new(Default::default()))?,
    ];
    let snap = lua.create_userdata(snap)?;
    // The metadata object is only made by its snapshot.
    let meta: LuaAnyUserData = snap.get("metadata")?;
    out.push(snap);
    out.push(meta);
    out.extend(leveldb::samples(lua)?);
    Ok(out)
}

#[mlua::lua_module(name = "lraft")]
fn lraft_entry(lua: &Lua) -> LuaResult<LuaTable> {
    let t = module(lua)?;
    errors::install(lua, &[&t], samples(lua)?)?;
    Ok(t)
}

#[mlua::lua_module(name = "lraft_leveldb")]
fn lraft_leveldb_entry(lua: &Lua) -> LuaResult<LuaTable> {
    let t = leveldb::module(lua)?;
    errors::install(lua, &[&t], samples(lua)?)?;
    Ok(t)
}
