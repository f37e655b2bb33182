//! The durable store handles ([`raft_store`], [`raft_store_group`]): the
//! LevelDB Raft log store of `raft-store` for C.

use std::ffi::{c_char, CStr, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use ::raft_store::{Group, Store, StoreOptions};
use bytes::Bytes;
use raft_core::eraftpb::HardState;
use raft_core::Storage;

use crate::bytes::in_slice;
use crate::config::raft_config;
use crate::decoded::{raft_decoded, snapshot_view, Arena, Value};
use crate::guard::{free_handle, guard, in_ref, out_ptr, with_handle, Handle};
use crate::last_error::{raft_last_error, HandleState};
use crate::messages::{
    conf_state_in, entry_in, in_array, raft_conf_state, raft_entry, raft_hard_state, raft_snapshot,
    snapshot_in,
};
use crate::raw_node::{create, raft_rawnode};
use crate::ready::raft_ready;
use crate::result::{raft_result, Fail, FfiResult};

/// How to open a store. Fill it with `raft_store_options_init`, then set
/// `path`. Read during `raft_store_open` only.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct raft_store_options {
    /// The database directory (NUL-terminated; created when missing).
    pub path: *const c_char,
    /// Fsync writes that must be durable (default true). false: a machine
    /// crash may lose acknowledged writes; for tests only.
    pub sync: bool,
    /// Bytes of recent entries each group keeps in memory (default 4 MiB).
    pub cache_bytes: u64,
}

/// A durable store: one LevelDB database directory holding the logs of any
/// number of Raft groups, with snapshot data files beside it. A second
/// process (or a second open in this one) opening the same directory gets
/// RAFT_ERR_STORAGE until this one is closed.
///
/// Threading: a store, its groups and the nodes built on them must all be
/// used from one thread.
pub struct raft_store {
    st: HandleState,
    store: Store,
}

impl Handle for raft_store {
    const NAME: &'static str = "raft_store";
    fn state(&self) -> &HandleState {
        &self.st
    }
}

/// The log of one Raft group in a store. Create a node on it with
/// `raft_rawnode_new_on_store_group`, then write each Ready with
/// `raft_store_group_persist_ready` before sending its messages. After a
/// failed write the group (and the store) refuses every further call, and
/// a node on it fails at its next storage read.
pub struct raft_store_group {
    st: HandleState,
    group: Group,
}

impl Handle for raft_store_group {
    const NAME: &'static str = "raft_store_group";
    fn state(&self) -> &HandleState {
        &self.st
    }
}

/// Fills `*opts` with the defaults (path NULL, sync on, 4 MiB cache).
///
/// # Safety
/// `opts` is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn raft_store_options_init(opts: *mut raft_store_options) -> raft_result {
    guard("raft_store_options_init", || {
        let out = out_ptr(opts, "opts")?;
        let d = StoreOptions::new("");
        *out = raft_store_options {
            path: std::ptr::null(),
            sync: d.sync,
            cache_bytes: d.cache_bytes as u64,
        };
        Ok(())
    })
}

/// Opens (creating when missing) the store described by `*opts` into
/// `*out` (release with `raft_store_free`). A damaged file gives
/// RAFT_ERR_STORAGE with a message naming it.
///
/// # Safety
/// Pointers are NULL or valid; `opts->path` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn raft_store_open(
    opts: *const raft_store_options,
    out: *mut *mut raft_store,
) -> raft_result {
    guard("raft_store_open", || {
        let out = out_ptr(out, "out")?;
        let o = in_ref(opts, "opts")?;
        if o.path.is_null() {
            return Err(Fail::null("opts->path"));
        }
        // SAFETY: non-NULL and NUL-terminated (contract).
        let p = unsafe { CStr::from_ptr(o.path) }.to_bytes();
        if p.is_empty() {
            return Err(Fail::invalid("opts->path is empty"));
        }
        let mut so = StoreOptions::new(PathBuf::from(OsStr::from_bytes(p)));
        so.sync = o.sync;
        so.cache_bytes = usize::try_from(o.cache_bytes).unwrap_or(usize::MAX);
        let store = Store::open(so)?;
        *out = Box::into_raw(Box::new(raft_store {
            st: HandleState::default(),
            store,
        }));
        Ok(())
    })
}

