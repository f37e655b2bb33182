//! Misuse of the RawNode that must be loud: a message addressed to another
//! node is refused by `step`, and a Ready that is never advanced makes
//! `tick` log a warning that names the missing `advance`.

mod common;

use std::sync::Arc;

use common::CaptureLogger;
use raft_core::eraftpb::{Message, MessageType};
use raft_core::logger::Level;
use raft_core::{Error, MemoryStorage, RawNode, ADVANCE_WARNING_ELECTIONS};

fn node(id: u64, logger: Arc<CaptureLogger>) -> RawNode<MemoryStorage> {
    let mut cfg = common::config(id, 10, 1);
    cfg.logger = logger;
    let mut n = RawNode::new(&cfg, MemoryStorage::new()).unwrap();
    n.bootstrap(&[1, 2, 3]).unwrap();
    n
}

fn heartbeat(from: u64, to: u64) -> Message {
    Message {
        from,
        to,
        term: 5,
        ..Message::with_type(MessageType::MsgHeartbeat)
    }
}

#[test]
fn step_refuses_a_message_addressed_to_another_node() {
    let mut n = node(1, CaptureLogger::at(Level::Warn));
    let before = n.raft.term;
    match n.step(heartbeat(3, 2)) {
        Err(Error::Misuse(msg)) => {
            assert!(msg.contains("addressed to node 2"), "{msg}");
            assert!(msg.contains("this node 1"), "{msg}");
        }
        other => panic!("expected a misuse error, got {other:?}"),
    }
    assert_eq!(n.raft.term, before, "the refused message changed the node");
    assert!(
        !n.is_failed(),
        "a refused message must not disable the node"
    );
}

#[test]
fn step_accepts_messages_to_this_node_and_to_zero() {
    let mut n = node(1, CaptureLogger::at(Level::Warn));
    n.step(heartbeat(3, 1)).unwrap();
    assert_eq!(n.raft.term, 5);
    assert_eq!(n.raft.leader_id, 3);
    // `to` = 0 is what hand-built messages (and etcd's own tests) use.
    n.step(Message {
        term: 6,
        ..heartbeat(2, 0)
    })
    .unwrap();
    assert_eq!(n.raft.leader_id, 2);
}

#[test]
fn a_ready_never_advanced_makes_tick_warn() {
    let log = CaptureLogger::at(Level::Warn);
    let mut n = node(1, log.clone());
    let rd = n.ready().unwrap();
    assert!(!rd.committed_entries.is_empty());
    let period = 10 * ADVANCE_WARNING_ELECTIONS;
    for _ in 0..period - 1 {
        n.tick();
    }
    let says_advance = |l: &Arc<CaptureLogger>| {
        l.lines()
            .iter()
            .filter(|m| m.contains("advance has not been called"))
            .count()
    };
    assert_eq!(says_advance(&log), 0, "warned too early");
    n.tick();
    assert_eq!(says_advance(&log), 1, "{:?}", log.lines());
    // After advance the count starts again from zero.
    n.advance().unwrap();
    for _ in 0..period {
        n.tick();
    }
    assert_eq!(says_advance(&log), 1, "warned although advance was called");
}

#[test]
fn the_warning_period_does_not_overflow_for_the_largest_election_tick() {
    let log = CaptureLogger::at(Level::Warn);
    // The largest value the config accepts; the period is twice that.
    let mut cfg = common::config(1, usize::MAX / 2, 1);
    cfg.logger = log.clone();
    let mut n = RawNode::new(&cfg, MemoryStorage::new()).unwrap();
    n.bootstrap(&[1, 2, 3]).unwrap();
    let _rd = n.ready().unwrap();
    for _ in 0..100 {
        n.tick();
    }
    assert!(log.lines().is_empty());
}
