//! Regression tests for clusters that never recovered in the randomized
//! simulation (tests/simulation.rs), all with pre-vote and check-quorum off.
//!
//! The common cause: a node sits at a higher term than the leader and
//! ignores the leader's lower-term messages; the leader never learns the
//! higher term (etcd answers a stale MsgApp / MsgHeartbeat only with
//! check-quorum or pre-vote on) and the node itself cannot end it by
//! winning an election. The fix (raft/step.rs) answers a stale MsgApp or
//! MsgHeartbeat with the current term (Raft §5.1). Each test below is one of
//! the distinct ways a node ended up unable to campaign its way out.

mod common;

use common::*;
use raft_core::eraftpb::{ConfChangeType, Message, MessageType};
use raft_core::{MemoryStorage, RawNode, StateRole};

/// A MsgVote at `term` from a node outside the cluster (say, a removed one
/// still campaigning) reaches only `to`, which adopts the term.
fn raise_term_by_outsider_vote(net: &mut Network, to: u64, term: u64) {
    net.deliver(Message {
        from: 99,
        to,
        term,
        log_term: 0,
        index: 0,
        ..Message::with_type(MessageType::MsgVote)
    });
    net.process_ready(to); // the rejection goes to 99: dropped
    assert_eq!(net.raft(to).term, term);
}

/// Ticks every node until `id` applied `data` (or panics after a bound).
fn until_applied(net: &mut Network, id: u64, data: &[u8]) {
    for _ in 0..300 {
        if net.applied_payloads(id).iter().any(|p| p == data) {
            return;
        }
        net.tick_all(1);
    }
    panic!(
        "node {id} never applied {:?}: terms {:?}, leaders {:?}",
        String::from_utf8_lossy(data),
        net.nodes
            .iter()
            .map(|(i, n)| (*i, n.raft().term))
            .collect::<Vec<_>>(),
        net.leaders()
    );
}

/// Seeds 11932, 17944, 22516, 25120, 26309, 31772, 32248 (sync) and 9809
/// (async): a learner at a higher term than the leader. Learners never
/// campaign, so before the fix it ignored the leader forever.
#[test]
fn a_learner_at_a_higher_term_catches_up() {
    let mut nodes = std::collections::BTreeMap::new();
    for id in 1..=4 {
        let c = config(id, 10, 1);
        nodes.insert(id, Network::make_node(&c, storage_with(&[1, 2, 3], &[4])));
    }
    let mut net = Network::from_nodes(nodes);
    net.campaign(1);
    assert_eq!(net.leaders(), vec![1]);
    raise_term_by_outsider_vote(&mut net, 4, 5);
    net.propose(1, b"x").unwrap();
    until_applied(&mut net, 4, b"x");
    let l = net.leaders();
    assert_eq!(l.len(), 1);
    assert!(net.raft(l[0]).term > 5, "a new leader at a higher term");
}

/// Seeds 34168, 47413 (sync) and 12317, 38129 (async): a voter restarted
/// with an outdated configuration whose other voters are gone (or refuse
/// it) campaigns alone at ever higher terms, reaching no one of the real
/// configuration. Before the fix the leader's heartbeats were ignored and it
/// never caught up.
#[test]
fn a_voter_of_an_outdated_configuration_catches_up() {
    let mut nodes = std::collections::BTreeMap::new();
    for id in 1..=2 {
        let c = config(id, 10, 1);
        nodes.insert(id, Network::make_node(&c, storage_with_voters(&[1, 2, 3])));
    }
    // Node 3 believes the voters are 3 and 4 (4 no longer exists).
    nodes.insert(
        3,
        Network::make_node(&config(3, 10, 1), storage_with_voters(&[3, 4])),
    );
    let mut net = Network::from_nodes(nodes);
    net.isolate(3);
    net.campaign(1);
    assert_eq!(net.leaders(), vec![1]);
    net.propose(1, b"x").unwrap();
    // Node 3 keeps campaigning on its own.
    for _ in 0..100 {
        net.tick(3);
    }
    assert!(net.raft(3).term > net.raft(1).term);
    net.recover();
    until_applied(&mut net, 3, b"x");
    assert_eq!(net.raft(3).state, StateRole::Follower);
}

/// Seed 60041 (async, the whole cluster stalled): a new, empty node (no
/// configuration, so it cannot campaign) got a higher term from a vote
/// request before it heard from the leader; the leader was then removed
/// (it keeps leading without step-down-on-removal) and the remaining
/// quorum needs the empty node. Nothing committed ever again.
#[test]
fn a_leader_needing_an_empty_node_at_a_higher_term_recovers() {
    let mut net = Network::new(&[1, 2]);
    net.add_node(&config(3, 10, 1), MemoryStorage::new());
    raise_term_by_outsider_vote(&mut net, 3, 5);
    net.campaign(1);
    assert_eq!(net.leaders(), vec![1]);
    assert_eq!(net.raft(1).term, 1);
    // Add 3 (committed by 1 and 2), then remove 2: the voters are 1 and 3.
    propose_until(
        &mut net,
        |net| net.node(1).conf_state.voters == [1, 2, 3],
        |raw| raw.propose_conf_change(cc_v1(ConfChangeType::ConfChangeAddNode, 3)),
    );
    propose_until(
        &mut net,
        |net| net.node(1).conf_state.voters == [1, 3],
        |raw| raw.propose_conf_change(cc_v1(ConfChangeType::ConfChangeRemoveNode, 2)),
    );
    let applied_x = |net: &Network| {
        [1, 3]
            .iter()
            .all(|&id| net.applied_payloads(id).iter().any(|p| p == b"x"))
    };
    propose_until(&mut net, applied_x, |raw| {
        raw.propose(bytes::Bytes::from_static(b"x"))
    });
}

/// Proposes through the current leader (again only if the leader has no
/// conf change pending, i.e. the proposal was lost) and ticks until `done`.
fn propose_until(
    net: &mut Network,
    done: impl Fn(&Network) -> bool,
    propose: impl Fn(&mut RawNode<MemoryStorage>) -> raft_core::Result<()>,
) {
    for _ in 0..500 {
        if done(net) {
            return;
        }
        if let Some(&l) = net.leaders().first() {
            let r = net.raft(l);
            if r.pending_conf_index <= r.raft_log.applied {
                let _ = propose(&mut net.node_mut(l).raw);
                net.settle();
            }
        }
        net.tick_all(1);
    }
    panic!(
        "never done: terms {:?}, leaders {:?}",
        net.nodes
            .iter()
            .map(|(i, n)| (*i, n.raft().term))
            .collect::<Vec<_>>(),
        net.leaders()
    );
}
