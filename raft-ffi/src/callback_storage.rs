//! A storage written by the caller: a table of C callbacks
//! ([`raft_storage_callbacks`]) that hand their results to the library
//! through a [`raft_sink`].

use std::ffi::{c_char, c_void, CStr};

use prost::Message as _;
use raft_core::eraftpb::{ConfState, Entry, HardState, Snapshot};
use raft_core::{RaftState, Result as CoreResult, Storage, StorageError};

use crate::bytes::in_slice;
use crate::guard::{guard, in_ref};
use crate::messages::{
    conf_state_in, entry_in, raft_conf_state, raft_entry, raft_hard_state, raft_snapshot,
    snapshot_in,
};
use crate::result::{raft_result, Fail, FfiResult};

/// Returns the saved hard state in `*hs` and the conf state through
/// `raft_sink_set_conf_state` (an unset conf state means an empty one).
pub type raft_initial_state_fn = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        hs: *mut raft_hard_state,
        sink: *mut raft_sink,
    ) -> i32,
>;
/// Pushes the entries `[lo, hi)` with `raft_sink_push_entry[_bytes]`, in
/// order, stopping when their encoded size exceeds `max_size` (but at least
/// one entry). UINT64_MAX means no limit.
pub type raft_entries_fn = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        lo: u64,
        hi: u64,
        max_size: u64,
        sink: *mut raft_sink,
    ) -> i32,
>;
/// Writes the term of entry `index` to `*term`.
pub type raft_term_fn = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        index: u64,
        term: *mut u64,
        sink: *mut raft_sink,
    ) -> i32,
>;
/// Writes an index (first or last) to `*index`.
pub type raft_index_fn = Option<
    unsafe extern "C" fn(userdata: *mut c_void, index: *mut u64, sink: *mut raft_sink) -> i32,
>;
/// Sets the most recent snapshot with `raft_sink_set_snapshot[_bytes]`.
pub type raft_snapshot_fn =
    Option<unsafe extern "C" fn(userdata: *mut c_void, sink: *mut raft_sink) -> i32>;

/// A storage implemented by the caller, as etcd's `raft.Storage`.
///
/// Every callback returns 0 (RAFT_OK) on success, or one of
/// RAFT_ERR_COMPACTED, RAFT_ERR_UNAVAILABLE, RAFT_ERR_SNAPSHOT_OUT_OF_DATE,
/// RAFT_ERR_SNAPSHOT_TEMPORARILY_UNAVAILABLE, which the core handles as
/// etcd's storage errors; any other non-zero value is a storage failure
/// (RAFT_ERR_STORAGE, message from `raft_sink_set_error`). A callback's
/// out-parameters and sink are valid only during that call. Callbacks run on
/// the thread calling into the node and must not call functions of that
/// node.
///
/// Versioning: set `struct_size = sizeof(raft_storage_callbacks)`. Later
/// versions only append fields; the library reads the first `struct_size`
/// bytes and treats fields beyond them as NULL.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct raft_storage_callbacks {
    /// `sizeof(raft_storage_callbacks)` as compiled by the caller.
    pub struct_size: usize,
    /// Passed to every callback. The caller keeps whatever it points to alive
    /// until the node using this table is freed.
    pub userdata: *mut c_void,
    /// Required.
    pub initial_state: raft_initial_state_fn,
    /// Required.
    pub entries: raft_entries_fn,
    /// Required.
    pub term: raft_term_fn,
    /// Required.
    pub first_index: raft_index_fn,
    /// Required.
    pub last_index: raft_index_fn,
    /// Required.
    pub snapshot: raft_snapshot_fn,
}

/// Collects the results of one storage callback. Valid only during that
/// callback; created and destroyed by the library.
#[derive(Default)]
pub struct raft_sink {
    entries: Vec<Entry>,
    conf_state: Option<ConfState>,
    snapshot: Option<Snapshot>,
    error: Option<String>,
    refused: Option<String>,
}

impl raft_sink {
    fn record(&mut self, r: FfiResult<()>) -> FfiResult<()> {
        if let Err(e) = &r {
            self.refused.get_or_insert_with(|| e.msg.clone());
        }
        r
    }
}

