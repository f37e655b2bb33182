//! `pb.snapshot` with its `metadata` and `conf_state` views.

use std::cell::RefCell;
use std::rc::Rc;

use mlua::prelude::*;
use prost::Message as _;
use raft_core::eraftpb::{ConfState, Snapshot};

use super::codec::{add_codec_methods, Wire};

use crate::error::Error;
use crate::util::{lua_u64, to_bool, to_bytes, to_u64, to_u64_list, u64_list, unknown_member};

/// A snapshot as seen from Lua. Its `metadata` and `metadata.conf_state`
/// are views that write through to the same snapshot.
#[derive(Debug, Clone, Default)]
pub struct LSnapshot(pub Rc<RefCell<Snapshot>>);

impl LSnapshot {
    /// A snapshot object owning `s`.
    pub fn new(s: Snapshot) -> Self {
        LSnapshot(Rc::new(RefCell::new(s)))
    }
    /// A copy of the snapshot.
    pub fn get(&self) -> Snapshot {
        self.0.borrow().clone()
    }
}

impl Wire for LSnapshot {
    type Core = Snapshot;
    fn with_core<R>(&self, f: impl FnOnce(&Snapshot) -> R) -> R {
        f(&self.0.borrow())
    }
    fn set_core(&mut self, v: Snapshot) {
        *self.0.borrow_mut() = v;
    }
}

impl LuaUserData for LSnapshot {
    fn add_fields<F: LuaUserDataFields<Self>>(f: &mut F) {
        f.add_field_method_get("data", |lua, t| lua.create_string(t.0.borrow().data()));
        f.add_field_method_set("data", |_, t, v: LuaValue| {
            t.0.borrow_mut().data = match v {
                LuaValue::Nil => None,
                v => Some(to_bytes(&v, "snapshot.data")?),
            };
            Ok(())
        });
        f.add_field_method_get("metadata", |_, t| Ok(LSnapMeta(t.0.clone())));
    }
    fn add_methods<M: LuaUserDataMethods<Self>>(m: &mut M) {
        add_codec_methods(m, "snapshot");
        m.add_method("empty", |_, t, ()| Ok(t.0.borrow().metadata.index == 0));
        m.add_meta_method(LuaMetaMethod::ToString, |_, t, ()| {
            let s = t.0.borrow();
            Ok(format!(
                "snapshot{{index={}, term={}, {} bytes}}",
                s.metadata.index,
                s.metadata.term,
                s.data().len()
            ))
        });
        m.add_meta_method(LuaMetaMethod::Index, |_, _, k: LuaValue| -> LuaResult<()> {
            Err(unknown_member("snapshot", &k))
        });
        m.add_meta_method(
            LuaMetaMethod::NewIndex,
            |_, _, (k, _v): (LuaValue, LuaValue)| -> LuaResult<()> {
                Err(unknown_member("snapshot", &k))
            },
        );
    }
}

/// `snapshot.metadata`: a view of the snapshot's metadata.
#[derive(Debug, Clone)]
pub struct LSnapMeta(Rc<RefCell<Snapshot>>);

impl LuaUserData for LSnapMeta {
    fn add_fields<F: LuaUserDataFields<Self>>(f: &mut F) {
        f.add_field_method_get("index", |_, t| Ok(lua_u64(t.0.borrow().metadata.index)));
        f.add_field_method_get("term", |_, t| Ok(lua_u64(t.0.borrow().metadata.term)));
        f.add_field_method_set("index", |_, t, v: LuaValue| {
            t.0.borrow_mut().metadata.index = to_u64(&v, "metadata.index")?;
            Ok(())
        });
        f.add_field_method_set("term", |_, t, v: LuaValue| {
            t.0.borrow_mut().metadata.term = to_u64(&v, "metadata.term")?;
            Ok(())
        });
        f.add_field_method_get("conf_state", |_, t| {
            Ok(LConfState(CsRef::InSnapshot(t.0.clone())))
        });
        f.add_field_method_set("conf_state", |_, t, v: LuaValue| {
            let cs = conf_state_from_lua(&v, "metadata.conf_state")?;
            t.0.borrow_mut().metadata.conf_state = cs;
            Ok(())
        });
    }
    fn add_methods<M: LuaUserDataMethods<Self>>(m: &mut M) {
        m.add_meta_method(LuaMetaMethod::Index, |_, _, k: LuaValue| -> LuaResult<()> {
            Err(unknown_member("snapshot metadata", &k))
        });
        m.add_meta_method(
            LuaMetaMethod::NewIndex,
            |_, _, (k, _v): (LuaValue, LuaValue)| -> LuaResult<()> {
                Err(unknown_member("snapshot metadata", &k))
            },
        );
    }
}

/// Where a conf_state object keeps its data.
#[derive(Debug, Clone)]
pub enum CsRef {
    /// Its own.
    Owned(Rc<RefCell<ConfState>>),
    /// Inside a snapshot's metadata.
    InSnapshot(Rc<RefCell<Snapshot>>),
}

/// A conf state (`voters`, alias `nodes`; `learners`, `voters_outgoing`,
/// `learners_next`, `auto_leave`).
#[derive(Debug, Clone)]
pub struct LConfState(pub CsRef);

