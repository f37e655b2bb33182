//! Scenario tests for the RawNode Ready loop: start, restart (from entries
//! and from a snapshot), commit pagination, bounded log growth, proposals
//! and conf changes through Ready, ReadIndex, the immediate-self-ack option
//! and misuse of the API.

mod common;

use std::cell::RefCell;
use std::rc::Rc;

use bytes::Bytes;
use common::*;
use raft_core::eraftpb::{
    ConfChangeTransition, ConfChangeType, ConfState, Entry, EntryType, Message, MessageType,
    Snapshot,
};
use raft_core::{ConfChangeI, Error, MemoryStorage, RawNode, Ready, StateRole};

fn new_node(id: u64, storage: &MemoryStorage) -> RawNode<MemoryStorage> {
    RawNode::new(&config(id, 10, 1), storage.clone()).unwrap()
}

/// Takes one Ready, persists it and advances.
fn step_ready(raw: &mut RawNode<MemoryStorage>, s: &MemoryStorage) -> Ready {
    assert!(raw.has_ready());
    let rd = raw.ready().unwrap();
    persist(s, &rd);
    raw.advance().unwrap();
    rd
}

fn single_leader() -> (RawNode<MemoryStorage>, MemoryStorage) {
    let s = storage_with_voters(&[1]);
    let mut raw = new_node(1, &s);
    raw.campaign().unwrap();
    drain_ready(&mut raw, &s);
    assert_eq!(raw.raft.state, StateRole::Leader);
    (raw, s)
}

#[test]
fn start_bootstraps_then_elects_and_commits() {
    let s = MemoryStorage::new();
    let mut raw = new_node(1, &s);
    raw.bootstrap(&[1]).unwrap();

    let rd = step_ready(&mut raw, &s);
    assert_eq!(rd.hard_state, Some(hs(1, 0, 1)));
    assert_eq!(ids(&rd.entries), vec![(1, 1)]);
    assert_eq!(rd.entries[0].entry_type(), EntryType::EntryConfChange);
    assert_eq!(rd.committed_entries, rd.entries);
    assert!(rd.must_sync);
    assert!(rd.soft_state.is_none());
    assert!(rd.messages.is_empty());
    let cc = ConfChangeI::from_entry(&rd.committed_entries[0])
        .unwrap()
        .unwrap();
    assert_eq!(cc.as_v1().unwrap().node_id, 1);
    assert!(!raw.has_ready());

    raw.campaign().unwrap();
    let rd = step_ready(&mut raw, &s);
    assert_eq!(rd.hard_state, Some(hs(2, 1, 1)));
    assert!(rd.must_sync, "vote must be durable");
    assert_eq!(rd.soft_state.unwrap().raft_state, StateRole::Candidate);

    let rd = step_ready(&mut raw, &s);
    let ss = rd.soft_state.unwrap();
    assert_eq!((ss.raft_state, ss.leader_id), (StateRole::Leader, 1));
    assert_eq!(ids(&rd.entries), vec![(2, 2)]);
    assert!(rd.committed_entries.is_empty());

    let rd = step_ready(&mut raw, &s);
    assert_eq!(rd.hard_state, Some(hs(2, 1, 2)));
    assert_eq!(ids(&rd.committed_entries), vec![(2, 2)]);
    assert!(!rd.must_sync, "a commit index alone need not be synced");

    raw.propose(&b"foo"[..]).unwrap();
    let rd = step_ready(&mut raw, &s);
    assert_eq!(ids(&rd.entries), vec![(2, 3)]);
    assert_eq!(rd.entries[0].data(), b"foo");
    let rd = step_ready(&mut raw, &s);
    assert_eq!(rd.hard_state, Some(hs(2, 1, 3)));
    assert_eq!(payloads(&rd.committed_entries), vec![b"foo".to_vec()]);
    assert!(!raw.has_ready());
    assert_eq!(s.hard_state(), hs(2, 1, 3));
}

#[test]
fn bootstrap_is_refused_on_a_used_storage_or_without_peers() {
    let s = MemoryStorage::new();
    let mut raw = new_node(1, &s);
    assert!(matches!(raw.bootstrap(&[]), Err(Error::Misuse(_))));
    assert!(matches!(raw.bootstrap(&[0]), Err(Error::Misuse(_))));
    raw.bootstrap(&[1, 2]).unwrap();
    assert!(matches!(raw.bootstrap(&[1, 2]), Err(Error::Misuse(_))));
    drain_ready(&mut raw, &s);
    let mut again = new_node(1, &s);
    assert!(matches!(again.bootstrap(&[1]), Err(Error::Misuse(_))));
}

