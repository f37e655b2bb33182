//! `lraft.leveldb`: a LevelDB binding over rusty-leveldb with durable synced
//! writes (the LevelDB layer of `raft_store::ldb`).
//!
//! ```lua
//! local leveldb = require("lraft.leveldb")
//! local db = assert(leveldb.open(path, { create_if_missing = true }))
//! db:put("k", "v", true)            -- synced: on disk when it returns
//! local b = db:batch(); b:put("a", "1"); b:delete("k")
//! print(b:get("a"))                 -- read-your-writes: "1"
//! db:write(b, true)
//! for k, v in db:iter("a", "z") do print(k, v) end
//! db:close()
//! ```

use mlua::prelude::*;
use rusty_leveldb::{CompressorId, LdbIterator, Options, WriteBatch, DB};
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;
use std::rc::Rc;

use crate::error::Error;
use crate::util::{to_bool, to_bytes, to_u64, type_desc};
use raft_store::ldb::{base_options, get_key, open_checked};

type Shared = Rc<RefCell<Option<DB>>>;

/// An open database (`leveldb.open`).
pub struct LDb {
    db: Shared,
    path: String,
}

/// A write batch. Batches made by `db:batch()` read through to their
/// database for keys they do not touch.
pub struct LBatch {
    ops: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    latest: HashMap<Vec<u8>, Option<Vec<u8>>>,
    db: Option<Shared>,
}

fn closed() -> LuaError {
    Error::invalid("leveldb", "the database is closed").into()
}

fn with_db<R>(db: &Shared, f: impl FnOnce(&mut DB) -> LuaResult<R>) -> LuaResult<R> {
    let mut g = db
        .try_borrow_mut()
        .map_err(|_| Error::invalid("leveldb", "the database is busy"))?;
    match g.as_mut() {
        Some(d) => f(d),
        None => Err(closed()),
    }
}

fn sync_arg(v: &LuaValue, what: &str) -> LuaResult<bool> {
    if v.is_nil() {
        Ok(false)
    } else {
        to_bool(v, what)
    }
}

fn ldb_err(what: &str, e: rusty_leveldb::Status) -> LuaError {
    Error::io(format!("leveldb {what}"), e).into()
}

fn options_from_lua(v: &LuaValue) -> LuaResult<Options> {
    let mut o = base_options();
    let t = match v {
        LuaValue::Nil => return Ok(o),
        LuaValue::Table(t) => t,
        other => {
            return Err(Error::invalid(
                "leveldb.open",
                format!("options must be a table, got {}", type_desc(other)),
            )
            .into())
        }
    };
    for pair in t.pairs::<LuaValue, LuaValue>() {
        let (k, val) = pair?;
        let name = crate::util::key_str(&k).unwrap_or_default();
        let what = format!("leveldb.open: option {name}");
        match name.as_str() {
            "create_if_missing" => o.create_if_missing = to_bool(&val, &what)?,
            "error_if_exists" => o.error_if_exists = to_bool(&val, &what)?,
            "paranoid_checks" => o.paranoid_checks = to_bool(&val, &what)?,
            "write_buffer_size" => o.write_buffer_size = to_u64(&val, &what)? as usize,
            "max_open_files" => o.max_open_files = to_u64(&val, &what)? as usize,
            "max_file_size" => o.max_file_size = to_u64(&val, &what)? as usize,
            "block_size" => o.block_size = to_u64(&val, &what)? as usize,
            "block_cache_capacity_bytes" => {
                o.block_cache_capacity_bytes = to_u64(&val, &what)? as usize
            }
            "compression" => {
                o.compressor = if to_bool(&val, &what)? {
                    rusty_leveldb::compressor::SnappyCompressor::ID
                } else {
                    rusty_leveldb::compressor::NoneCompressor::ID
                }
            }
            _ => {
                return Err(
                    Error::invalid("leveldb.open", format!("unknown option '{name}'")).into(),
                )
            }
        }
    }
    if o.write_buffer_size == 0 || o.block_size == 0 {
        return Err(Error::invalid("leveldb.open", "sizes must be positive").into());
    }
    Ok(o)
}

/// `leveldb.open(path[, options])` -> db, or nil and a message.
fn open(lua: &Lua, (path, opts): (LuaValue, LuaValue)) -> LuaResult<LuaMultiValue> {
    let LuaValue::String(p) = &path else {
        return Err(Error::invalid(
            "leveldb.open",
            format!("path must be a string, got {}", type_desc(&path)),
        )
        .into());
    };
    let path = p.to_str()?.to_string();
    let o = options_from_lua(&opts)?;
    match open_checked(Path::new(&path), o) {
        Ok(db) => LDb {
            db: Rc::new(RefCell::new(Some(db))),
            path,
        }
        .into_lua_multi(lua),
        Err(e) => (LuaValue::Nil, format!("leveldb.open {path}: {e}")).into_lua_multi(lua),
    }
}

