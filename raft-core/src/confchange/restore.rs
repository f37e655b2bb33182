//! Rebuilding a tracker configuration from a `ConfState` (after a restart
//! or a snapshot).

use crate::eraftpb::{ConfChangeSingle, ConfChangeType, ConfState};
use crate::errors::Result;
use crate::tracker::{ProgressMap, TrackerConfig};

use super::Changer;

/// Splits a `ConfState` into the changes building its outgoing half (as a
/// plain config) and the changes that, applied while entering the joint
/// state, produce the incoming half, learners and staged learners.
///
/// Example: voters=(1 2 3) learners=(5) outgoing=(1 2 4 6) learners_next=(4)
/// gives outgoing `v1 v2 v4 v6` and incoming `r1 r2 r4 r6 v1 v2 v3 l5 l4`.
fn to_conf_change_single(cs: &ConfState) -> (Vec<ConfChangeSingle>, Vec<ConfChangeSingle>) {
    use ConfChangeType::*;
    let outgoing = cs
        .voters_outgoing
        .iter()
        .map(|id| ConfChangeSingle::new(ConfChangeAddNode, *id))
        .collect();
    let incoming = cs
        .voters_outgoing
        .iter()
        .map(|id| ConfChangeSingle::new(ConfChangeRemoveNode, *id))
        .chain(
            cs.voters
                .iter()
                .map(|id| ConfChangeSingle::new(ConfChangeAddNode, *id)),
        )
        .chain(
            cs.learners
                .iter()
                .chain(&cs.learners_next)
                .map(|id| ConfChangeSingle::new(ConfChangeAddLearnerNode, *id)),
        )
        .collect();
    (outgoing, incoming)
}

/// Builds the configuration described by `cs`, starting from the changer's
/// tracker (which should hold an empty configuration), as etcd's
/// `confchange.Restore`: a non-joint state is built with one simple change
/// per member; a joint state first builds the outgoing voters one by one,
/// then enters the joint state with the incoming voters and learners.
pub fn restore(chg: Changer<'_>, cs: &ConfState) -> Result<(TrackerConfig, ProgressMap)> {
    let (outgoing, incoming) = to_conf_change_single(cs);
    let mut trk = chg.tracker.clone();
    let last_index = chg.last_index;
    let install = |trk: &mut crate::tracker::ProgressTracker, (cfg, prs)| {
        trk.config = cfg;
        trk.progress = prs;
    };
    if outgoing.is_empty() {
        for cc in &incoming {
            let next = Changer::new(&trk, last_index).simple(std::slice::from_ref(cc))?;
            install(&mut trk, next);
        }
    } else {
        for cc in &outgoing {
            let next = Changer::new(&trk, last_index).simple(std::slice::from_ref(cc))?;
            install(&mut trk, next);
        }
        let next = Changer::new(&trk, last_index).enter_joint(cs.auto_leave, &incoming)?;
        install(&mut trk, next);
    }
    Ok((trk.config, trk.progress))
}