/// Flushes and closes the database now, releasing its lock; groups and
/// nodes of the store fail from then on. The handle must still be freed.
///
/// # Safety
/// `s` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn raft_store_close(s: *const raft_store) -> raft_result {
    with_handle("raft_store_close", s, |h| Ok(h.store.close()?))
}

/// Releases the handle and sets `*s` to NULL; the database is closed when
/// the last of the store, its groups and their nodes is released. Accepts
/// NULL.
///
/// # Safety
/// `s` is NULL or points to NULL or to a live handle.
#[no_mangle]
pub unsafe extern "C" fn raft_store_free(s: *mut *mut raft_store) {
    // SAFETY: forwarded contract.
    unsafe { free_handle(s, |_| false) }
}

/// The message of the last failed call on `s` ("" if none); for NULL, the
/// thread's last error.
///
/// # Safety
/// `s` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn raft_store_last_error(s: *const raft_store) -> *const c_char {
    // SAFETY: `s` is NULL or live (contract).
    match unsafe { s.as_ref() } {
        Some(h) => h.st.error_ptr(),
        None => raft_last_error(),
    }
}

/// Opens group `id` (empty when never written) into `*out` (release with
/// `raft_store_group_free`). Its entries and snapshot file are checked.
///
/// # Safety
/// Pointers are NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn raft_store_open_group(
    s: *const raft_store,
    id: u64,
    out: *mut *mut raft_store_group,
) -> raft_result {
    with_handle("raft_store_open_group", s, |h| {
        let out = out_ptr(out, "out")?;
        let group = h.store.open_group(id)?;
        *out = Box::into_raw(Box::new(raft_store_group {
            st: HandleState::default(),
            group,
        }));
        Ok(())
    })
}

/// Removes every key and the snapshot file of group `id`, durably.
///
/// # Safety
/// `s` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn raft_store_drop_group(s: *const raft_store, id: u64) -> raft_result {
    with_handle("raft_store_drop_group", s, |h| {
        Ok(h.store.drop_group(id)?)
    })
}

/// Releases the group handle and sets `*g` to NULL. Accepts NULL.
///
/// # Safety
/// `g` is NULL or points to NULL or to a live handle.
#[no_mangle]
pub unsafe extern "C" fn raft_store_group_free(g: *mut *mut raft_store_group) {
    // SAFETY: forwarded contract.
    unsafe { free_handle(g, |_| false) }
}

/// The message of the last failed call on `g` ("" if none); for NULL, the
/// thread's last error.
///
/// # Safety
/// `g` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn raft_store_group_last_error(g: *const raft_store_group) -> *const c_char {
    // SAFETY: `g` is NULL or live (contract).
    match unsafe { g.as_ref() } {
        Some(h) => h.st.error_ptr(),
        None => raft_last_error(),
    }
}

/// Creates a node reading its log from the group (restarting from what
/// the group holds). The node shares the group's state; the group handle
/// may be freed before the node.
///
/// # Safety
/// Pointers are NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn raft_rawnode_new_on_store_group(
    cfg: *const raft_config,
    group: *const raft_store_group,
    out: *mut *mut raft_rawnode,
) -> raft_result {
    guard("raft_rawnode_new_on_store_group", || {
        let g = in_ref(group, "group")?;
        create(cfg, Box::new(g.group.clone()), out)
    })
}

/// Persists the Ready's hard state, snapshot and entries as one atomic
/// batch, fsynced once when the Ready must be synced. Durable when it
/// returns RAFT_OK; on an error nothing of the Ready may be acknowledged
/// (do not send its messages).
///
/// # Safety
/// Pointers are NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn raft_store_group_persist_ready(
    g: *const raft_store_group,
    ready: *const raft_ready,
) -> raft_result {
    with_handle("raft_store_group_persist_ready", g, |h| {
        let rd = in_ref(ready, "ready")?;
        Ok(h.group.persist_ready(rd.ready())?)
    })
}

/// Appends entries (etcd MemoryStorage semantics: a conflicting tail is
/// replaced, a gap is RAFT_ERR_INVARIANT), durably.
///
/// # Safety
/// `entries` is NULL (with `len` 0) or points to `len` valid entries.
#[no_mangle]
pub unsafe extern "C" fn raft_store_group_append(
    g: *const raft_store_group,
    entries: *const raft_entry,
    len: usize,
) -> raft_result {
    with_handle("raft_store_group_append", g, |h| {
        let es = in_array(entries, len, "entries")?
            .iter()
            .map(entry_in)
            .collect::<FfiResult<Vec<_>>>()?;
        Ok(h.group.append(&es)?)
    })
}