fn with_sink(
    what: &str,
    sink: *mut raft_sink,
    f: impl FnOnce(&mut raft_sink) -> FfiResult<()>,
) -> raft_result {
    guard(what, || {
        // SAFETY: a non-NULL sink is the one the library passed to the
        // running callback and is alive until the callback returns; no other
        // reference to it exists during the callback.
        let s = unsafe { sink.as_mut() }.ok_or_else(|| Fail::null("sink"))?;
        let r = f(s);
        s.record(r)
    })
}

/// Appends an entry to the result of an `entries` callback (copied).
///
/// # Safety
/// `sink` is the sink of the running callback; `entry` is NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn raft_sink_push_entry(
    sink: *mut raft_sink,
    entry: *const raft_entry,
) -> raft_result {
    with_sink("raft_sink_push_entry", sink, |s| {
        let e = entry_in(in_ref(entry, "entry")?)?;
        s.entries.push(e);
        Ok(())
    })
}

/// Appends an entry given as raftpb `Entry` bytes (copied).
///
/// # Safety
/// `sink` is the sink of the running callback; `(buf, len)` is readable.
#[no_mangle]
pub unsafe extern "C" fn raft_sink_push_entry_bytes(
    sink: *mut raft_sink,
    buf: *const u8,
    len: usize,
) -> raft_result {
    with_sink("raft_sink_push_entry_bytes", sink, |s| {
        let e = Entry::decode(in_slice(buf, len, "buf")?)?;
        s.entries.push(e);
        Ok(())
    })
}

/// Sets the conf state returned by an `initial_state` callback (copied).
///
/// # Safety
/// `sink` is the sink of the running callback; `cs` is NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn raft_sink_set_conf_state(
    sink: *mut raft_sink,
    cs: *const raft_conf_state,
) -> raft_result {
    with_sink("raft_sink_set_conf_state", sink, |s| {
        s.conf_state = Some(conf_state_in(in_ref(cs, "cs")?)?);
        Ok(())
    })
}

/// Sets the snapshot returned by a `snapshot` callback (copied).
///
/// # Safety
/// `sink` is the sink of the running callback; `snap` is NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn raft_sink_set_snapshot(
    sink: *mut raft_sink,
    snap: *const raft_snapshot,
) -> raft_result {
    with_sink("raft_sink_set_snapshot", sink, |s| {
        s.snapshot = Some(snapshot_in(in_ref(snap, "snap")?)?);
        Ok(())
    })
}

/// Sets the snapshot given as raftpb `Snapshot` bytes (copied).
///
/// # Safety
/// `sink` is the sink of the running callback; `(buf, len)` is readable.
#[no_mangle]
pub unsafe extern "C" fn raft_sink_set_snapshot_bytes(
    sink: *mut raft_sink,
    buf: *const u8,
    len: usize,
) -> raft_result {
    with_sink("raft_sink_set_snapshot_bytes", sink, |s| {
        s.snapshot = Some(Snapshot::decode(in_slice(buf, len, "buf")?)?);
        Ok(())
    })
}

/// Attaches a message (NUL-terminated, copied) to a failing callback's
/// result; it becomes part of the node's error message.
///
/// # Safety
/// `sink` is the sink of the running callback; `msg` is NULL or a
/// NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn raft_sink_set_error(
    sink: *mut raft_sink,
    msg: *const c_char,
) -> raft_result {
    with_sink("raft_sink_set_error", sink, |s| {
        if msg.is_null() {
            return Err(Fail::null("msg"));
        }
        // SAFETY: `msg` is non-NULL and NUL-terminated (contract).
        let m = unsafe { CStr::from_ptr(msg) }
            .to_string_lossy()
            .into_owned();
        s.error = Some(m);
        Ok(())
    })
}

/// The caller's storage, as a core [`Storage`].
pub struct CallbackStorage {
    userdata: *mut c_void,
    initial_state: NonNull<raft_initial_state_fn>,
    entries: NonNull<raft_entries_fn>,
    term: NonNull<raft_term_fn>,
    first_index: NonNull<raft_index_fn>,
    last_index: NonNull<raft_index_fn>,
    snapshot: NonNull<raft_snapshot_fn>,
}

