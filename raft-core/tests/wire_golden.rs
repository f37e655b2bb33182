//! Golden wire bytes: our prost encoding must equal the encoding of etcd's
//! gogoproto `raftpb`, which writes fields in ascending field-number order,
//! always writes the non-nullable fields (even when zero) and never writes
//! a nil `Data`, `Context` or `Snapshot`. Repeated `uint64` fields are
//! unpacked (proto2 without `packed`).
//!
//! The byte arrays were worked out by hand from the protobuf encoding rules:
//! a field starts with the key `(field_number << 3) | wire_type` (wire type 0
//! = varint, 2 = length-delimited), varints are little-endian base-128 with
//! the high bit as continuation flag.

use bytes::Bytes;
use prost::Message as _;
use raft_core::eraftpb::{
    ConfChange, ConfChangeSingle, ConfChangeTransition, ConfChangeType, ConfChangeV2, ConfState,
    Entry, EntryType, HardState, Message, MessageType, Snapshot, SnapshotMetadata,
};

/// Asserts that `value` encodes to `golden` and `golden` decodes to `value`.
fn check<M: prost::Message + Default + PartialEq + std::fmt::Debug>(value: &M, golden: &[u8]) {
    assert_eq!(value.encode_to_vec(), golden, "encoding of {value:?}");
    assert_eq!(value.encoded_len(), golden.len());
    assert_eq!(&M::decode(golden).expect("golden decodes"), value);
}

#[test]
fn entry_with_data() {
    let e = Entry {
        entry_type: EntryType::EntryNormal as i32,
        term: 1,
        index: 2,
        data: Some(Bytes::from_static(b"ab")),
    };
    #[rustfmt::skip]
    let golden = [
        0x08, 0x00,             // 1 Type (varint): EntryNormal = 0, written although zero
        0x10, 0x01,             // 2 Term (varint): 1
        0x18, 0x02,             // 3 Index (varint): 2
        0x22, 0x02, 0x61, 0x62, // 4 Data (bytes): length 2, "ab"
    ];
    check(&e, &golden);
}

#[test]
fn entry_without_data() {
    let e = Entry {
        entry_type: EntryType::EntryConfChange as i32,
        term: 300,
        index: 1,
        data: None,
    };
    #[rustfmt::skip]
    let golden = [
        0x08, 0x01,       // 1 Type: EntryConfChange = 1
        0x10, 0xac, 0x02, // 2 Term: 300 = 0b10_0101100 -> 0xac (low 7 bits | 0x80), 0x02
        0x18, 0x01,       // 3 Index: 1
                          // 4 Data: nil, not written
    ];
    check(&e, &golden);
}

#[test]
fn entry_with_empty_data_and_default_entry() {
    // A present but empty payload is written with length 0 (a non-nil
    // empty Go slice); the default entry still writes its three varints.
    let e = Entry {
        data: Some(Bytes::new()),
        ..Default::default()
    };
    check(&e, &[0x08, 0x00, 0x10, 0x00, 0x18, 0x00, 0x22, 0x00]);
    check(&Entry::default(), &[0x08, 0x00, 0x10, 0x00, 0x18, 0x00]);
}

#[test]
fn message_with_two_entries_commit_and_reject() {
    let m = Message {
        msg_type: MessageType::MsgApp as i32,
        to: 2,
        from: 1,
        term: 5,
        log_term: 4,
        index: 10,
        entries: vec![
            Entry::new(5, 11, Bytes::from_static(b"x")),
            Entry {
                term: 5,
                index: 12,
                ..Default::default()
            },
        ],
        commit: 10,
        snapshot: None,
        reject: true,
        reject_hint: 7,
        context: None,
        vote: 0,
        responses: vec![],
    };
    #[rustfmt::skip]
    let golden = [
        0x08, 0x03, // 1 Type: MsgApp = 3
        0x10, 0x02, // 2 To: 2
        0x18, 0x01, // 3 From: 1
        0x20, 0x05, // 4 Term: 5
        0x28, 0x04, // 5 LogTerm: 4
        0x30, 0x0a, // 6 Index: 10
        0x3a, 0x09, // 7 Entries[0] (length-delimited, 9 bytes):
            0x08, 0x00, 0x10, 0x05, 0x18, 0x0b, 0x22, 0x01, 0x78, //   Normal, term 5, index 11, data "x"
        0x3a, 0x06, // 7 Entries[1] (6 bytes):
            0x08, 0x00, 0x10, 0x05, 0x18, 0x0c, //   Normal, term 5, index 12, no data
        0x40, 0x0a, // 8 Commit: 10
                    // 9 Snapshot: nil, not written
        0x50, 0x01, // 10 Reject: true
        0x58, 0x07, // 11 RejectHint: 7
                    // 12 Context: nil, not written
        0x68, 0x00, // 13 Vote: 0, written although zero
                    // 14 Responses: none
    ];
    check(&m, &golden);
}