#[test]
fn restart_hands_out_only_committed_entries_once() {
    let ents = vec![dent(1, 1, b"a"), dent(1, 2, b"foo")];
    let s = storage_with_voters(&[1]);
    s.append(&ents).unwrap();
    s.set_hard_state(hs(1, 0, 1));
    let mut raw = new_node(1, &s);
    let rd = step_ready(&mut raw, &s);
    assert!(
        rd.hard_state.is_none(),
        "hard state unchanged since restart"
    );
    assert!(rd.entries.is_empty(), "nothing new to persist");
    assert_eq!(ids(&rd.committed_entries), vec![(1, 1)]);
    assert!(!rd.must_sync);
    assert!(!raw.has_ready());
}

#[test]
fn restart_respects_the_applied_index() {
    let ents: Vec<Entry> = (1..=4).map(|i| dent(1, i, &[i as u8])).collect();
    let s = storage_with_voters(&[1, 2]);
    s.append(&ents).unwrap();
    s.set_hard_state(hs(1, 0, 4));
    let mut c = config(1, 10, 1);
    c.applied = 2;
    let mut raw = RawNode::new(&c, s.clone()).unwrap();
    let rd = step_ready(&mut raw, &s);
    assert_eq!(ids(&rd.committed_entries), vec![(1, 3), (1, 4)]);
    assert_eq!(raw.raft.raft_log.applied, 4);
    assert!(!raw.has_ready());
}

#[test]
fn restart_from_a_snapshot() {
    let s = MemoryStorage::new();
    let mut snap = Snapshot::default();
    snap.metadata.index = 2;
    snap.metadata.term = 1;
    snap.metadata.conf_state = ConfState {
        voters: vec![1, 2],
        ..Default::default()
    };
    s.apply_snapshot(snap).unwrap();
    s.append(&[dent(1, 3, b"foo")]).unwrap();
    s.set_hard_state(hs(1, 0, 3));
    let mut raw = new_node(1, &s);
    assert_eq!(raw.raft.raft_log.first_index(), 3);
    assert_eq!(raw.raft.prs.voter_nodes(), vec![1, 2]);
    let rd = step_ready(&mut raw, &s);
    assert!(rd.snapshot.is_empty(), "the snapshot is already persisted");
    assert_eq!(ids(&rd.committed_entries), vec![(1, 3)]);
    assert_eq!(rd.committed_entries[0].data(), b"foo");
    assert!(!raw.has_ready());
}

#[test]
fn commit_pagination_after_restart() {
    let n = 20u64;
    let ents: Vec<Entry> = (1..=n).map(|i| dent(1, i, &[i as u8; 100])).collect();
    let ent_size = ents[0].size();
    let s = storage_with_voters(&[1]);
    s.append(&ents).unwrap();
    s.set_hard_state(hs(1, 0, n));
    let mut c = config(1, 10, 1);
    c.max_size_per_msg = ent_size * 3;
    c.applied = 2;
    let mut raw = RawNode::new(&c, s.clone()).unwrap();
    let mut next = 3;
    let mut readys = 0;
    while raw.has_ready() {
        let rd = step_ready(&mut raw, &s);
        if rd.committed_entries.is_empty() {
            continue;
        }
        readys += 1;
        assert!(
            rd.committed_entries.len() <= 3,
            "page of {}",
            rd.committed_entries.len()
        );
        for e in &rd.committed_entries {
            assert_eq!(e.index, next, "no gap and no repetition");
            assert_eq!(e.data(), &[e.index as u8; 100][..]);
            next += 1;
        }
    }
    assert_eq!(next, n + 1);
    assert!(readys >= 6, "{readys} pages");
}