/// `leveldb.destroy(path)`: removes a database directory (only one that
/// looks like a LevelDB database, or is empty). Returns true.
pub fn destroy(path: &str) -> LuaResult<bool> {
    let p = Path::new(path);
    if !p.exists() {
        return Ok(true);
    }
    if !p.is_dir() {
        return Err(Error::invalid("leveldb.destroy", format!("{path} is not a directory")).into());
    }
    let looks_like_db = p.join("CURRENT").exists() || p.join("LOCK").exists();
    let empty = std::fs::read_dir(p)
        .map_err(|e| Error::io(format!("leveldb.destroy {path}"), e))?
        .next()
        .is_none();
    if !looks_like_db && !empty {
        return Err(Error::invalid(
            "leveldb.destroy",
            format!("{path} does not look like a LevelDB database; not removing it"),
        )
        .into());
    }
    std::fs::remove_dir_all(p).map_err(|e| Error::io(format!("leveldb.destroy {path}"), e))?;
    if let Err(e) = raft_store::ldb::sync_parent_dir(p) {
        return Err(Error::io(format!("leveldb.destroy {path}"), e).into());
    }
    Ok(true)
}

fn key_arg(v: &LuaValue, what: &str) -> LuaResult<Vec<u8>> {
    Ok(to_bytes(v, what)?.to_vec())
}

impl LuaUserData for LDb {
    fn add_methods<M: LuaUserDataMethods<Self>>(m: &mut M) {
        m.add_method("get", |lua, t, k: LuaValue| {
            let k = key_arg(&k, "db:get: key")?;
            match with_db(&t.db, |d| get_key(d, &k).map_err(|e| ldb_err("get", e)))? {
                Some(v) => Ok(LuaValue::String(lua.create_string(&v)?)),
                None => Ok(LuaValue::Nil),
            }
        });
        m.add_method(
            "put",
            |_, t, (k, v, sync): (LuaValue, LuaValue, LuaValue)| {
                let k = key_arg(&k, "db:put: key")?;
                let v = key_arg(&v, "db:put: value")?;
                let sync = sync_arg(&sync, "db:put: sync")?;
                with_db(&t.db, |d| {
                    let mut b = WriteBatch::default();
                    b.put(&k, &v);
                    d.write(b, sync).map_err(|e| ldb_err("put", e))
                })
            },
        );
        m.add_method("delete", |_, t, (k, sync): (LuaValue, LuaValue)| {
            let k = key_arg(&k, "db:delete: key")?;
            let sync = sync_arg(&sync, "db:delete: sync")?;
            with_db(&t.db, |d| {
                let mut b = WriteBatch::default();
                b.delete(&k);
                d.write(b, sync).map_err(|e| ldb_err("delete", e))
            })
        });
        m.add_method("batch", |_, t, ()| {
            with_db(&t.db, |_| Ok(()))?;
            Ok(LBatch {
                ops: Vec::new(),
                latest: HashMap::new(),
                db: Some(t.db.clone()),
            })
        });
        m.add_method("write", |_, t, (b, sync): (LuaValue, LuaValue)| {
            let sync = sync_arg(&sync, "db:write: sync")?;
            let LuaValue::UserData(ud) = &b else {
                return Err(Error::ty("db:write", "a batch", &b).into());
            };
            let mut batch = ud
                .borrow_mut::<LBatch>()
                .map_err(|_| Error::ty("db:write", "a batch", &b))?;
            with_db(&t.db, |d| {
                let mut wb = WriteBatch::default();
                for (k, v) in &batch.ops {
                    match v {
                        Some(v) => wb.put(k, v),
                        None => wb.delete(k),
                    }
                }
                d.write(wb, sync).map_err(|e| ldb_err("write", e))
            })?;
            batch.ops.clear();
            batch.latest.clear();
            Ok(())
        });
        m.add_method("flush", |_, t, ()| {
            with_db(&t.db, |d| d.flush().map_err(|e| ldb_err("flush", e)))
        });
        m.add_method("iter", |lua, t, (lo, hi): (LuaValue, LuaValue)| {
            let lo = if lo.is_nil() {
                None
            } else {
                Some(key_arg(&lo, "db:iter: lo")?)
            };
            let hi = if hi.is_nil() {
                None
            } else {
                Some(key_arg(&hi, "db:iter: hi")?)
            };
            let it = with_db(&t.db, |d| d.new_iter().map_err(|e| ldb_err("iter", e)))?;
            let state = RefCell::new((it, false, lo, hi));
            let db = t.db.clone();
            lua.create_function(move |lua, ()| {
                if db.try_borrow().map(|g| g.is_none()).unwrap_or(false) {
                    return Err(closed());
                }
                let mut st = state
                    .try_borrow_mut()
                    .map_err(|_| Error::invalid("leveldb iterator", "re-entered"))?;
                let (it, started, lo, hi) = &mut *st;
                if !*started {
                    *started = true;
                    match lo {
                        Some(lo) => it.seek(lo),
                        None => it.seek_to_first(),
                    }
                } else if it.valid() {
                    it.advance();
                }
                if !it.valid() {
                    return Ok((LuaValue::Nil, LuaValue::Nil));
                }
                let Some((k, v)) = it.current() else {
                    return Ok((LuaValue::Nil, LuaValue::Nil));
                };
                if let Some(hi) = hi {
                    if k.as_ref() >= hi.as_slice() {
                        return Ok((LuaValue::Nil, LuaValue::Nil));
                    }
                }
                Ok((
                    LuaValue::String(lua.create_string(k.as_ref())?),
                    LuaValue::String(lua.create_string(v.as_ref())?),
                ))
            })
        });
        m.add_method("close", |_, t, ()| close(&t.db));
        m.add_method("closed", |_, t, ()| {
            Ok(t.db.try_borrow().map(|g| g.is_none()).unwrap_or(false))
        });
        m.add_method("path", |_, t, ()| Ok(t.path.clone()));
        m.add_meta_method(LuaMetaMethod::Close, |_, t, ()| close(&t.db));
        m.add_meta_method(LuaMetaMethod::ToString, |_, t, ()| {
            Ok(format!("leveldb({})", t.path))
        });
    }
}

