//! Scenario tests for the rules of the Raft paper: leader election (§5.2),
//! log replication (§5.3), safety (§5.4, including the Figure 7 and Figure 8
//! situations and leader completeness) and read-only queries (§8).

mod common;

use std::collections::BTreeSet;

use common::*;
use raft_core::eraftpb::{Entry, HardState, Message, MessageType};
use raft_core::{MemoryStorage, Raft, StateRole};

fn storage_with_log(voters: &[u64], ents: &[Entry], hard: HardState) -> MemoryStorage {
    let s = storage_with_voters(voters);
    s.append(ents).unwrap();
    s.set_hard_state(hard);
    s
}

/// Acknowledges every MsgApp the leader sends, so that the empty entry of
/// its term commits, then drops the resulting traffic.
fn commit_noop(r: &mut Raft<MemoryStorage>) {
    assert_eq!(r.state, StateRole::Leader);
    for m in read_messages(r) {
        if m.msg_type() == MessageType::MsgApp {
            let mut resp = msg(MessageType::MsgAppResp, m.to, r.id, r.term);
            resp.index = m.index + m.entries.len() as u64;
            step_flush(r, resp).unwrap();
        }
    }
    read_messages(r);
}

fn sorted(mut msgs: Vec<Message>) -> Vec<Message> {
    msgs.sort_by_key(|m| (m.to, m.msg_type));
    msgs
}

// ---------------------------------------------------------------- §5.1 terms

#[test]
fn every_role_adopts_a_higher_term_and_becomes_follower() {
    for role in [StateRole::Follower, StateRole::Candidate, StateRole::Leader] {
        let mut r = new_test_raft(1, &[1, 2, 3], 10, 1);
        match role {
            StateRole::Follower => r.become_follower(1, 2),
            StateRole::Candidate => r.become_candidate(),
            _ => make_leader(&mut r),
        }
        assert_eq!(r.term, 1, "{role}");
        step_flush(&mut r, msg(MessageType::MsgApp, 3, 1, 2)).unwrap();
        assert_eq!(r.term, 2, "{role}");
        assert_eq!(r.state, StateRole::Follower, "{role}");
        assert_eq!(r.leader_id, 3, "{role}: MsgApp sender is the new leader");
    }
}

#[test]
fn a_stale_leader_is_answered_with_the_current_term_and_steps_down() {
    // Raft §5.1: a request with a stale term is rejected and the reply
    // carries the current term. etcd answers a stale MsgApp / MsgHeartbeat
    // only with check-quorum or pre-vote on; here it is always answered, or
    // a node that cannot campaign (a learner, a voter of an outdated
    // configuration, an empty new node) stays at its higher term and never
    // catches up (see tests/liveness.rs).
    for t in [MessageType::MsgApp, MessageType::MsgHeartbeat] {
        let ents = [ent(1, 1), ent(2, 2)];
        let s = storage_with_log(&[1, 2, 3], &ents, hs(2, 0, 0));
        let mut r = raft_with(&config(1, 10, 1), s);
        assert_eq!(r.term, 2);
        let mut m = msg(t, 2, 1, 1);
        if t == MessageType::MsgApp {
            m.index = 2;
            m.log_term = 2;
            m.entries = vec![dent(1, 3, b"stale")];
            m.commit = 3;
        }
        step_flush(&mut r, m).unwrap();
        assert_eq!(r.term, 2, "{t:?}");
        assert_eq!(r.leader_id, 0, "{t:?}");
        assert_eq!(r.raft_log.last_index(), 2, "{t:?}: stale append applied");
        assert_eq!(r.raft_log.committed, 0, "{t:?}");
        let out = read_messages(&mut r);
        assert_eq!(out.len(), 1, "{t:?}: one answer");
        let resp = out[0].clone();
        assert_eq!(
            (resp.msg_type(), resp.to, resp.term, resp.index, resp.reject),
            (MessageType::MsgAppResp, 2, 2, 0, false),
            "{t:?}"
        );
        // The stale leader adopts the term and steps down.
        let mut leader = new_test_raft(2, &[1, 2, 3], 10, 1);
        make_leader(&mut leader);
        assert_eq!(leader.term, 1);
        step_flush(&mut leader, resp).unwrap();
        assert_eq!(leader.term, 2, "{t:?}");
        assert_eq!(leader.state, StateRole::Follower, "{t:?}");
    }
}

