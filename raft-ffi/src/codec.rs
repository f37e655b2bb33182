//! Encoding C structs into etcd raftpb bytes and decoding bytes into views
//! owned by a `raft_decoded`.
//!
//! Every `raft_<msg>_encode` writes a new caller-owned `raft_buf` (release
//! it with `raft_buf_free`). Every `raft_<msg>_decode` fills a view whose
//! pointers stay valid until the returned `raft_decoded` is freed; malformed
//! bytes give `RAFT_ERR_DECODE`.

use prost::Message as _;
use raft_core::eraftpb::{
    ConfChange, ConfChangeV2, ConfState, Entry, HardState, Message, Snapshot,
};
use raft_core::message_nesting::decode_message;

use crate::bytes::{in_slice, raft_buf};
use crate::decoded::{
    conf_change_view, conf_state_view, entry_view, raft_decoded, snapshot_view, Arena, Value,
};
use crate::guard::{guard, in_ref, out_ptr};
use crate::messages::{
    conf_change_in, conf_change_v2_in, conf_state_in, entry_in, message_in, raft_conf_change,
    raft_conf_change_v2, raft_conf_state, raft_entry, raft_hard_state, raft_message, raft_snapshot,
    snapshot_in,
};
use crate::result::{raft_result, FfiResult};

fn encode_into(out: *mut raft_buf, v: &impl prost::Message) -> FfiResult<()> {
    let out = out_ptr(out, "out")?;
    *out = raft_buf::from_vec(v.encode_to_vec());
    Ok(())
}

/// Decodes `(buf, len)` as `T`, builds its view with `view`, and hands both
/// to C.
/// Plain protobuf decoding (for the types without a nesting limit).
fn plain<T: prost::Message + Default>(b: &[u8]) -> FfiResult<T> {
    Ok(T::decode(b)?)
}

fn decode_with<T: prost::Message + Default, V>(
    buf: *const u8,
    len: usize,
    decoded: *mut *mut raft_decoded,
    out: *mut V,
    decode: impl FnOnce(&[u8]) -> FfiResult<T>,
    view: impl FnOnce(&T, &mut Arena) -> V,
    wrap: impl FnOnce(Box<T>) -> Value,
) -> FfiResult<()> {
    let bytes = in_slice(buf, len, "buf")?;
    let decoded = out_ptr(decoded, "decoded")?;
    let out = out_ptr(out, "out")?;
    let value = Box::new(decode(bytes)?);
    let mut arena = Arena::default();
    let v = view(&value, &mut arena);
    *decoded = raft_decoded::into_raw(wrap(value), arena);
    *out = v;
    Ok(())
}

/// Encodes an entry as raftpb `Entry` bytes into `*out`.
///
/// # Safety
/// Pointers are NULL or valid for the duration of the call.
#[no_mangle]
pub unsafe extern "C" fn raft_entry_encode(
    entry: *const raft_entry,
    out: *mut raft_buf,
) -> raft_result {
    guard("raft_entry_encode", || {
        let e = entry_in(in_ref(entry, "entry")?)?;
        encode_into(out, &e)
    })
}

/// Decodes raftpb `Entry` bytes. On success `*decoded` owns the memory the
/// view `*out` points into.
///
/// # Safety
/// Pointers are NULL or valid for the duration of the call.
#[no_mangle]
pub unsafe extern "C" fn raft_entry_decode(
    buf: *const u8,
    len: usize,
    decoded: *mut *mut raft_decoded,
    out: *mut raft_entry,
) -> raft_result {
    guard("raft_entry_decode", || {
        decode_with(
            buf,
            len,
            decoded,
            out,
            plain,
            |e: &Entry, _| entry_view(e),
            Value::Entry,
        )
    })
}

/// Encodes a hard state as raftpb `HardState` bytes into `*out`.
///
/// # Safety
/// Pointers are NULL or valid for the duration of the call.
#[no_mangle]
pub unsafe extern "C" fn raft_hard_state_encode(
    hs: *const raft_hard_state,
    out: *mut raft_buf,
) -> raft_result {
    guard("raft_hard_state_encode", || {
        let hs = HardState::from(in_ref(hs, "hs")?);
        encode_into(out, &hs)
    })
}

