//! The Ready handle ([`raft_ready`]): what a node hands to the application
//! to persist, send and apply. Every view it returns stays valid until
//! `raft_ready_free`, also after `raft_rawnode_advance`.

use std::sync::OnceLock;

use raft_core::eraftpb::Entry;
use raft_core::Ready;

use crate::bytes::raft_bytes;
use crate::decoded::{entry_view, snapshot_view};
use crate::enums::raft_state_role;
use crate::guard::{free_handle, out_ptr, with_handle, Handle};
use crate::last_error::HandleState;
use crate::messages::{raft_entry, raft_hard_state, raft_snapshot};
use crate::result::raft_result;

/// Leader and role of the node.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct raft_soft_state {
    /// The known leader (0 = none).
    pub leader_id: u64,
    /// A `raft_state_role`.
    pub raft_state: i32,
}

/// A message to send, already encoded as raftpb `Message` bytes, with the
/// routing fields readable without decoding.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct raft_envelope {
    /// Recipient node id.
    pub to: u64,
    /// Sender node id.
    pub from: u64,
    /// A `raft_message_type`.
    pub msg_type: i32,
    /// The encoded message: pass it to the recipient's `raft_rawnode_step`.
    pub bytes: raft_bytes,
}

/// The answer to a `raft_rawnode_read_index` request.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct raft_read_state {
    /// Reads are linearizable once this index is applied.
    pub index: u64,
    /// The request context passed to `raft_rawnode_read_index`.
    pub request_ctx: raft_bytes,
}

/// One Ready: the core value, its encoded messages and the views of both
/// (the entry views made on first request).
/// Threading: immutable after creation; may be moved between threads and
/// read from several threads while no thread frees it.
pub struct raft_ready {
    st: HandleState,
    rd: Ready,
    /// All messages encoded back to back; `envelopes` point into it.
    _wire: Vec<u8>,
    envelopes: Box<[raft_envelope]>,
    /// The entry views, built on first request (an application that
    /// persists the Ready through the library never asks for them).
    entries: OnceLock<Box<[raft_entry]>>,
    committed: OnceLock<Box<[raft_entry]>>,
    read_states: Box<[raft_read_state]>,
    snapshot: raft_snapshot,
}

impl Handle for raft_ready {
    const NAME: &'static str = "raft_ready";
    fn state(&self) -> &HandleState {
        &self.st
    }
}

impl raft_ready {
    /// The core Ready behind the handle.
    pub fn ready(&self) -> &Ready {
        &self.rd
    }

    /// Encodes the messages of `rd` into one buffer and builds the views
    /// of messages, read states and snapshot.
    pub fn new(rd: Ready) -> Box<raft_ready> {
        // One buffer for every message, each written in one pass.
        let mut wire = Vec::new();
        let mut spans = Vec::with_capacity(rd.messages.len());
        for m in &rd.messages {
            let start = wire.len();
            raft_core::message_nesting::encode_message(m, &mut wire);
            spans.push((start, wire.len() - start));
        }
        let envelopes = rd
            .messages
            .iter()
            .zip(&spans)
            .map(|(m, &(start, len))| raft_envelope {
                to: m.to,
                from: m.from,
                msg_type: m.msg_type,
                bytes: raft_bytes::of(&wire[start..start + len]),
            })
            .collect();
        let read_states = rd
            .read_states
            .iter()
            .map(|r| raft_read_state {
                index: r.index,
                request_ctx: raft_bytes::of(&r.request_ctx),
            })
            .collect();
        let snapshot = snapshot_view(&rd.snapshot);
        Box::new(raft_ready {
            st: HandleState::default(),
            rd,
            _wire: wire,
            envelopes,
            entries: OnceLock::new(),
            committed: OnceLock::new(),
            read_states,
            snapshot,
        })
    }
}

/// Releases the Ready and every view obtained from it, and sets `*rd` to
/// NULL (a later call through the same variable gets RAFT_ERR_NULL).
/// Accepts NULL. Freeing does not advance the node.
///
/// # Safety
/// `rd` is NULL or points to NULL or to a live handle.
#[no_mangle]
pub unsafe extern "C" fn raft_ready_free(rd: *mut *mut raft_ready) {
    // SAFETY: forwarded contract.
    unsafe { free_handle(rd, |_| false) }
}

