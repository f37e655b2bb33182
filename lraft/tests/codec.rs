//! Codec tests (outside the lib: the module-mode lib cannot
//! link a unit-test binary without a Lua host; see build.rs).

use bytes::Bytes;
use lraft::pb::presence::{Cc, Ent, Hs, Msg};
use lraft::pb::wire::{put_varint, varint_len, Reader};
use prost::Message as _;
use raft_core::eraftpb::{ConfChange, Entry, HardState, Message, Snapshot};

#[test]
fn varint_round_trip() {
    for v in [0u64, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
        let mut b = Vec::new();
        put_varint(&mut b, v);
        assert_eq!(b.len(), varint_len(v));
        assert_eq!(Reader::new(&b).varint(), Some(v));
    }
}

#[test]
fn truncated_input_is_rejected() {
    assert_eq!(Reader::new(&[0x80]).varint(), None);
    assert_eq!(Reader::new(&[0x05, 1, 2]).bytes(), None);
    assert_eq!(Reader::new(&[0xff; 11]).varint(), None);
}

#[test]
fn full_entry_matches_prost() {
    let e = Entry::new(3, 7, &b"abc\0def"[..]);
    let p = Ent::full(e.clone());
    let mut b = Vec::new();
    p.encode(&mut b);
    assert_eq!(b, e.encode_to_vec());
    assert_eq!(p.byte_size(), b.len());
    assert_eq!(Ent::decode(&b), Some(p));
}

#[test]
fn full_message_matches_prost() {
    let m = Message {
        msg_type: 3,
        to: 2,
        from: 1,
        term: 5,
        entries: vec![Entry::new(5, 9, &b"x"[..]), Entry::new(5, 10, Bytes::new())],
        commit: 8,
        context: Some(Bytes::from_static(b"ctx")),
        snapshot: Some(Snapshot::default()),
        reject: true,
        ..Default::default()
    };
    let p = Msg::full(m.clone());
    let mut b = Vec::new();
    p.encode(&mut b);
    assert_eq!(b, m.encode_to_vec());
    assert_eq!(p.byte_size(), b.len());
    let back = Msg::decode(&b).unwrap();
    assert_eq!(back.to_core(), m);
    assert_eq!(back.has, Msg::ALL);
}

#[test]
fn unset_fields_are_not_encoded() {
    let mut p = Msg::default();
    p.set(1, 4);
    let mut b = Vec::new();
    p.encode(&mut b);
    assert_eq!(b, vec![0x10, 4]);
    let back = Msg::decode(&b).unwrap();
    assert_eq!(back.has, Msg::bit(1));
    assert!(Msg::decode(&[0x10]).is_none());
}

#[test]
fn hard_state_and_conf_changes_round_trip() {
    let hs = Hs {
        hs: HardState {
            term: 1,
            vote: 0,
            commit: 3,
        },
        has: Hs::TERM | Hs::COMMIT,
    };
    let mut b = Vec::new();
    hs.encode(&mut b);
    assert_eq!(b, vec![0x08, 1, 0x18, 3]);
    assert_eq!(Hs::decode(&b), Some(hs));
    let full = Hs::full(HardState {
        term: 1,
        vote: 2,
        commit: 3,
    });
    let mut b = Vec::new();
    full.encode(&mut b);
    assert_eq!(b, full.hs.encode_to_vec());
    let cc = Cc {
        cc: ConfChange {
            id: 1,
            change_type: 1,
            node_id: 2,
            context: None,
        },
        has: 7,
    };
    let mut b = Vec::new();
    cc.encode(&mut b);
    assert_eq!(b, cc.cc.encode_to_vec());
    assert_eq!(Cc::decode(&b), Some(cc));
}
