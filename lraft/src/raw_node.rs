//! `lraft.rawnode()`: the core's [`RawNode`] as a Lua object.
//!
//! Storage callbacks and `step_func` run while the node is inside a core
//! call. The node therefore lives in a `RefCell` behind `&self` methods: a
//! callback that calls back into the same node gets a clear "busy" error
//! instead of a panic. Readys are converted to Lua objects after the node is
//! released.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use mlua::prelude::*;
use raft_core::eraftpb::{ConfChange, ConfChangeType, Message};
use raft_core::{ConfChangeI, Error, RawNode, ReadState, SnapshotStatus, Storage};

use crate::bulk::bytes_list;
use crate::config::LConfig;
use crate::error::Error as LraftError;
use crate::error::{
    code_of, storage_error, ERR_FALSE, ERR_PROPOSAL_DROPPED, ERR_STEP_LOCAL_MSG,
    ERR_STEP_PEER_NOT_FOUND, OK,
};
use crate::list::LList;
use crate::pb::confchange::confchange_from_lua;
use crate::pb::message::{message_from_lua, LMessage};
use crate::pb::presence::Msg;
use crate::pb::snapshot::LConfState;
use crate::readstate::{read_states_from_lua, LReadState};
use crate::ready::LReady;
use crate::status::status_table;
use crate::util::{key_str, lua_u64, to_bool, to_bytes, to_u64, to_u64_list};

type Node = RawNode<Box<dyn Storage>>;

static NEXT_SERIAL: AtomicU64 = AtomicU64::new(1);

/// What `step_func` did during the current node call.
#[derive(Debug, Default)]
enum HookOutcome {
    /// Not called, or returned OK.
    #[default]
    Quiet,
    /// Returned a non-OK error code (the last one wins).
    Code(i64),
    /// Raised (the first error wins).
    Raised(String),
}

/// An initialised node.
struct Live {
    node: Node,
    /// Sequence number of the newest Ready handed out.
    seq: u64,
    /// Sequence number of the newest Ready acknowledged by `advance`: the
    /// Readys after it await acknowledgement.
    advanced: u64,
}

enum Slot {
    Uninit,
    Live(Box<Live>),
    Closed,
}

/// A rawnode as seen from Lua.
pub struct LRawNode {
    serial: u64,
    slot: RefCell<Slot>,
    hook: Rc<RefCell<HookOutcome>>,
}

/// `lraft.rawnode()`.
pub fn new_raw_node(_: &Lua, _: ()) -> LuaResult<LRawNode> {
    Ok(LRawNode {
        serial: NEXT_SERIAL.fetch_add(1, Ordering::Relaxed),
        slot: RefCell::new(Slot::Uninit),
        hook: Rc::new(RefCell::new(HookOutcome::Quiet)),
    })
}

fn busy(what: &str) -> LuaError {
    LraftError::invalid(
        format!("rawnode:{what}"),
        "the node is busy (called from inside a storage callback or step_func of the same node)",
    )
    .into()
}

/// The core error a `step_func` result code stands for.
fn hook_error(code: i64) -> Error {
    match code {
        ERR_PROPOSAL_DROPPED => Error::ProposalDropped,
        ERR_STEP_LOCAL_MSG => Error::StepLocalMsg,
        ERR_STEP_PEER_NOT_FOUND => Error::StepPeerNotFound,
        c @ 1..=4 => Error::Store(storage_error(c, "step_func")),
        c => Error::Misuse(format!("step_func returned error code {c}")),
    }
}

impl LRawNode {
    /// Runs `f` on the initialised node; raises when the node is not
    /// initialised, closed, or busy.
    fn with<T>(&self, what: &str, f: impl FnOnce(&mut Live) -> LuaResult<T>) -> LuaResult<T> {
        let mut g = self.slot.try_borrow_mut().map_err(|_| busy(what))?;
        match &mut *g {
            Slot::Uninit => Err(LraftError::invalid(
                format!("rawnode:{what}"),
                "the node is not initialised (call node:init(cfg, peers) first)",
            )
            .into()),
            Slot::Closed => {
                Err(LraftError::invalid(format!("rawnode:{what}"), "the node is closed").into())
            }
            Slot::Live(l) => {
                *self.hook.borrow_mut() = HookOutcome::Quiet;
                f(l)
            }
        }
    }