/// The views of `es`, built once into `cell`.
fn views<'a>(cell: &'a OnceLock<Box<[raft_entry]>>, es: &[Entry]) -> &'a [raft_entry] {
    cell.get_or_init(|| es.iter().map(entry_view).collect())
}

fn array<T>(
    what: &str,
    rd: *const raft_ready,
    out: *mut *const T,
    len: *mut usize,
    pick: impl FnOnce(&raft_ready) -> &[T],
) -> raft_result {
    with_handle(what, rd, |r| {
        let out = out_ptr(out, "out")?;
        let len = out_ptr(len, "len")?;
        let a = pick(r);
        *out = a.as_ptr();
        *len = a.len();
        Ok(())
    })
}

/// The soft state, if it changed: `*changed` tells, and `*out` is written
/// only when it did.
///
/// # Safety
/// Pointers are NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn raft_ready_soft_state(
    rd: *const raft_ready,
    changed: *mut bool,
    out: *mut raft_soft_state,
) -> raft_result {
    with_handle("raft_ready_soft_state", rd, |r| {
        let changed = out_ptr(changed, "changed")?;
        let out = out_ptr(out, "out")?;
        *changed = r.rd.soft_state.is_some();
        if let Some(ss) = &r.rd.soft_state {
            *out = raft_soft_state {
                leader_id: ss.leader_id,
                raft_state: raft_state_role::from(ss.raft_state).into(),
            };
        }
        Ok(())
    })
}

/// The hard state to persist, if it changed: `*changed` tells, and `*out`
/// is written only when it did.
///
/// # Safety
/// Pointers are NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn raft_ready_hard_state(
    rd: *const raft_ready,
    changed: *mut bool,
    out: *mut raft_hard_state,
) -> raft_result {
    with_handle("raft_ready_hard_state", rd, |r| {
        let changed = out_ptr(changed, "changed")?;
        let out = out_ptr(out, "out")?;
        *changed = r.rd.hard_state.is_some();
        if let Some(hs) = &r.rd.hard_state {
            *out = raft_hard_state::from(hs);
        }
        Ok(())
    })
}

/// The entries to persist (before sending the messages): `*out` is an
/// array of `*len` views valid until `raft_ready_free`.
///
/// # Safety
/// Pointers are NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn raft_ready_entries(
    rd: *const raft_ready,
    out: *mut *const raft_entry,
    len: *mut usize,
) -> raft_result {
    array("raft_ready_entries", rd, out, len, |r| {
        views(&r.entries, &r.rd.entries)
    })
}

/// The committed entries to apply: `*out` is an array of `*len` views valid
/// until `raft_ready_free`.
///
/// # Safety
/// Pointers are NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn raft_ready_committed_entries(
    rd: *const raft_ready,
    out: *mut *const raft_entry,
    len: *mut usize,
) -> raft_result {
    array("raft_ready_committed_entries", rd, out, len, |r| {
        views(&r.committed, &r.rd.committed_entries)
    })
}

/// The messages to send (after persisting): `*out` is an array of `*len`
/// envelopes whose bytes stay valid until `raft_ready_free`.
///
/// # Safety
/// Pointers are NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn raft_ready_messages(
    rd: *const raft_ready,
    out: *mut *const raft_envelope,
    len: *mut usize,
) -> raft_result {
    array("raft_ready_messages", rd, out, len, |r| &r.envelopes)
}

/// The answers to read-index requests: `*out` is an array of `*len` views
/// valid until `raft_ready_free`.
///
/// # Safety
/// Pointers are NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn raft_ready_read_states(
    rd: *const raft_ready,
    out: *mut *const raft_read_state,
    len: *mut usize,
) -> raft_result {
    array("raft_ready_read_states", rd, out, len, |r| &r.read_states)
}

/// The snapshot to persist and apply, if any: `*present` tells (index != 0)
/// and `*out` is written only then; its views are valid until
/// `raft_ready_free`.
///
/// # Safety
/// Pointers are NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn raft_ready_snapshot(
    rd: *const raft_ready,
    present: *mut bool,
    out: *mut raft_snapshot,
) -> raft_result {
    with_handle("raft_ready_snapshot", rd, |r| {
        let present = out_ptr(present, "present")?;
        let out = out_ptr(out, "out")?;
        *present = r.rd.snapshot.metadata.index != 0;
        if *present {
            *out = r.snapshot;
        }
        Ok(())
    })
}