#[test]
fn a_stale_candidate_is_rejected_with_the_current_term_and_steps_down() {
    // Raft §5.1: a request with a stale term is rejected and the reply
    // carries the current term, so the candidate updates itself. Without
    // the reply a voter with an outdated configuration that keeps raising
    // its term can starve a candidate it never contacts (found by the
    // randomized simulation).
    for vote_type in [MessageType::MsgVote, MessageType::MsgPreVote] {
        let mut voter = new_test_raft(1, &[1, 2], 10, 1);
        voter.become_follower(7, 0);
        let mut cand = new_test_raft(2, &[1, 2], 10, 1);
        cand.become_follower(3, 0);
        cand.become_candidate();
        assert_eq!(cand.term, 4);
        let mut req = msg(vote_type, 2, 1, 4);
        req.log_term = 0;
        req.index = 0;
        step_flush(&mut voter, req).unwrap();
        assert_eq!(voter.term, 7, "{vote_type:?}: the voter keeps its term");
        let out = read_messages(&mut voter);
        assert_eq!(out.len(), 1, "{vote_type:?}: one rejection");
        let resp = out[0].clone();
        let want = if vote_type == MessageType::MsgVote {
            MessageType::MsgVoteResp
        } else {
            MessageType::MsgPreVoteResp
        };
        assert_eq!(
            (resp.msg_type(), resp.to, resp.term, resp.reject),
            (want, 2, 7, true),
            "{vote_type:?}"
        );
        if vote_type == MessageType::MsgVote {
            step_flush(&mut cand, resp).unwrap();
            assert_eq!(cand.term, 7);
            assert_eq!(cand.state, StateRole::Follower);
        }
    }
}

#[test]
fn nodes_start_as_followers() {
    let r = new_test_raft(1, &[1, 2, 3], 10, 1);
    assert_eq!(r.state, StateRole::Follower);
    assert_eq!(r.term, 0);
    assert_eq!(r.leader_id, 0);
}

#[test]
fn leader_sends_heartbeats_every_heartbeat_tick() {
    let hb = 2;
    let mut r = new_test_raft(1, &[1, 2, 3], 10, hb);
    make_leader(&mut r);
    for i in 0..10u8 {
        step_flush(&mut r, prop(1, 1, &[i])).unwrap();
    }
    read_messages(&mut r);
    r.tick();
    assert!(
        read_messages(&mut r).is_empty(),
        "no heartbeat before hb ticks"
    );
    r.tick();
    let msgs = sorted(read_messages(&mut r));
    assert_eq!(types(&msgs), vec![MessageType::MsgHeartbeat; 2]);
    for (m, to) in msgs.iter().zip([2, 3]) {
        assert_eq!((m.from, m.to, m.term, m.commit), (1, to, 1, 0));
        assert!(m.entries.is_empty());
    }
}

// ---------------------------------------------------------- §5.2 elections

fn assert_starts_election(mut r: Raft<MemoryStorage>) {
    let et = 10;
    for _ in 0..2 * et {
        r.tick();
    }
    flush_self(&mut r);
    assert_eq!(r.term, 2);
    assert_eq!(r.state, StateRole::Candidate);
    assert_eq!(r.vote, 1, "votes for itself");
    assert_eq!(r.prs.votes.get(&1), Some(&true));
    let msgs = sorted(read_messages(&mut r));
    assert_eq!(msgs.len(), 2);
    for (m, to) in msgs.iter().zip([2, 3]) {
        assert_eq!(m.msg_type(), MessageType::MsgVote);
        assert_eq!((m.from, m.to, m.term), (1, to, 2));
    }
}

#[test]
fn follower_times_out_and_becomes_candidate() {
    let mut r = new_test_raft(1, &[1, 2, 3], 10, 1);
    r.become_follower(1, 2);
    assert_starts_election(r);
}

#[test]
fn candidate_times_out_and_starts_a_new_election() {
    let mut r = new_test_raft(1, &[1, 2, 3], 10, 1);
    r.become_candidate();
    flush_self(&mut r);
    read_messages(&mut r);
    assert_starts_election(r);
}

#[test]
fn election_outcome_in_one_round() {
    // (cluster size, votes received, resulting state)
    type Case = (u64, Vec<(u64, bool)>, StateRole);
    let cases: Vec<Case> = vec![
        (1, vec![], StateRole::Leader),
        (3, vec![(2, true), (3, true)], StateRole::Leader),
        (3, vec![(2, true)], StateRole::Leader),
        (
            5,
            vec![(2, true), (3, true), (4, true), (5, true)],
            StateRole::Leader,
        ),
        (5, vec![(2, true), (3, true)], StateRole::Leader),
        (3, vec![(2, false), (3, false)], StateRole::Follower),
        (
            5,
            vec![(2, false), (3, false), (4, false)],
            StateRole::Follower,
        ),
        (
            5,
            vec![(2, true), (3, false), (4, false), (5, false)],
            StateRole::Follower,
        ),
        (3, vec![], StateRole::Candidate),
        (5, vec![(2, true)], StateRole::Candidate),
        (5, vec![(2, false), (3, false)], StateRole::Candidate),
        (5, vec![], StateRole::Candidate),
    ];
    for (i, (size, votes, want)) in cases.into_iter().enumerate() {
        let peers: Vec<u64> = (1..=size).collect();
        let mut r = new_test_raft(1, &peers, 10, 1);
        step_flush(&mut r, hup(1)).unwrap();
        for (from, granted) in votes {
            let mut m = msg(MessageType::MsgVoteResp, from, 1, r.term);
            m.reject = !granted;
            step_flush(&mut r, m).unwrap();
        }
        assert_eq!(r.state, want, "case {i}");
        assert_eq!(r.term, 1, "case {i}");
    }
}

