//! The in-memory storage handle ([`raft_memory_storage`]).

use std::ffi::c_char;

use bytes::Bytes;
use raft_core::eraftpb::HardState;
use raft_core::{MemoryStorage, Storage};

use crate::bytes::in_slice;
use crate::decoded::{raft_decoded, snapshot_view, Arena, Value};
use crate::guard::{free_handle, in_ref, out_ptr, with_handle, Handle};
use crate::last_error::{raft_last_error, HandleState};
use crate::messages::{
    conf_state_in, entry_in, in_array, raft_conf_state, raft_entry, raft_hard_state, raft_snapshot,
    snapshot_in,
};
use crate::ready::raft_ready;
use crate::result::{raft_result, FfiResult};

/// The core's in-memory storage (etcd `MemoryStorage`). A node created from
/// it with `raft_rawnode_new` shares its state: the application appends the
/// Ready's entries, hard state and snapshot here and the node reads them.
///
/// Threading: the state is internally locked, so the handle may be used
/// from one thread while a node built on it runs on another; the handle
/// itself (its last-error message) must not be used by two threads at once.
pub struct raft_memory_storage {
    st: HandleState,
    ms: MemoryStorage,
}

impl Handle for raft_memory_storage {
    const NAME: &'static str = "raft_memory_storage";
    fn state(&self) -> &HandleState {
        &self.st
    }
}

impl raft_memory_storage {
    /// The shared storage, for a node.
    pub fn storage(&self) -> MemoryStorage {
        self.ms.clone()
    }
}

fn new_into(out: *mut *mut raft_memory_storage, ms: MemoryStorage) -> FfiResult<()> {
    let out = out_ptr(out, "out")?;
    *out = Box::into_raw(Box::new(raft_memory_storage {
        st: HandleState::default(),
        ms,
    }));
    Ok(())
}

/// Creates an empty storage in `*out` (release with
/// `raft_memory_storage_free`).
///
/// # Safety
/// `out` is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn raft_memory_storage_new(
    out: *mut *mut raft_memory_storage,
) -> raft_result {
    crate::guard::guard("raft_memory_storage_new", || {
        new_into(out, MemoryStorage::new())
    })
}

/// Creates a storage whose initial membership is `*cs` (for a node that is
/// started without `raft_rawnode_bootstrap`).
///
/// # Safety
/// Pointers are NULL or valid for the duration of the call.
#[no_mangle]
pub unsafe extern "C" fn raft_memory_storage_new_with_conf_state(
    cs: *const raft_conf_state,
    out: *mut *mut raft_memory_storage,
) -> raft_result {
    crate::guard::guard("raft_memory_storage_new_with_conf_state", || {
        let cs = conf_state_in(in_ref(cs, "cs")?)?;
        new_into(out, MemoryStorage::new_with_conf_state(cs))
    })
}

/// Releases the handle and sets `*ms` to NULL. A node created from it keeps
/// its own reference to the shared state. Accepts NULL.
///
/// # Safety
/// `ms` is NULL or points to NULL or to a live handle.
#[no_mangle]
pub unsafe extern "C" fn raft_memory_storage_free(ms: *mut *mut raft_memory_storage) {
    // SAFETY: forwarded contract.
    unsafe { free_handle(ms, |_| false) }
}

/// The message of the last failed call on `ms` ("" if none), valid until
/// the next failing call on it or its release; for NULL, the thread's last
/// error.
///
/// # Safety
/// `ms` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn raft_memory_storage_last_error(
    ms: *const raft_memory_storage,
) -> *const c_char {
    // SAFETY: `ms` is NULL or live (contract).
    match unsafe { ms.as_ref() } {
        Some(m) => m.st.error_ptr(),
        None => raft_last_error(),
    }
}

/// Appends entries (copied): entries overlapping the log replace its tail
/// (as etcd's `MemoryStorage.Append`). A gap after the last index is an
/// error.
///
/// # Safety
/// `entries` is NULL (with `len` 0) or points to `len` valid entries.
#[no_mangle]
pub unsafe extern "C" fn raft_memory_storage_append(
    ms: *const raft_memory_storage,
    entries: *const raft_entry,
    len: usize,
) -> raft_result {
    with_handle("raft_memory_storage_append", ms, |m| {
        let es = in_array(entries, len, "entries")?
            .iter()
            .map(entry_in)
            .collect::<FfiResult<Vec<_>>>()?;
        m.ms.append_owned(es)?;
        Ok(())
    })
}

/// Persists a Ready as the Ready loop does: its snapshot (when it has one),
/// then its entries, then its hard state (when it changed). The storage
/// shares the entries' payloads with the Ready instead of copying them, as
/// `raft_memory_storage_append` over the Ready's entries would. On an error
/// (an out-of-date snapshot, a gap) what came before it in that order is
/// kept.
///
/// # Safety
/// Pointers are NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn raft_memory_storage_persist_ready(
    ms: *const raft_memory_storage,
    ready: *const raft_ready,
) -> raft_result {
    with_handle("raft_memory_storage_persist_ready", ms, |m| {
        let rd = in_ref(ready, "ready")?.ready();
        Ok(m.ms.persist(rd.hard_state, &rd.snapshot, &rd.entries)?)
    })
}

/// Saves the hard state.
///
/// # Safety
/// Pointers are NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn raft_memory_storage_set_hard_state(
    ms: *const raft_memory_storage,
    hs: *const raft_hard_state,
) -> raft_result {
    with_handle("raft_memory_storage_set_hard_state", ms, |m| {
        m.ms.set_hard_state(HardState::from(in_ref(hs, "hs")?));
        Ok(())
    })
}

