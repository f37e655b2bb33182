//! `lraft.default_logger()` and the `LOG_*` levels.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};

use mlua::prelude::*;
use raft_core::logger::StderrLogger;
use raft_core::Level;

use crate::error::Error;
use crate::util::{to_u64, unknown_member};

/// The Lua level names, in increasing order.
pub const LEVELS: [&str; 7] = [
    "LOG_ALL",
    "LOG_DEBUG",
    "LOG_INFO",
    "LOG_WARN",
    "LOG_ERROR",
    "LOG_FATAL",
    "LOG_OFF",
];

const LOG_WARN: i64 = 3;

static LOGGER: OnceLock<Arc<StderrLogger>> = OnceLock::new();
static LUA_LEVEL: AtomicI64 = AtomicI64::new(LOG_WARN);

/// The process logger every node writes to.
pub fn process_logger() -> Arc<StderrLogger> {
    LOGGER
        .get_or_init(|| Arc::new(StderrLogger::new(Level::Warn)))
        .clone()
}

fn core_level(l: i64) -> Level {
    match l {
        0 | 1 => Level::Debug,
        2 => Level::Info,
        3 => Level::Warn,
        4 => Level::Error,
        5 => Level::Fatal,
        _ => Level::Off,
    }
}

/// The Lua handle of the process logger.
#[derive(Debug, Clone, Copy)]
pub struct LLogger;

impl LuaUserData for LLogger {
    fn add_fields<F: LuaUserDataFields<Self>>(f: &mut F) {
        f.add_field_method_get("level", |_, _| Ok(LUA_LEVEL.load(Ordering::Relaxed)));
        f.add_field_method_set("level", |_, _, v: LuaValue| {
            let l = to_u64(&v, "logger.level")? as i64;
            if !(0..LEVELS.len() as i64).contains(&l) {
                return Err(Error::invalid(
                    "logger.level",
                    format!("{l} is not a level (LOG_ALL..LOG_OFF)"),
                )
                .into());
            }
            LUA_LEVEL.store(l, Ordering::Relaxed);
            process_logger().set_level(core_level(l));
            Ok(())
        });
    }
    fn add_methods<M: LuaUserDataMethods<Self>>(m: &mut M) {
        m.add_meta_method(LuaMetaMethod::Index, |_, _, k: LuaValue| -> LuaResult<()> {
            Err(unknown_member("logger", &k))
        });
        m.add_meta_method(
            LuaMetaMethod::NewIndex,
            |_, _, (k, _v): (LuaValue, LuaValue)| -> LuaResult<()> {
                Err(unknown_member("logger", &k))
            },
        );
    }
}