#[test]
fn follower_grants_one_vote_per_term_first_come_first_served() {
    // (vote already cast, candidate asking, rejected)
    for (vote, cand, reject) in [
        (0, 2, false),
        (0, 3, false),
        (2, 2, false),
        (3, 3, false),
        (2, 3, true),
        (3, 2, true),
    ] {
        let s = storage_with_voters(&[1, 2, 3]);
        s.set_hard_state(hs(1, vote, 0));
        let mut r = raft_with(&config(1, 10, 1), s);
        step_flush(&mut r, msg(MessageType::MsgVote, cand, 1, 1)).unwrap();
        let msgs = read_messages(&mut r);
        assert_eq!(msgs.len(), 1);
        let m = &msgs[0];
        assert_eq!(m.msg_type(), MessageType::MsgVoteResp);
        assert_eq!(
            (m.to, m.term, m.reject),
            (cand, 1, reject),
            "vote {vote} cand {cand}"
        );
        assert_eq!(r.vote, if reject { vote } else { cand });
    }
}

#[test]
fn candidate_steps_down_on_append_from_a_leader_of_its_term_or_newer() {
    for term in [1, 2] {
        let mut r = new_test_raft(1, &[1, 2, 3], 10, 1);
        step_flush(&mut r, hup(1)).unwrap();
        assert_eq!(r.state, StateRole::Candidate);
        step_flush(&mut r, msg(MessageType::MsgApp, 2, 1, term)).unwrap();
        assert_eq!(r.state, StateRole::Follower, "term {term}");
        assert_eq!(r.term, term);
        assert_eq!(r.leader_id, 2);
    }
}

#[test]
fn candidate_ignores_append_from_an_older_term() {
    let mut r = new_test_raft(1, &[1, 2, 3], 10, 1);
    r.become_follower(4, 0);
    step_flush(&mut r, hup(1)).unwrap();
    assert_eq!(r.term, 5);
    step_flush(&mut r, msg(MessageType::MsgApp, 2, 1, 4)).unwrap();
    assert_eq!(r.state, StateRole::Candidate);
    assert_eq!(r.term, 5);
}

#[test]
fn randomized_election_timeouts_cover_the_whole_range() {
    let et = 10;
    let mut r = new_test_raft(1, &[1, 2, 3], et, 1);
    let mut seen = BTreeSet::new();
    for term in 1..=1000u64 {
        r.become_follower(term, 0);
        let t = r.randomized_election_timeout();
        assert!((et..2 * et).contains(&t), "timeout {t}");
        seen.insert(t);
    }
    assert_eq!(seen.len(), et, "every value in [et, 2et) occurs: {seen:?}");
}

#[test]
fn randomized_election_timeouts_rarely_collide() {
    // In most rounds exactly one of five followers times out first.
    let et = 10;
    let peers = [1, 2, 3, 4, 5];
    let mut rafts: Vec<Raft<MemoryStorage>> = peers
        .iter()
        .map(|&id| new_test_raft(id, &peers, et, 1))
        .collect();
    let rounds = 1000u64;
    let mut conflicts = 0;
    for term in 1..=rounds {
        let mut timeouts: Vec<usize> = rafts
            .iter_mut()
            .map(|r| {
                r.become_follower(term, 0);
                r.randomized_election_timeout()
            })
            .collect();
        timeouts.sort_unstable();
        if timeouts[0] == timeouts[1] {
            conflicts += 1;
        }
    }
    let p = conflicts as f64 / rounds as f64;
    assert!(p < 0.4, "conflict probability {p}");
}

#[test]
fn split_vote_resolves_in_a_later_term() {
    let mut net = Network::new(&[1, 2, 3, 4]);
    // 1 and 2 campaign at the same time; 3 hears 1 first, 4 hears 2 first.
    net.deliver(hup(1));
    net.deliver(hup(2));
    let mut m1 = net.process_ready(1);
    let mut m2 = net.process_ready(2);
    assert_eq!(net.raft(1).state, StateRole::Candidate);
    assert_eq!(net.raft(2).state, StateRole::Candidate);
    let first1 = m1.iter().position(|m| m.to == 3).unwrap();
    let first2 = m2.iter().position(|m| m.to == 4).unwrap();
    let mut order = vec![m1.remove(first1), m2.remove(first2)];
    order.extend(m1);
    order.extend(m2);
    net.send(order);
    assert!(net.leaders().is_empty(), "2-2 split elects nobody");
    assert_eq!(net.raft(1).term, 1);
    for _ in 0..40 {
        net.tick_all(1);
        if !net.leaders().is_empty() {
            break;
        }
    }
    let leaders = net.leaders();
    assert_eq!(leaders.len(), 1, "one leader after the timeouts");
    let l = leaders[0];
    assert!(net.raft(l).term >= 2);
    for id in 1..=4 {
        assert_eq!(net.raft(id).leader_id, l);
        assert_eq!(net.raft(id).term, net.raft(l).term);
    }
}

