//! The `ready` object: a read-only copy of one core [`Ready`], converted
//! after the node is released so that reading it never touches the node.

use std::rc::Rc;

use mlua::prelude::*;
use raft_core::eraftpb::{Entry, HardState, Message, Snapshot};
use raft_core::{Ready, SoftState};

use crate::bulk::string_and_integer_lists;
use crate::error::Error;
use crate::list::LList;
use crate::pb::hardstate::LHardState;
use crate::pb::presence::Hs;
use crate::pb::snapshot::LSnapshot;
use crate::readstate::LReadState;
use crate::util::{key_str, lua_u64, unknown_member};

/// A Ready as seen from Lua. `node` and `seq` identify the node that made it
/// and which of its Readys it is, so `advance` can refuse a stale one.
#[derive(Debug, Clone)]
pub struct LReady {
    /// Serial number of the node that produced it.
    pub node: u64,
    /// Sequence number of this Ready on that node.
    pub seq: u64,
    soft_state: Option<SoftState>,
    hard_state: Option<HardState>,
    read_states: Rc<Vec<LReadState>>,
    entries: Rc<Vec<Entry>>,
    committed_entries: Rc<Vec<Entry>>,
    messages: Rc<Vec<Message>>,
    snapshot: Snapshot,
    must_sync: bool,
}

impl LReady {
    /// What a storage persists: hard state, snapshot, entries, must_sync.
    pub fn persisted_parts(&self) -> (Option<HardState>, &Snapshot, &[Entry], bool) {
        (
            self.hard_state,
            &self.snapshot,
            self.entries.as_slice(),
            self.must_sync,
        )
    }

    /// Converts a core Ready.
    pub fn new(rd: Ready, node: u64, seq: u64) -> Self {
        LReady {
            node,
            seq,
            soft_state: rd.soft_state,
            hard_state: rd.hard_state,
            read_states: Rc::new(
                rd.read_states
                    .into_iter()
                    .map(|r| LReadState {
                        index: r.index,
                        request_ctx: r.request_ctx,
                    })
                    .collect(),
            ),
            entries: Rc::new(rd.entries),
            committed_entries: Rc::new(rd.committed_entries),
            messages: Rc::new(rd.messages),
            snapshot: rd.snapshot,
            must_sync: rd.must_sync,
        }
    }
}

/// The Lua table of a soft state: `{Lead=…, RaftState=…}`.
pub fn soft_state_table(lua: &Lua, ss: &SoftState) -> LuaResult<LuaTable> {
    let t = lua.create_table()?;
    t.set("Lead", ss.leader_id as i64)?;
    t.set("RaftState", ss.raft_state as i64)?;
    Ok(t)
}

impl LuaUserData for LReady {
    fn add_methods<M: LuaUserDataMethods<Self>>(m: &mut M) {
        // Batch accessors: one call hands a whole list to Lua as plain
        // strings, without a userdata per element.
        m.add_method("message_bytes", |lua, t, ()| {
            // Every message encoded into one buffer, then handed over.
            let mut blob = Vec::new();
            let mut ends = Vec::with_capacity(t.messages.len());
            for msg in t.messages.iter() {
                raft_core::message_nesting::encode_message(msg, &mut blob);
                ends.push(blob.len());
            }
            string_and_integer_lists(lua, ends.len(), |i| {
                let start = if i == 0 { 0 } else { ends[i - 1] };
                (&blob[start..ends[i]], t.messages[i].to as i64)
            })
        });
        m.add_method("committed_data", |lua, t, ()| {
            let ents = &t.committed_entries;
            let (data, types) = string_and_integer_lists(lua, ents.len(), |i| {
                (ents[i].data(), i64::from(ents[i].entry_type))
            })?;
            let first = ents.first().map_or(LuaValue::Nil, |e| lua_u64(e.index));
            Ok((data, types, first))
        });
        m.add_meta_method(LuaMetaMethod::Index, |lua, t, k: LuaValue| {
            Ok(match key_str(&k).as_deref() {
                Some("softstate") => match &t.soft_state {
                    Some(ss) => LuaValue::Table(soft_state_table(lua, ss)?),
                    None => LuaValue::Nil,
                },
                Some("hardstate") => match t.hard_state {
                    Some(hs) => LHardState(Hs::full(hs)).into_lua(lua)?,
                    None => LuaValue::Nil,
                },
                Some("entries") => LList::entries_view(t.entries.clone()).into_lua(lua)?,
                Some("committed_entries") => {
                    LList::entries_view(t.committed_entries.clone()).into_lua(lua)?
                }
                Some("readstates") => {
                    LList::read_states_view(t.read_states.clone()).into_lua(lua)?
                }
                Some("messages") => LList::messages_view(t.messages.clone()).into_lua(lua)?,
                Some("snapshot") => LSnapshot::new(t.snapshot.clone()).into_lua(lua)?,
                Some("mustsync") => LuaValue::Boolean(t.must_sync),
                _ => return Err(unknown_member("ready", &k)),
            })
        });
        m.add_meta_method(
            LuaMetaMethod::NewIndex,
            |_, _, (k, _v): (LuaValue, LuaValue)| -> LuaResult<()> {
                match key_str(&k).as_deref() {
                    Some(
                        "softstate" | "hardstate" | "entries" | "committed_entries" | "readstates"
                        | "messages" | "snapshot" | "mustsync",
                    ) => Err(Error::access(
                        format!("ready.{}", key_str(&k).unwrap_or_default()),
                        "read-only",
                    )
                    .into()),
                    _ => Err(unknown_member("ready", &k)),
                }
            },
        );
        m.add_meta_method(LuaMetaMethod::ToString, |_, t, ()| {
            Ok(format!(
                "ready{{{} entries, {} committed, {} messages}}",
                t.entries.len(),
                t.committed_entries.len(),
                t.messages.len()
            ))
        });
    }
}