/// The function type inside a nullable callback type `Option<F>`.
type NonNull<T> = <T as Callback>::F;

/// Relates a nullable callback type to its function type.
trait Callback {
    type F;
}
impl<F> Callback for Option<F> {
    type F = F;
}

fn required<T>(f: Option<T>, name: &str) -> FfiResult<T> {
    f.ok_or_else(|| Fail::invalid(format!("callbacks.{name} is NULL")))
}

// SAFETY: the table holds C function pointers and an opaque pointer; the
// header documents that callbacks run on the thread calling into the node
// and that the caller makes `userdata` usable from any thread it uses the
// node on. The library never calls them from a thread of its own.
unsafe impl Send for CallbackStorage {}

impl CallbackStorage {
    /// Copies the caller's table, honouring its `struct_size`, and checks
    /// that every required callback is set.
    ///
    /// # Safety
    /// `table` is NULL or points to at least `struct_size` readable bytes
    /// starting with a `raft_storage_callbacks` prefix.
    pub unsafe fn from_table(table: *const raft_storage_callbacks) -> FfiResult<CallbackStorage> {
        if table.is_null() {
            return Err(Fail::null("callbacks"));
        }
        // SAFETY: `table` is non-NULL and its first field is `struct_size`.
        let size = unsafe { std::ptr::addr_of!((*table).struct_size).read_unaligned() };
        let ours = std::mem::size_of::<raft_storage_callbacks>();
        if size < ours {
            return Err(Fail::invalid(format!(
                "callbacks.struct_size is {size}, at least {ours} is required"
            )));
        }
        // SAFETY: the caller's struct is at least as large as ours, so all
        // our fields are readable; fields it appends are ignored.
        let cb = unsafe { table.read_unaligned() };
        Ok(CallbackStorage {
            userdata: cb.userdata,
            initial_state: required(cb.initial_state, "initial_state")?,
            entries: required(cb.entries, "entries")?,
            term: required(cb.term, "term")?,
            first_index: required(cb.first_index, "first_index")?,
            last_index: required(cb.last_index, "last_index")?,
            snapshot: required(cb.snapshot, "snapshot")?,
        })
    }

    /// Runs one callback with a fresh sink and maps its code.
    fn call(
        &self,
        name: &str,
        f: impl FnOnce(*mut c_void, *mut raft_sink) -> i32,
    ) -> CoreResult<raft_sink> {
        let mut sink = raft_sink::default();
        let rc = f(self.userdata, &mut sink);
        let detail = |sink: &raft_sink| {
            sink.error
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        };
        match rc {
            0 => {
                if let Some(r) = &sink.refused {
                    return Err(StorageError::Other(format!(
                        "{name} callback passed invalid data: {r}"
                    ))
                    .into());
                }
                Ok(sink)
            }
            11 => Err(StorageError::Compacted.into()),
            12 => Err(StorageError::Unavailable.into()),
            13 => Err(StorageError::SnapshotOutOfDate.into()),
            14 => Err(StorageError::SnapshotTemporarilyUnavailable.into()),
            _ => Err(StorageError::Other(format!(
                "{name} callback failed with code {rc}{}",
                detail(&sink)
            ))
            .into()),
        }
    }
}

fn bad(name: &str, what: String) -> raft_core::Error {
    StorageError::Other(format!("{name} callback returned {what}")).into()
}

impl Storage for CallbackStorage {
    fn initial_state(&self) -> CoreResult<RaftState> {
        let f = self.initial_state;
        let mut hs = raft_hard_state::default();
        // SAFETY: calling the caller's callback with its userdata, a valid
        // out-pointer and the sink, all alive for the call.
        let sink = self.call("initial_state", |ud, s| unsafe { f(ud, &mut hs, s) })?;
        Ok(RaftState {
            hard_state: HardState::from(&hs),
            conf_state: sink.conf_state.unwrap_or_default(),
        })
    }