    /// Turns the result of a core call into an error code, or raises: when
    /// `step_func` raised, when the node failed (storage failure), or for an
    /// error that is not an expected Raft outcome (unless `soft`, which maps
    /// it to `ErrFalse`).
    fn finish(
        &self,
        l: &mut Live,
        what: &str,
        r: raft_core::Result<()>,
        soft: bool,
    ) -> LuaResult<i64> {
        let outcome = std::mem::take(&mut *self.hook.borrow_mut());
        if let HookOutcome::Raised(e) = outcome {
            return Err(LraftError::invalid(
                format!("rawnode:{what}"),
                format!("step_func raised: {e}"),
            )
            .into());
        }
        if l.node.is_failed() {
            return Err(self.failed(l, what));
        }
        match r {
            Ok(()) => Ok(OK),
            Err(e) => {
                if let HookOutcome::Code(c) = outcome {
                    return Ok(c);
                }
                match code_of(&e) {
                    Some(c) => Ok(c),
                    // A misuse (such as a message addressed to another
                    // node) is the caller's bug: raise it even here.
                    None if soft && !matches!(e, Error::Misuse(_)) => Ok(ERR_FALSE),
                    None => Err(LraftError::core(format!("rawnode:{what}"), e).into()),
                }
            }
        }
    }

    fn failed(&self, l: &Live, what: &str) -> LuaError {
        LraftError::invalid(
            format!("rawnode:{what}"),
            format!(
                "the node failed and refuses further calls: {}",
                l.node.failure().unwrap_or("unknown failure")
            ),
        )
        .into()
    }

    /// Runs a core call that returns an error code.
    fn call(
        &self,
        what: &str,
        soft: bool,
        f: impl FnOnce(&mut Node) -> raft_core::Result<()>,
    ) -> LuaResult<i64> {
        self.with(what, |l| {
            if l.node.is_failed() {
                return Err(self.failed(l, what));
            }
            let r = f(&mut l.node);
            self.finish(l, what, r, soft)
        })
    }

    fn init(&self, cfg: &LuaValue, peers: &LuaValue) -> LuaResult<()> {
        let cfg = match cfg {
            LuaValue::UserData(ud) if ud.is::<LConfig>() => ud.borrow::<LConfig>()?.clone(),
            other => {
                return Err(
                    LraftError::ty("rawnode:init", "a config as the first argument", other).into(),
                )
            }
        };
        let peers = to_u64_list(peers, "rawnode:init: peers")?;
        let mut g = self.slot.try_borrow_mut().map_err(|_| busy("init"))?;
        match &*g {
            Slot::Uninit => {}
            Slot::Live(_) => {
                return Err(
                    LraftError::invalid("rawnode:init", "the node is already initialised").into(),
                )
            }
            Slot::Closed => {
                return Err(LraftError::invalid("rawnode:init", "the node is closed").into())
            }
        }
        let Some(storage) = &cfg.storage else {
            return Err(LraftError::invalid(
                "rawnode:init",
                "config.Storage is not set (a memorystorage or a Lua storage base)",
            )
            .into());
        };
        let mut core = cfg.cfg.clone();
        // The contract's Ready timing: own votes and appends count at once.
        core.immediate_self_ack = true;
        let fail = |e: Error| -> LuaError { LraftError::core("rawnode:init", e).into() };
        let mut node = RawNode::new(&core, storage.boxed()).map_err(fail)?;
        let st = node.store().initial_state().map_err(fail)?;
        let empty = node.store().last_index().map_err(fail)? == 0 && st.hard_state.is_empty();
        if empty && !peers.is_empty() {
            node.bootstrap(&peers).map_err(fail)?;
        } else if empty
            && st.conf_state.voters.is_empty()
            && st.conf_state.learners.is_empty()
            && !(cfg.peers.is_empty() && cfg.learners.is_empty())
        {
            // etcd's `Config.peers` / `learners`: the initial membership of
            // a node with an empty log, without any log entries.
            for (ids, ty) in [
                (&cfg.peers, ConfChangeType::ConfChangeAddNode),
                (&cfg.learners, ConfChangeType::ConfChangeAddLearnerNode),
            ] {
                for id in ids {
                    let mut cc = ConfChange {
                        node_id: *id,
                        ..Default::default()
                    };
                    cc.set_change_type(ty);
                    node.apply_conf_change(&ConfChangeI::V1(cc)).map_err(fail)?;
                }
            }
        }
        *g = Slot::Live(Box::new(Live {
            node,
            seq: 0,
            advanced: 0,
        }));
        Ok(())
    }

