//! List views (`rd.entries`, `rd.messages`, `rd.readstates`, `m.entries`,
//! `node.read_states`). A view shares its items with the object it came
//! from; every element read from it is a new, independent object, so holding
//! one element or view never changes another.

use std::rc::Rc;

use mlua::prelude::*;
use raft_core::eraftpb::{Entry, Message};

use crate::error::Error;
use crate::pb::entry::LEntry;
use crate::pb::message::LMessage;
use crate::pb::presence::Msg;
use crate::readstate::LReadState;
use crate::util::{to_u64, unknown_member};

/// What a view lists.
#[derive(Debug, Clone)]
enum Items {
    Entries(Rc<Vec<Entry>>),
    Messages(Rc<Vec<Message>>),
    ReadStates(Rc<Vec<LReadState>>),
}

/// A read-only, 1-based list view.
#[derive(Debug, Clone)]
pub struct LList {
    items: Items,
}

impl LList {
    /// A view of entries.
    pub fn entries_view(v: Rc<Vec<Entry>>) -> Self {
        LList {
            items: Items::Entries(v),
        }
    }
    /// A view of messages.
    pub fn messages_view(v: Rc<Vec<Message>>) -> Self {
        LList {
            items: Items::Messages(v),
        }
    }
    /// A view of read states.
    pub fn read_states_view(v: Rc<Vec<LReadState>>) -> Self {
        LList {
            items: Items::ReadStates(v),
        }
    }
    /// The entries, if this is an entry view.
    pub fn entries(&self) -> Option<Vec<Entry>> {
        match &self.items {
            Items::Entries(v) => Some(v.as_ref().clone()),
            _ => None,
        }
    }
    /// The read states, if this is a read-state view.
    pub fn read_states(&self) -> Option<Vec<LReadState>> {
        match &self.items {
            Items::ReadStates(v) => Some(v.as_ref().clone()),
            _ => None,
        }
    }
    fn len(&self) -> usize {
        match &self.items {
            Items::Entries(v) => v.len(),
            Items::Messages(v) => v.len(),
            Items::ReadStates(v) => v.len(),
        }
    }
    /// Element `i` (1-based) as a new Lua object, or nil.
    fn at(&self, lua: &Lua, i: i64) -> LuaResult<LuaValue> {
        let Some(i) = usize::try_from(i).ok().and_then(|i| i.checked_sub(1)) else {
            return Ok(LuaValue::Nil);
        };
        if i >= self.len() {
            return Ok(LuaValue::Nil);
        }
        match &self.items {
            Items::Entries(v) => LEntry(v[i].clone()).into_lua(lua),
            Items::Messages(v) => LMessage(Msg::full(v[i].clone())).into_lua(lua),
            Items::ReadStates(v) => v[i].clone().into_lua(lua),
        }
    }
}

fn index_arg(v: &LuaValue) -> LuaResult<i64> {
    Ok(to_u64(v, "list index")? as i64)
}

impl LuaUserData for LList {
    fn add_methods<M: LuaUserDataMethods<Self>>(m: &mut M) {
        m.add_method("size", |_, t, ()| Ok(t.len() as i64));
        m.add_method("empty", |_, t, ()| Ok(t.len() == 0));
        m.add_method("at", |lua, t, i: LuaValue| t.at(lua, index_arg(&i)?));
        m.add_function("ipairs", |lua, this: LuaAnyUserData| {
            if !this.is::<LList>() {
                return Err(
                    Error::ty("list:ipairs", "a list view", &LuaValue::UserData(this)).into(),
                );
            }
            let step = lua.create_function(|lua, (ud, i): (LuaAnyUserData, i64)| {
                let l = ud.borrow::<LList>()?;
                let next = i + 1;
                let v = l.at(lua, next)?;
                if v.is_nil() {
                    Ok((LuaValue::Nil, LuaValue::Nil))
                } else {
                    Ok((LuaValue::Integer(next), v))
                }
            })?;
            Ok((step, this, 0i64))
        });
        m.add_meta_method(LuaMetaMethod::Len, |_, t, ()| Ok(t.len() as i64));
        m.add_meta_method(LuaMetaMethod::Index, |lua, t, k: LuaValue| match &k {
            LuaValue::Integer(i) => t.at(lua, *i),
            LuaValue::Number(_) => t.at(lua, index_arg(&k)?),
            _ => Err(unknown_member("list", &k)),
        });
        m.add_meta_method(
            LuaMetaMethod::NewIndex,
            |_, _, (k, _v): (LuaValue, LuaValue)| -> LuaResult<()> {
                Err(Error::invalid(
                    "list views are read-only",
                    format!(
                        "assignment to {}",
                        crate::util::key_str(&k).unwrap_or_else(|| format!("{k:?}"))
                    ),
                )
                .into())
            },
        );
        m.add_meta_method(LuaMetaMethod::ToString, |_, t, ()| {
            Ok(format!("list({} items)", t.len()))
        });
    }
}
