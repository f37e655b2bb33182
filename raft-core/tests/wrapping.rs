//! Terms and indexes near 2^64 never wrap: peer messages, snapshots and
//! storage answers beyond `MAX_TERM_OR_INDEX` are refused where they enter
//! (an error, the node unchanged; a storage answering one poisons the node
//! as any storage failure does). Run in a debug build, where a wrap would
//! panic.

mod common;

use std::cell::Cell;
use std::rc::Rc;

use bytes::Bytes;
use common::*;
use raft_core::eraftpb::{Entry, Message, MessageType, Snapshot};
use raft_core::{
    Error, MemoryStorage, RaftState, RawNode, Result, Storage, StorageError, MAX_TERM_OR_INDEX,
};

fn snap_msg(from: u64, to: u64, term: u64, index: u64) -> Message {
    let mut s = Snapshot::default();
    s.metadata.index = index;
    s.metadata.term = term;
    s.metadata.conf_state.voters = vec![1, 2, 3];
    Message {
        from,
        to,
        term,
        snapshot: Some(Box::new(s)),
        ..Message::with_type(MessageType::MsgSnap)
    }
}

/// The case from issue 8: a follower accepted a MsgSnap at index u64::MAX at
/// the leader's term, and its next election computed `last_index + 1`.
#[test]
fn a_snapshot_at_the_largest_index_is_refused_and_the_node_still_works() {
    let mut net = Network::new(&[1, 2, 3]);
    net.campaign(1);
    net.propose(1, b"a").unwrap();
    let before = (
        net.raft(2).raft_log.last_index(),
        net.raft(2).raft_log.committed,
    );
    for index in [u64::MAX, MAX_TERM_OR_INDEX + 1] {
        let res = net.node_mut(2).raw.step(snap_msg(1, 2, 1, index));
        match res {
            Err(Error::Invariant(m)) => assert!(m.contains("snapshot index"), "{m}"),
            other => panic!("{index}: {other:?}"),
        }
        assert!(
            !net.node(2).raw.is_failed(),
            "a refused message is no fault"
        );
    }
    let r = net.raft(2);
    assert_eq!((r.raft_log.last_index(), r.raft_log.committed), before);
    // The next election and the proposals after it work.
    net.campaign(2);
    assert_eq!(net.leaders(), vec![2]);
    net.propose(2, b"b").unwrap();
    for id in 1..=3 {
        assert_eq!(net.applied_payloads(id), vec![b"a".to_vec(), b"b".to_vec()]);
    }
}

/// Every term and index field of a peer message is bounded; the node
/// refuses the message and stays as it was.
#[test]
fn messages_with_a_term_or_index_beyond_the_bound_are_refused() {
    type Set = fn(&mut Message);
    let big = MAX_TERM_OR_INDEX + 1;
    let cases: Vec<(MessageType, &str, Set)> = vec![
        (MessageType::MsgApp, "term", |m| m.term = u64::MAX),
        (MessageType::MsgApp, "commit", |m| m.commit = u64::MAX),
        (MessageType::MsgApp, "index", |m| m.index = u64::MAX),
        (MessageType::MsgApp, "entry index", |m| {
            m.index = MAX_TERM_OR_INDEX;
            m.log_term = 1;
            m.entries = vec![Entry::new(1, MAX_TERM_OR_INDEX + 1, Bytes::new())];
        }),
        (MessageType::MsgApp, "entry term", |m| {
            m.entries = vec![Entry::new(u64::MAX, 2, Bytes::new())]
        }),
        (MessageType::MsgHeartbeat, "commit", |m| m.commit = u64::MAX),
        (MessageType::MsgVote, "index", |m| m.index = u64::MAX),
        (MessageType::MsgVote, "log term", |m| m.log_term = u64::MAX),
        (MessageType::MsgPreVote, "term", |m| m.term = u64::MAX),
        (MessageType::MsgAppResp, "reject hint", |m| {
            m.reject = true;
            m.reject_hint = u64::MAX;
        }),
        (MessageType::MsgAppResp, "index", |m| m.index = u64::MAX),
        (MessageType::MsgTimeoutNow, "term", |m| m.term = u64::MAX),
    ];
    for (t, field, set) in cases {
        for leader in [false, true] {
            let mut net = Network::new(&[1, 2, 3]);
            net.campaign(if leader { 2 } else { 1 });
            let term = net.raft(2).term;
            let mut m = msg(t, 1, 2, term);
            m.log_term = 1;
            m.index = 1;
            set(&mut m);
            let res = net.node_mut(2).raw.step(m);
            match &res {
                Err(Error::Invariant(e)) => {
                    assert!(e.contains(field), "{t:?} {field}: {e}");
                    assert!(e.contains(&format!("{MAX_TERM_OR_INDEX}")), "{e}");
                }
                other => panic!("{t:?} {field}: {other:?}"),
            }
            assert_eq!(net.raft(2).term, term, "{t:?} {field}");
            assert!(!net.node(2).raw.has_ready(), "{t:?} {field}: no effect");
        }
    }
    // The bound itself is accepted: a vote request at the largest term is
    // answered, and the node then refuses to start a term beyond it.
    let mut net = Network::new(&[1, 2, 3]);
    let mut m = msg(MessageType::MsgVote, 1, 2, MAX_TERM_OR_INDEX);
    m.log_term = 0;
    net.node_mut(2).raw.step(m).unwrap();
    assert_eq!(net.raft(2).term, MAX_TERM_OR_INDEX);
    net.node_mut(2).raw.campaign().unwrap();
    assert_eq!(
        net.raft(2).term,
        MAX_TERM_OR_INDEX,
        "no term beyond the bound"
    );
    let big_term = msg(MessageType::MsgHeartbeat, 1, 2, big);
    assert!(net.node_mut(2).raw.step(big_term).is_err());
}