    fn ready(&self) -> LuaResult<LReady> {
        let (rd, seq) = self.with("ready", |l| {
            if l.node.is_failed() {
                return Err(self.failed(l, "ready"));
            }
            let r = l.node.ready();
            match r {
                Ok(rd) => {
                    l.seq += 1;
                    Ok((rd, l.seq))
                }
                Err(e) => {
                    self.finish(l, "ready", Err(e.clone()), false)?;
                    Err(LraftError::core("rawnode:ready", e).into())
                }
            }
        })?;
        Ok(LReady::new(rd, self.serial, seq))
    }

    fn advance(&self, rd: &LuaValue) -> LuaResult<()> {
        let (node, seq) = match rd {
            LuaValue::UserData(ud) if ud.is::<LReady>() => {
                let r = ud.borrow::<LReady>()?;
                (r.node, r.seq)
            }
            other => {
                return Err(LraftError::ty(
                    "rawnode:advance",
                    "the ready returned by node:ready()",
                    other,
                )
                .into())
            }
        };
        self.with("advance", |l| {
            if l.node.is_failed() {
                return Err(self.failed(l, "advance"));
            }
            // As in etcd, advance acknowledges every Ready handed out since
            // the last advance; the one given must be one of them.
            if l.seq == l.advanced {
                return Err(LraftError::invalid(
                    "rawnode:advance",
                    "there is no pending Ready (call node:ready() first)",
                )
                .into());
            }
            if node != self.serial || seq <= l.advanced {
                return Err(LraftError::invalid(
                    "rawnode:advance",
                    "this ready is not a pending Ready of this node",
                )
                .into());
            }
            l.advanced = l.seq;
            let r = l.node.advance();
            self.finish(l, "advance", r, false).map(|_| ())
        })
    }

    fn has_ready(&self) -> LuaResult<bool> {
        self.with("has_ready", |l| {
            if l.node.is_failed() {
                return Err(self.failed(l, "has_ready"));
            }
            Ok(l.node.has_ready())
        })
    }

    fn tick(&self) -> LuaResult<()> {
        self.call("tick", false, |n| {
            n.tick();
            Ok(())
        })
        .map(|_| ())
    }

    fn set_step_func(&self, v: LuaValue) -> LuaResult<()> {
        let f = match v {
            LuaValue::Nil => None,
            LuaValue::Function(f) => Some(f),
            other => {
                return Err(LraftError::ty("rawnode.step_func", "a function or nil", &other).into())
            }
        };
        let outcome = self.hook.clone();
        self.with("step_func", |l| {
            let Some(f) = f else {
                l.node.set_step_hook(None);
                return Ok(());
            };
            l.node.set_step_hook(Some(Box::new(move |m: &Message| {
                let msg = LMessage(Msg::full(m.clone()));
                let res = f
                    .call::<LuaMultiValue>(msg)
                    .map_err(|e| crate::errors::message(&e));
                let code = res.and_then(|vals| match vals.into_iter().next() {
                    None | Some(LuaValue::Nil) => Ok(OK),
                    Some(LuaValue::Integer(c)) => Ok(c),
                    Some(LuaValue::Number(c)) if c.fract() == 0.0 => Ok(c as i64),
                    Some(other) => {
                        Err(LraftError::ty("step_func result", "an error code", &other).to_string())
                    }
                });
                let mut o = outcome.borrow_mut();
                match code {
                    Ok(OK) => Ok(()),
                    Ok(c) => {
                        if !matches!(*o, HookOutcome::Raised(_)) {
                            *o = HookOutcome::Code(c);
                        }
                        Err(hook_error(c))
                    }
                    Err(e) => {
                        if !matches!(*o, HookOutcome::Raised(_)) {
                            *o = HookOutcome::Raised(e);
                        }
                        Err(Error::Misuse("step_func raised".into()))
                    }
                }
            })));
            Ok(())
        })
    }

