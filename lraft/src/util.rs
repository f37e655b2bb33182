//! Argument conversion shared by the Lua objects (each refusal is an
//! [`Error`]).

use bytes::Bytes;
use mlua::prelude::*;

use crate::error::Error;

/// The error raised when a script reads or writes a member a type lacks.
pub fn unknown_member(ty: &str, key: &LuaValue) -> LuaError {
    Error::unknown_member(ty, key).into()
}

/// Reads an unsigned 64-bit integer. Lua integers are reinterpreted, so
/// ids, terms and indexes above `math.maxinteger` (read back as negative
/// integers) round-trip. A float must be an exact integer that a Lua integer
/// can hold (as `math.tointeger` says): 1.5, NaN, infinities and 2^63 or
/// more raise instead of wrapping.
pub fn to_u64(v: &LuaValue, what: &str) -> LuaResult<u64> {
    match v {
        LuaValue::Integer(i) => Ok(*i as u64),
        LuaValue::Number(f) => match float_to_i64(*f) {
            Some(i) => Ok(i as u64),
            None => Err(Error::ty_desc(
                what,
                "an integer",
                format!("the number {f} (not an exact integer in range)"),
            )
            .into()),
        },
        other => Err(Error::ty(what, "an integer", other).into()),
    }
}

/// Reads a count or size: an integer (or exact integral float) that is not
/// negative.
pub fn to_count(v: &LuaValue, what: &str) -> LuaResult<u64> {
    let n = to_u64(v, what)? as i64;
    if n < 0 {
        return Err(Error::invalid(what, "must not be negative").into());
    }
    Ok(n as u64)
}

/// The integer a float stands for exactly, if a Lua integer can hold it.
fn float_to_i64(f: f64) -> Option<i64> {
    // -2^63 is exact in f64; 2^63 is the first value out of range.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    (f.is_finite() && f.fract() == 0.0 && (-LIMIT..LIMIT).contains(&f)).then_some(f as i64)
}

/// Like [`to_u64`] but truncates non-integral numbers toward zero (used for
/// size limits, which the contract says are truncated).
pub fn to_u64_trunc(v: &LuaValue, what: &str) -> LuaResult<u64> {
    match v {
        LuaValue::Number(f) if f.is_finite() => {
            if *f <= 0.0 {
                Ok(0)
            } else {
                Ok(f.trunc() as u64)
            }
        }
        LuaValue::Number(f) if *f > 0.0 => Ok(u64::MAX),
        other => to_u64(other, what),
    }
}

/// Reads a Lua integer for an i32 enum field.
pub fn to_enum(v: &LuaValue, what: &str) -> LuaResult<i32> {
    let n = to_u64(v, what)? as i64;
    i32::try_from(n).map_err(|_| Error::invalid(what, format!("value {n} out of range")).into())
}

/// Converts a u64 back to a Lua integer.
pub fn lua_u64(v: u64) -> LuaValue {
    LuaValue::Integer(v as i64)
}

/// Reads a binary string.
pub fn to_bytes(v: &LuaValue, what: &str) -> LuaResult<Bytes> {
    match v {
        LuaValue::String(s) => Ok(Bytes::copy_from_slice(&s.as_bytes())),
        other => Err(Error::ty(what, "a string", other).into()),
    }
}

/// Reads a boolean.
pub fn to_bool(v: &LuaValue, what: &str) -> LuaResult<bool> {
    match v {
        LuaValue::Boolean(b) => Ok(*b),
        other => Err(Error::ty(what, "a boolean", other).into()),
    }
}

/// A short description of a value's type for error messages (userdata show
/// their type name).
pub fn type_desc(v: &LuaValue) -> String {
    match v {
        LuaValue::UserData(ud) => match ud.type_name() {
            Ok(n) => n.to_string_lossy(),
            Err(_) => "userdata".into(),
        },
        other => other.type_name().to_string(),
    }
}

/// Reads a Lua list of unsigned integers.
pub fn to_u64_list(v: &LuaValue, what: &str) -> LuaResult<Vec<u64>> {
    match v {
        LuaValue::Nil => Ok(Vec::new()),
        LuaValue::Table(t) => {
            let mut out = Vec::with_capacity(t.raw_len());
            for i in 1..=t.raw_len() {
                let x: LuaValue = t.raw_get(i)?;
                out.push(to_u64(&x, &format!("{what}[{i}]"))?);
            }
            Ok(out)
        }
        other => Err(Error::ty(what, "a list of integers", other).into()),
    }
}

/// A fresh 1-based Lua list of integers.
pub fn u64_list(lua: &Lua, v: &[u64]) -> LuaResult<LuaTable> {
    let t = lua.create_table_with_capacity(v.len(), 0)?;
    for (i, x) in v.iter().enumerate() {
        t.raw_set(i + 1, *x as i64)?;
    }
    Ok(t)
}

/// The key of a `__index`/`__newindex` call as a string, if it is one.
pub fn key_str(key: &LuaValue) -> Option<String> {
    match key {
        LuaValue::String(s) => s.to_str().ok().map(|s| s.to_string()),
        _ => None,
    }
}