#[test]
fn bounded_log_growth_under_partition() {
    let data = [7u8; 16];
    let max = 16 * 4;
    let mut net = Network::with_config(&[1, 2, 3], |c| c.max_uncommitted_entries_size = max);
    net.campaign(1);
    net.isolate(1);
    let start = net.raft(1).raft_log.last_index();
    let mut dropped = 0;
    for _ in 0..1000 {
        if net.propose(1, &data) == Err(Error::ProposalDropped) {
            dropped += 1;
        }
    }
    let grown = net.raft(1).raft_log.last_index() - start;
    assert_eq!(grown, 4, "the log stops growing at the limit");
    assert_eq!(dropped, 996);
    assert_eq!(net.node(1).raw.uncommitted_size(), max);
    net.recover();
    net.tick(1);
    assert_eq!(net.node(1).raw.uncommitted_size(), 0);
    assert_eq!(net.applied_payloads(2).len(), 4);
}

#[test]
fn propose_and_conf_change_through_ready() {
    let (mut raw, s) = single_leader();
    raw.propose(&b"somedata"[..]).unwrap();
    raw.propose_conf_change(cc_v1(ConfChangeType::ConfChangeAddNode, 2))
        .unwrap();
    let rd = step_ready(&mut raw, &s);
    assert_eq!(rd.entries.len(), 2);
    assert_eq!(rd.entries[0].data(), b"somedata");
    assert_eq!(rd.entries[1].entry_type(), EntryType::EntryConfChange);
    let rd = step_ready(&mut raw, &s);
    assert_eq!(rd.committed_entries.len(), 2);
    let cc = ConfChangeI::from_entry(&rd.committed_entries[1])
        .unwrap()
        .unwrap();
    let cs = raw.apply_conf_change(&cc).unwrap();
    assert_eq!(cs.voters, vec![1, 2]);
    assert!(cs.voters_outgoing.is_empty());
}

#[test]
fn joint_conf_change_through_ready_proposes_the_auto_leave() {
    let (mut raw, s) = single_leader();
    let cc = cc_v2(
        &[
            (ConfChangeType::ConfChangeAddNode, 2),
            (ConfChangeType::ConfChangeAddLearnerNode, 3),
        ],
        ConfChangeTransition::ConfChangeTransitionAuto,
    );
    raw.propose_conf_change(cc.clone()).unwrap();
    let rd = step_ready(&mut raw, &s);
    assert_eq!(rd.entries[0].entry_type(), EntryType::EntryConfChangeV2);
    // Commit and apply it; applying lets the leader propose the leave.
    let rd = raw.ready().unwrap();
    persist(&s, &rd);
    assert_eq!(rd.committed_entries.len(), 1);
    let cs = raw
        .apply_conf_change(
            &ConfChangeI::from_entry(&rd.committed_entries[0])
                .unwrap()
                .unwrap(),
        )
        .unwrap();
    assert_eq!(cs.voters, vec![1, 2]);
    assert_eq!(cs.voters_outgoing, vec![1]);
    assert_eq!(cs.learners, vec![3]);
    assert!(cs.auto_leave);
    raw.advance().unwrap();
    let rd = step_ready(&mut raw, &s);
    assert_eq!(rd.entries.len(), 1);
    let leave = &rd.entries[0];
    assert_eq!(leave.entry_type(), EntryType::EntryConfChangeV2);
    let leave = ConfChangeI::from_entry(leave).unwrap().unwrap();
    assert!(leave.as_v2().leave_joint());
}

#[test]
fn read_index_request_reaches_the_leader_and_comes_back_as_read_state() {
    let (mut raw, s) = single_leader();
    let seen: Rc<RefCell<Vec<Message>>> = Rc::default();
    let seen2 = seen.clone();
    raw.set_step_hook(Some(Box::new(move |m: &Message| {
        seen2.borrow_mut().push(m.clone());
        Ok(())
    })));
    raw.read_index(&b"somedata"[..]).unwrap();
    {
        let seen = seen.borrow();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].msg_type(), MessageType::MsgReadIndex);
        assert_eq!(seen[0].entries[0].data(), b"somedata");
    }
    raw.set_step_hook(None);
    let committed = raw.raft.raft_log.committed;
    raw.read_index(&b"somedata"[..]).unwrap();
    assert!(raw.has_ready());
    let rd = step_ready(&mut raw, &s);
    assert_eq!(rd.read_states.len(), 1);
    assert_eq!(rd.read_states[0].index, committed);
    assert_eq!(&rd.read_states[0].request_ctx[..], b"somedata");
    assert!(raw.read_states().is_empty(), "handed out once");
    assert!(!raw.has_ready());
}

