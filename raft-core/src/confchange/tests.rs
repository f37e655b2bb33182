//! Unit and property tests of the conf change code (the data-driven etcd
//! files are run by `tests/conformance_confchange.rs`).

use super::*;
use crate::eraftpb::{ConfChangeSingle, ConfChangeType::*, ConfState};
use crate::tracker::{progress_map_string, ProgressTracker};
use crate::Error;

/// A tiny deterministic PRNG (xorshift64*), so properties are reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn cc(t: crate::eraftpb::ConfChangeType, id: u64) -> ConfChangeSingle {
    ConfChangeSingle::new(t, id)
}

fn install(
    trk: &mut ProgressTracker,
    r: crate::Result<(crate::tracker::TrackerConfig, crate::tracker::ProgressMap)>,
) {
    let (cfg, prs) = r.expect("conf change failed");
    trk.config = cfg;
    trk.progress = prs;
}

type Outcome = crate::Result<(crate::tracker::TrackerConfig, crate::tracker::ProgressMap)>;

fn step(trk: &mut ProgressTracker, last_index: u64, f: impl FnOnce(Changer<'_>) -> Outcome) {
    let r = f(Changer::new(trk, last_index));
    install(trk, r);
}

fn state(trk: &ProgressTracker) -> String {
    format!("{}\n{}", trk.config, progress_map_string(&trk.progress))
}

fn conf_err(
    r: crate::Result<(crate::tracker::TrackerConfig, crate::tracker::ProgressMap)>,
) -> String {
    match r {
        Err(Error::ConfChange(s)) => s,
        other => panic!("expected a conf change error, got {other:?}"),
    }
}

fn random_changes(rng: &mut Rng, max_id: u64, n: usize) -> Vec<ConfChangeSingle> {
    (0..n)
        .map(|_| {
            let id = rng.below(max_id) + 1;
            let t = match rng.below(10) {
                0..=4 => ConfChangeAddNode,
                5..=6 => ConfChangeAddLearnerNode,
                7..=8 => ConfChangeRemoveNode,
                _ => ConfChangeUpdateNode,
            };
            cc(t, id)
        })
        .collect()
}

/// etcd's quick check: applying changes one at a time with `simple` gives
/// the same configuration as applying them all at once inside a joint
/// configuration that is then left.
#[test]
fn simple_one_by_one_equals_enter_and_leave_joint() {
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let mut compared = 0;
    for _ in 0..3000 {
        let mut base = ProgressTracker::new(10, 0);
        let initial = rng.below(5) + 1;
        for id in 1..=initial {
            step(&mut base, 10, |c| c.simple(&[cc(ConfChangeAddNode, id)]));
        }
        let n = rng.below(6) as usize + 1;
        let changes = random_changes(&mut rng, 8, n);

        let mut one_by_one = base.clone();
        let mut ok = true;
        for c in &changes {
            match Changer::new(&one_by_one, 10).simple(std::slice::from_ref(c)) {
                Ok(r) => install(&mut one_by_one, Ok(r)),
                Err(_) => {
                    ok = false;
                    break;
                }
            }
        }

        let joint = Changer::new(&base, 10).enter_joint(false, &changes);
        if !ok {
            // Only a transiently empty voter set can fail one by one.
            continue;
        }
        let mut via_joint = base.clone();
        install(&mut via_joint, joint);
        step(&mut via_joint, 10, |c| c.leave_joint());
        assert_eq!(state(&one_by_one), state(&via_joint), "changes {changes:?}");
        assert_eq!(one_by_one.config, via_joint.config);
        compared += 1;
    }
    assert!(compared > 1000, "too few comparable cases: {compared}");
}

fn random_conf_state(rng: &mut Rng) -> ConfState {
    let mut cs = ConfState::default();
    for id in 1..=rng.below(9) + 1 {
        match rng.below(7) {
            0 | 1 => cs.voters.push(id),
            2 => {
                cs.voters.push(id);
                cs.voters_outgoing.push(id);
            }
            3 => cs.voters_outgoing.push(id),
            4 => {
                cs.voters_outgoing.push(id);
                cs.learners_next.push(id);
            }
            5 => cs.learners.push(id),
            _ => {}
        }
    }
    if cs.voters.is_empty() {
        cs.voters.push(100);
    }
    cs.auto_leave = !cs.voters_outgoing.is_empty() && rng.below(2) == 0;
    // Shuffle the lists: restore must not depend on their order.
    for v in [
        &mut cs.voters,
        &mut cs.voters_outgoing,
        &mut cs.learners,
        &mut cs.learners_next,
    ] {
        for i in (1..v.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            v.swap(i, j);
        }
    }
    cs
}

/// etcd's restore property: restoring a ConfState into an empty tracker
/// yields a tracker whose ConfState is the same (as sorted lists).
#[test]
fn restore_round_trips_conf_state() {
    let mut rng = Rng(42);
    for _ in 0..2000 {
        let cs = random_conf_state(&mut rng);
        let empty = ProgressTracker::new(20, 0);
        let (cfg, prs) = restore(Changer::new(&empty, 10), &cs).expect("restore failed");
        let mut trk = ProgressTracker::new(20, 0);
        trk.config = cfg;
        trk.progress = prs;
        let got = trk.conf_state();
        let sorted = |v: &[u64]| {
            let mut v = v.to_vec();
            v.sort_unstable();
            v
        };
        assert_eq!(got.voters, sorted(&cs.voters), "{cs:?}");
        assert_eq!(got.voters_outgoing, sorted(&cs.voters_outgoing), "{cs:?}");
        assert_eq!(got.learners, sorted(&cs.learners), "{cs:?}");
        assert_eq!(got.learners_next, sorted(&cs.learners_next), "{cs:?}");
        assert_eq!(got.auto_leave, cs.auto_leave, "{cs:?}");
        // Every member is tracked, learners are flagged.
        for (id, pr) in &trk.progress {
            assert_eq!(pr.is_learner, cs.learners.contains(id), "{cs:?}");
            assert_eq!(pr.next_idx, 10);
            assert!(pr.recent_active);
        }
        assert_eq!(
            trk.progress.len(),
            trk.voter_nodes().len() + cs.learners.len(),
            "{cs:?}"
        );
    }
}

#[test]
fn restore_of_empty_conf_state_is_empty() {
    let empty = ProgressTracker::new(20, 0);
    let (cfg, prs) = restore(Changer::new(&empty, 1), &ConfState::default()).unwrap();
    assert_eq!(cfg.to_string(), "voters=()");
    assert!(prs.is_empty());
}

#[test]
fn new_progress_settings() {
    let mut trk = ProgressTracker::new(7, 300);
    let (cfg, prs) = Changer::new(&trk, 0)
        .simple(&[cc(ConfChangeAddNode, 1)])
        .unwrap();
    let pr = &prs[&1];
    assert_eq!(
        (pr.matched, pr.next_idx),
        (0, 1),
        "next = max(last_index, 1)"
    );
    assert!(pr.recent_active && !pr.is_learner);
    assert_eq!(pr.inflights.cap(), 7);
    trk.config = cfg;
    trk.progress = prs;
    let (_, prs) = Changer::new(&trk, 12)
        .simple(&[cc(ConfChangeAddLearnerNode, 2)])
        .unwrap();
    assert_eq!(prs[&2].next_idx, 12);
    assert!(prs[&2].is_learner);
}

#[test]
fn errors_and_precedence() {
    let mut trk = ProgressTracker::new(10, 0);
    step(&mut trk, 1, |c| c.simple(&[cc(ConfChangeAddNode, 1)]));
    step(&mut trk, 1, |c| c.simple(&[cc(ConfChangeAddNode, 2)]));
    // removed all voters wins over the symmetric difference check.
    assert_eq!(
        conf_err(
            Changer::new(&trk, 1)
                .simple(&[cc(ConfChangeRemoveNode, 1), cc(ConfChangeRemoveNode, 2)])
        ),
        "removed all voters"
    );
    assert_eq!(
        conf_err(
            Changer::new(&trk, 1).simple(&[cc(ConfChangeAddNode, 3), cc(ConfChangeAddNode, 4)])
        ),
        "more than one voter changed without entering joint config"
    );
    // An unknown change type from the wire is an error, not a panic.
    let bad = ConfChangeSingle {
        change_type: 17,
        node_id: 3,
    };
    assert_eq!(
        conf_err(Changer::new(&trk, 1).simple(&[bad])),
        "unexpected conf type 17"
    );
    // A broken tracker is reported before anything else.
    let mut broken = trk.clone();
    broken.progress.remove(&2);
    assert_eq!(
        conf_err(Changer::new(&broken, 1).leave_joint()),
        "no progress for 2"
    );
    let mut broken = trk.clone();
    broken.config.auto_leave = true;
    assert_eq!(
        conf_err(Changer::new(&broken, 1).simple(&[])),
        "AutoLeave must be false when not joint"
    );
    let mut broken = trk.clone();
    broken.config.learners.insert(2);
    assert_eq!(
        conf_err(Changer::new(&broken, 1).simple(&[])),
        "2 is in Learners and Voters[0]"
    );
    // Zero ids are ignored; update is a no-op.
    let before = state(&trk);
    step(&mut trk, 1, |c| {
        c.simple(&[cc(ConfChangeAddNode, 0), cc(ConfChangeUpdateNode, 2)])
    });
    assert_eq!(state(&trk), before);
}

#[test]
fn demotion_in_joint_uses_learners_next() {
    let mut trk = ProgressTracker::new(10, 0);
    for id in 1..=3 {
        step(&mut trk, 5, |c| c.simple(&[cc(ConfChangeAddNode, id)]));
    }
    trk.progress.get_mut(&3).unwrap().matched = 4;
    step(&mut trk, 9, |c| {
        c.enter_joint(true, &[cc(ConfChangeAddLearnerNode, 3)])
    });
    assert_eq!(
        trk.config.to_string(),
        "voters=(1 2)&&(1 2 3) learners_next=(3) autoleave"
    );
    assert!(!trk.progress[&3].is_learner);
    step(&mut trk, 9, |c| c.leave_joint());
    assert_eq!(trk.config.to_string(), "voters=(1 2) learners=(3)");
    assert!(trk.progress[&3].is_learner);
    assert_eq!(trk.progress[&3].matched, 4, "progress is kept");
    // Promote back.
    step(&mut trk, 9, |c| c.simple(&[cc(ConfChangeAddNode, 3)]));
    assert_eq!(trk.config.to_string(), "voters=(1 2 3)");
    assert!(!trk.progress[&3].is_learner);
    assert_eq!(trk.progress[&3].matched, 4);
}
