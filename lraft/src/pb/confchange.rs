//! `pb.confchange` and `pb.confchangev2`.

use mlua::prelude::*;
use raft_core::eraftpb::{ConfChange, ConfChangeSingle, ConfChangeV2};
use raft_core::ConfChangeI;

use super::codec::{add_codec_methods, Wire};
use crate::error::Error;
use crate::util::{lua_u64, to_bytes, to_enum, to_u64, unknown_member};

/// A V1 conf change as seen from Lua.
#[derive(Debug, Clone, Default)]
pub struct LConfChange(pub ConfChange);

/// A V2 conf change as seen from Lua: `transition`, `changes` (a list of
/// `{type=…, nodeid=…}` tables), `context`.
#[derive(Debug, Clone, Default)]
pub struct LConfChangeV2(pub ConfChangeV2);

fn ctx_get(lua: &Lua, c: &Option<bytes::Bytes>) -> LuaResult<LuaValue> {
    match c {
        Some(c) => Ok(LuaValue::String(lua.create_string(c)?)),
        None => Ok(LuaValue::Nil),
    }
}

fn ctx_set(v: LuaValue, what: &str) -> LuaResult<Option<bytes::Bytes>> {
    match v {
        LuaValue::Nil => Ok(None),
        v => Ok(Some(to_bytes(&v, what)?)),
    }
}

impl Wire for LConfChange {
    type Core = ConfChange;
    fn with_core<R>(&self, f: impl FnOnce(&ConfChange) -> R) -> R {
        f(&self.0)
    }
    fn set_core(&mut self, v: ConfChange) {
        self.0 = v;
    }
}

impl Wire for LConfChangeV2 {
    type Core = ConfChangeV2;
    fn with_core<R>(&self, f: impl FnOnce(&ConfChangeV2) -> R) -> R {
        f(&self.0)
    }
    fn set_core(&mut self, v: ConfChangeV2) {
        self.0 = v;
    }
}

/// Unknown members raise, naming the type.
fn strict_members<T: LuaUserData + 'static, M: LuaUserDataMethods<T>>(
    m: &mut M,
    name: &'static str,
) {
    m.add_meta_method(
        LuaMetaMethod::Index,
        move |_, _, k: LuaValue| -> LuaResult<()> { Err(unknown_member(name, &k)) },
    );
    m.add_meta_method(
        LuaMetaMethod::NewIndex,
        move |_, _, (k, _v): (LuaValue, LuaValue)| -> LuaResult<()> {
            Err(unknown_member(name, &k))
        },
    );
}

impl LuaUserData for LConfChange {
    fn add_fields<F: LuaUserDataFields<Self>>(f: &mut F) {
        f.add_field_method_get("id", |_, t| Ok(lua_u64(t.0.id)));
        f.add_field_method_get("type", |_, t| Ok(i64::from(t.0.change_type)));
        f.add_field_method_get("nodeid", |_, t| Ok(lua_u64(t.0.node_id)));
        f.add_field_method_get("context", |lua, t| ctx_get(lua, &t.0.context));
        f.add_field_method_set("id", |_, t, v: LuaValue| {
            t.0.id = to_u64(&v, "confchange.id")?;
            Ok(())
        });
        f.add_field_method_set("type", |_, t, v: LuaValue| {
            t.0.change_type = to_enum(&v, "confchange.type")?;
            Ok(())
        });
        f.add_field_method_set("nodeid", |_, t, v: LuaValue| {
            t.0.node_id = to_u64(&v, "confchange.nodeid")?;
            Ok(())
        });
        f.add_field_method_set("context", |_, t, v: LuaValue| {
            t.0.context = ctx_set(v, "confchange.context")?;
            Ok(())
        });
    }
    fn add_methods<M: LuaUserDataMethods<Self>>(m: &mut M) {
        add_codec_methods(m, "confchange");
        strict_members(m, "confchange");
    }
}

impl LuaUserData for LConfChangeV2 {
    fn add_fields<F: LuaUserDataFields<Self>>(f: &mut F) {
        f.add_field_method_get("transition", |_, t| Ok(i64::from(t.0.transition)));
        f.add_field_method_set("transition", |_, t, v: LuaValue| {
            t.0.transition = to_enum(&v, "confchangev2.transition")?;
            Ok(())
        });
        f.add_field_method_get("context", |lua, t| ctx_get(lua, &t.0.context));
        f.add_field_method_set("context", |_, t, v: LuaValue| {
            t.0.context = ctx_set(v, "confchangev2.context")?;
            Ok(())
        });
        f.add_field_method_get("changes", |lua, t| {
            let out = lua.create_table()?;
            for (i, c) in t.0.changes.iter().enumerate() {
                let x = lua.create_table()?;
                x.set("type", i64::from(c.change_type))?;
                x.set("nodeid", lua_u64(c.node_id))?;
                out.raw_set(i + 1, x)?;
            }
            Ok(out)
        });
        f.add_field_method_set("changes", |_, t, v: LuaValue| {
            let LuaValue::Table(tb) = &v else {
                return Err(Error::ty(
                    "confchangev2.changes",
                    "a list of {type=, nodeid=} tables",
                    &v,
                )
                .into());
            };
            let mut out = Vec::new();
            for i in 1..=tb.raw_len() {
                let x: LuaValue = tb.raw_get(i)?;
                let x = match x {
                    LuaValue::Table(x) => x,
                    other => {
                        return Err(Error::ty(
                            format!("confchangev2.changes[{i}]"),
                            "a table",
                            &other,
                        )
                        .into())
                    }
                };
                out.push(ConfChangeSingle {
                    change_type: to_enum(&x.get("type")?, "confchangev2.changes[i].type")?,
                    node_id: to_u64(&x.get("nodeid")?, "confchangev2.changes[i].nodeid")?,
                });
            }
            t.0.changes = out;
            Ok(())
        });
    }
    fn add_methods<M: LuaUserDataMethods<Self>>(m: &mut M) {
        add_codec_methods(m, "confchangev2");
        strict_members(m, "confchangev2");
    }
}

/// Reads a conf change of either version.
pub fn confchange_from_lua(v: &LuaValue, what: &str) -> LuaResult<ConfChangeI> {
    if let LuaValue::UserData(ud) = v {
        if let Ok(c) = ud.borrow::<LConfChange>() {
            return Ok(ConfChangeI::V1(c.0.clone()));
        }
        if let Ok(c) = ud.borrow::<LConfChangeV2>() {
            return Ok(ConfChangeI::V2(c.0.clone()));
        }
    }
    Err(Error::ty(what, "a confchange or confchangev2", v).into())
}
