//! `pb.entry`: a log entry object.

use mlua::prelude::*;
use raft_core::eraftpb::Entry;

use super::codec::{add_codec_methods, Wire};
use crate::error::Error;
use crate::util::{lua_u64, to_bytes, to_enum, to_u64, unknown_member};

/// A log entry as seen from Lua (numbers read 0 when unset).
#[derive(Debug, Clone, Default)]
pub struct LEntry(pub Entry);

impl Wire for LEntry {
    type Core = Entry;
    fn with_core<R>(&self, f: impl FnOnce(&Entry) -> R) -> R {
        f(&self.0)
    }
    fn set_core(&mut self, v: Entry) {
        self.0 = v;
    }
}

impl LuaUserData for LEntry {
    fn add_fields<F: LuaUserDataFields<Self>>(f: &mut F) {
        f.add_field_method_get("index", |_, t| Ok(lua_u64(t.0.index)));
        f.add_field_method_get("term", |_, t| Ok(lua_u64(t.0.term)));
        f.add_field_method_get("type", |_, t| Ok(t.0.entry_type as i64));
        f.add_field_method_get("data", |lua, t| lua.create_string(t.0.data()));
        f.add_field_method_set("index", |_, t, v: LuaValue| {
            t.0.index = to_u64(&v, "entry.index")?;
            Ok(())
        });
        f.add_field_method_set("term", |_, t, v: LuaValue| {
            t.0.term = to_u64(&v, "entry.term")?;
            Ok(())
        });
        f.add_field_method_set("type", |_, t, v: LuaValue| {
            t.0.entry_type = to_enum(&v, "entry.type")?;
            Ok(())
        });
        f.add_field_method_set("data", |_, t, v: LuaValue| {
            t.0.data = match v {
                LuaValue::Nil => None,
                v => Some(to_bytes(&v, "entry.data")?),
            };
            Ok(())
        });
    }

    fn add_methods<M: LuaUserDataMethods<Self>>(m: &mut M) {
        add_codec_methods(m, "entry");
        m.add_method("payload_size", |_, t, ()| Ok(t.0.data().len() as i64));
        m.add_meta_method(LuaMetaMethod::ToString, |_, t, ()| {
            Ok(format!(
                "entry{{index={}, term={}, type={}, {} bytes}}",
                t.0.index,
                t.0.term,
                t.0.entry_type,
                t.0.data().len()
            ))
        });
        m.add_meta_method(LuaMetaMethod::Index, |_, _, k: LuaValue| -> LuaResult<()> {
            Err(unknown_member("entry", &k))
        });
        m.add_meta_method(
            LuaMetaMethod::NewIndex,
            |_, _, (k, _v): (LuaValue, LuaValue)| -> LuaResult<()> {
                Err(unknown_member("entry", &k))
            },
        );
    }
}

/// `pb.entry([index[, term[, data[, type]]]])`.
pub fn new_entry(
    _: &Lua,
    (index, term, data, ty): (LuaValue, LuaValue, LuaValue, LuaValue),
) -> LuaResult<LEntry> {
    let mut e = Entry::default();
    if !index.is_nil() {
        e.index = to_u64(&index, "pb.entry: index")?;
    }
    if !term.is_nil() {
        e.term = to_u64(&term, "pb.entry: term")?;
    }
    if !data.is_nil() {
        e.data = Some(to_bytes(&data, "pb.entry: data")?);
    }
    if !ty.is_nil() {
        e.entry_type = to_enum(&ty, "pb.entry: type")?;
    }
    Ok(LEntry(e))
}

/// Reads one entry argument (an entry object).
pub fn entry_from_lua(v: &LuaValue, what: &str) -> LuaResult<Entry> {
    if let LuaValue::UserData(ud) = v {
        if let Ok(e) = ud.borrow::<LEntry>() {
            return Ok(e.0.clone());
        }
    }
    Err(Error::ty(what, "an entry", v).into())
}

/// Reads a list of entries: a Lua list of entry objects or an entry list view.
pub fn entries_from_lua(v: &LuaValue, what: &str) -> LuaResult<Vec<Entry>> {
    match v {
        LuaValue::Table(t) => {
            let n = t.raw_len();
            let mut out = Vec::with_capacity(n);
            for i in 1..=n {
                let x: LuaValue = t.raw_get(i)?;
                out.push(entry_from_lua(&x, &format!("{what}[{i}]"))?);
            }
            Ok(out)
        }
        LuaValue::UserData(ud) => {
            if let Ok(l) = ud.borrow::<crate::list::LList>() {
                if let Some(ents) = l.entries() {
                    return Ok(ents);
                }
            }
            Err(Error::ty(what, "a list of entries", v).into())
        }
        other => Err(Error::ty(what, "a list of entries", other).into()),
    }
}