#[test]
fn immediate_self_ack_leads_within_campaign_and_commits_in_one_ready() {
    let s = storage_with_voters(&[1]);
    let mut c = config(1, 10, 1);
    c.immediate_self_ack = true;
    let mut raw = RawNode::new(&c, s.clone()).unwrap();
    raw.campaign().unwrap();
    assert_eq!(raw.raft.state, StateRole::Leader);
    drain_ready(&mut raw, &s);
    raw.propose(&b"x"[..]).unwrap();
    let rd = step_ready(&mut raw, &s);
    assert_eq!(payloads(&rd.entries), vec![b"x".to_vec()]);
    assert_eq!(payloads(&rd.committed_entries), vec![b"x".to_vec()]);

    // The default waits for its own vote and append to be persisted.
    let s = storage_with_voters(&[1]);
    let mut raw = new_node(1, &s);
    raw.campaign().unwrap();
    assert_eq!(raw.raft.state, StateRole::Candidate);
    drain_ready(&mut raw, &s);
    assert_eq!(raw.raft.state, StateRole::Leader);
    raw.propose(&b"x"[..]).unwrap();
    let rd = step_ready(&mut raw, &s);
    assert_eq!(payloads(&rd.entries), vec![b"x".to_vec()]);
    assert!(rd.committed_entries.is_empty());
    let rd = step_ready(&mut raw, &s);
    assert_eq!(payloads(&rd.committed_entries), vec![b"x".to_vec()]);
}

#[test]
fn api_misuse_is_reported_not_panicking() {
    let (mut raw, s) = single_leader();
    assert!(matches!(raw.advance(), Err(Error::Misuse(_))));
    raw.propose(&b"x"[..]).unwrap();
    let rd = raw.ready().unwrap();
    // The Ready carries an entry to acknowledge: a second one is refused.
    assert!(matches!(raw.ready(), Err(Error::Misuse(_))));
    persist(&s, &rd);
    raw.advance().unwrap();
    assert!(matches!(raw.advance(), Err(Error::Misuse(_))));
    drain_ready(&mut raw, &s);
    assert_eq!(raw.step(hup(1)), Err(Error::StepLocalMsg));
    assert_eq!(
        raw.step(msg(MessageType::MsgBeat, 1, 1, 0)),
        Err(Error::StepLocalMsg)
    );
    let mut resp = msg(MessageType::MsgAppResp, 9, 1, raw.raft.term);
    resp.index = 1;
    assert_eq!(raw.step(resp), Err(Error::StepPeerNotFound));
    assert_eq!(
        raw.step(msg(MessageType::MsgHeartbeatResp, 9, 1, raw.raft.term)),
        Err(Error::StepPeerNotFound)
    );
    // A non-response from an unknown node is accepted (it may be a new peer).
    assert_eq!(
        raw.step(msg(MessageType::MsgHeartbeat, 9, 1, raw.raft.term)),
        Ok(())
    );
    assert_eq!(raw.raft.state, StateRole::Leader);
}

#[test]
fn status_reports_progress_only_on_the_leader() {
    let mut net = Network::new(&[1, 2, 3]);
    assert!(net.node(1).raw.status().progress.is_none());
    net.campaign(1);
    net.propose(1, b"a").unwrap();
    let st = net.node(1).raw.status();
    let last = net.raft(1).raft_log.last_index();
    let pr = st.progress.unwrap();
    assert_eq!(pr.len(), 3);
    assert!(pr.values().all(|p| p.matched == last));
    assert_eq!(st.hard_state, hs(1, 1, last));
    assert_eq!(st.applied, last);
    assert!(net.node(2).raw.status().progress.is_none());
    assert_eq!(net.node(2).raw.status().soft_state.leader_id, 1);
}

#[test]
fn soft_state_changes_are_reported_once() {
    let mut net = Network::new(&[1, 2, 3]);
    net.campaign(1);
    let roles: Vec<(StateRole, u64)> = net
        .node(1)
        .soft_states
        .iter()
        .map(|s| (s.raft_state, s.leader_id))
        .collect();
    assert_eq!(
        roles,
        vec![(StateRole::Candidate, 0), (StateRole::Leader, 1)]
    );
    let roles2: Vec<(StateRole, u64)> = net
        .node(2)
        .soft_states
        .iter()
        .map(|s| (s.raft_state, s.leader_id))
        .collect();
    assert_eq!(roles2, vec![(StateRole::Follower, 1)]);
    net.tick_all(5);
    assert_eq!(net.node(1).soft_states.len(), 2);
}