impl LConfState {
    /// A conf_state object owning `cs`.
    pub fn new(cs: ConfState) -> Self {
        LConfState(CsRef::Owned(Rc::new(RefCell::new(cs))))
    }
    /// A copy of the conf state.
    pub fn get(&self) -> ConfState {
        match &self.0 {
            CsRef::Owned(c) => c.borrow().clone(),
            CsRef::InSnapshot(s) => s.borrow().metadata.conf_state.clone(),
        }
    }
    fn with_mut<R>(&self, f: impl FnOnce(&mut ConfState) -> R) -> R {
        match &self.0 {
            CsRef::Owned(c) => f(&mut c.borrow_mut()),
            CsRef::InSnapshot(s) => f(&mut s.borrow_mut().metadata.conf_state),
        }
    }
}

fn cs_list<'a>(cs: &'a ConfState, k: &str) -> Option<&'a Vec<u64>> {
    match k {
        "voters" | "nodes" => Some(&cs.voters),
        "learners" => Some(&cs.learners),
        "voters_outgoing" => Some(&cs.voters_outgoing),
        "learners_next" => Some(&cs.learners_next),
        _ => None,
    }
}

impl LuaUserData for LConfState {
    fn add_methods<M: LuaUserDataMethods<Self>>(m: &mut M) {
        m.add_method("serialize", |lua, t, ()| {
            lua.create_string(t.get().encode_to_vec())
        });
        m.add_meta_method(LuaMetaMethod::Index, |lua, t, k: LuaValue| {
            let cs = t.get();
            let name = crate::util::key_str(&k).unwrap_or_default();
            if let Some(l) = cs_list(&cs, &name) {
                return Ok(LuaValue::Table(u64_list(lua, l)?));
            }
            if name == "auto_leave" {
                return Ok(LuaValue::Boolean(cs.auto_leave));
            }
            Err(unknown_member("conf_state", &k))
        });
        m.add_meta_method(
            LuaMetaMethod::NewIndex,
            |_, t, (k, v): (LuaValue, LuaValue)| {
                let name = crate::util::key_str(&k).unwrap_or_default();
                let what = format!("conf_state.{name}");
                match name.as_str() {
                    "voters" | "nodes" => {
                        let l = to_u64_list(&v, &what)?;
                        t.with_mut(|c| c.voters = l);
                    }
                    "learners" => {
                        let l = to_u64_list(&v, &what)?;
                        t.with_mut(|c| c.learners = l);
                    }
                    "voters_outgoing" => {
                        let l = to_u64_list(&v, &what)?;
                        t.with_mut(|c| c.voters_outgoing = l);
                    }
                    "learners_next" => {
                        let l = to_u64_list(&v, &what)?;
                        t.with_mut(|c| c.learners_next = l);
                    }
                    "auto_leave" => {
                        let b = to_bool(&v, &what)?;
                        t.with_mut(|c| c.auto_leave = b);
                    }
                    _ => return Err(unknown_member("conf_state", &k)),
                }
                Ok(())
            },
        );
        m.add_meta_method(LuaMetaMethod::ToString, |_, t, ()| {
            let c = t.get();
            Ok(format!(
                "conf_state{{voters={:?}, learners={:?}}}",
                c.voters, c.learners
            ))
        });
    }
}

/// Reads a conf state: a conf_state object, a table `{voters=…|nodes=…,
/// learners=…, voters_outgoing=…, learners_next=…, auto_leave=…}`, or a plain
/// list of voter ids. `nil` is the empty conf state.
pub fn conf_state_from_lua(v: &LuaValue, what: &str) -> LuaResult<ConfState> {
    match v {
        LuaValue::Nil => Ok(ConfState::default()),
        LuaValue::UserData(ud) if ud.is::<LConfState>() => Ok(ud.borrow::<LConfState>()?.get()),
        LuaValue::Table(t) => {
            if t.raw_len() > 0 {
                return Ok(ConfState {
                    voters: to_u64_list(v, what)?,
                    ..Default::default()
                });
            }
            let voters: LuaValue = t.get("voters")?;
            let voters = if voters.is_nil() {
                t.get("nodes")?
            } else {
                voters
            };
            let auto: LuaValue = t.get("auto_leave")?;
            Ok(ConfState {
                voters: to_u64_list(&voters, &format!("{what}.voters"))?,
                learners: to_u64_list(&t.get("learners")?, &format!("{what}.learners"))?,
                voters_outgoing: to_u64_list(
                    &t.get("voters_outgoing")?,
                    &format!("{what}.voters_outgoing"),
                )?,
                learners_next: to_u64_list(
                    &t.get("learners_next")?,
                    &format!("{what}.learners_next"),
                )?,
                auto_leave: if auto.is_nil() {
                    false
                } else {
                    to_bool(&auto, &format!("{what}.auto_leave"))?
                },
            })
        }
        other => Err(Error::ty(what, "a conf_state, a table or a list of voter ids", other).into()),
    }
}

/// Reads a snapshot argument.
pub fn snapshot_from_lua(v: &LuaValue, what: &str) -> LuaResult<Snapshot> {
    if let LuaValue::UserData(ud) = v {
        if let Ok(s) = ud.borrow::<LSnapshot>() {
            return Ok(s.get());
        }
    }
    Err(Error::ty(what, "a snapshot", v).into())
}
