//! `lraft.pb`: message constructors, enums and codecs.

pub mod codec;
pub mod confchange;
pub mod entry;
pub mod hardstate;
pub mod message;
pub mod presence;
pub mod snapshot;

use mlua::prelude::*;
use raft_core::eraftpb::{ConfChangeTransition, ConfChangeType, EntryType, MessageType};

use crate::util::to_u64;

/// The largest message type number.
const MESSAGE_TYPE_MAX: i32 = MessageType::MsgForgetLeader as i32;

/// Builds the `pb` table.
pub fn module(lua: &Lua) -> LuaResult<LuaTable> {
    let t = lua.create_table()?;
    t.set("entry", lua.create_function(entry::new_entry)?)?;
    t.set("message", lua.create_function(message::new_message)?)?;
    t.set("hardstate", lua.create_function(hardstate::new_hardstate)?)?;
    t.set(
        "confchange",
        lua.create_function(|_, ()| Ok(confchange::LConfChange::default()))?,
    )?;
    t.set(
        "confchangev2",
        lua.create_function(|_, ()| Ok(confchange::LConfChangeV2::default()))?,
    )?;
    t.set(
        "snapshot",
        lua.create_function(|_, ()| Ok(snapshot::LSnapshot::default()))?,
    )?;
    t.set(
        "conf_state",
        lua.create_function(|_, v: LuaValue| {
            Ok(snapshot::LConfState::new(snapshot::conf_state_from_lua(
                &v,
                "pb.conf_state",
            )?))
        })?,
    )?;
    t.set(
        "typename",
        lua.create_function(|_, v: LuaValue| Ok(typename(&v)))?,
    )?;
    for e in [
        EntryType::EntryNormal,
        EntryType::EntryConfChange,
        EntryType::EntryConfChangeV2,
    ] {
        t.set(e.as_str_name(), e as i32)?;
    }
    for i in 0..=MESSAGE_TYPE_MAX {
        if let Ok(m) = MessageType::try_from(i) {
            t.set(m.as_str_name(), i)?;
        }
    }
    t.set("MessageType_MIN", 0)?;
    t.set("MessageType_MAX", MESSAGE_TYPE_MAX)?;
    t.set(
        "MessageType_Name",
        lua.create_function(|_, v: LuaValue| {
            let n = to_u64(&v, "pb.MessageType_Name")? as i64;
            Ok(i32::try_from(n)
                .ok()
                .and_then(|n| MessageType::try_from(n).ok())
                .map(|m| m.as_str_name().to_string()))
        })?,
    )?;
    for c in [
        ConfChangeType::ConfChangeAddNode,
        ConfChangeType::ConfChangeRemoveNode,
        ConfChangeType::ConfChangeUpdateNode,
        ConfChangeType::ConfChangeAddLearnerNode,
    ] {
        t.set(c.as_str_name(), c as i32)?;
    }
    for c in [
        ConfChangeTransition::ConfChangeTransitionAuto,
        ConfChangeTransition::ConfChangeTransitionJointImplicit,
        ConfChangeTransition::ConfChangeTransitionJointExplicit,
    ] {
        t.set(c.as_str_name(), c as i32)?;
    }
    Ok(t)
}

/// The name of a pb object's type (`"entry"`, `"message"`, ...), or nil for
/// any other value.
fn typename(v: &LuaValue) -> Option<&'static str> {
    let LuaValue::UserData(ud) = v else {
        return None;
    };
    if ud.is::<entry::LEntry>() {
        Some("entry")
    } else if ud.is::<message::LMessage>() {
        Some("message")
    } else if ud.is::<hardstate::LHardState>() {
        Some("hardstate")
    } else if ud.is::<snapshot::LSnapshot>() {
        Some("snapshot")
    } else if ud.is::<snapshot::LConfState>() {
        Some("conf_state")
    } else if ud.is::<confchange::LConfChange>() {
        Some("confchange")
    } else if ud.is::<confchange::LConfChangeV2>() {
        Some("confchangev2")
    } else {
        None
    }
}