#[test]
fn restarted_follower_rejoins_without_reapplying() {
    let mut net = Network::new(&[1, 2, 3]);
    net.campaign(1);
    net.propose(1, b"a").unwrap();
    net.propose(1, b"b").unwrap();
    net.restart(2);
    net.propose(1, b"c").unwrap();
    net.tick(1);
    assert_eq!(
        net.applied_payloads(2),
        vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]
    );
    assert_eq!(net.raft(2).term, 1);
    assert_eq!(net.raft(2).vote, 1, "vote survived the restart");
}

#[test]
fn entries_larger_than_the_limits_still_flow_one_at_a_time() {
    let mut c = config(1, 10, 1);
    c.max_size_per_msg = 10;
    let s = storage_with_voters(&[1]);
    let mut raw = RawNode::new(&c, s.clone()).unwrap();
    raw.campaign().unwrap();
    drain_ready(&mut raw, &s);
    for _ in 0..3 {
        raw.propose(Bytes::from(vec![1u8; 64])).unwrap();
    }
    let readys = drain_ready(&mut raw, &s);
    let committed: Vec<Entry> = readys
        .iter()
        .flat_map(|r| r.committed_entries.clone())
        .collect();
    assert_eq!(payloads(&committed).len(), 3);
    assert!(readys.iter().all(|r| r.committed_entries.len() <= 1));
}

/// Everything the Readys of one node handed out, for checking that nothing
/// is lost and nothing is handed out twice.
#[derive(Default)]
struct HandedOut {
    entries: Vec<(u64, u64)>,
    committed: Vec<u64>,
    messages: Vec<Message>,
    read_states: Vec<(u64, Vec<u8>)>,
}

impl HandedOut {
    fn take(&mut self, rd: &Ready) {
        self.entries.extend(ids(&rd.entries));
        self.committed
            .extend(rd.committed_entries.iter().map(|e| e.index));
        self.messages.extend(rd.messages.iter().cloned());
        self.read_states.extend(
            rd.read_states
                .iter()
                .map(|r| (r.index, r.request_ctx.to_vec())),
        );
    }
}