#[test]
fn at_most_one_leader_per_term_under_competing_candidates() {
    let mut net = Network::new(&[1, 2, 3, 4, 5]);
    net.campaign(1);
    assert_eq!(net.leaders(), vec![1]);
    net.isolate(1);
    net.campaign(2);
    let t2 = net.raft(2).term;
    assert_eq!(net.raft(2).state, StateRole::Leader);
    net.campaign(3);
    let t3 = net.raft(3).term;
    assert_eq!(net.raft(2).state, StateRole::Follower);
    let mut by_term = std::collections::BTreeMap::new();
    for (id, n) in &net.nodes {
        if n.raft().state == StateRole::Leader {
            assert!(
                by_term.insert(n.raft().term, *id).is_none(),
                "two leaders in one term"
            );
        }
    }
    assert_eq!(net.raft(3).state, StateRole::Leader);
    assert_eq!(t3, t2 + 1);
}

// ------------------------------------------------------ §5.3 replication

#[test]
fn leader_appends_a_proposal_and_replicates_it() {
    let mut r = new_test_raft(1, &[1, 2, 3], 10, 1);
    make_leader(&mut r);
    commit_noop(&mut r);
    let li = r.raft_log.last_index();
    step_flush(&mut r, prop(1, 1, b"some data")).unwrap();
    assert_eq!(r.raft_log.last_index(), li + 1);
    assert_eq!(r.raft_log.committed, li);
    let msgs = sorted(read_messages(&mut r));
    assert_eq!(msgs.len(), 2);
    for (m, to) in msgs.iter().zip([2, 3]) {
        assert_eq!(m.msg_type(), MessageType::MsgApp);
        assert_eq!(
            (m.to, m.term, m.index, m.log_term, m.commit),
            (to, 1, li, 1, li)
        );
        assert_eq!(ids(&m.entries), vec![(1, li + 1)]);
        assert_eq!(m.entries[0].data(), b"some data");
    }
}

#[test]
fn leader_commits_once_a_majority_acknowledges_and_tells_followers() {
    let mut r = new_test_raft(1, &[1, 2, 3], 10, 1);
    make_leader(&mut r);
    commit_noop(&mut r);
    let li = r.raft_log.last_index();
    step_flush(&mut r, prop(1, 1, b"some data")).unwrap();
    for m in read_messages(&mut r) {
        let mut resp = msg(MessageType::MsgAppResp, m.to, 1, 1);
        resp.index = m.index + m.entries.len() as u64;
        step_flush(&mut r, resp).unwrap();
    }
    assert_eq!(r.raft_log.committed, li + 1);
    let committed = r.raft_log.next_committed_ents(true);
    assert_eq!(payloads(&committed), vec![b"some data".to_vec()]);
    let msgs = sorted(read_messages(&mut r));
    assert_eq!(msgs.len(), 2);
    for (m, to) in msgs.iter().zip([2, 3]) {
        assert_eq!(m.msg_type(), MessageType::MsgApp);
        assert_eq!((m.to, m.commit), (to, li + 1), "commit index propagated");
    }
}

#[test]
fn leader_commit_needs_a_majority_of_acknowledgements() {
    // (cluster size, followers acknowledging, committed)
    let cases: Vec<(u64, Vec<u64>, bool)> = vec![
        (1, vec![], true),
        (3, vec![], false),
        (3, vec![2], true),
        (3, vec![2, 3], true),
        (5, vec![], false),
        (5, vec![2], false),
        (5, vec![2, 3], true),
        (5, vec![2, 3, 4], true),
        (5, vec![2, 3, 4, 5], true),
    ];
    for (size, acks, want) in cases {
        let peers: Vec<u64> = (1..=size).collect();
        let mut r = new_test_raft(1, &peers, 10, 1);
        make_leader(&mut r);
        commit_noop(&mut r);
        let li = r.raft_log.last_index();
        step_flush(&mut r, prop(1, 1, b"some data")).unwrap();
        for m in read_messages(&mut r) {
            if acks.contains(&m.to) {
                let mut resp = msg(MessageType::MsgAppResp, m.to, 1, 1);
                resp.index = m.index + m.entries.len() as u64;
                step_flush(&mut r, resp).unwrap();
            }
        }
        assert_eq!(r.raft_log.committed > li, want, "size {size} acks {acks:?}");
    }
}

