//! The node handle ([`raft_rawnode`]): etcd's RawNode over a memory or
//! callback storage.

use std::cell::RefCell;
use std::ffi::c_char;

use bytes::Bytes;
use prost::Message as _;
use raft_core::eraftpb::Message;
use raft_core::proto_ext::ConfChangeI;
use raft_core::{RawNode, SnapshotStatus, Storage};

use crate::bytes::in_slice;
use crate::callback_storage::{raft_storage_callbacks, CallbackStorage};
use crate::config::{config_in, raft_config};
use crate::decoded::{conf_state_view, raft_decoded, Arena, Value};
use crate::guard::{free_handle, guard, in_ref, out_ptr, with_handle, Handle};
use crate::last_error::{raft_last_error, HandleState};
use crate::memory_storage::raft_memory_storage;
use crate::messages::{
    check_enum, conf_change_in, conf_change_v2_in, in_array, raft_conf_change, raft_conf_change_v2,
    raft_conf_state,
};
use crate::ready::{raft_ready, role_code};
use crate::result::{raft_result, Fail, FfiResult};
use crate::status::raft_status;

/// The node type behind the handle.
pub type Node = RawNode<Box<dyn Storage>>;

/// A Raft node (etcd RawNode). Drive it with tick/step/propose, then
/// ready → persist, send, apply → advance.
///
/// Threading: one thread at a time; it may move between threads between
/// calls. Storage and log callbacks run on the calling thread; a call on the
/// same node from inside one of them returns RAFT_ERR_MISUSE.
pub struct raft_rawnode {
    st: HandleState,
    node: RefCell<Node>,
}

impl Handle for raft_rawnode {
    const NAME: &'static str = "raft_rawnode";
    fn state(&self) -> &HandleState {
        &self.st
    }
}

/// Runs `f` on the node behind `node`, refusing reentrant calls.
fn with_node(
    what: &str,
    node: *const raft_rawnode,
    f: impl FnOnce(&mut Node) -> FfiResult<()>,
) -> raft_result {
    with_handle(what, node, |h| {
        let mut n = h.node.try_borrow_mut().map_err(|_| {
            Fail::new(
                raft_result::RAFT_ERR_MISUSE,
                "reentrant call: the node is running a call (a callback called back into it)",
            )
        })?;
        f(&mut n)
    })
}

fn create(
    cfg: *const raft_config,
    store: Box<dyn Storage>,
    out: *mut *mut raft_rawnode,
) -> FfiResult<()> {
    let out = out_ptr(out, "out")?;
    let cfg = config_in(in_ref(cfg, "cfg")?)?;
    let node = RawNode::new(&cfg, store)?;
    *out = Box::into_raw(Box::new(raft_rawnode {
        st: HandleState::default(),
        node: RefCell::new(node),
    }));
    Ok(())
}

/// Creates a node on a memory storage (shared: the application keeps
/// writing the Ready's data into `storage`, which may be freed before the
/// node). The config is validated (RAFT_ERR_CONFIG_INVALID).
///
/// # Safety
/// Pointers are NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn raft_rawnode_new(
    cfg: *const raft_config,
    storage: *const raft_memory_storage,
    out: *mut *mut raft_rawnode,
) -> raft_result {
    guard("raft_rawnode_new", || {
        let ms = in_ref(storage, "storage")?;
        create(cfg, Box::new(ms.storage()), out)
    })
}

/// Creates a node on a storage implemented by the caller. The table is
/// copied; `callbacks->userdata` must stay valid until the node is freed.
///
/// # Safety
/// Pointers are NULL or valid; the callbacks follow the contract of
/// `raft_storage_callbacks`.
#[no_mangle]
pub unsafe extern "C" fn raft_rawnode_new_with_callbacks(
    cfg: *const raft_config,
    callbacks: *const raft_storage_callbacks,
    out: *mut *mut raft_rawnode,
) -> raft_result {
    guard("raft_rawnode_new_with_callbacks", || {
        // SAFETY: `callbacks` is NULL or valid (contract).
        let cb = unsafe { CallbackStorage::from_table(callbacks) }?;
        create(cfg, Box::new(cb), out)
    })
}

/// Releases the node and sets `*node` to NULL. Accepts NULL. Refused (the
/// node stays alive) when called from a callback of that node.
///
/// # Safety
/// `node` is NULL or points to NULL or to a live handle.
#[no_mangle]
pub unsafe extern "C" fn raft_rawnode_free(node: *mut *mut raft_rawnode) {
    // SAFETY: forwarded contract.
    unsafe { free_handle(node, |n| n.node.try_borrow_mut().is_err()) }
}

