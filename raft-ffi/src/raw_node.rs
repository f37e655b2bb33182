//! The node handle ([`raft_rawnode`]): etcd's RawNode over a memory or
//! callback storage.

use std::cell::RefCell;
use std::ffi::c_char;

use bytes::Bytes;
use raft_core::ConfChangeI;
use raft_core::{RawNode, SnapshotStatus, Storage};

use crate::bytes::in_slice;
use crate::callback_storage::{raft_storage_callbacks, CallbackStorage};
use crate::config::{config_in, raft_config};
use crate::decoded::{conf_state_view, raft_decoded, Arena, Value};
use crate::enums::{enum_in, raft_snapshot_status};
use crate::guard::{free_handle, guard, in_ref, out_ptr, with_handle, Handle};
use crate::last_error::{raft_last_error, HandleState};
use crate::memory_storage::raft_memory_storage;
use crate::messages::{
    conf_change_in, conf_change_v2_in, in_array, raft_conf_change, raft_conf_change_v2,
    raft_conf_state,
};
use crate::ready::raft_ready;
use crate::result::{raft_result, Fail, FfiResult};
use crate::status::{raft_progress, raft_status};

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

/// Runs `f` on the node behind `node`, refusing reentrant calls, and every
/// call once the node failed (a storage failure or broken invariant made a
/// call return RAFT_ERR_POISONED): as raft.h promises, only `_free` works
/// then, also for the calls the core cannot refuse itself (tick, has_ready,
/// status, progress).
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
        if let Some(why) = n.failure() {
            return Err(Fail::new(
                raft_result::RAFT_ERR_POISONED,
                format!("the node failed earlier and refuses every call but free: {why}"),
            ));
        }
        f(&mut n)
    })
}

/// Builds a node on `store` into `*out`.
pub(crate) fn create(
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
        let m = raft_core::message_nesting::decode_message(in_slice(msg, len, "msg")?)?;
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
/// As in etcd, it may be called again before `raft_rawnode_advance` while
/// the Readys already taken await no acknowledgement (no entries, snapshot
/// or committed entries, e.g. an empty Ready taken to look); each Ready
/// holds only what is new, and every `raft_ready` taken stays valid, with
/// its views, until its own `raft_ready_free`. While an earlier Ready awaits
/// `raft_rawnode_advance`, it returns RAFT_ERR_MISUSE and changes nothing.
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

/// Tells the node that the Readys taken since the last advance were fully
/// handled. Without a Ready taken since then it returns RAFT_ERR_MISUSE.
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
        *out = raft_status::of(&n.status());
        Ok(())
    })
}

/// The leader's view of every peer's log (etcd `Status.Progress`), sorted
/// by id and including the leader itself; a node that is not the leader
/// tracks no peers.
///
/// Count protocol: with `out` NULL, writes the number of peers to `*len`
/// (its input value is ignored). Otherwise `*len` is the capacity of `out`
/// in elements: the first entries of `out` receive the peers and `*len`
/// their number; when the capacity is too small the call returns
/// RAFT_ERR_INVALID_ARGUMENT and writes nothing (ask for the count again:
/// it changes only through calls on the node).
///
/// # Safety
/// `node` is NULL or a live handle; `len` is NULL or valid; `out` is NULL
/// or points to `*len` writable elements.
#[no_mangle]
pub unsafe extern "C" fn raft_rawnode_progress(
    node: *const raft_rawnode,
    out: *mut raft_progress,
    len: *mut usize,
) -> raft_result {
    with_node("raft_rawnode_progress", node, |n| {
        let len = out_ptr(len, "len")?;
        let peers = n.status().progress;
        let count = peers.as_ref().map_or(0, |p| p.len());
        if out.is_null() {
            *len = count;
            return Ok(());
        }
        if *len < count {
            return Err(Fail::invalid(format!(
                "`out` holds {} elements but the leader tracks {count} peers",
                *len
            )));
        }
        // SAFETY: `out` is non-NULL and, by the contract, points to `*len`
        // writable elements, which is at least `count`.
        let dst = unsafe { std::slice::from_raw_parts_mut(out, count) };
        for (d, (&id, p)) in dst.iter_mut().zip(peers.iter().flatten()) {
            *d = raft_progress::of(id, p);
        }
        *len = count;
        Ok(())
    })
}