#[test]
fn committing_an_entry_commits_all_preceding_entries() {
    for prev in [
        vec![],
        vec![ent(2, 1)],
        vec![ent(1, 1), ent(2, 2)],
        vec![ent(1, 1)],
    ] {
        let s = storage_with_log(&[1, 2, 3], &prev, hs(2, 0, 0));
        let mut r = raft_with(&config(1, 10, 1), s);
        make_leader(&mut r);
        step_flush(&mut r, prop(1, 1, b"some data")).unwrap();
        for m in read_messages(&mut r) {
            // Followers hold the same log and accept everything.
            let mut resp = msg(MessageType::MsgAppResp, m.to, 1, 3);
            resp.index = r.raft_log.last_index();
            step_flush(&mut r, resp).unwrap();
        }
        let li = prev.len() as u64;
        let mut want = ids(&prev);
        want.push((3, li + 1));
        want.push((3, li + 2));
        assert_eq!(r.raft_log.committed, li + 2);
        assert_eq!(ids(&r.raft_log.next_committed_ents(true)), want);
    }
}

#[test]
fn follower_commits_what_the_leader_says_is_committed() {
    // (entries, leader commit, follower commit afterwards)
    let cases = [
        (vec![dent(1, 1, b"a")], 1, 1),
        (vec![dent(1, 1, b"a"), dent(1, 2, b"b")], 2, 2),
        (vec![dent(1, 1, b"a"), dent(1, 2, b"b")], 1, 1),
        // Never beyond what this message proves to be in the log.
        (vec![dent(1, 1, b"a")], 5, 1),
    ];
    for (ents, commit, want) in cases {
        let mut r = new_test_raft(1, &[1, 2, 3], 10, 1);
        r.become_follower(1, 2);
        let mut m = msg(MessageType::MsgApp, 2, 1, 1);
        m.entries = ents.clone();
        m.commit = commit;
        step_flush(&mut r, m).unwrap();
        assert_eq!(r.raft_log.committed, want);
        let got = r.raft_log.next_committed_ents(true);
        assert_eq!(ids(&got), ids(&ents[..want as usize]));
    }
}

#[test]
fn follower_checks_the_previous_entry_of_an_append() {
    let ents = [ent(1, 1), ent(2, 2)];
    // (prev term, prev index, resp index, reject, reject hint, hint term)
    let cases = [
        (0, 0, 1, false, 0, 0),
        (1, 1, 1, false, 0, 0),
        (2, 2, 2, false, 0, 0),
        (1, 2, 2, true, 1, 1),
        (3, 3, 3, true, 2, 2),
    ];
    for (lt, idx, windex, wreject, whint, wlt) in cases {
        let s = storage_with_log(&[1, 2, 3], &ents, hs(2, 0, 1));
        let mut r = raft_with(&config(1, 10, 1), s);
        r.become_follower(2, 2);
        let mut m = msg(MessageType::MsgApp, 2, 1, 2);
        m.log_term = lt;
        m.index = idx;
        step_flush(&mut r, m).unwrap();
        let msgs = read_messages(&mut r);
        assert_eq!(msgs.len(), 1);
        let m = &msgs[0];
        assert_eq!(m.msg_type(), MessageType::MsgAppResp);
        assert_eq!(
            (m.to, m.term, m.index, m.reject, m.reject_hint, m.log_term),
            (2, 2, windex, wreject, whint, wlt),
            "prev ({lt},{idx})"
        );
    }
}

#[test]
fn follower_overwrites_conflicting_entries_and_keeps_matching_ones() {
    let ents = [ent(1, 1), ent(2, 2)];
    // (prev index, prev term, entries (term, index), final log, unstable)
    type Case = (u64, u64, Vec<(u64, u64)>, Vec<(u64, u64)>, Vec<(u64, u64)>);
    let cases: Vec<Case> = vec![
        (
            2,
            2,
            vec![(3, 3)],
            vec![(1, 1), (2, 2), (3, 3)],
            vec![(3, 3)],
        ),
        (
            1,
            1,
            vec![(3, 2), (4, 3)],
            vec![(1, 1), (3, 2), (4, 3)],
            vec![(3, 2), (4, 3)],
        ),
        (0, 0, vec![(1, 1)], vec![(1, 1), (2, 2)], vec![]),
        (0, 0, vec![(3, 1)], vec![(3, 1)], vec![(3, 1)]),
    ];
    for (idx, lt, new, want, want_unstable) in cases {
        let s = storage_with_log(&[1, 2, 3], &ents, hs(2, 0, 0));
        let mut r = raft_with(&config(1, 10, 1), s);
        r.become_follower(2, 2);
        let mut m = msg(MessageType::MsgApp, 2, 1, 2);
        m.index = idx;
        m.log_term = lt;
        m.entries = new.iter().map(|&(t, i)| ent(t, i)).collect();
        step_flush(&mut r, m).unwrap();
        assert_eq!(ids(&log_of(&r)), want);
        assert_eq!(ids(r.raft_log.next_unstable_ents()), want_unstable);
    }
}

