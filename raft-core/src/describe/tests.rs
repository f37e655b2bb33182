use bytes::Bytes;

use super::*;
use crate::eraftpb::{ConfChange, ConfChangeTransition, ConfChangeV2, SnapshotMetadata};

fn normal(term: u64, index: u64, data: &'static [u8]) -> Entry {
    Entry::new(term, index, Bytes::from_static(data))
}

fn cc_entry(term: u64, index: u64, cc: ConfChangeI) -> Entry {
    let (t, data) = cc.to_entry_parts();
    Entry {
        entry_type: t as i32,
        term,
        index,
        data: Some(data),
    }
}

fn v2(changes: &[(ConfChangeType, u64)]) -> ConfChangeI {
    ConfChangeI::V2(ConfChangeV2 {
        transition: ConfChangeTransition::ConfChangeTransitionAuto as i32,
        changes: changes
            .iter()
            .map(|&(t, id)| ConfChangeSingle::new(t, id))
            .collect(),
        context: None,
    })
}

fn msg(t: MessageType, from: u64, to: u64, term: u64, log_term: u64, index: u64) -> Message {
    Message {
        msg_type: t as i32,
        from,
        to,
        term,
        log_term,
        index,
        ..Default::default()
    }
}

fn snapshot(index: u64, term: u64, voters: Vec<u64>) -> Snapshot {
    Snapshot {
        data: None,
        metadata: SnapshotMetadata {
            conf_state: ConfState {
                voters,
                ..Default::default()
            },
            index,
            term,
        },
    }
}

