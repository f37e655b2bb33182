//! `pb.message`: a Raft message object with field presence.

use std::rc::Rc;

use mlua::prelude::*;

use super::codec::{add_codec_methods, Wire};
use super::entry::{entries_from_lua, LEntry};
use super::presence::{Msg, MSG_FIELDS};
use super::snapshot::LSnapshot;
use crate::error::Error;
use crate::list::LList;
use crate::util::{key_str, lua_u64, to_bool, to_bytes, to_u64, unknown_member};

/// A message as seen from Lua.
#[derive(Debug, Clone, Default)]
pub struct LMessage(pub Msg);

impl Wire for LMessage {
    type Core = raft_core::eraftpb::Message;
    fn with_core<R>(&self, f: impl FnOnce(&Self::Core) -> R) -> R {
        f(&self.0.m)
    }
    fn set_core(&mut self, v: Self::Core) {
        self.0 = Msg::full(v);
    }
    /// Refuses responses nested deeper than the core's limit, the one every
    /// encoder and decoder of the project applies.
    fn decode(b: &[u8]) -> Option<Self::Core> {
        raft_core::message_nesting::decode_message(b).ok()
    }
}

fn get(lua: &Lua, t: &LMessage, key: LuaValue) -> LuaResult<LuaValue> {
    if let LuaValue::Integer(i) = key {
        return match usize::try_from(i).ok().and_then(|i| i.checked_sub(1)) {
            Some(i) if i < t.0.m.entries.len() => LEntry(t.0.m.entries[i].clone()).into_lua(lua),
            _ => Ok(LuaValue::Nil),
        };
    }
    let Some(k) = key_str(&key) else {
        return Err(unknown_member("message", &key));
    };
    if let Some(i) = MSG_FIELDS.iter().position(|n| *n == k) {
        if t.0.has & Msg::bit(i) == 0 {
            return Ok(LuaValue::Nil);
        }
        if k == "reject" {
            return Ok(LuaValue::Boolean(t.0.m.reject));
        }
        if k == "type" {
            return Ok(LuaValue::Integer(i64::from(t.0.m.msg_type)));
        }
        return Ok(lua_u64(t.0.get(i)));
    }
    match k.as_str() {
        "context" => match &t.0.m.context {
            Some(c) => Ok(LuaValue::String(lua.create_string(c)?)),
            None => Ok(LuaValue::Nil),
        },
        "snapshot" => match &t.0.m.snapshot {
            Some(s) => LSnapshot::new((**s).clone()).into_lua(lua),
            None => Ok(LuaValue::Nil),
        },
        "entries" => LList::entries_view(Rc::new(t.0.m.entries.clone())).into_lua(lua),
        _ => Err(unknown_member("message", &key)),
    }
}

fn set(t: &mut LMessage, key: LuaValue, v: LuaValue) -> LuaResult<()> {
    let Some(k) = key_str(&key) else {
        return Err(unknown_member("message", &key));
    };
    if let Some(i) = MSG_FIELDS.iter().position(|n| *n == k) {
        let what = format!("message.{k}");
        if v.is_nil() {
            t.0.set(i, 0);
            t.0.has &= !Msg::bit(i);
            return Ok(());
        }
        let x = if k == "reject" {
            u64::from(to_bool(&v, &what)?)
        } else if k == "type" {
            let n = to_u64(&v, &what)? as i64;
            i32::try_from(n)
                .map_err(|_| Error::invalid(what, format!("value {n} out of range")))?;
            n as u64
        } else {
            to_u64(&v, &what)?
        };
        t.0.set(i, x);
        return Ok(());
    }
    match k.as_str() {
        "context" => {
            t.0.m.context = match v {
                LuaValue::Nil => None,
                v => Some(to_bytes(&v, "message.context")?),
            };
        }
        "snapshot" => {
            t.0.m.snapshot = match &v {
                LuaValue::Nil => None,
                LuaValue::UserData(ud) if ud.is::<LSnapshot>() => {
                    Some(Box::new(ud.borrow::<LSnapshot>()?.get()))
                }
                other => return Err(Error::ty("message.snapshot", "a snapshot", other).into()),
            };
        }
        "entries" => t.0.m.entries = entries_from_lua(&v, "message.entries")?,
        _ => return Err(unknown_member("message", &key)),
    }
    Ok(())
}

impl LuaUserData for LMessage {
    fn add_methods<M: LuaUserDataMethods<Self>>(m: &mut M) {
        add_codec_methods(m, "message");
        m.add_meta_method(LuaMetaMethod::Index, |lua, t, k: LuaValue| get(lua, t, k));
        m.add_meta_method_mut(
            LuaMetaMethod::NewIndex,
            |_, t, (k, v): (LuaValue, LuaValue)| set(t, k, v),
        );
        m.add_meta_method(
            LuaMetaMethod::Len,
            |_, t, ()| Ok(t.0.m.entries.len() as i64),
        );
        m.add_meta_method(LuaMetaMethod::ToString, |_, t, ()| {
            let ty = raft_core::eraftpb::MessageType::try_from(t.0.m.msg_type)
                .map(|x| x.as_str_name().to_string())
                .unwrap_or_else(|_| t.0.m.msg_type.to_string());
            Ok(format!(
                "message{{type={ty}, from={}, to={}, term={}, {} entries}}",
                t.0.m.from,
                t.0.m.to,
                t.0.m.term,
                t.0.m.entries.len()
            ))
        });
    }
}

/// `pb.message([copy_of])`.
pub fn new_message(_: &Lua, v: LuaValue) -> LuaResult<LMessage> {
    match &v {
        LuaValue::Nil => Ok(LMessage::default()),
        LuaValue::UserData(ud) if ud.is::<LMessage>() => Ok(ud.borrow::<LMessage>()?.clone()),
        other => Err(Error::ty("pb.message", "nothing or a message to copy", other).into()),
    }
}

/// Reads a message argument.
pub fn message_from_lua(v: &LuaValue, what: &str) -> LuaResult<Msg> {
    if let LuaValue::UserData(ud) = v {
        if let Ok(m) = ud.borrow::<LMessage>() {
            return Ok(m.0.clone());
        }
    }
    Err(Error::ty(what, "a message", v).into())
}