#[test]
fn message_with_responses() {
    let resp = Message {
        msg_type: MessageType::MsgVoteResp as i32,
        to: 1,
        from: 1,
        term: 1,
        ..Default::default()
    };
    let m = Message {
        msg_type: MessageType::MsgStorageAppend as i32,
        to: u64::MAX,
        from: 1,
        term: 1,
        responses: vec![resp],
        ..Default::default()
    };
    #[rustfmt::skip]
    let golden = [
        0x08, 0x13, // 1 Type: MsgStorageAppend = 19
        0x10,       // 2 To: u64::MAX = 64 one bits -> nine 0xff groups of 7, then 0x01
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
        0x18, 0x01, // 3 From: 1
        0x20, 0x01, // 4 Term: 1
        0x28, 0x00, // 5 LogTerm: 0
        0x30, 0x00, // 6 Index: 0
        0x40, 0x00, // 8 Commit: 0
        0x50, 0x00, // 10 Reject: false
        0x58, 0x00, // 11 RejectHint: 0
        0x68, 0x00, // 13 Vote: 0
        0x72, 0x14, // 14 Responses[0]: key (14 << 3) | 2 = 0x72, 20 bytes:
            0x08, 0x06, //   Type: MsgVoteResp = 6
            0x10, 0x01, //   To: 1
            0x18, 0x01, //   From: 1
            0x20, 0x01, //   Term: 1
            0x28, 0x00, 0x30, 0x00, 0x40, 0x00, 0x50, 0x00, 0x58, 0x00, 0x68, 0x00,
    ];
    check(&m, &golden);
}

#[test]
fn message_with_snapshot_and_context() {
    let m = Message {
        msg_type: MessageType::MsgSnap as i32,
        to: 2,
        from: 1,
        term: 3,
        snapshot: Some(Box::new(sample_snapshot())),
        context: Some(Bytes::from_static(b"c")),
        ..Default::default()
    };
    #[rustfmt::skip]
    let golden = [
        0x08, 0x07, // 1 Type: MsgSnap = 7
        0x10, 0x02, // 2 To: 2
        0x18, 0x01, // 3 From: 1
        0x20, 0x03, // 4 Term: 3
        0x28, 0x00, 0x30, 0x00, // 5 LogTerm, 6 Index: 0
        0x40, 0x00, // 8 Commit: 0
        0x4a, 0x12, // 9 Snapshot: key (9 << 3) | 2 = 0x4a, 18 bytes (see snapshot())
            0x0a, 0x04, 0x73, 0x6e, 0x61, 0x70,
            0x12, 0x0a, 0x0a, 0x04, 0x08, 0x01, 0x28, 0x00, 0x10, 0x0a, 0x18, 0x03,
        0x50, 0x00, 0x58, 0x00, // 10 Reject, 11 RejectHint
        0x62, 0x01, 0x63, // 12 Context: key (12 << 3) | 2 = 0x62, "c"
        0x68, 0x00, // 13 Vote
    ];
    check(&m, &golden);
}

#[test]
fn hard_state() {
    let hs = HardState {
        term: 3,
        vote: 2,
        commit: 1000,
    };
    #[rustfmt::skip]
    let golden = [
        0x08, 0x03,       // 1 Term: 3
        0x10, 0x02,       // 2 Vote: 2
        0x18, 0xe8, 0x07, // 3 Commit: 1000 = 0x3e8 -> 0x68 | 0x80, 0x07
    ];
    check(&hs, &golden);
    // Zero fields are written too.
    check(&HardState::default(), &[0x08, 0x00, 0x10, 0x00, 0x18, 0x00]);
}

#[test]
fn conf_change() {
    let mut cc = ConfChange {
        id: 7,
        change_type: ConfChangeType::ConfChangeAddLearnerNode as i32,
        node_id: 4,
        context: Some(Bytes::from_static(b"ctx")),
    };
    #[rustfmt::skip]
    let golden = [
        0x08, 0x07,                   // 1 ID: 7
        0x10, 0x03,                   // 2 Type: ConfChangeAddLearnerNode = 3
        0x18, 0x04,                   // 3 NodeID: 4
        0x22, 0x03, 0x63, 0x74, 0x78, // 4 Context: "ctx"
    ];
    check(&cc, &golden);
    cc.context = None;
    check(&cc, &golden[..6]);
}