/// Decodes raftpb `HardState` bytes into `*out` (no owner needed).
///
/// # Safety
/// Pointers are NULL or valid for the duration of the call.
#[no_mangle]
pub unsafe extern "C" fn raft_hard_state_decode(
    buf: *const u8,
    len: usize,
    out: *mut raft_hard_state,
) -> raft_result {
    guard("raft_hard_state_decode", || {
        let bytes = in_slice(buf, len, "buf")?;
        let out = out_ptr(out, "out")?;
        *out = raft_hard_state::from(&HardState::decode(bytes)?);
        Ok(())
    })
}

/// Encodes a conf state as raftpb `ConfState` bytes into `*out`.
///
/// # Safety
/// Pointers are NULL or valid for the duration of the call.
#[no_mangle]
pub unsafe extern "C" fn raft_conf_state_encode(
    cs: *const raft_conf_state,
    out: *mut raft_buf,
) -> raft_result {
    guard("raft_conf_state_encode", || {
        let cs = conf_state_in(in_ref(cs, "cs")?)?;
        encode_into(out, &cs)
    })
}

/// Decodes raftpb `ConfState` bytes; `*decoded` owns the arrays of `*out`.
///
/// # Safety
/// Pointers are NULL or valid for the duration of the call.
#[no_mangle]
pub unsafe extern "C" fn raft_conf_state_decode(
    buf: *const u8,
    len: usize,
    decoded: *mut *mut raft_decoded,
    out: *mut raft_conf_state,
) -> raft_result {
    guard("raft_conf_state_decode", || {
        decode_with(
            buf,
            len,
            decoded,
            out,
            plain,
            |c: &ConfState, _| conf_state_view(c),
            Value::ConfState,
        )
    })
}

/// Encodes a conf change as raftpb `ConfChange` bytes into `*out`.
///
/// # Safety
/// Pointers are NULL or valid for the duration of the call.
#[no_mangle]
pub unsafe extern "C" fn raft_conf_change_encode(
    cc: *const raft_conf_change,
    out: *mut raft_buf,
) -> raft_result {
    guard("raft_conf_change_encode", || {
        let cc = conf_change_in(in_ref(cc, "cc")?)?;
        encode_into(out, &cc)
    })
}

/// Decodes raftpb `ConfChange` bytes; `*decoded` owns the context of `*out`.
///
/// # Safety
/// Pointers are NULL or valid for the duration of the call.
#[no_mangle]
pub unsafe extern "C" fn raft_conf_change_decode(
    buf: *const u8,
    len: usize,
    decoded: *mut *mut raft_decoded,
    out: *mut raft_conf_change,
) -> raft_result {
    guard("raft_conf_change_decode", || {
        decode_with(
            buf,
            len,
            decoded,
            out,
            plain,
            |c: &ConfChange, _| conf_change_view(c),
            Value::ConfChange,
        )
    })
}

/// Encodes a conf change v2 as raftpb `ConfChangeV2` bytes into `*out`.
///
/// # Safety
/// Pointers are NULL or valid for the duration of the call.
#[no_mangle]
pub unsafe extern "C" fn raft_conf_change_v2_encode(
    cc: *const raft_conf_change_v2,
    out: *mut raft_buf,
) -> raft_result {
    guard("raft_conf_change_v2_encode", || {
        let cc = conf_change_v2_in(in_ref(cc, "cc")?)?;
        encode_into(out, &cc)
    })
}

/// Decodes raftpb `ConfChangeV2` bytes; `*decoded` owns the arrays of `*out`.
///
/// # Safety
/// Pointers are NULL or valid for the duration of the call.
#[no_mangle]
pub unsafe extern "C" fn raft_conf_change_v2_decode(
    buf: *const u8,
    len: usize,
    decoded: *mut *mut raft_decoded,
    out: *mut raft_conf_change_v2,
) -> raft_result {
    guard("raft_conf_change_v2_decode", || {
        decode_with(
            buf,
            len,
            decoded,
            out,
            plain,
            |c: &ConfChangeV2, a| a.conf_change_v2(c),
            Value::ConfChangeV2,
        )
    })
}

/// Encodes a snapshot as raftpb `Snapshot` bytes into `*out`.
///
/// # Safety
/// Pointers are NULL or valid for the duration of the call.
#[no_mangle]
pub unsafe extern "C" fn raft_snapshot_encode(
    snap: *const raft_snapshot,
    out: *mut raft_buf,
) -> raft_result {
    guard("raft_snapshot_encode", || {
        let s = snapshot_in(in_ref(snap, "snap")?)?;
        encode_into(out, &s)
    })
}