/// Whether the hard state and entries must be synced to disk before the
/// messages are sent.
///
/// # Safety
/// Pointers are NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn raft_ready_must_sync(
    rd: *const raft_ready,
    out: *mut bool,
) -> raft_result {
    with_handle("raft_ready_must_sync", rd, |r| {
        *out_ptr(out, "out")? = r.rd.must_sync;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use prost::Message as _;
    use raft_core::eraftpb::{Message, MessageType};

    fn entry(index: u64, data: &'static [u8]) -> Entry {
        Entry {
            term: 2,
            index,
            data: Some(Bytes::from_static(data)),
            ..Default::default()
        }
    }

    fn sample() -> Box<raft_ready> {
        let app = |to, es: Vec<Entry>| Message {
            to,
            from: 1,
            term: 2,
            entries: es,
            ..Message::with_type(MessageType::MsgApp)
        };
        raft_ready::new(Ready {
            entries: vec![entry(5, b"five"), entry(6, b"")],
            committed_entries: vec![entry(4, b"four")],
            messages: vec![
                app(2, vec![entry(5, b"five"), entry(6, b"")]),
                Message {
                    to: 3,
                    from: 1,
                    ..Message::with_type(MessageType::MsgHeartbeat)
                },
                app(3, vec![]),
            ],
            ..Default::default()
        })
    }

    fn slice<'a, T>(p: *const T, n: usize) -> &'a [T] {
        // SAFETY: (p, n) came from a raft_ready accessor on a live Ready.
        unsafe { std::slice::from_raw_parts(p, n) }
    }

    #[test]
    fn each_envelope_holds_exactly_its_message() {
        let rd = sample();
        let (mut p, mut n) = (std::ptr::null(), 0);
        // SAFETY: `rd` is live; the out-pointers are writable locals.
        let rc = unsafe { raft_ready_messages(&*rd, &mut p, &mut n) };
        assert_eq!((rc, n), (raft_result::RAFT_OK, 3));
        for (env, m) in slice(p, n).iter().zip(&rd.rd.messages) {
            assert_eq!((env.to, env.from, env.msg_type), (m.to, m.from, m.msg_type));
            let bytes = slice(env.bytes.data, env.bytes.len);
            assert_eq!(bytes, m.encode_to_vec().as_slice());
            assert_eq!(&Message::decode(bytes).unwrap(), m);
        }
    }

    #[test]
    fn entry_views_are_built_once_and_shared_by_threads() {
        let rd = sample();
        let addr = &*rd as *const raft_ready as usize;
        let ask = move |committed: bool| {
            let rd = addr as *const raft_ready;
            let (mut p, mut n) = (std::ptr::null(), 0);
            // SAFETY: the Ready outlives the threads (joined below) and is
            // only read.
            let rc = unsafe {
                if committed {
                    raft_ready_committed_entries(rd, &mut p, &mut n)
                } else {
                    raft_ready_entries(rd, &mut p, &mut n)
                }
            };
            assert_eq!(rc, raft_result::RAFT_OK);
            (p as usize, n)
        };
        for committed in [false, true] {
            let got: Vec<(usize, usize)> = std::thread::scope(|s| {
                let hs: Vec<_> = (0..4).map(|_| s.spawn(move || ask(committed))).collect();
                hs.into_iter().map(|h| h.join().unwrap()).collect()
            });
            assert!(got.iter().all(|&g| g == got[0]), "one array: {got:?}");
            assert_eq!(ask(committed), got[0], "and the same later");
            let es = if committed {
                &rd.rd.committed_entries
            } else {
                &rd.rd.entries
            };
            let views = slice(got[0].0 as *const raft_entry, got[0].1);
            assert_eq!(views.len(), es.len());
            for (v, e) in views.iter().zip(es) {
                assert_eq!(
                    (v.term, v.index, v.entry_type),
                    (e.term, e.index, e.entry_type)
                );
                let d = slice(v.data.data, v.data.len);
                assert_eq!(d, e.data.as_deref().unwrap());
                assert!(!v.data.data.is_null(), "an empty payload is present");
            }
        }
        let (mut p, mut n) = (std::ptr::null(), 0);
        // SAFETY: NULL handle and NULL out-pointer are refused, not read.
        unsafe {
            assert_eq!(
                raft_ready_entries(std::ptr::null(), &mut p, &mut n),
                raft_result::RAFT_ERR_NULL
            );
            assert_eq!(
                raft_ready_committed_entries(&*rd, std::ptr::null_mut(), &mut n),
                raft_result::RAFT_ERR_NULL
            );
        }
    }
}