/// etcd's RawNode (`acceptReady`) lets `Ready` be called again before
/// `Advance` while the Readys handed out await no acknowledgement; old
/// lraft scripts take an empty Ready just to look and never advance it.
#[test]
fn ready_may_be_taken_again_while_nothing_awaits_advance() {
    let s = storage_with_voters(&[1, 2, 3]);
    let mut raw = new_node(1, &s);
    let mut seen = HandedOut::default();

    // An empty Ready taken to look, never advanced.
    assert!(!raw.has_ready());
    let rd0 = raw.ready().unwrap();
    assert!(rd0.entries.is_empty() && rd0.messages.is_empty() && rd0.hard_state.is_none());
    seen.take(&rd0);

    // A campaign: the Ready carries the votes to send and the candidate's
    // own vote, which `advance` must step in: it needs acknowledgement.
    raw.campaign().unwrap();
    let rd1 = raw.ready().unwrap();
    assert_eq!(rd1.hard_state, Some(hs(1, 1, 0)));
    assert_eq!(
        types(&rd1.messages),
        vec![MessageType::MsgVote, MessageType::MsgVote]
    );
    persist(&s, &rd1);
    seen.take(&rd1);
    let before = raw.has_ready();
    assert!(matches!(raw.ready(), Err(Error::Misuse(_))));
    assert_eq!(raw.has_ready(), before, "the refused call changed nothing");
    raw.advance().unwrap();

    // Votes arrive; the node leads, then proposals and a read request.
    for from in [2, 3] {
        let mut m = msg(MessageType::MsgVoteResp, from, 1, 1);
        m.reject = false;
        raw.step(m).unwrap();
    }
    assert_eq!(raw.raft.state, StateRole::Leader);
    raw.propose(&b"a"[..]).unwrap();
    raw.propose(&b"b"[..]).unwrap();
    let mut last_sent = 0;
    for _ in 0..20 {
        if !raw.has_ready() {
            break;
        }
        let rd = raw.ready().unwrap();
        persist(&s, &rd);
        seen.take(&rd);
        // Followers acknowledge everything the leader sent them.
        let mut acks = Vec::new();
        for m in &rd.messages {
            if m.msg_type() == MessageType::MsgApp {
                let idx = m.entries.last().map_or(m.index, |e| e.index);
                last_sent = last_sent.max(idx);
                let mut a = msg(MessageType::MsgAppResp, m.to, 1, 1);
                a.index = idx;
                acks.push(a);
            }
        }
        raw.advance().unwrap();
        for a in acks {
            raw.step(a).unwrap();
        }
    }
    assert!(!raw.has_ready());

    // Entries: the empty leader entry and both proposals, each once.
    assert_eq!(seen.entries, vec![(1, 1), (1, 2), (1, 3)]);
    // Committed entries: each index once, in order.
    assert_eq!(seen.committed, vec![1, 2, 3]);
    assert_eq!(last_sent, 3);
    // Messages: no message handed out twice.
    for (i, a) in seen.messages.iter().enumerate() {
        for b in &seen.messages[i + 1..] {
            assert_ne!(a, b, "message handed out twice");
        }
    }

    // A read request: the heartbeat Ready needs no acknowledgement, so the
    // next Ready may be taken without advancing; the read state comes once.
    raw.read_index(&b"r"[..]).unwrap();
    let rd = raw.ready().unwrap();
    let hb: Vec<&Message> = rd
        .messages
        .iter()
        .filter(|m| m.msg_type() == MessageType::MsgHeartbeat)
        .collect();
    assert_eq!(hb.len(), 2);
    assert_eq!(hb[0].context.as_deref(), Some(&b"r"[..]));
    let mut resp = msg(MessageType::MsgHeartbeatResp, 2, 1, 1);
    resp.context = hb[0].context.clone();
    raw.step(resp).unwrap();
    let rd = raw.ready().unwrap();
    seen.take(&rd);
    let rd = raw.ready().unwrap();
    seen.take(&rd);
    raw.advance().unwrap();
    assert_eq!(seen.read_states, vec![(3, b"r".to_vec())]);
}

/// A Ready refused because an earlier one awaits `advance` leaves the node
/// as it was; after `advance` the loop goes on and nothing is lost.
#[test]
fn refused_ready_changes_nothing_and_the_node_goes_on_after_advance() {
    let (mut raw, s) = single_leader();
    raw.propose(&b"x"[..]).unwrap();
    let rd = raw.ready().unwrap();
    assert_eq!(payloads(&rd.entries), vec![b"x".to_vec()]);
    raw.propose(&b"y"[..]).unwrap();
    let err = raw.ready().unwrap_err();
    assert!(matches!(err, Error::Misuse(_)), "{err:?}");
    assert!(err.to_string().contains("awaits advance"), "{err}");
    persist(&s, &rd);
    raw.advance().unwrap();
    let rds = drain_ready(&mut raw, &s);
    let ents: Vec<Vec<u8>> = rds.iter().flat_map(|r| payloads(&r.entries)).collect();
    let committed: Vec<Vec<u8>> = rds
        .iter()
        .flat_map(|r| payloads(&r.committed_entries))
        .collect();
    assert_eq!(ents, vec![b"y".to_vec()]);
    assert_eq!(committed, vec![b"x".to_vec(), b"y".to_vec()]);
}

/// Several empty Readys before one `advance`: `advance` acknowledges them
/// all, and a second `advance` has nothing to acknowledge.
#[test]
fn advance_acknowledges_every_ready_handed_out() {
    let (mut raw, _s) = single_leader();
    let _ = raw.ready().unwrap();
    let _ = raw.ready().unwrap();
    raw.advance().unwrap();
    assert!(matches!(raw.advance(), Err(Error::Misuse(_))));
}