/// Decodes raftpb `Snapshot` bytes; `*decoded` owns the data and arrays of
/// `*out`.
///
/// # Safety
/// Pointers are NULL or valid for the duration of the call.
#[no_mangle]
pub unsafe extern "C" fn raft_snapshot_decode(
    buf: *const u8,
    len: usize,
    decoded: *mut *mut raft_decoded,
    out: *mut raft_snapshot,
) -> raft_result {
    guard("raft_snapshot_decode", || {
        decode_with(
            buf,
            len,
            decoded,
            out,
            plain,
            |s: &Snapshot, _| snapshot_view(s),
            Value::Snapshot,
        )
    })
}

/// Encodes a message (with its entries, snapshot and responses, nested at
/// most RAFT_MAX_MESSAGE_DEPTH levels below it; deeper gives
/// RAFT_ERR_INVALID_ARGUMENT) as raftpb `Message` bytes into `*out`.
///
/// # Safety
/// Pointers are NULL or valid for the duration of the call.
#[no_mangle]
pub unsafe extern "C" fn raft_message_encode(
    msg: *const raft_message,
    out: *mut raft_buf,
) -> raft_result {
    guard("raft_message_encode", || {
        let m = message_in(in_ref(msg, "msg")?, 0)?;
        encode_into(out, &m)
    })
}