/// Figure 7: whatever a follower's log looks like, the new leader brings it
/// to exactly its own log.
#[test]
fn leader_brings_every_figure7_follower_to_its_log() {
    let terms = |ts: &[u64]| -> Vec<Entry> {
        ts.iter()
            .enumerate()
            .map(|(i, &t)| ent(t, i as u64 + 1))
            .collect()
    };
    let leader = terms(&[1, 1, 1, 4, 4, 5, 5, 6, 6, 6]);
    let followers = [
        terms(&[1, 1, 1, 4, 4, 5, 5, 6, 6]),
        terms(&[1, 1, 1, 4]),
        terms(&[1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6]),
        terms(&[1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7]),
        terms(&[1, 1, 1, 4, 4, 4, 4]),
        terms(&[1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3]),
    ];
    let term = 8;
    for (fi, f) in followers.iter().enumerate() {
        let mut nodes = std::collections::BTreeMap::new();
        let voters = [1, 2, 3];
        nodes.insert(
            1,
            Network::make_node(
                &config(1, 10, 1),
                storage_with_log(&voters, &leader, hs(term - 1, 0, leader.len() as u64)),
            ),
        );
        nodes.insert(
            2,
            Network::make_node(
                &config(2, 10, 1),
                storage_with_log(&voters, f, hs(term - 1, 0, 0)),
            ),
        );
        let mut net = Network::from_nodes(nodes);
        net.settle();
        net.campaign(1);
        // Node 3 is absent; its vote arrives by hand.
        net.send(vec![msg(MessageType::MsgVoteResp, 3, 1, term)]);
        assert_eq!(net.raft(1).state, StateRole::Leader, "follower {fi}");
        assert_eq!(net.raft(1).term, term);
        let want = ids(&log_of(net.raft(1)));
        assert_eq!(want.len(), 11, "leader log plus its empty entry");
        assert_eq!(ids(&log_of(net.raft(2))), want, "follower {fi}");
        assert_eq!(net.raft(2).raft_log.committed, 11, "follower {fi}");
    }
}

#[test]
fn leader_never_overwrites_or_deletes_its_own_entries() {
    let mut r = new_test_raft(1, &[1, 2, 3], 10, 1);
    make_leader(&mut r);
    step_flush(&mut r, prop(1, 1, b"a")).unwrap();
    step_flush(&mut r, prop(1, 1, b"b")).unwrap();
    read_messages(&mut r);
    let before = ids(&log_of(&r));
    // A rejection from a follower only moves the follower's progress back.
    let mut rej = msg(MessageType::MsgAppResp, 2, 1, 1);
    rej.index = 3;
    rej.reject = true;
    rej.reject_hint = 0;
    step_flush(&mut r, rej).unwrap();
    // An append of the same term from someone else (impossible in a correct
    // cluster) must not rewrite the leader's log.
    let mut bogus = msg(MessageType::MsgApp, 2, 1, 1);
    bogus.index = 1;
    bogus.log_term = 1;
    bogus.entries = vec![dent(1, 2, b"x")];
    step_flush(&mut r, bogus).unwrap();
    assert_eq!(r.state, StateRole::Leader);
    assert_eq!(ids(&log_of(&r)), before);
    assert_eq!(payloads(&log_of(&r)), vec![b"a".to_vec(), b"b".to_vec()]);
}

// --------------------------------------------------------------- §5.4 safety

#[test]
fn candidate_asks_for_votes_with_its_last_log_position() {
    for (ents, wterm) in [(vec![ent(1, 1)], 2), (vec![ent(1, 1), ent(2, 2)], 3)] {
        let s = storage_with_log(&[1, 2, 3], &ents, hs(wterm - 1, 0, 0));
        let mut r = raft_with(&config(1, 10, 1), s);
        // A MsgApp from a leader of the same term makes it a follower first.
        let mut m = msg(MessageType::MsgApp, 2, 1, wterm - 1);
        m.index = 0;
        m.log_term = 0;
        step_flush(&mut r, m).unwrap();
        read_messages(&mut r);
        for _ in 0..20 {
            r.tick();
        }
        let msgs = sorted(read_messages(&mut r));
        assert_eq!(msgs.len(), 2);
        let last = ents.last().unwrap();
        for (m, to) in msgs.iter().zip([2, 3]) {
            assert_eq!(m.msg_type(), MessageType::MsgVote);
            assert_eq!(
                (m.to, m.term, m.index, m.log_term),
                (to, wterm, last.index, last.term)
            );
        }
    }
}

