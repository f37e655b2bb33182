//! `pb.hardstate`: term, vote and commit with field presence.

use mlua::prelude::*;

use super::codec::{add_codec_methods, Wire};
use super::presence::Hs;
use crate::error::Error;
use crate::util::{lua_u64, to_u64, unknown_member};

/// A hard state as seen from Lua; unset fields read as `nil`.
#[derive(Debug, Clone, Default)]
pub struct LHardState(pub Hs);

impl Wire for LHardState {
    type Core = raft_core::eraftpb::HardState;
    fn with_core<R>(&self, f: impl FnOnce(&Self::Core) -> R) -> R {
        f(&self.0.hs)
    }
    fn set_core(&mut self, v: Self::Core) {
        self.0 = Hs::full(v);
    }
}

fn field(t: &Hs, bit: u8, v: u64) -> LuaValue {
    if t.has & bit != 0 {
        lua_u64(v)
    } else {
        LuaValue::Nil
    }
}

impl LuaUserData for LHardState {
    fn add_fields<F: LuaUserDataFields<Self>>(f: &mut F) {
        f.add_field_method_get("term", |_, t| Ok(field(&t.0, Hs::TERM, t.0.hs.term)));
        f.add_field_method_get("vote", |_, t| Ok(field(&t.0, Hs::VOTE, t.0.hs.vote)));
        f.add_field_method_get("commit", |_, t| Ok(field(&t.0, Hs::COMMIT, t.0.hs.commit)));
        f.add_field_method_set("term", |_, t, v: LuaValue| {
            t.0.hs.term = to_u64(&v, "hardstate.term")?;
            t.0.has |= Hs::TERM;
            Ok(())
        });
        f.add_field_method_set("vote", |_, t, v: LuaValue| {
            t.0.hs.vote = to_u64(&v, "hardstate.vote")?;
            t.0.has |= Hs::VOTE;
            Ok(())
        });
        f.add_field_method_set("commit", |_, t, v: LuaValue| {
            t.0.hs.commit = to_u64(&v, "hardstate.commit")?;
            t.0.has |= Hs::COMMIT;
            Ok(())
        });
    }
    fn add_methods<M: LuaUserDataMethods<Self>>(m: &mut M) {
        add_codec_methods(m, "hardstate");
        m.add_meta_method(LuaMetaMethod::ToString, |_, t, ()| {
            Ok(format!(
                "hardstate{{term={}, vote={}, commit={}}}",
                t.0.hs.term, t.0.hs.vote, t.0.hs.commit
            ))
        });
        m.add_meta_method(LuaMetaMethod::Index, |_, _, k: LuaValue| -> LuaResult<()> {
            Err(unknown_member("hardstate", &k))
        });
        m.add_meta_method(
            LuaMetaMethod::NewIndex,
            |_, _, (k, _v): (LuaValue, LuaValue)| -> LuaResult<()> {
                Err(unknown_member("hardstate", &k))
            },
        );
    }
}

/// `pb.hardstate([term[, commit[, vote]]])` (note the order).
pub fn new_hardstate(
    _: &Lua,
    (term, commit, vote): (LuaValue, LuaValue, LuaValue),
) -> LuaResult<LHardState> {
    let mut h = Hs::default();
    if !term.is_nil() {
        h.hs.term = to_u64(&term, "pb.hardstate: term")?;
        h.has |= Hs::TERM;
    }
    if !commit.is_nil() {
        h.hs.commit = to_u64(&commit, "pb.hardstate: commit")?;
        h.has |= Hs::COMMIT;
    }
    if !vote.is_nil() {
        h.hs.vote = to_u64(&vote, "pb.hardstate: vote")?;
        h.has |= Hs::VOTE;
    }
    Ok(LHardState(h))
}

/// Reads a hardstate argument.
pub fn hardstate_from_lua(v: &LuaValue, what: &str) -> LuaResult<Hs> {
    if let LuaValue::UserData(ud) = v {
        if let Ok(h) = ud.borrow::<LHardState>() {
            return Ok(h.0.clone());
        }
    }
    Err(Error::ty(what, "a hardstate", v).into())
}