    fn entries(&self, low: u64, high: u64, max_size: u64) -> CoreResult<Vec<Entry>> {
        let f = self.entries;
        // SAFETY: as in `initial_state`.
        let sink = self.call("entries", |ud, s| unsafe { f(ud, low, high, max_size, s) })?;
        let es = sink.entries;
        let want = high.saturating_sub(low);
        if (es.len() as u64) > want || (want > 0 && es.is_empty()) {
            return Err(bad(
                "entries",
                format!("{} entries for [{low}, {high})", es.len()),
            ));
        }
        for (i, e) in es.iter().enumerate() {
            if e.index != low + i as u64 {
                return Err(bad(
                    "entries",
                    format!("index {} at position {i} of [{low}, {high})", e.index),
                ));
            }
        }
        Ok(es)
    }

    fn term(&self, idx: u64) -> CoreResult<u64> {
        let f = self.term;
        let mut t = 0u64;
        // SAFETY: as in `initial_state`.
        self.call("term", |ud, s| unsafe { f(ud, idx, &mut t, s) })?;
        Ok(t)
    }

    fn first_index(&self) -> CoreResult<u64> {
        let f = self.first_index;
        let mut i = 0u64;
        // SAFETY: as in `initial_state`.
        self.call("first_index", |ud, s| unsafe { f(ud, &mut i, s) })?;
        Ok(i)
    }

    fn last_index(&self) -> CoreResult<u64> {
        let f = self.last_index;
        let mut i = 0u64;
        // SAFETY: as in `initial_state`.
        self.call("last_index", |ud, s| unsafe { f(ud, &mut i, s) })?;
        Ok(i)
    }