#[test]
fn normal_entries() {
    assert_eq!(
        describe_entry(&normal(1, 11, b"")),
        r#"1/11 EntryNormal """#
    );
    // No data at all prints like empty data.
    let mut e = normal(1, 11, b"");
    e.data = None;
    assert_eq!(describe_entry(&e), r#"1/11 EntryNormal """#);
    assert_eq!(
        describe_entry(&normal(2, 5, b"foo")),
        r#"2/5 EntryNormal "foo""#
    );
    assert_eq!(
        describe_entry(&normal(2, 5, b"\"foo\"")),
        r#"2/5 EntryNormal "\"foo\"""#
    );
    assert_eq!(
        describe_entry(&normal(2, 5, b"a\x00\xff\n")),
        r#"2/5 EntryNormal "a\x00\xff\n""#
    );
}

#[test]
fn conf_change_entries() {
    use ConfChangeType::*;
    let e = cc_entry(1, 4, v2(&[(ConfChangeAddNode, 3)]));
    assert_eq!(describe_entry(&e), "1/4 EntryConfChangeV2 v3");
    let e = cc_entry(
        1,
        4,
        v2(&[
            (ConfChangeAddNode, 2),
            (ConfChangeAddLearnerNode, 3),
            (ConfChangeRemoveNode, 1),
            (ConfChangeUpdateNode, 4),
        ]),
    );
    assert_eq!(describe_entry(&e), "1/4 EntryConfChangeV2 v2 l3 r1 u4");
    // Leave-joint: no changes, no payload.
    let e = cc_entry(1, 6, v2(&[]));
    assert_eq!(describe_entry(&e), "1/6 EntryConfChangeV2");
    let v1 = ConfChangeI::V1(ConfChange {
        id: 0,
        change_type: ConfChangeAddNode as i32,
        node_id: 2,
        context: Some(Bytes::from_static(b"ctx")),
    });
    assert_eq!(
        describe_entry(&cc_entry(1, 4, v1)),
        "1/4 EntryConfChange v2"
    );
}

#[test]
fn undecodable_conf_change_prints_the_error() {
    let e = Entry {
        entry_type: EntryType::EntryConfChangeV2 as i32,
        term: 1,
        index: 3,
        data: Some(Bytes::from_static(b"\xff\xff")),
    };
    let err = {
        use prost::Message as _;
        ConfChangeV2::decode(e.data()).unwrap_err().to_string()
    };
    let d = describe_entry(&e);
    assert_eq!(d, format!("1/3 EntryConfChangeV2 {err}"));
    assert!(!err.is_empty());
}

#[test]
fn describe_entries_ends_each_line() {
    let ents = [normal(1, 1, b"a"), normal(1, 2, b"")];
    assert_eq!(
        describe_entries(&ents),
        "1/1 EntryNormal \"a\"\n1/2 EntryNormal \"\"\n"
    );
    assert_eq!(describe_entries(&[]), "");
}

#[test]
fn readme_message_examples() {
    use MessageType::*;
    let mut m = msg(MsgApp, 1, 2, 1, 1, 10);
    m.commit = 10;
    m.entries = vec![normal(1, 11, b"")];
    assert_eq!(
        describe_message(&m),
        r#"1->2 MsgApp Term:1 Log:1/10 Commit:10 Entries:[1/11 EntryNormal ""]"#
    );

    let mut m = msg(MsgAppResp, 3, 2, 2, 1, 4);
    m.reject = true;
    m.reject_hint = 3;
    assert_eq!(
        describe_message(&m),
        "3->2 MsgAppResp Term:2 Log:1/4 Rejected (Hint: 3)"
    );

    let mut m = msg(MsgApp, 2, 3, 2, 1, 3);
    m.commit = 4;
    m.entries = vec![
        cc_entry(1, 4, v2(&[(ConfChangeType::ConfChangeAddNode, 3)])),
        normal(2, 5, b""),
    ];
    assert_eq!(
        describe_message(&m),
        "2->3 MsgApp Term:2 Log:1/3 Commit:4 Entries:[\n  1/4 EntryConfChangeV2 v3\n  2/5 EntryNormal \"\"\n]"
    );

    let mut m = msg(MsgStorageAppend, 1, LOCAL_APPEND_THREAD, 1, 0, 0);
    m.commit = 10;
    m.vote = 1;
    m.responses = vec![msg(MsgVoteResp, 1, 1, 1, 0, 0)];
    assert_eq!(
        describe_message(&m),
        "1->AppendThread MsgStorageAppend Term:1 Log:0/0 Commit:10 Vote:1 Responses:[\n  1->1 MsgVoteResp Term:1 Log:0/0\n]"
    );

    let mut m = msg(MsgSnap, 1, 2, 1, 0, 0);
    m.snapshot = Some(Box::new(snapshot(4, 1, vec![1, 2])));
    assert_eq!(
        describe_message(&m),
        "1->2 MsgSnap Term:1 Log:0/0\n  Snapshot: Index:4 Term:1 ConfState:Voters:[1 2] VotersOutgoing:[] Learners:[] LearnersNext:[] AutoLeave:false"
    );
}

#[test]
fn message_targets_and_defaults() {
    let m = msg(MessageType::MsgProp, 0, 0, 0, 0, 0);
    assert_eq!(describe_message(&m), "None->None MsgProp Term:0 Log:0/0");
    let m = msg(
        MessageType::MsgStorageApplyResp,
        LOCAL_APPLY_THREAD,
        26,
        0,
        0,
        0,
    );
    assert_eq!(
        describe_message(&m),
        "ApplyThread->1a MsgStorageApplyResp Term:0 Log:0/0"
    );
    // An empty snapshot is not shown.
    let mut m = msg(MessageType::MsgSnap, 1, 2, 1, 0, 0);
    m.snapshot = Some(Box::default());
    assert_eq!(describe_message(&m), "1->2 MsgSnap Term:1 Log:0/0");
    // Unknown message types print as numbers, like Go's %v.
    let mut m = msg(MessageType::MsgHup, 1, 2, 0, 0, 0);
    m.msg_type = 99;
    assert_eq!(describe_message(&m), "1->2 99 Term:0 Log:0/0");
}

#[test]
fn nested_prefixes() {
    use MessageType::*;
    // A multi-entry message inside responses, inside a prefixed message.
    let mut inner = msg(MsgApp, 1, 2, 1, 1, 1);
    inner.entries = vec![normal(1, 2, b"x"), normal(1, 3, b"y")];
    let mut snap_resp = msg(MsgSnap, 1, 3, 1, 0, 0);
    snap_resp.snapshot = Some(Box::new(snapshot(5, 1, vec![1])));
    let mut outer = msg(MsgStorageAppend, 1, LOCAL_APPEND_THREAD, 0, 0, 0);
    outer.responses = vec![inner, snap_resp];
    let want = "\
> 1->AppendThread MsgStorageAppend Term:0 Log:0/0 Responses:[
>   1->2 MsgApp Term:1 Log:1/1 Entries:[
>     1/2 EntryNormal \"x\"
>     1/3 EntryNormal \"y\"
>   ]
>   1->3 MsgSnap Term:1 Log:0/0
>     Snapshot: Index:5 Term:1 ConfState:Voters:[1] VotersOutgoing:[] Learners:[] LearnersNext:[] AutoLeave:false
> ]";
    assert_eq!(describe_message_with_prefix(&outer, "> "), want);
}

