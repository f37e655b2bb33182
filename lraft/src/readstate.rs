//! `lraft.readstate`: the answer to a ReadIndex request.

use bytes::Bytes;
use mlua::prelude::*;

use crate::error::Error;
use crate::util::{lua_u64, to_bytes, to_u64, unknown_member};

/// A read state: `index` and `request_ctx`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LReadState {
    /// The commit index at the time the request was served.
    pub index: u64,
    /// The request's context.
    pub request_ctx: Bytes,
}

impl LuaUserData for LReadState {
    fn add_fields<F: LuaUserDataFields<Self>>(f: &mut F) {
        f.add_field_method_get("index", |_, t| Ok(lua_u64(t.index)));
        f.add_field_method_get("request_ctx", |lua, t| lua.create_string(&t.request_ctx));
        f.add_field_method_set("index", |_, t, v: LuaValue| {
            t.index = to_u64(&v, "readstate.index")?;
            Ok(())
        });
        f.add_field_method_set("request_ctx", |_, t, v: LuaValue| {
            t.request_ctx = to_bytes(&v, "readstate.request_ctx")?;
            Ok(())
        });
    }
    fn add_methods<M: LuaUserDataMethods<Self>>(m: &mut M) {
        m.add_meta_method(LuaMetaMethod::Index, |_, _, k: LuaValue| -> LuaResult<()> {
            Err(unknown_member("readstate", &k))
        });
        m.add_meta_method(
            LuaMetaMethod::NewIndex,
            |_, _, (k, _v): (LuaValue, LuaValue)| -> LuaResult<()> {
                Err(unknown_member("readstate", &k))
            },
        );
        m.add_meta_method(LuaMetaMethod::ToString, |_, t, ()| {
            Ok(format!(
                "readstate{{index={}, {} bytes ctx}}",
                t.index,
                t.request_ctx.len()
            ))
        });
    }
}

/// `lraft.readstate([index[, ctx]])`.
pub fn new_readstate(_: &Lua, (index, ctx): (LuaValue, LuaValue)) -> LuaResult<LReadState> {
    Ok(LReadState {
        index: if index.is_nil() {
            0
        } else {
            to_u64(&index, "readstate: index")?
        },
        request_ctx: if ctx.is_nil() {
            Bytes::new()
        } else {
            to_bytes(&ctx, "readstate: ctx")?
        },
    })
}

/// Reads a list of read states (a Lua list of readstate objects, or a view).
pub fn read_states_from_lua(v: &LuaValue, what: &str) -> LuaResult<Vec<LReadState>> {
    match v {
        LuaValue::Nil => Ok(Vec::new()),
        LuaValue::Table(t) => {
            let mut out = Vec::new();
            for i in 1..=t.raw_len() {
                let x: LuaValue = t.raw_get(i)?;
                match &x {
                    LuaValue::UserData(ud) if ud.is::<LReadState>() => {
                        out.push(ud.borrow::<LReadState>()?.clone())
                    }
                    other => {
                        return Err(Error::ty(format!("{what}[{i}]"), "a readstate", other).into())
                    }
                }
            }
            Ok(out)
        }
        LuaValue::UserData(ud) if ud.is::<crate::list::LList>() => ud
            .borrow::<crate::list::LList>()?
            .read_states()
            .ok_or_else(|| Error::invalid(what, "expected a list of readstates").into()),
        other => Err(Error::ty(what, "a list of readstates", other).into()),
    }
}