/// A MemoryStorage whose answers for the last index and the snapshot can be
/// overridden with an absurd value.
#[derive(Clone)]
struct LyingStorage {
    mem: MemoryStorage,
    last_index: Rc<Cell<Option<u64>>>,
    snapshot_index: Rc<Cell<Option<u64>>>,
}

impl Storage for LyingStorage {
    fn initial_state(&self) -> Result<RaftState> {
        self.mem.initial_state()
    }
    fn entries(&self, low: u64, high: u64, max_size: u64) -> Result<Vec<Entry>> {
        self.mem.entries(low, high, max_size)
    }
    fn term(&self, idx: u64) -> Result<u64> {
        self.mem.term(idx)
    }
    fn first_index(&self) -> Result<u64> {
        self.mem.first_index()
    }
    fn last_index(&self) -> Result<u64> {
        match self.last_index.get() {
            Some(i) => Ok(i),
            None => self.mem.last_index(),
        }
    }
    fn snapshot(&self) -> Result<Snapshot> {
        let mut s = self.mem.snapshot()?;
        if let Some(i) = self.snapshot_index.get() {
            s.metadata.index = i;
        }
        Ok(s)
    }
}

fn lying() -> LyingStorage {
    LyingStorage {
        mem: storage_with_voters(&[1, 2]),
        last_index: Rc::new(Cell::new(None)),
        snapshot_index: Rc::new(Cell::new(None)),
    }
}

#[test]
fn a_storage_reporting_the_largest_last_index_is_refused() {
    let s = lying();
    s.last_index.set(Some(u64::MAX));
    match RawNode::new(&config(1, 10, 1), s) {
        Err(Error::Store(StorageError::Other(m))) => assert!(m.contains("last index"), "{m}"),
        Err(e) => panic!("{e:?}"),
        Ok(_) => panic!("accepted"),
    }
    // The core reads the storage's last index only when it is built; later
    // it knows the stable last index itself (`RaftLog::last_index`), so the
    // same answer given later is never consulted and nothing can wrap: the
    // node campaigns and appends at the index it knows.
    let s = lying();
    let mut raw = RawNode::new(&config(1, 10, 1), s.clone()).unwrap();
    s.last_index.set(Some(u64::MAX));
    raw.campaign().unwrap();
    let rd = raw.ready().unwrap();
    let vote = rd
        .messages
        .iter()
        .find(|m| m.msg_type() == MessageType::MsgVote)
        .expect("a vote request");
    assert_eq!(vote.index, s.mem.last_index().unwrap(), "{vote:?}");
}

/// Runs the Ready loop of a lone node over a LyingStorage.
fn drain(raw: &mut RawNode<LyingStorage>, s: &LyingStorage) {
    while raw.has_ready() {
        let rd = raw.ready().unwrap();
        persist(&s.mem, &rd);
        raw.advance().unwrap();
    }
}

#[test]
fn a_storage_snapshot_at_the_largest_index_is_not_sent() {
    // Leader 1 of {1, 2} compacted its log; follower 2 needs a snapshot,
    // but the storage answers one at u64::MAX.
    let s = lying();
    let mut raw = RawNode::new(&config(1, 10, 1), s.clone()).unwrap();
    raw.campaign().unwrap();
    drain(&mut raw, &s);
    let mut vote = msg(MessageType::MsgVoteResp, 2, 1, 1);
    vote.reject = false;
    raw.step(vote).unwrap();
    raw.propose(Bytes::from_static(b"x")).unwrap();
    drain(&mut raw, &s);
    s.mem.create_snapshot(1, None, Bytes::new()).unwrap();
    s.mem.compact(2).unwrap();
    s.snapshot_index.set(Some(u64::MAX));
    // Follower 2 rejects the probe at index 0: it needs the snapshot.
    let mut resp = msg(MessageType::MsgAppResp, 2, 1, 1);
    resp.reject = true;
    resp.index = 0;
    resp.reject_hint = 0;
    let res = raw.step(resp).and_then(|_| raw.ready().map(|_| ()));
    let err = res.unwrap_err();
    assert!(err.to_string().contains("snapshot index"), "{err}");
    assert!(raw.is_failed());
}

#[test]
fn memory_storage_refuses_the_largest_index() {
    let s = MemoryStorage::new();
    let mut snap = Snapshot::default();
    snap.metadata.index = u64::MAX;
    snap.metadata.term = 1;
    assert!(matches!(
        s.apply_snapshot(snap),
        Err(Error::Invariant(m)) if m.contains("snapshot index")
    ));
    let big = MAX_TERM_OR_INDEX + 1;
    assert!(matches!(
        s.append(&[Entry::new(1, big, Bytes::new())]),
        Err(Error::Invariant(m)) if m.contains("appended entry index")
    ));
    assert_eq!(s.last_index().unwrap(), 0);
}
