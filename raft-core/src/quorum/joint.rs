//! Joint configurations: two majority configurations that must both agree
//! (Raft's joint consensus, `C_old,new`).

use std::collections::BTreeSet;
use std::fmt;

use super::{AckedIndexer, Index, MajorityConfig, VoteResult};

/// Two majority configurations deciding together. Outside of a
/// configuration change the outgoing half is empty and the joint config
/// behaves exactly like its incoming half.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct JointConfig {
    /// The configuration being transitioned to (the only one when not joint).
    pub incoming: MajorityConfig,
    /// The configuration being transitioned from; empty when not joint.
    pub outgoing: MajorityConfig,
}

impl JointConfig {
    /// A joint config from its two halves.
    #[cfg(any(test, feature = "test-internals"))]
    pub fn new(incoming: MajorityConfig, outgoing: MajorityConfig) -> Self {
        JointConfig { incoming, outgoing }
    }

    /// True while a joint configuration is active (outgoing non-empty).
    pub fn is_joint(&self) -> bool {
        !self.outgoing.is_empty()
    }

    /// True if there is exactly one voter and the configuration is not joint.
    pub fn is_singleton(&self) -> bool {
        self.incoming.len() == 1 && self.outgoing.is_empty()
    }

    /// True if `id` is a voter in either half.
    pub fn contains(&self, id: u64) -> bool {
        self.incoming.contains(id) || self.outgoing.contains(id)
    }

    /// All voters of both halves, ascending.
    pub fn ids(&self) -> BTreeSet<u64> {
        self.incoming.iter().chain(self.outgoing.iter()).collect()
    }

    /// The voters of both halves, ascending and without duplicates, without
    /// allocating.
    pub fn iter_ids(&self) -> impl Iterator<Item = u64> + '_ {
        let mut a = self.incoming.iter().peekable();
        let mut b = self.outgoing.iter().peekable();
        std::iter::from_fn(move || match (a.peek().copied(), b.peek().copied()) {
            (Some(x), Some(y)) if x == y => {
                a.next();
                b.next()
            }
            (Some(x), Some(y)) if x < y => a.next(),
            (Some(_), Some(_)) => b.next(),
            (Some(_), None) => a.next(),
            (None, _) => b.next(),
        })
    }

    /// The largest index committed in both halves (an empty half does not
    /// constrain the result).
    pub fn committed_index(&self, l: &impl AckedIndexer) -> Index {
        self.incoming
            .committed_index(l)
            .min(self.outgoing.committed_index(l))
    }

    /// The joint election outcome: both halves must win; a loss in either
    /// half loses; otherwise it is pending.
    pub fn vote_result(&self, votes: impl Fn(u64) -> Option<bool>) -> VoteResult {
        let r1 = self.incoming.vote_result(&votes);
        let r2 = self.outgoing.vote_result(&votes);
        if r1 == r2 {
            r1
        } else if r1 == VoteResult::Lost || r2 == VoteResult::Lost {
            VoteResult::Lost
        } else {
            VoteResult::Pending
        }
    }

    #[cfg(any(test, feature = "test-internals"))]
    /// The [`MajorityConfig::describe`] table over the union of both halves.
    pub fn describe(&self, l: &impl AckedIndexer) -> String {
        MajorityConfig::from(self.ids()).describe(l)
    }
}

impl fmt::Display for JointConfig {
    /// `(1 2)&&(3)` when joint, else `(1 2)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.outgoing.is_empty() {
            write!(f, "{}", self.incoming)
        } else {
            write!(f, "{}&&{}", self.incoming, self.outgoing)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn cfg(ids: &[u64]) -> MajorityConfig {
        ids.iter().copied().collect()
    }

    #[test]
    fn display() {
        assert_eq!(
            JointConfig::new(cfg(&[1, 2]), cfg(&[])).to_string(),
            "(1 2)"
        );
        assert_eq!(
            JointConfig::new(cfg(&[1, 2]), cfg(&[3])).to_string(),
            "(1 2)&&(3)"
        );
        assert_eq!(JointConfig::default().to_string(), "()");
    }

    #[test]
    fn committed_is_min_and_symmetric() {
        let l: BTreeMap<u64, u64> = [(1, 10), (2, 8), (3, 5), (4, 3)].into_iter().collect();
        let a = cfg(&[1, 2, 3]);
        let b = cfg(&[3, 4]);
        let j = JointConfig::new(a.clone(), b.clone());
        assert_eq!(j.committed_index(&l), 3);
        assert_eq!(JointConfig::new(b, a.clone()).committed_index(&l), 3);
        // Zero-joint and self-joint equal the plain majority.
        assert_eq!(
            JointConfig::new(a.clone(), cfg(&[])).committed_index(&l),
            a.committed_index(&l)
        );
        assert_eq!(
            JointConfig::new(a.clone(), a.clone()).committed_index(&l),
            a.committed_index(&l)
        );
        assert_eq!(JointConfig::default().committed_index(&l), u64::MAX);
    }

    #[test]
    fn vote_combination() {
        let j = JointConfig::new(cfg(&[1, 2, 3]), cfg(&[4, 5, 6]));
        let yes = |ids: &'static [u64]| move |id: u64| Some(ids.contains(&id));
        assert_eq!(j.vote_result(yes(&[1, 2, 4, 5])), VoteResult::Won);
        assert_eq!(j.vote_result(yes(&[1, 2])), VoteResult::Lost);
        assert_eq!(
            j.vote_result(|id| if id <= 2 { Some(true) } else { None }),
            VoteResult::Pending
        );
        assert_eq!(
            JointConfig::default().vote_result(|_| None),
            VoteResult::Won
        );
    }

    #[test]
    fn ids_union_and_iter_agree() {
        let j = JointConfig::new(cfg(&[1, 3, 5, 9]), cfg(&[2, 3, 4, 9, 12]));
        let set = j.ids();
        assert_eq!(
            j.iter_ids().collect::<Vec<_>>(),
            set.into_iter().collect::<Vec<_>>()
        );
        assert!(j.contains(12) && j.contains(1) && !j.contains(7));
        assert!(!j.is_singleton());
        assert!(JointConfig::new(cfg(&[7]), cfg(&[])).is_singleton());
    }
}