/// The node's current membership (etcd `Status.Config`, known to every
/// role): `*out`'s arrays are owned by `*decoded` (release with
/// `raft_decoded_free`). In a joint configuration `voters_outgoing` is
/// non-empty.
///
/// # Safety
/// Pointers are NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn raft_rawnode_conf_state(
    node: *const raft_rawnode,
    decoded: *mut *mut raft_decoded,
    out: *mut raft_conf_state,
) -> raft_result {
    with_node("raft_rawnode_conf_state", node, |n| {
        let decoded = out_ptr(decoded, "decoded")?;
        let out = out_ptr(out, "out")?;
        let cs = Box::new(n.status().config);
        *out = conf_state_view(&cs);
        *decoded = raft_decoded::into_raw(Value::ConfState(cs), Arena::default());
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
        let s = SnapshotStatus::from(enum_in::<raft_snapshot_status>(status, "status")?);
        Ok(n.report_snapshot(id, s)?)
    })
}

#[cfg(test)]
mod tests {
    use std::ffi::CStr;
    use std::rc::Rc;

    use prost::Message as _;
    use raft_core::eraftpb::{ConfState, Entry, Message, Snapshot};
    use raft_core::{MemoryStorage, RaftState, Result as CoreResult};

    use super::*;
    use crate::bytes::raft_bytes;
    use crate::config::raft_config_init;

    /// A memory storage that fails every method once `armed` is set: it
    /// panics (a Rust-side seam to provoke a panic inside an exported call:
    /// C callbacks cannot panic, and the library has no test hooks), or with
    /// `error` set returns a storage error.
    struct PanickingStorage {
        inner: MemoryStorage,
        armed: Rc<std::cell::Cell<bool>>,
        error: bool,
    }

    impl PanickingStorage {
        fn check(&self) -> CoreResult<()> {
            if self.armed.get() && self.error {
                return Err(raft_core::StorageError::Other("disk on fire".into()).into());
            }
            assert!(!self.armed.get(), "storage armed to panic");
            Ok(())
        }
    }

    impl Storage for PanickingStorage {
        fn initial_state(&self) -> CoreResult<RaftState> {
            self.check()?;
            self.inner.initial_state()
        }
        fn entries(&self, low: u64, high: u64, max_size: u64) -> CoreResult<Vec<Entry>> {
            self.check()?;
            self.inner.entries(low, high, max_size)
        }
        fn term(&self, idx: u64) -> CoreResult<u64> {
            self.check()?;
            self.inner.term(idx)
        }
        fn first_index(&self) -> CoreResult<u64> {
            self.check()?;
            self.inner.first_index()
        }
        fn last_index(&self) -> CoreResult<u64> {
            self.check()?;
            self.inner.last_index()
        }
        fn snapshot(&self) -> CoreResult<Snapshot> {
            self.check()?;
            self.inner.snapshot()
        }
    }

    fn voters(ids: &[u64]) -> MemoryStorage {
        MemoryStorage::new_with_conf_state(ConfState {
            voters: ids.to_vec(),
            ..Default::default()
        })
    }

    /// A node with id 1 on `store`, made by the constructor the exported
    /// `raft_rawnode_new*` functions use.
    fn node_on(store: Box<dyn Storage>) -> *mut raft_rawnode {
        // SAFETY: an all-zero raft_config (integers, NULL pointers, None
        // callbacks) is a valid value for raft_config_init to overwrite.
        let mut cfg: raft_config = unsafe { std::mem::zeroed() };
        // SAFETY: `cfg` is a valid, writable raft_config.
        assert_eq!(
            unsafe { raft_config_init(&mut cfg, 1) },
            raft_result::RAFT_OK
        );
        cfg.log_level = 5; // RAFT_LOG_OFF
        let mut node = std::ptr::null_mut();
        assert_eq!(
            guard("test", || create(&cfg, store, &mut node)),
            raft_result::RAFT_OK
        );
        node
    }