#[test]
fn snapshot_and_conf_state() {
    let cs = ConfState {
        voters: vec![3, 1, 2],
        learners: vec![4],
        voters_outgoing: vec![1],
        learners_next: vec![5, 6],
        auto_leave: true,
    };
    assert_eq!(
        describe_conf_state(&cs),
        "Voters:[3 1 2] VotersOutgoing:[1] Learners:[4] LearnersNext:[5 6] AutoLeave:true"
    );
    assert_eq!(
        describe_conf_state(&ConfState::default()),
        "Voters:[] VotersOutgoing:[] Learners:[] LearnersNext:[] AutoLeave:false"
    );
    let mut s = snapshot(4, 1, vec![1, 2]);
    s.metadata.conf_state = cs;
    assert_eq!(
        describe_snapshot(&s),
        "Index:4 Term:1 ConfState:Voters:[3 1 2] VotersOutgoing:[1] Learners:[4] LearnersNext:[5 6] AutoLeave:true"
    );
}

#[test]
fn hard_state() {
    let hs = HardState {
        term: 1,
        vote: 1,
        commit: 10,
    };
    assert_eq!(describe_hard_state(&hs), "Term:1 Vote:1 Commit:10");
    let hs = HardState {
        term: 2,
        vote: 0,
        commit: 3,
    };
    assert_eq!(describe_hard_state(&hs), "Term:2 Commit:3");
}

#[test]
fn config_strings() {
    let cs = |v: &[u64], o: &[u64], l: &[u64], ln: &[u64], a: bool| ConfState {
        voters: v.to_vec(),
        voters_outgoing: o.to_vec(),
        learners: l.to_vec(),
        learners_next: ln.to_vec(),
        auto_leave: a,
    };
    assert_eq!(
        describe_config(&cs(&[3, 1, 2], &[], &[], &[], false)),
        "voters=(1 2 3)"
    );
    assert_eq!(
        describe_config(&cs(&[2, 3, 4], &[1, 2, 3], &[], &[], false)),
        "voters=(2 3 4)&&(1 2 3)"
    );
    assert_eq!(describe_config(&cs(&[], &[], &[], &[], false)), "voters=()");
    assert_eq!(
        describe_config(&cs(&[3], &[1], &[2], &[1], false)),
        "voters=(3)&&(1) learners=(2) learners_next=(1)"
    );
    assert_eq!(
        describe_config(&cs(&[10, 1], &[], &[], &[], true)),
        "voters=(1 a) autoleave"
    );
}

#[test]
fn conf_changes_tokens() {
    let changes = vec![
        ConfChangeSingle::new(ConfChangeType::ConfChangeAddNode, 12),
        ConfChangeSingle {
            change_type: 42,
            node_id: 7,
        },
    ];
    assert_eq!(conf_changes_to_string(&changes), "v12 unknown7");
    assert_eq!(conf_changes_to_string(&[]), "");
}