#[test]
fn voter_rejects_candidates_with_a_less_up_to_date_log() {
    // (voter log, candidate last term, candidate last index, rejected)
    let cases = [
        (vec![ent(1, 1)], 1, 1, false),
        (vec![ent(1, 1)], 1, 2, false),
        (vec![ent(1, 1), ent(1, 2)], 1, 1, true),
        (vec![ent(1, 1)], 2, 1, false),
        (vec![ent(1, 1)], 2, 2, false),
        (vec![ent(1, 1), ent(1, 2)], 2, 1, false),
        (vec![ent(2, 1)], 1, 1, true),
        (vec![ent(2, 1)], 1, 2, true),
        (vec![ent(2, 1), ent(1, 2)], 1, 1, true),
    ];
    for (ents, lt, idx, wreject) in cases {
        let s = storage_with_log(&[1, 2], &ents, HardState::default());
        let mut r = raft_with(&config(1, 10, 1), s);
        let mut m = msg(MessageType::MsgVote, 2, 1, 3);
        m.log_term = lt;
        m.index = idx;
        step_flush(&mut r, m).unwrap();
        let msgs = read_messages(&mut r);
        assert_eq!(msgs.len(), 1);
        assert_eq!(msgs[0].msg_type(), MessageType::MsgVoteResp);
        assert_eq!(
            msgs[0].reject,
            wreject,
            "log {:?} cand ({lt},{idx})",
            ids(&ents)
        );
        assert_eq!(r.vote, if wreject { 0 } else { 2 });
    }
}

#[test]
fn leader_only_commits_entries_of_its_own_term_by_counting_replicas() {
    let ents = [ent(1, 1), ent(2, 2)];
    // (index acknowledged by the follower, resulting commit)
    for (ack, wcommit) in [(1, 0), (2, 0), (3, 3)] {
        let s = storage_with_log(&[1, 2], &ents, hs(2, 0, 0));
        let mut r = raft_with(&config(1, 10, 1), s);
        make_leader(&mut r);
        assert_eq!(r.term, 3);
        read_messages(&mut r);
        step_flush(&mut r, prop(1, 1, b"")).unwrap();
        let mut resp = msg(MessageType::MsgAppResp, 2, 1, 3);
        resp.index = ack;
        step_flush(&mut r, resp).unwrap();
        assert_eq!(r.raft_log.committed, wcommit, "ack {ack}");
    }
}

/// Figure 8 (c): the leader of term 4 (here 3) has replicated the term-1
/// entry at index 2 to a majority of five, but must not commit it until an
/// entry of its own term is on a majority.
#[test]
fn figure8_old_entry_on_a_majority_is_not_committed_until_a_current_entry_is() {
    let peers = [1, 2, 3, 4, 5];
    let s = storage_with_log(&peers, &[ent(1, 1), dent(1, 2, b"x")], hs(2, 0, 1));
    let mut r = raft_with(&config(1, 10, 1), s);
    make_leader(&mut r);
    assert_eq!(r.term, 3);
    assert_eq!(r.raft_log.last_index(), 3);
    read_messages(&mut r);
    for from in [2, 3] {
        let mut resp = msg(MessageType::MsgAppResp, from, 1, 3);
        resp.index = 2;
        step_flush(&mut r, resp).unwrap();
    }
    assert_eq!(
        r.raft_log.committed, 1,
        "index 2 is on 3 of 5 nodes but from an old term"
    );
    let mut resp = msg(MessageType::MsgAppResp, 2, 1, 3);
    resp.index = 3;
    step_flush(&mut r, resp).unwrap();
    assert_eq!(r.raft_log.committed, 1, "index 3 on 2 of 5 only");
    let mut resp = msg(MessageType::MsgAppResp, 3, 1, 3);
    resp.index = 3;
    step_flush(&mut r, resp).unwrap();
    assert_eq!(r.raft_log.committed, 3, "current-term entry commits both");
}

/// Figure 8 (a)→(b)→(e) on a real network: an entry that a deposed leader
/// only managed to write on its own log is discarded, the entry that the
/// next leader of a later term committed survives everywhere.
#[test]
fn figure8_uncommitted_entries_of_a_deposed_leader_are_discarded() {
    let mut net = Network::new(&[1, 2, 3, 4, 5]);
    net.campaign(1);
    assert_eq!(net.leaders(), vec![1]);
    // (a) 1 replicates "x" to 2 only.
    net.partition(&[1, 2], &[3, 4, 5]);
    net.propose(1, b"x").unwrap();
    assert_eq!(net.raft(2).raft_log.last_index(), 2);
    assert_eq!(net.raft(1).raft_log.committed, 1);
    // (b) 5 wins term 2 with 3 and 4 but its entries reach nobody.
    net.ignore(MessageType::MsgApp);
    net.campaign(5);
    assert_eq!(net.raft(5).state, StateRole::Leader);
    assert_eq!(net.raft(5).term, 2);
    net.propose(5, b"y").unwrap();
    assert_eq!(net.raft(5).raft_log.last_index(), 3);
    // (c)/(e) 5 crashes; 1 restarts, wins and commits "x" with an entry of
    // its own term.
    net.recover();
    net.isolate(5);
    net.restart(1);
    assert_eq!(net.raft(1).state, StateRole::Follower);
    net.campaign(1);
    // Term 2: 3 and 4 already voted for 5 in that term.
    assert_eq!(net.raft(1).term, 2);
    assert_eq!(net.raft(1).state, StateRole::Candidate);
    net.campaign(1);
    assert_eq!(net.raft(1).state, StateRole::Leader);
    assert_eq!(net.raft(1).term, 3);
    for id in 1..=4 {
        assert_eq!(net.applied_payloads(id), vec![b"x".to_vec()], "node {id}");
    }
    // 5 restarts and cannot win against the majority's newer logs.
    net.recover();
    net.isolate(1);
    net.restart(5);
    net.campaign(5);
    net.campaign(5);
    assert_ne!(net.raft(5).state, StateRole::Leader);
    net.recover();
    net.propose(1, b"z").ok();
    net.campaign(2);
    net.propose(2, b"w").unwrap();
    for id in 1..=5 {
        let got = net.applied_payloads(id);
        assert!(!got.contains(&b"y".to_vec()), "node {id} applied y");
        assert_eq!(got.first(), Some(&b"x".to_vec()), "node {id}");
        assert_eq!(got.last(), Some(&b"w".to_vec()), "node {id}");
    }
    let reference = ids(&log_of(net.raft(2)));
    for id in 1..=5 {
        assert_eq!(ids(&log_of(net.raft(id))), reference, "log of {id}");
    }
}