/// The message of the last failed call on `node` ("" if none), valid until
/// the next failing call on it or its release; for NULL, the thread's last
/// error.
///
/// # Safety
/// `node` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn raft_rawnode_last_error(node: *const raft_rawnode) -> *const c_char {
    // SAFETY: `node` is NULL or live (contract).
    match unsafe { node.as_ref() } {
        Some(n) => n.st.error_ptr(),
        None => raft_last_error(),
    }
}

/// Bootstraps a new cluster on an empty storage: one ConfChangeAddNode
/// entry per peer at term 1, committed; the first Ready returns them.
///
/// # Safety
/// `peers` is NULL (with `len` 0) or points to `len` ids.
#[no_mangle]
pub unsafe extern "C" fn raft_rawnode_bootstrap(
    node: *const raft_rawnode,
    peers: *const u64,
    len: usize,
) -> raft_result {
    with_node("raft_rawnode_bootstrap", node, |n| {
        let peers = in_array(peers, len, "peers")?;
        Ok(n.bootstrap(peers)?)
    })
}

/// Advances the logical clock by one tick.
///
/// # Safety
/// `node` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn raft_rawnode_tick(node: *const raft_rawnode) -> raft_result {
    with_node("raft_rawnode_tick", node, |n| {
        n.tick();
        Ok(())
    })
}

/// Starts an election now.
///
/// # Safety
/// `node` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn raft_rawnode_campaign(node: *const raft_rawnode) -> raft_result {
    with_node("raft_rawnode_campaign", node, |n| Ok(n.campaign()?))
}

/// Proposes `(data, len)` (copied) for the log. RAFT_ERR_PROPOSAL_DROPPED
/// when it cannot be accepted now.
///
/// # Safety
/// `(data, len)` is readable.
#[no_mangle]
pub unsafe extern "C" fn raft_rawnode_propose(
    node: *const raft_rawnode,
    data: *const u8,
    len: usize,
) -> raft_result {
    with_node("raft_rawnode_propose", node, |n| {
        let d = Bytes::copy_from_slice(in_slice(data, len, "data")?);
        Ok(n.propose(d)?)
    })
}

/// Proposes a membership change (v1).
///
/// # Safety
/// Pointers are NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn raft_rawnode_propose_conf_change(
    node: *const raft_rawnode,
    cc: *const raft_conf_change,
) -> raft_result {
    with_node("raft_rawnode_propose_conf_change", node, |n| {
        let cc = conf_change_in(in_ref(cc, "cc")?)?;
        Ok(n.propose_conf_change(ConfChangeI::V1(cc))?)
    })
}

/// Proposes a (possibly joint) membership change (v2).
///
/// # Safety
/// Pointers are NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn raft_rawnode_propose_conf_change_v2(
    node: *const raft_rawnode,
    cc: *const raft_conf_change_v2,
) -> raft_result {
    with_node("raft_rawnode_propose_conf_change_v2", node, |n| {
        let cc = conf_change_v2_in(in_ref(cc, "cc")?)?;
        Ok(n.propose_conf_change(ConfChangeI::V2(cc))?)
    })
}

fn apply(
    n: &mut Node,
    cc: ConfChangeI,
    decoded: *mut *mut raft_decoded,
    out: *mut raft_conf_state,
) -> FfiResult<()> {
    let want = match (decoded.is_null(), out.is_null()) {
        (true, true) => false,
        (false, false) => true,
        (true, false) => return Err(Fail::null("decoded")),
        (false, true) => return Err(Fail::null("out")),
    };
    let cs = Box::new(n.apply_conf_change(&cc)?);
    if want {
        let v = conf_state_view(&cs);
        *out_ptr(decoded, "decoded")? =
            raft_decoded::into_raw(Value::ConfState(cs), Arena::default());
        *out_ptr(out, "out")? = v;
    }
    Ok(())
}

/// Applies a committed membership change (v1) and returns the new
/// membership: `*out`'s arrays are owned by `*decoded`. Pass NULL for both
/// `decoded` and `out` when the membership is not needed.
///
/// # Safety
/// Pointers are NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn raft_rawnode_apply_conf_change(
    node: *const raft_rawnode,
    cc: *const raft_conf_change,
    decoded: *mut *mut raft_decoded,
    out: *mut raft_conf_state,
) -> raft_result {
    with_node("raft_rawnode_apply_conf_change", node, |n| {
        let cc = conf_change_in(in_ref(cc, "cc")?)?;
        apply(n, ConfChangeI::V1(cc), decoded, out)
    })
}

/// Applies a committed membership change (v2); as
/// `raft_rawnode_apply_conf_change`.
///
/// # Safety
/// Pointers are NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn raft_rawnode_apply_conf_change_v2(
    node: *const raft_rawnode,
    cc: *const raft_conf_change_v2,
    decoded: *mut *mut raft_decoded,
    out: *mut raft_conf_state,
) -> raft_result {
    with_node("raft_rawnode_apply_conf_change_v2", node, |n| {
        let cc = conf_change_v2_in(in_ref(cc, "cc")?)?;
        apply(n, ConfChangeI::V2(cc), decoded, out)
    })
}