    fn status(&self, lua: &Lua) -> LuaResult<LuaTable> {
        let st = self.with("status", |l| Ok(l.node.status()))?;
        status_table(lua, &st)
    }

    fn get_field(&self, lua: &Lua, k: &LuaValue) -> LuaResult<LuaValue> {
        match key_str(k).as_deref() {
            Some("id") => self.with("id", |l| Ok(lua_u64(l.node.id()))),
            Some("uncommitted_size") => self.with("uncommitted_size", |l| {
                Ok(lua_u64(l.node.uncommitted_size()))
            }),
            Some("read_states") => {
                let rs: Vec<LReadState> = self.with("read_states", |l| {
                    Ok(l.node
                        .read_states()
                        .iter()
                        .map(|r| LReadState {
                            index: r.index,
                            request_ctx: r.request_ctx.clone(),
                        })
                        .collect())
                })?;
                LList::read_states_view(Rc::new(rs)).into_lua(lua)
            }
            Some("step_func") => Err(LraftError::access("rawnode.step_func", "write-only").into()),
            _ => Err(crate::util::unknown_member("rawnode", k)),
        }
    }

    fn set_field(&self, k: &LuaValue, v: LuaValue) -> LuaResult<()> {
        match key_str(k).as_deref() {
            Some("step_func") => self.set_step_func(v),
            Some("read_states") => {
                let rs = read_states_from_lua(&v, "rawnode.read_states")?;
                let rs: Vec<ReadState> = rs
                    .into_iter()
                    .map(|r| ReadState {
                        index: r.index,
                        request_ctx: r.request_ctx,
                    })
                    .collect();
                self.with("read_states", |l| {
                    l.node.set_read_states(rs);
                    Ok(())
                })
            }
            Some(name @ ("id" | "uncommitted_size")) => {
                Err(LraftError::access(format!("rawnode.{name}"), "read-only").into())
            }
            _ => Err(crate::util::unknown_member("rawnode", k)),
        }
    }

    fn close(&self) -> LuaResult<()> {
        let mut g = self.slot.try_borrow_mut().map_err(|_| busy("close"))?;
        *g = Slot::Closed;
        Ok(())
    }
}

fn id_arg(v: &LuaValue, what: &str) -> LuaResult<u64> {
    to_u64(v, &format!("rawnode:{what}: id"))
}