#[test]
fn conf_change_v2() {
    let cc = ConfChangeV2 {
        transition: ConfChangeTransition::ConfChangeTransitionJointExplicit as i32,
        changes: vec![
            ConfChangeSingle::new(ConfChangeType::ConfChangeAddNode, 2),
            ConfChangeSingle::new(ConfChangeType::ConfChangeRemoveNode, 1),
        ],
        context: None,
    };
    #[rustfmt::skip]
    let golden = [
        0x08, 0x02,             // 1 Transition: JointExplicit = 2
        0x12, 0x04,             // 2 Changes[0], 4 bytes:
            0x08, 0x00,         //   Type: AddNode = 0 (written although zero)
            0x10, 0x02,         //   NodeID: 2
        0x12, 0x04,             // 2 Changes[1], 4 bytes:
            0x08, 0x01,         //   Type: RemoveNode = 1
            0x10, 0x01,         //   NodeID: 1
                                // 3 Context: nil, not written
    ];
    check(&cc, &golden);
    // The empty (leave-joint) change is just the transition.
    check(&ConfChangeV2::default(), &[0x08, 0x00]);
}

#[test]
fn conf_state() {
    let cs = ConfState {
        voters: vec![1, 2, 3],
        learners: vec![4],
        voters_outgoing: vec![1],
        learners_next: vec![5],
        auto_leave: true,
    };
    #[rustfmt::skip]
    let golden = [
        0x08, 0x01, 0x08, 0x02, 0x08, 0x03, // 1 Voters: unpacked, one key per value
        0x10, 0x04,                         // 2 Learners: 4
        0x18, 0x01,                         // 3 VotersOutgoing: 1
        0x20, 0x05,                         // 4 LearnersNext: 5
        0x28, 0x01,                         // 5 AutoLeave: true
    ];
    check(&cs, &golden);
    check(&ConfState::default(), &[0x28, 0x00]);
    // A packed encoding (what proto3 would write) is accepted on input too.
    let packed = [0x0a, 0x03, 0x01, 0x02, 0x03, 0x28, 0x00];
    assert_eq!(
        ConfState::decode(&packed[..]).unwrap().voters,
        vec![1, 2, 3]
    );
}

fn sample_snapshot() -> Snapshot {
    Snapshot {
        data: Some(Bytes::from_static(b"snap")),
        metadata: SnapshotMetadata {
            conf_state: ConfState {
                voters: vec![1],
                ..Default::default()
            },
            index: 10,
            term: 3,
        },
    }
}

#[test]
fn snapshot() {
    #[rustfmt::skip]
    let golden = [
        0x0a, 0x04, 0x73, 0x6e, 0x61, 0x70, // 1 Data: "snap"
        0x12, 0x0a,                         // 2 Metadata, 10 bytes:
            0x0a, 0x04,                     //   1 ConfState, 4 bytes:
                0x08, 0x01,                 //     Voters: 1
                0x28, 0x00,                 //     AutoLeave: false
            0x10, 0x0a,                     //   2 Index: 10
            0x18, 0x03,                     //   3 Term: 3
    ];
    check(&sample_snapshot(), &golden);
    // The empty snapshot: no data, metadata with its zero fields.
    #[rustfmt::skip]
    let empty = [
        0x12, 0x08,             // 2 Metadata, 8 bytes:
            0x0a, 0x02, 0x28, 0x00, //   ConfState {AutoLeave: false}
            0x10, 0x00,         //   Index: 0
            0x18, 0x00,         //   Term: 0
    ];
    check(&Snapshot::default(), &empty);
}

#[test]
fn malformed_bytes_are_errors() {
    let cases: &[&[u8]] = &[
        &[0x08],             // key without its varint
        &[0x22, 0x05, 0x61], // length beyond the end
        &[
            0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
        ], // 11-byte varint
        &[0x0f, 0x00],       // wire type 7 does not exist
        &[0x00, 0x00],       // field number 0
    ];
    for bytes in cases {
        assert!(Message::decode(*bytes).is_err(), "Message {bytes:02x?}");
        assert!(Entry::decode(*bytes).is_err(), "Entry {bytes:02x?}");
    }
    // A nested entry whose data overruns its message (for an Entry, field 7
    // is unknown and skipped, so only a Message fails).
    assert!(Message::decode(&[0x3a, 0x02, 0x22, 0x09][..]).is_err());
    // A length-delimited field where a varint is expected.
    assert!(HardState::decode(&[0x0a, 0x01, 0x00][..]).is_err());
    assert!(ConfChangeV2::decode(&[0x12, 0x04, 0x08][..]).is_err());
    assert!(Snapshot::decode(&[0x12, 0x80][..]).is_err());
    // Through the crate's error type.
    let e: raft_core::Error = Message::decode(&[0x08][..]).unwrap_err().into();
    assert!(matches!(e, raft_core::Error::Decode(_)));
}
