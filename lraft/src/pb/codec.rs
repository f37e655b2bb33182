//! The one protobuf codec of the workspace, as the Lua objects use it:
//! `serialize`, `byte_size` and `parser` of every `raft.pb` type go through
//! the core's prost messages, so a script gets exactly the bytes the core
//! and etcd produce (every non-nullable field written, even when zero or
//! never set) and `byte_size()` is the size the core counts for its limits.

use mlua::prelude::*;
use prost::Message as _;

use crate::util::to_bytes;

/// A Lua object that carries one core message type.
pub trait Wire {
    /// The core (prost) type.
    type Core: prost::Message + Default;
    /// Runs `f` on the core value.
    fn with_core<R>(&self, f: impl FnOnce(&Self::Core) -> R) -> R;
    /// Replaces the contents with a decoded value (every field present).
    fn set_core(&mut self, v: Self::Core);
    /// Decodes bytes; `None` on malformed bytes.
    fn decode(b: &[u8]) -> Option<Self::Core> {
        Self::Core::decode(b).ok()
    }
}

/// Adds `serialize()`, `byte_size()` and `parser(bytes) -> bool` (false on
/// bad bytes, contents kept) to a type's methods.
pub fn add_codec_methods<T, M>(m: &mut M, name: &'static str)
where
    T: Wire + LuaUserData + 'static,
    M: LuaUserDataMethods<T>,
{
    m.add_method("serialize", |lua, t, ()| {
        t.with_core(|c| lua.create_string(c.encode_to_vec()))
    });
    m.add_method("byte_size", |_, t, ()| {
        Ok(t.with_core(|c| c.encoded_len()) as i64)
    });
    m.add_method_mut("parser", move |_, t, v: LuaValue| {
        let b = to_bytes(&v, &format!("{name}:parser"))?;
        Ok(match T::decode(&b) {
            Some(c) => {
                t.set_core(c);
                true
            }
            None => false,
        })
    });
}