fn close(db: &Shared) -> LuaResult<()> {
    let mut g = db
        .try_borrow_mut()
        .map_err(|_| Error::invalid("leveldb", "the database is busy"))?;
    if let Some(mut d) = g.take() {
        d.close().map_err(|e| ldb_err("close", e))?;
    }
    Ok(())
}

impl LuaUserData for LBatch {
    fn add_methods<M: LuaUserDataMethods<Self>>(m: &mut M) {
        m.add_method_mut("put", |_, t, (k, v): (LuaValue, LuaValue)| {
            let k = key_arg(&k, "batch:put: key")?;
            let v = key_arg(&v, "batch:put: value")?;
            t.latest.insert(k.clone(), Some(v.clone()));
            t.ops.push((k, Some(v)));
            Ok(())
        });
        m.add_method_mut("delete", |_, t, k: LuaValue| {
            let k = key_arg(&k, "batch:delete: key")?;
            t.latest.insert(k.clone(), None);
            t.ops.push((k, None));
            Ok(())
        });
        m.add_method("get", |lua, t, k: LuaValue| {
            let k = key_arg(&k, "batch:get: key")?;
            let v = match t.latest.get(&k) {
                Some(v) => v.clone(),
                None => match &t.db {
                    Some(db) => with_db(db, |d| get_key(d, &k).map_err(|e| ldb_err("get", e)))?,
                    None => None,
                },
            };
            match v {
                Some(v) => Ok(LuaValue::String(lua.create_string(&v)?)),
                None => Ok(LuaValue::Nil),
            }
        });
        m.add_method_mut("clear", |_, t, ()| {
            t.ops.clear();
            t.latest.clear();
            Ok(())
        });
        m.add_method("count", |_, t, ()| Ok(t.ops.len() as i64));
        m.add_meta_method(LuaMetaMethod::ToString, |_, t, ()| {
            Ok(format!("leveldb batch({} ops)", t.ops.len()))
        });
    }
}

/// Builds the `lraft.leveldb` table.
/// One object of each type of this binding (a closed database and an empty
/// batch), for [`crate::errors::install`].
pub fn samples(lua: &Lua) -> LuaResult<Vec<LuaAnyUserData>> {
    Ok(vec![
        lua.create_userdata(LDb {
            db: Rc::new(RefCell::new(None)),
            path: String::new(),
        })?,
        lua.create_userdata(LBatch {
            ops: Vec::new(),
            latest: HashMap::new(),
            db: None,
        })?,
    ])
}

pub fn module(lua: &Lua) -> LuaResult<LuaTable> {
    let t = lua.create_table()?;
    t.set("open", lua.create_function(open)?)?;
    t.set(
        "batch",
        lua.create_function(|_, ()| {
            Ok(LBatch {
                ops: Vec::new(),
                latest: HashMap::new(),
                db: None,
            })
        })?,
    )?;
    t.set(
        "destroy",
        lua.create_function(|_, p: LuaValue| {
            let LuaValue::String(s) = &p else {
                return Err(Error::invalid(
                    "leveldb.destroy",
                    format!("path must be a string, got {}", type_desc(&p)),
                )
                .into());
            };
            destroy(&s.to_str()?)
        })?,
    )?;
    Ok(t)
}
