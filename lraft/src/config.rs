//! `lraft.config()`: the node configuration object.

use mlua::prelude::*;
use raft_core::{Config, ReadOnlyOption, NO_LIMIT};

use crate::error::Error;
use crate::storage_ref::StorageRef;
use crate::util::{
    key_str, lua_u64, to_bool, to_count, to_u64, to_u64_list, u64_list, unknown_member,
};

/// A configuration: the core's [`Config`] plus the bootstrap peer lists and
/// the storage.
#[derive(Clone)]
pub struct LConfig {
    /// The core configuration.
    pub cfg: Config,
    /// `peers`.
    pub peers: Vec<u64>,
    /// `learners`.
    pub learners: Vec<u64>,
    /// `Storage`.
    pub storage: Option<StorageRef>,
}

impl Default for LConfig {
    fn default() -> Self {
        LConfig {
            cfg: Config {
                logger: crate::logger::process_logger(),
                ..Default::default()
            },
            peers: Vec::new(),
            learners: Vec::new(),
            storage: None,
        }
    }
}

fn size_get(v: u64) -> LuaValue {
    if v == NO_LIMIT {
        LuaValue::Integer(i64::MAX)
    } else {
        lua_u64(v)
    }
}

fn size_set(v: &LuaValue, what: &str) -> LuaResult<u64> {
    match to_count(v, what)? {
        // `noLimit` (math.maxinteger) reads back as itself.
        n if n == i64::MAX as u64 => Ok(NO_LIMIT),
        n => Ok(n),
    }
}

fn count_set(v: &LuaValue, what: &str) -> LuaResult<usize> {
    usize::try_from(to_count(v, what)?).map_err(|_| Error::invalid(what, "too large").into())
}

impl LConfig {
    fn get(&self, lua: &Lua, k: &str) -> LuaResult<Option<LuaValue>> {
        let c = &self.cfg;
        Ok(Some(match k {
            "ID" => lua_u64(c.id),
            "peers" => LuaValue::Table(u64_list(lua, &self.peers)?),
            "learners" => LuaValue::Table(u64_list(lua, &self.learners)?),
            "ElectionTick" => LuaValue::Integer(c.election_tick as i64),
            "HeartbeatTick" => LuaValue::Integer(c.heartbeat_tick as i64),
            "Applied" => lua_u64(c.applied),
            "MaxSizePerMsg" => size_get(c.max_size_per_msg),
            "MaxCommittedSizePerReady" => size_get(c.max_committed_size_per_ready),
            "MaxUncommittedEntriesSize" => size_get(c.max_uncommitted_entries_size),
            "MaxInflightMsgs" => LuaValue::Integer(c.max_inflight_msgs as i64),
            "MaxInflightBytes" => size_get(c.max_inflight_bytes),
            "CheckQuorum" => LuaValue::Boolean(c.check_quorum),
            "PreVote" => LuaValue::Boolean(c.pre_vote),
            "ReadOnlyOption" => LuaValue::Integer(match c.read_only_option {
                ReadOnlyOption::Safe => 0,
                ReadOnlyOption::LeaseBased => 1,
            }),
            "DisableProposalForwarding" => LuaValue::Boolean(c.disable_proposal_forwarding),
            "DisableConfChangeValidation" => LuaValue::Boolean(c.disable_conf_change_validation),
            "StepDownOnRemoval" => LuaValue::Boolean(c.step_down_on_removal),
            "Seed" => c.seed.map(lua_u64).unwrap_or(LuaValue::Nil),
            "Storage" => match &self.storage {
                Some(s) => s.to_lua(lua)?,
                None => LuaValue::Nil,
            },
            _ => return Ok(None),
        }))
    }

    fn set(&mut self, k: &str, v: LuaValue) -> LuaResult<bool> {
        let what = format!("config.{k}");
        let c = &mut self.cfg;
        match k {
            "ID" => c.id = to_u64(&v, &what)?,
            "peers" => self.peers = to_u64_list(&v, &what)?,
            "learners" => self.learners = to_u64_list(&v, &what)?,
            "ElectionTick" => c.election_tick = count_set(&v, &what)?,
            "HeartbeatTick" => c.heartbeat_tick = count_set(&v, &what)?,
            "Applied" => c.applied = to_u64(&v, &what)?,
            "MaxSizePerMsg" => c.max_size_per_msg = size_set(&v, &what)?,
            "MaxCommittedSizePerReady" => c.max_committed_size_per_ready = size_set(&v, &what)?,
            "MaxUncommittedEntriesSize" => c.max_uncommitted_entries_size = size_set(&v, &what)?,
            "MaxInflightMsgs" => c.max_inflight_msgs = count_set(&v, &what)?,
            "MaxInflightBytes" => c.max_inflight_bytes = size_set(&v, &what)?,
            "CheckQuorum" => c.check_quorum = to_bool(&v, &what)?,
            "PreVote" => c.pre_vote = to_bool(&v, &what)?,
            "ReadOnlyOption" => {
                c.read_only_option = match to_u64(&v, &what)? {
                    0 => ReadOnlyOption::Safe,
                    1 => ReadOnlyOption::LeaseBased,
                    n => {
                        return Err(Error::invalid(
                            what,
                            format!("{n} is not 0 (Safe) or 1 (LeaseBased)"),
                        )
                        .into())
                    }
                }
            }
            "DisableProposalForwarding" => c.disable_proposal_forwarding = to_bool(&v, &what)?,
            "DisableConfChangeValidation" => c.disable_conf_change_validation = to_bool(&v, &what)?,
            "StepDownOnRemoval" => c.step_down_on_removal = to_bool(&v, &what)?,
            "Seed" => {
                c.seed = if v.is_nil() {
                    None
                } else {
                    Some(to_u64(&v, &what)?)
                }
            }
            "Storage" => {
                self.storage = if v.is_nil() {
                    None
                } else {
                    Some(StorageRef::from_lua_value(&v, &what)?)
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

impl LuaUserData for LConfig {
    fn add_methods<M: LuaUserDataMethods<Self>>(m: &mut M) {
        m.add_meta_method(LuaMetaMethod::Index, |lua, t, k: LuaValue| {
            let name = key_str(&k).unwrap_or_default();
            t.get(lua, &name)?
                .ok_or_else(|| unknown_member("config", &k))
        });
        m.add_meta_method_mut(
            LuaMetaMethod::NewIndex,
            |_, t, (k, v): (LuaValue, LuaValue)| {
                let name = key_str(&k).unwrap_or_default();
                if t.set(&name, v)? {
                    Ok(())
                } else {
                    Err(unknown_member("config", &k))
                }
            },
        );
        m.add_meta_method(LuaMetaMethod::ToString, |_, t, ()| {
            Ok(format!("config{{ID={}}}", t.cfg.id))
        });
    }
}