/// Reads the saved hard state into `*out`.
///
/// # Safety
/// Pointers are NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn raft_memory_storage_hard_state(
    ms: *const raft_memory_storage,
    out: *mut raft_hard_state,
) -> raft_result {
    with_handle("raft_memory_storage_hard_state", ms, |m| {
        let out = out_ptr(out, "out")?;
        *out = raft_hard_state::from(&m.ms.hard_state());
        Ok(())
    })
}

/// Replaces the storage's contents with a snapshot (received from a
/// leader). An older snapshot gives RAFT_ERR_SNAPSHOT_OUT_OF_DATE.
///
/// # Safety
/// Pointers are NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn raft_memory_storage_apply_snapshot(
    ms: *const raft_memory_storage,
    snap: *const raft_snapshot,
) -> raft_result {
    with_handle("raft_memory_storage_apply_snapshot", ms, |m| {
        m.ms.apply_snapshot(snapshot_in(in_ref(snap, "snap")?)?)?;
        Ok(())
    })
}

/// Discards the entries before `index` (which must not exceed the last
/// index); older indexes give RAFT_ERR_COMPACTED.
///
/// # Safety
/// `ms` is NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn raft_memory_storage_compact(
    ms: *const raft_memory_storage,
    index: u64,
) -> raft_result {
    with_handle("raft_memory_storage_compact", ms, |m| {
        m.ms.compact(index)?;
        Ok(())
    })
}

/// Makes a snapshot at `index` (an applied index) with the application
/// state `(data, len)` (copied) and membership `*cs` (NULL keeps the
/// membership of the previous snapshot). It is what the node sends to
/// followers that fell behind the compaction point.
///
/// # Safety
/// Pointers are NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn raft_memory_storage_create_snapshot(
    ms: *const raft_memory_storage,
    index: u64,
    cs: *const raft_conf_state,
    data: *const u8,
    len: usize,
) -> raft_result {
    with_handle("raft_memory_storage_create_snapshot", ms, |m| {
        // SAFETY: `cs` is NULL or valid (contract).
        let cs = match unsafe { cs.as_ref() } {
            Some(c) => Some(conf_state_in(c)?),
            None => None,
        };
        let data = Bytes::copy_from_slice(in_slice(data, len, "data")?);
        m.ms.create_snapshot(index, cs, data)?;
        Ok(())
    })
}

/// Reads the current snapshot; `*decoded` owns the views of `*out`.
///
/// # Safety
/// Pointers are NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn raft_memory_storage_snapshot(
    ms: *const raft_memory_storage,
    decoded: *mut *mut raft_decoded,
    out: *mut raft_snapshot,
) -> raft_result {
    with_handle("raft_memory_storage_snapshot", ms, |m| {
        let decoded = out_ptr(decoded, "decoded")?;
        let out = out_ptr(out, "out")?;
        let snap = Box::new(m.ms.snapshot()?);
        let v = snapshot_view(&snap);
        *decoded = raft_decoded::into_raw(Value::Snapshot(snap), Arena::default());
        *out = v;
        Ok(())
    })
}

/// Reads the entries `[lo, hi)`, limited to `max_size` encoded bytes (at
/// least one entry; UINT64_MAX = no limit). `*entries` is an array of `*len`
/// views owned by `*decoded`.
///
/// # Safety
/// Pointers are NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn raft_memory_storage_entries(
    ms: *const raft_memory_storage,
    lo: u64,
    hi: u64,
    max_size: u64,
    decoded: *mut *mut raft_decoded,
    entries: *mut *const raft_entry,
    len: *mut usize,
) -> raft_result {
    with_handle("raft_memory_storage_entries", ms, |m| {
        let decoded = out_ptr(decoded, "decoded")?;
        let entries = out_ptr(entries, "entries")?;
        let len = out_ptr(len, "len")?;
        let es = m.ms.entries(lo, hi, max_size)?;
        let mut arena = Arena::default();
        let (p, n) = arena.entries(&es);
        *decoded = raft_decoded::into_raw(Value::Entries(es), arena);
        *entries = p;
        *len = n;
        Ok(())
    })
}

/// Writes the term of entry `index` to `*term`.
///
/// # Safety
/// Pointers are NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn raft_memory_storage_term(
    ms: *const raft_memory_storage,
    index: u64,
    term: *mut u64,
) -> raft_result {
    with_handle("raft_memory_storage_term", ms, |m| {
        let out = out_ptr(term, "term")?;
        *out = m.ms.term(index)?;
        Ok(())
    })
}

/// Writes the first available index to `*index`.
///
/// # Safety
/// Pointers are NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn raft_memory_storage_first_index(
    ms: *const raft_memory_storage,
    index: *mut u64,
) -> raft_result {
    with_handle("raft_memory_storage_first_index", ms, |m| {
        let out = out_ptr(index, "index")?;
        *out = m.ms.first_index()?;
        Ok(())
    })
}

/// Writes the last index to `*index`.
///
/// # Safety
/// Pointers are NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn raft_memory_storage_last_index(
    ms: *const raft_memory_storage,
    index: *mut u64,
) -> raft_result {
    with_handle("raft_memory_storage_last_index", ms, |m| {
        let out = out_ptr(index, "index")?;
        *out = m.ms.last_index()?;
        Ok(())
    })
}