/// Saves the hard state, durably.
///
/// # Safety
/// Pointers are NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn raft_store_group_set_hard_state(
    g: *const raft_store_group,
    hs: *const raft_hard_state,
) -> raft_result {
    with_handle("raft_store_group_set_hard_state", g, |h| {
        Ok(h.group.set_hard_state(HardState::from(in_ref(hs, "hs")?))?)
    })
}

/// Reads the saved hard state into `*out`.
///
/// # Safety
/// Pointers are NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn raft_store_group_hard_state(
    g: *const raft_store_group,
    out: *mut raft_hard_state,
) -> raft_result {
    with_handle("raft_store_group_hard_state", g, |h| {
        let out = out_ptr(out, "out")?;
        h.group.first_index()?;
        *out = raft_hard_state::from(&h.group.hard_state());
        Ok(())
    })
}

/// Replaces the group's log with a snapshot (from a leader), durably; an
/// older one gives RAFT_ERR_SNAPSHOT_OUT_OF_DATE.
///
/// # Safety
/// Pointers are NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn raft_store_group_apply_snapshot(
    g: *const raft_store_group,
    snap: *const raft_snapshot,
) -> raft_result {
    with_handle("raft_store_group_apply_snapshot", g, |h| {
        Ok(h.group
            .apply_snapshot(&snapshot_in(in_ref(snap, "snap")?)?)?)
    })
}

/// Discards the entries before `index` (at most the last index), durably;
/// older indexes give RAFT_ERR_COMPACTED.
///
/// # Safety
/// `g` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn raft_store_group_compact(
    g: *const raft_store_group,
    index: u64,
) -> raft_result {
    with_handle("raft_store_group_compact", g, |h| {
        Ok(h.group.compact(index)?)
    })
}

/// Makes a snapshot at applied index `index` with the application state
/// `(data, len)` (copied into a checksummed file) and membership `*cs`
/// (NULL keeps the previous one), durably.
///
/// # Safety
/// Pointers are NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn raft_store_group_create_snapshot(
    g: *const raft_store_group,
    index: u64,
    cs: *const raft_conf_state,
    data: *const u8,
    len: usize,
) -> raft_result {
    with_handle("raft_store_group_create_snapshot", g, |h| {
        // SAFETY: `cs` is NULL or valid (contract).
        let cs = match unsafe { cs.as_ref() } {
            Some(c) => Some(conf_state_in(c)?),
            None => None,
        };
        let data = Bytes::copy_from_slice(in_slice(data, len, "data")?);
        h.group.create_snapshot(index, cs, data)?;
        Ok(())
    })
}

/// Reads the current snapshot (its data file checked against its
/// checksum); `*decoded` owns the views of `*out`.
///
/// # Safety
/// Pointers are NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn raft_store_group_snapshot(
    g: *const raft_store_group,
    decoded: *mut *mut raft_decoded,
    out: *mut raft_snapshot,
) -> raft_result {
    with_handle("raft_store_group_snapshot", g, |h| {
        let decoded = out_ptr(decoded, "decoded")?;
        let out = out_ptr(out, "out")?;
        let snap = Box::new(h.group.snapshot()?);
        let v = snapshot_view(&snap);
        *decoded = raft_decoded::into_raw(Value::Snapshot(snap), Arena::default());
        *out = v;
        Ok(())
    })
}

/// Writes the first available index to `*index`.
///
/// # Safety
/// Pointers are NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn raft_store_group_first_index(
    g: *const raft_store_group,
    index: *mut u64,
) -> raft_result {
    with_handle("raft_store_group_first_index", g, |h| {
        let out = out_ptr(index, "index")?;
        *out = h.group.first_index()?;
        Ok(())
    })
}

/// Writes the last index to `*index`.
///
/// # Safety
/// Pointers are NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn raft_store_group_last_index(
    g: *const raft_store_group,
    index: *mut u64,
) -> raft_result {
    with_handle("raft_store_group_last_index", g, |h| {
        let out = out_ptr(index, "index")?;
        *out = h.group.last_index()?;
        Ok(())
    })
}