/// Leader completeness: whoever wins the next election holds every entry
/// committed before.
#[test]
fn a_new_leader_holds_every_committed_entry() {
    let mut net = Network::new(&[1, 2, 3, 4, 5]);
    net.campaign(1);
    net.partition(&[1, 2, 3], &[4, 5]);
    net.propose(1, b"a").unwrap();
    net.propose(1, b"b").unwrap();
    let committed = net.raft(1).raft_log.committed;
    assert_eq!(committed, 3);
    assert_eq!(net.raft(4).raft_log.last_index(), 1);
    // The old leader disappears; the lagging nodes cannot win.
    net.recover();
    net.isolate(1);
    for cand in [4, 5] {
        net.campaign(cand);
        assert_ne!(net.raft(cand).state, StateRole::Leader, "stale {cand} won");
    }
    net.campaign(2);
    if net.raft(2).state != StateRole::Leader {
        net.campaign(2);
    }
    assert_eq!(net.raft(2).state, StateRole::Leader);
    let log2 = log_of(net.raft(2));
    assert_eq!(
        payloads(&log2[..committed as usize]),
        vec![b"a".to_vec(), b"b".to_vec()]
    );
    for id in 2..=5 {
        assert_eq!(
            net.applied_payloads(id),
            vec![b"a".to_vec(), b"b".to_vec()],
            "node {id}"
        );
    }
}

// ------------------------------------------------------- §8 read-only queries

#[test]
fn read_index_waits_for_a_commit_in_the_leaders_term() {
    let mut r = new_test_raft(1, &[1, 2, 3], 10, 1);
    make_leader(&mut r);
    read_messages(&mut r);
    let mut req = msg(MessageType::MsgReadIndex, 1, 1, 0);
    req.entries = vec![dent(0, 0, b"ctx")];
    step_flush(&mut r, req).unwrap();
    assert!(
        read_messages(&mut r).is_empty(),
        "no heartbeat before the first commit"
    );
    assert!(r.read_states.is_empty());
    // The empty entry of the term commits: the read goes out with a heartbeat.
    let mut resp = msg(MessageType::MsgAppResp, 2, 1, 1);
    resp.index = 1;
    step_flush(&mut r, resp).unwrap();
    assert_eq!(r.raft_log.committed, 1);
    let hbs: Vec<Message> = read_messages(&mut r)
        .into_iter()
        .filter(|m| m.msg_type() == MessageType::MsgHeartbeat)
        .collect();
    assert_eq!(hbs.len(), 2);
    assert!(hbs.iter().all(|m| m.context() == b"ctx"));
    assert!(r.read_states.is_empty(), "quorum not yet confirmed");
    let mut ack = msg(MessageType::MsgHeartbeatResp, 3, 1, 1);
    ack.context = Some(b"ctx".to_vec().into());
    step_flush(&mut r, ack).unwrap();
    assert_eq!(r.read_states.len(), 1);
    assert_eq!(r.read_states[0].index, 1);
    assert_eq!(&r.read_states[0].request_ctx[..], b"ctx");
}

#[test]
fn a_read_sees_every_write_committed_before_it() {
    let mut net = Network::new(&[1, 2, 3]);
    net.campaign(1);
    net.propose(1, b"w1").unwrap();
    net.propose(1, b"w2").unwrap();
    let w2 = net.raft(1).raft_log.last_index();
    for reader in [1, 2, 3] {
        net.node_mut(reader).raw.read_index(&b"r"[..]).unwrap();
        net.settle();
        let rs = std::mem::take(&mut net.node_mut(reader).read_states);
        assert_eq!(rs.len(), 1, "reader {reader}");
        assert!(
            rs[0].index >= w2,
            "reader {reader}: read index {} < {w2}",
            rs[0].index
        );
        assert_eq!(&rs[0].request_ctx[..], b"r");
    }
}