/// Decodes raftpb `Message` bytes; `*decoded` owns every array, snapshot and
/// byte view reachable from `*out`. Responses nested more than
/// RAFT_MAX_MESSAGE_DEPTH levels deep give RAFT_ERR_DECODE (the limit of
/// `raft_message_encode`).
///
/// # Safety
/// Pointers are NULL or valid for the duration of the call.
#[no_mangle]
pub unsafe extern "C" fn raft_message_decode(
    buf: *const u8,
    len: usize,
    decoded: *mut *mut raft_decoded,
    out: *mut raft_message,
) -> raft_result {
    guard("raft_message_decode", || {
        decode_with(
            buf,
            len,
            decoded,
            out,
            |b| Ok(decode_message(b)?),
            |m: &Message, a| a.message(m),
            Value::Message,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bytes::{raft_buf_free, raft_bytes};
    use crate::decoded::raft_decoded_free;
    use crate::messages::raft_conf_change_single;
    use raft_core::eraftpb::{EntryType, MessageType};
    use std::ptr::{null, null_mut};

    fn buf_vec(b: &raft_buf) -> Vec<u8> {
        // SAFETY: the buffer was filled by an encode function.
        unsafe { std::slice::from_raw_parts(b.data, b.len) }.to_vec()
    }

    #[test]
    fn message_round_trip_matches_prost() {
        let mut m = Message::with_type(MessageType::MsgApp);
        m.to = 2;
        m.from = 1;
        m.term = 3;
        m.entries = vec![Entry::new(3, 7, &b"hello"[..]), Entry::new(3, 8, &b""[..])];
        m.entries[1].entry_type = EntryType::EntryConfChange as i32;
        m.snapshot = Some(Box::default());
        m.context = Some(bytes::Bytes::from_static(b"ctx"));
        m.responses = vec![Message::with_type(MessageType::MsgAppResp)];
        let wire = m.encode_to_vec();

        let mut d = null_mut();
        // SAFETY: a zeroed raft_message is a valid out-parameter.
        let mut view: raft_message = unsafe { std::mem::zeroed() };
        // SAFETY: valid pointers.
        let rc = unsafe { raft_message_decode(wire.as_ptr(), wire.len(), &mut d, &mut view) };
        assert_eq!(rc, raft_result::RAFT_OK);
        assert_eq!((view.to, view.from, view.entries_len), (2, 1, 2));
        assert!(!view.snapshot.is_null());
        assert_eq!(view.responses_len, 1);
        let mut out = raft_buf::from_vec(Vec::new());
        // SAFETY: the view's pointers are valid while `d` lives.
        let rc = unsafe { raft_message_encode(&view, &mut out) };
        assert_eq!(rc, raft_result::RAFT_OK);
        assert_eq!(
            buf_vec(&out),
            wire,
            "re-encoding a decoded message is identity"
        );
        // SAFETY: release what was allocated.
        unsafe {
            raft_buf_free(&mut out);
            raft_decoded_free(&mut d);
        }
        assert!(d.is_null());
    }

    #[test]
    fn malformed_bytes_and_bad_enums_are_errors() {
        let junk = [0xffu8, 0xff, 0xff];
        let mut d = null_mut();
        // SAFETY: zeroed out-parameter.
        let mut view: raft_message = unsafe { std::mem::zeroed() };
        // SAFETY: valid pointers.
        let rc = unsafe { raft_message_decode(junk.as_ptr(), junk.len(), &mut d, &mut view) };
        assert_eq!(rc, raft_result::RAFT_ERR_DECODE);
        assert!(d.is_null(), "out-parameters untouched on failure");
        let e = raft_entry {
            entry_type: 9,
            term: 1,
            index: 1,
            data: raft_bytes::NONE,
        };
        let mut out = raft_buf::from_vec(Vec::new());
        // SAFETY: valid pointers.
        assert_eq!(
            unsafe { raft_entry_encode(&e, &mut out) },
            raft_result::RAFT_ERR_INVALID_ARGUMENT
        );
        let cc = raft_conf_change_v2 {
            transition: 0,
            changes: null::<raft_conf_change_single>(),
            changes_len: 2,
            context: raft_bytes::NONE,
        };
        // SAFETY: valid pointers (the NULL array is the error under test).
        assert_eq!(
            unsafe { raft_conf_change_v2_encode(&cc, &mut out) },
            raft_result::RAFT_ERR_NULL
        );
        // SAFETY: NULL input.
        assert_eq!(
            unsafe { raft_hard_state_encode(null(), &mut out) },
            raft_result::RAFT_ERR_NULL
        );
    }

    /// A C message chain with `depth` levels of responses below `chain[0]`.
    fn c_chain(depth: usize) -> Vec<raft_message> {
        // SAFETY: zeroed raft_message is valid (NULL arrays, zero lengths).
        let mut chain: Vec<raft_message> =
            (0..=depth).map(|_| unsafe { std::mem::zeroed() }).collect();
        for i in (0..depth).rev() {
            let next: *const raft_message = &chain[i + 1];
            chain[i].responses = next;
            chain[i].responses_len = 1;
        }
        chain
    }

    /// Protobuf bytes of a message with `depth` levels of responses.
    fn nested_bytes(depth: usize) -> Vec<u8> {
        let mut m = Message::with_type(MessageType::MsgAppResp);
        for _ in 0..depth {
            m = Message {
                responses: vec![m],
                ..Message::with_type(MessageType::MsgStorageAppend)
            };
        }
        m.encode_to_vec()
    }

    fn last_error() -> String {
        // SAFETY: raft_last_error returns a valid C string.
        unsafe { std::ffi::CStr::from_ptr(crate::last_error::raft_last_error()) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn one_nesting_limit_for_encode_and_decode() {
        let max = crate::messages::RAFT_MAX_MESSAGE_DEPTH;
        for depth in [max, max + 1, 100] {
            let ok = depth <= max;
            let chain = c_chain(depth);
            let mut out = raft_buf::from_vec(Vec::new());
            // SAFETY: valid pointers.
            let rc = unsafe { raft_message_encode(&chain[0], &mut out) };
            if ok {
                assert_eq!(rc, raft_result::RAFT_OK, "{depth}");
                let back = Message::decode(buf_vec(&out).as_slice()).unwrap();
                assert_eq!(raft_core::message_nesting::message_depth(&back), depth);
                // SAFETY: release the buffer.
                unsafe { raft_buf_free(&mut out) };
            } else {
                assert_eq!(rc, raft_result::RAFT_ERR_INVALID_ARGUMENT, "{depth}");
                assert!(last_error().contains("nested deeper than the limit of 8"));
            }
            let wire = nested_bytes(depth);
            let mut d = null_mut();
            // SAFETY: zeroed out-parameter.
            let mut view: raft_message = unsafe { std::mem::zeroed() };
            // SAFETY: valid pointers.
            let rc = unsafe { raft_message_decode(wire.as_ptr(), wire.len(), &mut d, &mut view) };
            if ok {
                assert_eq!(rc, raft_result::RAFT_OK, "{depth}");
                // SAFETY: release what was decoded.
                unsafe { raft_decoded_free(&mut d) };
            } else {
                assert_eq!(rc, raft_result::RAFT_ERR_DECODE, "{depth}");
                assert!(d.is_null(), "nothing handed out");
                let e = last_error();
                assert!(e.contains("nested deeper than the limit of 8"), "{e}");
            }
        }
    }
}
