//! `pb.entry`: a log entry object.

use mlua::prelude::*;
use raft_core::eraftpb::Entry;

use super::presence::Ent;
use crate::util::{err, lua_u64, to_bytes, to_enum, to_u64, type_desc, unknown_member};

/// A log entry as seen from Lua.
#[derive(Debug, Clone, Default)]
pub struct LEntry(pub Ent);

impl LuaUserData for LEntry {
    fn add_fields<F: LuaUserDataFields<Self>>(f: &mut F) {
        f.add_field_method_get("index", |_, t| Ok(lua_u64(t.0.e.index)));
        f.add_field_method_get("term", |_, t| Ok(lua_u64(t.0.e.term)));
        f.add_field_method_get("type", |_, t| Ok(t.0.e.entry_type as i64));
        f.add_field_method_get("data", |lua, t| lua.create_string(t.0.e.data()));
        f.add_field_method_set("index", |_, t, v: LuaValue| {
            t.0.e.index = to_u64(&v, "entry.index")?;
            t.0.has |= Ent::INDEX;
            Ok(())
        });
        f.add_field_method_set("term", |_, t, v: LuaValue| {
            t.0.e.term = to_u64(&v, "entry.term")?;
            t.0.has |= Ent::TERM;
            Ok(())
        });
        f.add_field_method_set("type", |_, t, v: LuaValue| {
            t.0.e.entry_type = to_enum(&v, "entry.type")?;
            t.0.has |= Ent::TYPE;
            Ok(())
        });
        f.add_field_method_set("data", |_, t, v: LuaValue| {
            t.0.e.data = match v {
                LuaValue::Nil => None,
                v => Some(to_bytes(&v, "entry.data")?),
            };
            Ok(())
        });
    }

    fn add_methods<M: LuaUserDataMethods<Self>>(m: &mut M) {
        m.add_method("byte_size", |_, t, ()| Ok(t.0.byte_size() as i64));
        m.add_method("payload_size", |_, t, ()| Ok(t.0.e.data().len() as i64));
        m.add_method("serialize", |lua, t, ()| {
            let mut b = Vec::with_capacity(t.0.byte_size());
            t.0.encode(&mut b);
            lua.create_string(&b)
        });
        m.add_method_mut("parser", |_, t, v: LuaValue| {
            let b = to_bytes(&v, "entry:parser")?;
            Ok(match Ent::decode(&b) {
                Some(e) => {
                    t.0 = e;
                    true
                }
                None => false,
            })
        });
        m.add_meta_method(LuaMetaMethod::ToString, |_, t, ()| {
            Ok(format!(
                "entry{{index={}, term={}, type={}, {} bytes}}",
                t.0.e.index,
                t.0.e.term,
                t.0.e.entry_type,
                t.0.e.data().len()
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
    let mut e = Ent::default();
    if !index.is_nil() {
        e.e.index = to_u64(&index, "pb.entry: index")?;
        e.has |= Ent::INDEX;
    }
    if !term.is_nil() {
        e.e.term = to_u64(&term, "pb.entry: term")?;
        e.has |= Ent::TERM;
    }
    if !data.is_nil() {
        e.e.data = Some(to_bytes(&data, "pb.entry: data")?);
    }
    if !ty.is_nil() {
        e.e.entry_type = to_enum(&ty, "pb.entry: type")?;
        e.has |= Ent::TYPE;
    }
    Ok(LEntry(e))
}

/// Reads one entry argument (an entry object).
pub fn entry_from_lua(v: &LuaValue, what: &str) -> LuaResult<Ent> {
    if let LuaValue::UserData(ud) = v {
        if let Ok(e) = ud.borrow::<LEntry>() {
            return Ok(e.0.clone());
        }
    }
    Err(err(format!(
        "{what}: expected an entry, got {}",
        type_desc(v)
    )))
}

/// Reads a list of entries: a Lua list of entry objects or an entry list view.
pub fn entries_from_lua(v: &LuaValue, what: &str) -> LuaResult<Vec<Ent>> {
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
            Err(err(format!(
                "{what}: expected a list of entries, got {}",
                type_desc(v)
            )))
        }
        other => Err(err(format!(
            "{what}: expected a list of entries, got {}",
            type_desc(other)
        ))),
    }
}

/// Core entries from presence-tracked ones.
pub fn core_entries(ents: Vec<Ent>) -> Vec<Entry> {
    ents.into_iter().map(|e| e.e).collect()
}