/// A Ready's entries are acknowledged at `advance` only if the node is
/// still in the term the Ready was handed out in (etcd ignores a
/// MsgStorageAppendResp from an older term: the entries it names may have
/// been replaced since). `advance` applies that acknowledgement from a
/// summary rather than a message; the check must hold there too.
#[test]
fn advance_ignores_the_entries_of_a_ready_from_an_older_term() {
    let log = CaptureLogger::at(raft_core::logger::Level::Info);
    let s = storage_with_voters(&[1]);
    let mut cfg = config(1, 10, 1);
    cfg.logger = log.clone();
    let mut raw = RawNode::new(&cfg, s.clone()).unwrap();
    raw.campaign().unwrap();
    drain_ready(&mut raw, &s);
    assert_eq!(raw.raft.state, StateRole::Leader);
    let term = raw.raft.term;

    // Same term: the entries are acknowledged, nothing is ignored.
    raw.propose(b"same term".to_vec()).unwrap();
    step_ready(&mut raw, &s);
    let ignored = |log: &CaptureLogger| {
        log.lines()
            .iter()
            .filter(|l| l.contains("ignored entry appends"))
            .count()
    };
    assert_eq!(ignored(&log), 0, "{:?}", log.lines());

    // A newer term arrives between the Ready and its advance.
    raw.propose(b"older term".to_vec()).unwrap();
    let rd = raw.ready().unwrap();
    assert_eq!(rd.entries.len(), 1);
    let mut hb = msg(MessageType::MsgHeartbeat, 2, 1, term + 1);
    hb.commit = 0;
    raw.step(hb).unwrap();
    assert_eq!(raw.raft.state, StateRole::Follower);
    persist(&s, &rd);
    raw.advance().unwrap();
    assert_eq!(ignored(&log), 1, "{:?}", log.lines());
}

/// `propose` on a leader skips the MsgProp that `step` would route
/// (issue 11). Whatever path it takes, it must do what stepping that
/// MsgProp does: same entries and messages, same refusals (the
/// uncommitted-size limit, a leadership transfer in progress), and a
/// refused proposal must leave nothing behind for the next one.
#[test]
fn propose_on_a_leader_does_what_stepping_its_msgprop_does() {
    fn leader() -> (RawNode<MemoryStorage>, MemoryStorage) {
        let s = storage_with_voters(&[1, 2, 3]);
        let mut cfg = config(1, 10, 1);
        cfg.max_uncommitted_entries_size = 64;
        let mut raw = RawNode::new(&cfg, s.clone()).unwrap();
        raw.campaign().unwrap();
        drain_ready(&mut raw, &s);
        for from in [2, 3] {
            let mut m = msg(MessageType::MsgVoteResp, from, 1, 1);
            m.reject = false;
            raw.step(m).unwrap();
        }
        assert_eq!(raw.raft.state, StateRole::Leader);
        drain_ready(&mut raw, &s);
        (raw, s)
    }
    let by_step = |raw: &mut RawNode<MemoryStorage>, data: &[u8]| raw.step(prop(1, 0, data));
    let by_propose = |raw: &mut RawNode<MemoryStorage>, data: &[u8]| raw.propose(data.to_vec());

    let (mut a, sa) = leader();
    let (mut b, sb) = leader();
    let big = [7u8; 100];
    let script: [(&[u8], bool); 4] = [
        (b"first", true),
        // Over the uncommitted-size limit while "first" is uncommitted.
        (&big, false),
        (b"second", true),
        (b"third", true),
    ];
    for (data, ok) in script {
        let ra = by_propose(&mut a, data);
        let rb = by_step(&mut b, data);
        assert_eq!(ra, rb);
        assert_eq!(ra.is_ok(), ok, "{ra:?}");
    }
    let (rda, rdb) = (a.ready().unwrap(), b.ready().unwrap());
    assert_eq!(rda.entries, rdb.entries);
    assert_eq!(
        payloads(&rda.entries),
        [b"first".to_vec(), b"second".to_vec(), b"third".to_vec()]
    );
    assert_eq!(rda.messages, rdb.messages);
    persist(&sa, &rda);
    persist(&sb, &rdb);
    a.advance().unwrap();
    b.advance().unwrap();

    // A transfer in progress refuses proposals on both paths.
    a.transfer_leader(2).unwrap();
    b.transfer_leader(2).unwrap();
    assert_eq!(by_propose(&mut a, b"x"), Err(Error::ProposalDropped));
    assert_eq!(by_step(&mut b, b"x"), Err(Error::ProposalDropped));
    let (rda, rdb) = (a.ready().unwrap(), b.ready().unwrap());
    assert!(rda.entries.is_empty());
    assert_eq!(rda.messages, rdb.messages);
}