/// Requests a linearizable read; the answer comes back as a read state
/// carrying `(ctx, len)` (copied) in a later Ready.
///
/// # Safety
/// `(ctx, len)` is readable.
#[no_mangle]
pub unsafe extern "C" fn raft_rawnode_read_index(
    node: *const raft_rawnode,
    ctx: *const u8,
    len: usize,
) -> raft_result {
    with_node("raft_rawnode_read_index", node, |n| {
        let c = Bytes::copy_from_slice(in_slice(ctx, len, "ctx")?);
        Ok(n.read_index(c)?)
    })
}

/// Asks the leader to hand leadership to `transferee`.
///
/// # Safety
/// `node` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn raft_rawnode_transfer_leader(
    node: *const raft_rawnode,
    transferee: u64,
) -> raft_result {
    with_node("raft_rawnode_transfer_leader", node, |n| {
        Ok(n.transfer_leader(transferee)?)
    })
}

/// Makes a follower forget its leader (etcd ForgetLeader).
///
/// # Safety
/// `node` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn raft_rawnode_forget_leader(node: *const raft_rawnode) -> raft_result {
    with_node("raft_rawnode_forget_leader", node, |n| {
        Ok(n.forget_leader()?)
    })
}

/// Feeds a message received from a peer, as raftpb `Message` bytes
/// (copied). Malformed bytes give RAFT_ERR_DECODE; local message types
/// RAFT_ERR_STEP_LOCAL_MSG; responses from unknown peers
/// RAFT_ERR_STEP_PEER_NOT_FOUND.
///
/// # Safety
/// `(msg, len)` is readable.
#[no_mangle]
pub unsafe extern "C" fn raft_rawnode_step(
    node: *const raft_rawnode,
    msg: *const u8,
    len: usize,
) -> raft_result {
    with_node("raft_rawnode_step", node, |n| {
        let m = Message::decode(in_slice(msg, len, "msg")?)?;
        Ok(n.step(m)?)
    })
}

/// Writes whether a Ready is pending to `*out`.
///
/// # Safety
/// Pointers are NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn raft_rawnode_has_ready(
    node: *const raft_rawnode,
    out: *mut bool,
) -> raft_result {
    with_node("raft_rawnode_has_ready", node, |n| {
        *out_ptr(out, "out")? = n.has_ready();
        Ok(())
    })
}

/// Takes the pending Ready into `*out` (release with `raft_ready_free`; its
/// views stay valid until then). Persist its entries, hard state and
/// snapshot, send its messages, apply its committed entries, then call
/// `raft_rawnode_advance`.
///
/// # Safety
/// Pointers are NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn raft_rawnode_ready(
    node: *const raft_rawnode,
    out: *mut *mut raft_ready,
) -> raft_result {
    with_node("raft_rawnode_ready", node, |n| {
        let out = out_ptr(out, "out")?;
        let rd = n.ready()?;
        *out = Box::into_raw(raft_ready::new(rd));
        Ok(())
    })
}

/// Tells the node that the last Ready was fully handled. Without an
/// outstanding Ready it returns RAFT_ERR_MISUSE.
///
/// # Safety
/// `node` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn raft_rawnode_advance(node: *const raft_rawnode) -> raft_result {
    with_node("raft_rawnode_advance", node, |n| Ok(n.advance()?))
}

/// Writes the node's status to `*out`.
///
/// # Safety
/// Pointers are NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn raft_rawnode_status(
    node: *const raft_rawnode,
    out: *mut raft_status,
) -> raft_result {
    with_node("raft_rawnode_status", node, |n| {
        let out = out_ptr(out, "out")?;
        *out = raft_status::of(&n.status(), role_code);
        Ok(())
    })
}

/// Reports that the last message to `id` could not be delivered.
///
/// # Safety
/// `node` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn raft_rawnode_report_unreachable(
    node: *const raft_rawnode,
    id: u64,
) -> raft_result {
    with_node("raft_rawnode_report_unreachable", node, |n| {
        Ok(n.report_unreachable(id)?)
    })
}

/// Reports the outcome (a `raft_snapshot_status`) of sending a snapshot to
/// `id`.
///
/// # Safety
/// `node` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn raft_rawnode_report_snapshot(
    node: *const raft_rawnode,
    id: u64,
    status: i32,
) -> raft_result {
    with_node("raft_rawnode_report_snapshot", node, |n| {
        let s = match check_enum(status, 1, "status")? {
            0 => SnapshotStatus::Finish,
            _ => SnapshotStatus::Failure,
        };
        Ok(n.report_snapshot(id, s)?)
    })
}
