//! Decodes the input as every raftpb message type. Whatever decodes must
//! re-encode to bytes that decode to the same value, the project's own
//! decoders (nesting limit, conf-change entries) must not panic, and
//! `decode_message` (with its specialised decoder) must agree with prost.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message as _;
use raft_core::eraftpb::{
    ConfChange, ConfChangeSingle, ConfChangeV2, ConfState, Entry, EntryType, HardState, Message,
    Snapshot, SnapshotMetadata,
};
use raft_core::ConfChangeI;

/// Decodes `data` as `T`; when it decodes, checks the round trip.
fn round_trip<T: prost::Message + Default + PartialEq + std::fmt::Debug>(data: &[u8]) -> Option<T> {
    let v = T::decode(data).ok()?;
    let again = T::decode(v.encode_to_vec().as_slice()).expect("re-encoded value decodes");
    assert_eq!(v, again, "round trip changed the value");
    Some(v)
}

fuzz_target!(|data: &[u8]| {
    if let Some(m) = round_trip::<Message>(data) {
        let depth = raft_core::message_nesting::message_depth(&m);
        let checked = raft_core::message_nesting::decode_message(data);
        assert_eq!(
            checked.is_ok(),
            depth <= raft_core::message_nesting::MAX_MESSAGE_DEPTH
        );
        // The specialised decoder behind it agrees with prost's, and
        // encode_message writes prost's bytes.
        if let Ok(c) = &checked {
            assert_eq!(c, &m, "decode_message differs from prost");
        }
        let mut out = Vec::new();
        raft_core::message_nesting::encode_message(&m, &mut out);
        assert_eq!(out, m.encode_to_vec(), "encode_message differs from prost");
        let _ = raft_core::bounds::check_message(&m);
    }
    if let Some(mut e) = round_trip::<Entry>(data) {
        // Conf-change payloads as the application decodes them.
        for t in [EntryType::EntryConfChange, EntryType::EntryConfChangeV2] {
            e.set_entry_type(t);
            if let Some(Ok(cc)) = ConfChangeI::from_entry(&e) {
                let _ = cc.as_v2();
            }
        }
    }
    round_trip::<HardState>(data);
    round_trip::<ConfState>(data);
    round_trip::<ConfChange>(data);
    round_trip::<ConfChangeSingle>(data);
    if let Some(cc) = round_trip::<ConfChangeV2>(data) {
        let cci: ConfChangeI = cc.into();
        let _ = cci.as_v2();
    }
    round_trip::<Snapshot>(data);
    round_trip::<SnapshotMetadata>(data);
});