impl LuaUserData for LRawNode {
    fn add_methods<M: LuaUserDataMethods<Self>>(m: &mut M) {
        m.add_method("init", |_, t, (cfg, peers): (LuaValue, LuaValue)| {
            t.init(&cfg, &peers)
        });
        m.add_method("ready", |_, t, ()| t.ready());
        m.add_method("has_ready", |_, t, ()| t.has_ready());
        m.add_method("advance", |_, t, rd: LuaValue| t.advance(&rd));
        m.add_method("tick", |_, t, ()| t.tick());
        m.add_method("step", |_, t, v: LuaValue| {
            // A message object, or its raftpb bytes (as received).
            let msg = match &v {
                LuaValue::String(s) => raft_core::message_nesting::decode_message(&s.as_bytes())
                    .map_err(|e| {
                        LraftError::invalid("rawnode:step", format!("malformed message bytes: {e}"))
                    })?,
                _ => message_from_lua(&v, "rawnode:step")?.m,
            };
            t.call("step", true, |n| n.step(msg))
        });
        m.add_method("campaign", |_, t, ()| {
            t.call("campaign", false, |n| n.campaign())
        });
        m.add_method("propose", |_, t, v: LuaValue| {
            let data = to_bytes(&v, "rawnode:propose: data")?;
            t.call("propose", false, |n| n.propose(data))
        });
        m.add_method("propose_many", |lua, t, v: LuaValue| {
            // One call for a batch of proposals: the boundary crossing and
            // the argument checks are paid once (issue 11).
            let list = match &v {
                LuaValue::Table(l) => l,
                other => {
                    return Err(
                        LraftError::ty("rawnode:propose_many", "a list of strings", other).into(),
                    )
                }
            };
            let data = bytes_list(lua, list, "rawnode:propose_many: data")?;
            let mut proposed = 0i64;
            let rc = t.call("propose_many", false, |n| {
                for d in data {
                    n.propose(d)?;
                    proposed += 1;
                }
                Ok(())
            })?;
            Ok((rc, proposed))
        });
        m.add_method("propose_confchange", |_, t, v: LuaValue| {
            let cc = confchange_from_lua(&v, "rawnode:propose_confchange")?;
            t.call("propose_confchange", false, |n| n.propose_conf_change(cc))
        });
        m.add_method("apply_confchange", |_, t, v: LuaValue| {
            let cc = confchange_from_lua(&v, "rawnode:apply_confchange")?;
            let mut out = None;
            t.call("apply_confchange", false, |n| {
                out = Some(n.apply_conf_change(&cc)?);
                Ok(())
            })?;
            Ok(LConfState::new(out.unwrap_or_default()))
        });
        m.add_method("readindex", |_, t, v: LuaValue| {
            let ctx = if v.is_nil() {
                Bytes::new()
            } else {
                to_bytes(&v, "rawnode:readindex: ctx")?
            };
            t.call("readindex", false, |n| n.read_index(ctx))
        });
        m.add_method("transfer_leader", |_, t, v: LuaValue| {
            let id = id_arg(&v, "transfer_leader")?;
            t.call("transfer_leader", false, |n| n.transfer_leader(id))
        });
        m.add_method("report_unreachable", |_, t, v: LuaValue| {
            let id = id_arg(&v, "report_unreachable")?;
            t.call("report_unreachable", false, |n| n.report_unreachable(id))
        });
        m.add_method("report_snapshot", |_, t, (v, ok): (LuaValue, LuaValue)| {
            let id = id_arg(&v, "report_snapshot")?;
            let ok = to_bool(&ok, "rawnode:report_snapshot: ok")?;
            let status = if ok {
                SnapshotStatus::Finish
            } else {
                SnapshotStatus::Failure
            };
            t.call("report_snapshot", false, |n| n.report_snapshot(id, status))
        });
        m.add_method("forget_leader", |_, t, ()| {
            t.call("forget_leader", false, |n| n.forget_leader())
        });
        m.add_method("status", |lua, t, ()| t.status(lua));
        m.add_method("close", |_, t, ()| t.close());
        // `local n <close> = raft.rawnode()` closes the node at scope exit.
        m.add_meta_method(LuaMetaMethod::Close, |_, t, _: LuaMultiValue| t.close());
        m.add_meta_method(LuaMetaMethod::Index, |lua, t, k: LuaValue| {
            t.get_field(lua, &k)
        });
        m.add_meta_method(
            LuaMetaMethod::NewIndex,
            |_, t, (k, v): (LuaValue, LuaValue)| t.set_field(&k, v),
        );
        m.add_meta_method(LuaMetaMethod::ToString, |_, t, ()| {
            Ok(match t.slot.try_borrow().as_deref() {
                Ok(Slot::Uninit) => "rawnode (not initialised)".to_string(),
                Ok(Slot::Closed) => "rawnode (closed)".to_string(),
                Ok(Slot::Live(l)) => format!("rawnode{{id={}}}", l.node.id()),
                Err(_) => "rawnode (busy)".to_string(),
            })
        });
    }
}