    fn last_error(node: *const raft_rawnode) -> String {
        // SAFETY: the node is live; the message is a valid C string.
        unsafe { CStr::from_ptr(raft_rawnode_last_error(node)) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn caught_panic_poisons_the_node() {
        let armed = Rc::new(std::cell::Cell::new(false));
        let mut node = node_on(Box::new(PanickingStorage {
            inner: voters(&[1, 2]),
            armed: armed.clone(),
            error: false,
        }));
        // SAFETY (this and every call below): `node` is live until freed.
        assert_eq!(unsafe { raft_rawnode_tick(node) }, raft_result::RAFT_OK);

        armed.set(true);
        // Campaigning reads the last term from storage for the vote
        // request: the panic is caught.
        let rc = unsafe { raft_rawnode_campaign(node) };
        assert_eq!(rc, raft_result::RAFT_ERR_PANIC);
        let msg = last_error(node);
        assert!(msg.contains("raft_rawnode_campaign: internal panic: storage armed to panic"));
        assert!(msg.contains("now unusable"), "{msg}");

        // Sticky, even though the storage would no longer panic.
        armed.set(false);
        assert_eq!(
            unsafe { raft_rawnode_tick(node) },
            raft_result::RAFT_ERR_POISONED
        );
        let mut st = raft_status {
            id: 77,
            ..Default::default()
        };
        assert_eq!(
            unsafe { raft_rawnode_status(node, &mut st) },
            raft_result::RAFT_ERR_POISONED
        );
        assert_eq!(st.id, 77, "out-parameter written by a refused call");
        let mut n = 5usize;
        assert_eq!(
            unsafe { raft_rawnode_progress(node, std::ptr::null_mut(), &mut n) },
            raft_result::RAFT_ERR_POISONED
        );
        assert_eq!(n, 5);
        assert_eq!(
            unsafe { raft_rawnode_propose(node, b"x".as_ptr(), 1) },
            raft_result::RAFT_ERR_POISONED
        );
        assert!(last_error(node).contains("raft_rawnode_propose"));
        assert!(last_error(node).contains("unusable after an earlier panic"));

        // Only free works, and it clears the caller's pointer.
        unsafe { raft_rawnode_free(&mut node) };
        assert!(node.is_null());
        assert_eq!(
            unsafe { raft_rawnode_tick(node) },
            raft_result::RAFT_ERR_NULL
        );
    }

    #[test]
    fn after_a_storage_failure_every_call_but_free_is_refused() {
        let armed = Rc::new(std::cell::Cell::new(false));
        let mut node = node_on(Box::new(PanickingStorage {
            inner: voters(&[1, 2]),
            armed: armed.clone(),
            error: true,
        }));
        armed.set(true);
        // SAFETY (this and every call below): `node` is live until freed;
        // out-parameters point to writable locals.
        let rc = unsafe { raft_rawnode_campaign(node) };
        assert_eq!(rc, raft_result::RAFT_ERR_STORAGE, "the cause first");
        assert!(last_error(node).contains("disk on fire"));
        // Sticky even though the storage works again, for the calls the
        // core refuses itself and for those it cannot refuse.
        armed.set(false);
        let mut st = raft_status {
            id: 77,
            ..Default::default()
        };
        let mut b = true;
        let mut n = 5usize;
        let mut rd: *mut raft_ready = std::ptr::null_mut();
        let mut dec: *mut raft_decoded = std::ptr::null_mut();
        // SAFETY: all-zero is a valid raft_conf_state (NULL arrays, 0 lengths).
        let mut cs: raft_conf_state = unsafe { std::mem::zeroed() };
        let (pst, pb, pn) = (
            &mut st as *mut raft_status,
            &mut b as *mut bool,
            &mut n as *mut usize,
        );
        let (prd, pdec, pcs) = (
            &mut rd as *mut *mut raft_ready,
            &mut dec as *mut *mut raft_decoded,
            &mut cs as *mut raft_conf_state,
        );
        type Call<'a> = Box<dyn Fn() -> raft_result + 'a>;
        let calls: Vec<(&str, Call)> = vec![
            ("tick", Box::new(|| unsafe { raft_rawnode_tick(node) })),
            (
                "campaign",
                Box::new(|| unsafe { raft_rawnode_campaign(node) }),
            ),
            (
                "has_ready",
                Box::new(|| unsafe { raft_rawnode_has_ready(node, pb) }),
            ),
            (
                "status",
                Box::new(|| unsafe { raft_rawnode_status(node, pst) }),
            ),
            (
                "progress",
                Box::new(|| unsafe { raft_rawnode_progress(node, std::ptr::null_mut(), pn) }),
            ),
            (
                "ready",
                Box::new(|| unsafe { raft_rawnode_ready(node, prd) }),
            ),
            (
                "advance",
                Box::new(|| unsafe { raft_rawnode_advance(node) }),
            ),
            (
                "propose",
                Box::new(|| unsafe { raft_rawnode_propose(node, b"x".as_ptr(), 1) }),
            ),
            (
                "forget_leader",
                Box::new(|| unsafe { raft_rawnode_forget_leader(node) }),
            ),
            (
                "transfer_leader",
                Box::new(|| unsafe { raft_rawnode_transfer_leader(node, 2) }),
            ),
            (
                "report_unreachable",
                Box::new(|| unsafe { raft_rawnode_report_unreachable(node, 2) }),
            ),
            (
                "conf_state",
                Box::new(|| unsafe { raft_rawnode_conf_state(node, pdec, pcs) }),
            ),
            (
                "step",
                Box::new(|| unsafe { raft_rawnode_step(node, std::ptr::null(), 0) }),
            ),
        ];
        for (name, call) in &calls {
            assert_eq!(call(), raft_result::RAFT_ERR_POISONED, "{name}");
            let msg = last_error(node);
            assert!(msg.contains(&format!("raft_rawnode_{name}")), "{msg}");
            assert!(msg.contains("disk on fire"), "{name}: the cause: {msg}");
        }
        drop(calls);
        assert_eq!(st.id, 77, "out-parameter written by a refused call");
        assert_eq!(n, 5);
        assert!(b);
        assert!(rd.is_null() && dec.is_null());
        // SAFETY: `node` is live; free clears the pointer.
        unsafe { raft_rawnode_free(&mut node) };
        assert!(node.is_null());
    }

    #[test]
    fn step_refuses_responses_nested_beyond_the_limit() {
        let mut node = node_on(Box::new(voters(&[1, 2])));
        let mut m = Message::with_type(raft_core::eraftpb::MessageType::MsgHeartbeat);
        m.from = 2;
        m.to = 1;
        m.term = 1;
        for _ in 0..=crate::messages::RAFT_MAX_MESSAGE_DEPTH {
            let top = Message {
                responses: Vec::new(),
                ..m.clone()
            };
            m = Message {
                responses: vec![m],
                ..top
            };
        }
        let wire = m.encode_to_vec();
        // SAFETY: `node` is live; `wire` is readable.
        let rc = unsafe { raft_rawnode_step(node, wire.as_ptr(), wire.len()) };
        assert_eq!(rc, raft_result::RAFT_ERR_DECODE);
        assert!(last_error(node).contains("nested deeper than the limit"));
        // SAFETY: `node` is live.
        unsafe { raft_rawnode_free(&mut node) };
    }

    #[test]
    fn panic_in_the_constructor_writes_no_handle() {
        let armed = Rc::new(std::cell::Cell::new(true));
        // SAFETY: an all-zero raft_config (integers, NULL pointers, None
        // callbacks) is a valid value for raft_config_init to overwrite.
        let mut cfg: raft_config = unsafe { std::mem::zeroed() };
        // SAFETY: `cfg` is a valid, writable raft_config.
        unsafe { raft_config_init(&mut cfg, 1) };
        let sentinel = std::ptr::NonNull::<raft_rawnode>::dangling().as_ptr();
        let mut node = sentinel;
        let store = Box::new(PanickingStorage {
            inner: voters(&[1]),
            armed,
            error: false,
        });
        assert_eq!(
            guard("raft_rawnode_new", || create(&cfg, store, &mut node)),
            raft_result::RAFT_ERR_PANIC
        );
        assert_eq!(node, sentinel);
        // SAFETY: raft_last_error returns a valid C string.
        let msg = unsafe { CStr::from_ptr(raft_last_error()) }.to_string_lossy();
        assert!(msg.contains("raft_rawnode_new: internal panic"), "{msg}");
    }

    fn progress(node: *const raft_rawnode) -> Vec<raft_progress> {
        let mut n = 0usize;
        // SAFETY: `node` is live, `n` writable; a NULL array asks the count.
        let rc = unsafe { raft_rawnode_progress(node, std::ptr::null_mut(), &mut n) };
        assert_eq!(rc, raft_result::RAFT_OK);
        let mut v = vec![raft_progress::default(); n];
        let mut len = v.len();
        // SAFETY: `v` has `len` writable elements.
        let rc = unsafe { raft_rawnode_progress(node, v.as_mut_ptr(), &mut len) };
        assert_eq!(rc, raft_result::RAFT_OK);
        assert_eq!(len, n);
        v
    }

    /// Persists the node's Readys into `ms` (a node that sends nothing
    /// anywhere: enough to win an election with a stepped vote).
    fn persist(node: *const raft_rawnode, ms: &MemoryStorage) {
        // SAFETY: `node` is live and no call on it is in progress.
        let mut n = unsafe { &*node }.node.borrow_mut();
        while n.has_ready() {
            let rd = n.ready().unwrap();
            ms.append(&rd.entries).unwrap();
            if let Some(hs) = rd.hard_state {
                ms.set_hard_state(hs);
            }
            n.advance().unwrap();
        }
    }

    #[test]
    fn progress_and_conf_state_of_leader_and_follower() {
        let ms = voters(&[1, 2]);
        let mut node = node_on(Box::new(ms.clone()));
        // A follower tracks no peers, whatever capacity it is given.
        assert!(progress(node).is_empty());
        let mut one = [raft_progress::default(); 1];
        let mut len = 1usize;
        // SAFETY (this and every call below): `node` is live, arrays hold
        // `len` elements.
        let rc = unsafe { raft_rawnode_progress(node, one.as_mut_ptr(), &mut len) };
        assert_eq!((rc, len), (raft_result::RAFT_OK, 0));

        // Win the election with the vote of node 2.
        assert_eq!(unsafe { raft_rawnode_campaign(node) }, raft_result::RAFT_OK);
        persist(node, &ms);
        let term = unsafe { &*node }.node.borrow().status().hard_state.term;
        let vote = Message {
            msg_type: raft_core::eraftpb::MessageType::MsgVoteResp as i32,
            from: 2,
            to: 1,
            term,
            ..Default::default()
        }
        .encode_to_vec();
        let rc = unsafe { raft_rawnode_step(node, vote.as_ptr(), vote.len()) };
        assert_eq!(rc, raft_result::RAFT_OK);
        persist(node, &ms);
        let cc = raft_conf_change {
            id: 0,
            change_type: 3, // RAFT_CONF_CHANGE_ADD_LEARNER_NODE
            node_id: 3,
            context: raft_bytes::of_opt(None),
        };
        let rc = unsafe {
            raft_rawnode_apply_conf_change(node, &cc, std::ptr::null_mut(), std::ptr::null_mut())
        };
        assert_eq!(rc, raft_result::RAFT_OK);

        let ps = progress(node);
        assert_eq!(ps.iter().map(|p| p.id).collect::<Vec<_>>(), [1, 2, 3]);
        assert!(!ps[0].is_learner && !ps[1].is_learner && ps[2].is_learner);
        // The leader replicates to itself and has persisted its whole log;
        // node 2 is probed with one append, which pauses further appends.
        let last = ms.last_index().unwrap();
        assert_eq!(
            (ps[0].state, ps[0].r#match, ps[0].next),
            (1, last, last + 1)
        );
        assert!(ps[0].recent_active && !ps[0].paused);
        assert_eq!((ps[1].state, ps[1].r#match), (0, 0));
        assert!(ps[1].paused);
        for p in &ps {
            assert!(p.next > p.r#match);
            assert!((0..=2).contains(&p.state));
        }

        // Too small: refused, nothing written, count untouched.
        let mut two = [raft_progress::default(); 2];
        let mut len = 2usize;
        let rc = unsafe { raft_rawnode_progress(node, two.as_mut_ptr(), &mut len) };
        assert_eq!(rc, raft_result::RAFT_ERR_INVALID_ARGUMENT);
        assert_eq!(len, 2);
        assert_eq!(two, [raft_progress::default(); 2]);
        assert!(last_error(node).contains("holds 2 elements but the leader tracks 3 peers"));
        let rc = unsafe { raft_rawnode_progress(node, two.as_mut_ptr(), std::ptr::null_mut()) };
        assert_eq!(rc, raft_result::RAFT_ERR_NULL);

        // Larger than needed: only the first three are written.
        let mut five = [raft_progress::default(); 5];
        let mut len = 5usize;
        let rc = unsafe { raft_rawnode_progress(node, five.as_mut_ptr(), &mut len) };
        assert_eq!((rc, len), (raft_result::RAFT_OK, 3));
        assert_eq!(five[..3], ps[..]);
        assert_eq!(five[3], raft_progress::default());

        // The membership, with its owner.
        let mut d = std::ptr::null_mut();
        let mut cs = conf_state_view(&ConfState::default());
        let rc = unsafe { raft_rawnode_conf_state(node, &mut d, &mut cs) };
        assert_eq!(rc, raft_result::RAFT_OK);
        assert!(!d.is_null());
        // SAFETY: the arrays are owned by `d`, which is still alive.
        let (v, l) = unsafe {
            (
                std::slice::from_raw_parts(cs.voters, cs.voters_len).to_vec(),
                std::slice::from_raw_parts(cs.learners, cs.learners_len).to_vec(),
            )
        };
        assert_eq!((v, l), (vec![1, 2], vec![3]));
        unsafe { crate::decoded::raft_decoded_free(&mut d) };
        assert!(d.is_null());
        let rc = unsafe { raft_rawnode_conf_state(node, std::ptr::null_mut(), &mut cs) };
        assert_eq!(rc, raft_result::RAFT_ERR_NULL);
        let rc = unsafe { raft_rawnode_conf_state(node, &mut d, std::ptr::null_mut()) };
        assert_eq!((rc, d), (raft_result::RAFT_ERR_NULL, std::ptr::null_mut()));

        unsafe { raft_rawnode_free(&mut node) };
    }
}