    fn snapshot(&self) -> CoreResult<Snapshot> {
        let f = self.snapshot;
        // SAFETY: as in `initial_state`.
        let sink = self.call("snapshot", |ud, s| unsafe { f(ud, s) })?;
        Ok(sink.snapshot.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytes::raft_bytes;
    use raft_core::Error;

    /// Userdata of the test callbacks: entries 5..=7 at term 2, first
    /// index 5; `mode` selects a misbehaviour.
    struct Log {
        mode: u8,
    }

    unsafe fn log<'a>(ud: *mut c_void) -> &'a Log {
        // SAFETY: the tests pass a `Log` as userdata.
        unsafe { &*(ud as *const Log) }
    }

    unsafe extern "C" fn initial_state(
        _: *mut c_void,
        hs: *mut raft_hard_state,
        sink: *mut raft_sink,
    ) -> i32 {
        let voters = [1u64, 2, 3];
        let cs = raft_conf_state {
            voters: voters.as_ptr(),
            voters_len: 3,
            learners: std::ptr::null(),
            learners_len: 0,
            voters_outgoing: std::ptr::null(),
            voters_outgoing_len: 0,
            learners_next: std::ptr::null(),
            learners_next_len: 0,
            auto_leave: false,
        };
        // SAFETY: valid out-pointer and sink from the library.
        unsafe {
            *hs = raft_hard_state {
                term: 2,
                vote: 1,
                commit: 6,
            };
            raft_sink_set_conf_state(sink, &cs)
        }
        .into_i32()
    }
    unsafe extern "C" fn entries(
        ud: *mut c_void,
        lo: u64,
        hi: u64,
        _: u64,
        sink: *mut raft_sink,
    ) -> i32 {
        // SAFETY: userdata is a Log.
        let l = unsafe { log(ud) };
        if lo < 5 {
            return 11;
        }
        if l.mode == 1 {
            // SAFETY: the sink is valid during the callback.
            unsafe { raft_sink_set_error(sink, c"disk on fire".as_ptr()) };
            return 99;
        }
        for i in lo..hi {
            let e = raft_entry {
                entry_type: 0,
                term: 2,
                index: if l.mode == 2 { i + 1 } else { i },
                data: raft_bytes::of(b"x"),
            };
            // SAFETY: the sink is valid during the callback.
            unsafe { raft_sink_push_entry(sink, &e) };
        }
        if l.mode == 3 {
            let junk = [0xffu8; 3];
            // SAFETY: the sink is valid during the callback.
            unsafe { raft_sink_push_entry_bytes(sink, junk.as_ptr(), junk.len()) };
        }
        0
    }
    unsafe extern "C" fn term(_: *mut c_void, idx: u64, t: *mut u64, _: *mut raft_sink) -> i32 {
        if idx < 4 {
            return 11;
        }
        if idx > 7 {
            return 12;
        }
        // SAFETY: valid out-pointer.
        unsafe { *t = 2 };
        0
    }
    unsafe extern "C" fn first(_: *mut c_void, i: *mut u64, _: *mut raft_sink) -> i32 {
        // SAFETY: valid out-pointer.
        unsafe { *i = 5 };
        0
    }
    unsafe extern "C" fn last(_: *mut c_void, i: *mut u64, _: *mut raft_sink) -> i32 {
        // SAFETY: valid out-pointer.
        unsafe { *i = 7 };
        0
    }
    unsafe extern "C" fn snapshot(_: *mut c_void, _: *mut raft_sink) -> i32 {
        14
    }

    impl raft_result {
        fn into_i32(self) -> i32 {
            self as i32
        }
    }

    fn table(l: &mut Log) -> raft_storage_callbacks {
        raft_storage_callbacks {
            struct_size: std::mem::size_of::<raft_storage_callbacks>(),
            userdata: (l as *mut Log).cast(),
            initial_state: Some(initial_state),
            entries: Some(entries),
            term: Some(term),
            first_index: Some(first),
            last_index: Some(last),
            snapshot: Some(snapshot),
        }
    }

    #[test]
    fn callbacks_serve_the_core_and_errors_map() {
        let mut l = Log { mode: 0 };
        let t = table(&mut l);
        // SAFETY: `t` is a complete table.
        let s = unsafe { CallbackStorage::from_table(&t) }.unwrap();
        let st = s.initial_state().unwrap();
        assert_eq!((st.hard_state.term, st.hard_state.commit), (2, 6));
        assert_eq!(st.conf_state.voters, vec![1, 2, 3]);
        let es = s.entries(5, 8, u64::MAX).unwrap();
        assert_eq!(
            es.iter().map(|e| e.index).collect::<Vec<_>>(),
            vec![5, 6, 7]
        );
        assert_eq!(
            s.entries(3, 8, u64::MAX),
            Err(Error::Store(StorageError::Compacted))
        );
        assert_eq!(s.term(9), Err(Error::Store(StorageError::Unavailable)));
        assert_eq!((s.first_index().unwrap(), s.last_index().unwrap()), (5, 7));
        assert_eq!(
            s.snapshot(),
            Err(Error::Store(StorageError::SnapshotTemporarilyUnavailable))
        );
        for (mode, want) in [
            (1, "entries callback failed with code 99: disk on fire"),
            (
                2,
                "entries callback returned index 6 at position 0 of [5, 8)",
            ),
            (3, "entries callback passed invalid data: decode error"),
        ] {
            // SAFETY: the storage reads `l` only inside `entries` below.
            unsafe { std::ptr::addr_of_mut!(l.mode).write_volatile(mode) };
            match s.entries(5, 8, u64::MAX) {
                Err(Error::Store(StorageError::Other(m))) => assert!(m.starts_with(want), "{m}"),
                other => panic!("mode {mode}: {other:?}"),
            }
        }
    }

    #[test]
    fn incomplete_tables_are_refused() {
        let mut l = Log { mode: 0 };
        let mut t = table(&mut l);
        t.term = None;
        // SAFETY: valid table pointer.
        let e = unsafe { CallbackStorage::from_table(&t) }.err().unwrap();
        assert_eq!(e.code, raft_result::RAFT_ERR_INVALID_ARGUMENT);
        assert!(e.msg.contains("term"));
        let mut t = table(&mut l);
        t.struct_size = 8;
        // SAFETY: valid table pointer.
        let e = unsafe { CallbackStorage::from_table(&t) }.err().unwrap();
        assert!(e.msg.contains("struct_size"));
        // SAFETY: NULL is refused.
        let e = unsafe { CallbackStorage::from_table(std::ptr::null()) }
            .err()
            .unwrap();
        assert_eq!(e.code, raft_result::RAFT_ERR_NULL);
    }
}
