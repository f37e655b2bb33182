//! Majority configurations: a decision needs more than half of the voters.

use std::collections::BTreeSet;
use std::fmt::{self, Write as _};

use super::{AckedIndexer, Index, VoteResult};

/// Largest configuration whose committed index is computed without a heap
/// allocation.
const STACK_VOTERS: usize = 7;

/// A set of voter ids deciding by simple majority.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct MajorityConfig(BTreeSet<u64>);

impl MajorityConfig {
    /// An empty configuration.
    pub fn new() -> Self {
        MajorityConfig(BTreeSet::new())
    }

    /// The voter ids, in ascending order.
    pub fn ids(&self) -> &BTreeSet<u64> {
        &self.0
    }

    /// True if `id` is a voter.
    pub fn contains(&self, id: u64) -> bool {
        self.0.contains(&id)
    }

    /// Number of voters.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True if there are no voters.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds a voter; returns false if it was already present.
    pub fn insert(&mut self, id: u64) -> bool {
        self.0.insert(id)
    }

    /// Removes a voter; returns false if it was absent.
    pub fn remove(&mut self, id: u64) -> bool {
        self.0.remove(&id)
    }

    /// Removes every voter.
    pub fn clear(&mut self) {
        self.0.clear()
    }

    /// The voters in ascending id order.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.0.iter().copied()
    }

    /// The voters as a sorted vector.
    pub fn to_vec(&self) -> Vec<u64> {
        self.iter().collect()
    }

    /// The highest index acknowledged by a majority of the voters
    /// (`u64::MAX` for an empty configuration, so that an empty half of a
    /// joint configuration drops out of the minimum). A voter without
    /// information counts as having acknowledged 0.
    pub fn committed_index(&self, l: &impl AckedIndexer) -> Index {
        let n = self.0.len();
        if n == 0 {
            return u64::MAX;
        }
        let mut stack = [0u64; STACK_VOTERS];
        let mut heap = Vec::new();
        let acked: &mut [u64] = if n <= STACK_VOTERS {
            &mut stack[..n]
        } else {
            heap.resize(n, 0);
            &mut heap
        };
        // Unknown voters keep their zero; the zeroes sort to the front anyway.
        for (slot, id) in acked.iter_mut().zip(self.0.iter()) {
            if let Some(idx) = l.acked_index(*id) {
                *slot = idx;
            }
        }
        acked.sort_unstable();
        acked[n - (n / 2 + 1)]
    }

    /// The election outcome given each voter's vote (`Some(true)` granted,
    /// `Some(false)` rejected, `None` not voted yet). An empty configuration
    /// wins by convention, which lets a half-empty joint configuration act
    /// like its other half.
    pub fn vote_result(&self, votes: impl Fn(u64) -> Option<bool>) -> VoteResult {
        if self.0.is_empty() {
            return VoteResult::Won;
        }
        let (mut granted, mut missing) = (0usize, 0usize);
        for id in self.iter() {
            match votes(id) {
                Some(true) => granted += 1,
                Some(false) => {}
                None => missing += 1,
            }
        }
        let quorum = self.0.len() / 2 + 1;
        if granted >= quorum {
            VoteResult::Won
        } else if granted + missing >= quorum {
            VoteResult::Pending
        } else {
            VoteResult::Lost
        }
    }

    /// A multi-line table of the voters' acknowledged indexes, as etcd's
    /// `Describe`: a bar per voter whose length ranks its index (equal
    /// indexes get equal bars), `?` for voters without information.
    pub fn describe(&self, l: &impl AckedIndexer) -> String {
        let n = self.0.len();
        if n == 0 {
            return "<empty majority quorum>".to_string();
        }
        struct Row {
            id: u64,
            idx: Index,
            known: bool,
            bar: usize,
        }
        let mut rows: Vec<Row> = self
            .iter()
            .map(|id| {
                let acked = l.acked_index(id);
                Row {
                    id,
                    idx: acked.unwrap_or(0),
                    known: acked.is_some(),
                    bar: 0,
                }
            })
            .collect();
        rows.sort_by_key(|r| (r.idx, r.id));
        for i in 1..rows.len() {
            rows[i].bar = if rows[i - 1].idx < rows[i].idx {
                i
            } else {
                rows[i - 1].bar
            };
        }
        rows.sort_by_key(|r| r.id);

        let mut out = String::new();
        out.push_str(&" ".repeat(n));
        out.push_str("    idx\n");
        for r in &rows {
            if r.known {
                out.push_str(&"x".repeat(r.bar));
                out.push('>');
                out.push_str(&" ".repeat(n - r.bar));
            } else {
                out.push('?');
                out.push_str(&" ".repeat(n));
            }
            // Writing into a String cannot fail.
            let _ = writeln!(out, " {:>5}    (id={:x})", r.idx, r.id);
        }
        out
    }
}

impl fmt::Display for MajorityConfig {
    /// `(1 2 3)`: ids ascending, in hex, space-separated.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(")?;
        for (i, id) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{id:x}")?;
        }
        f.write_str(")")
    }
}

impl FromIterator<u64> for MajorityConfig {
    fn from_iter<T: IntoIterator<Item = u64>>(iter: T) -> Self {
        MajorityConfig(iter.into_iter().collect())
    }
}

impl From<BTreeSet<u64>> for MajorityConfig {
    fn from(set: BTreeSet<u64>) -> Self {
        MajorityConfig(set)
    }
}

impl<'a> IntoIterator for &'a MajorityConfig {
    type Item = u64;
    type IntoIter = std::iter::Copied<std::collections::btree_set::Iter<'a, u64>>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn cfg(ids: &[u64]) -> MajorityConfig {
        ids.iter().copied().collect()
    }

    fn acked(pairs: &[(u64, u64)]) -> BTreeMap<u64, u64> {
        pairs.iter().copied().collect()
    }

    /// Brute force: the largest index that at least a majority acknowledged.
    fn brute_committed(c: &MajorityConfig, l: &BTreeMap<u64, u64>) -> u64 {
        let idxs: Vec<u64> = c
            .iter()
            .map(|id| l.get(&id).copied().unwrap_or(0))
            .collect();
        let q = c.len() / 2 + 1;
        idxs.iter()
            .copied()
            .filter(|cand| idxs.iter().filter(|i| *i >= cand).count() >= q)
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn empty_config_commits_everything_and_wins() {
        let c = MajorityConfig::new();
        assert_eq!(c.committed_index(&acked(&[])), u64::MAX);
        assert_eq!(c.vote_result(|_| None), VoteResult::Won);
        assert_eq!(c.describe(&acked(&[])), "<empty majority quorum>");
        assert_eq!(c.to_string(), "()");
    }

    #[test]
    fn committed_index_matches_brute_force_small_and_large() {
        // Deterministic pseudo-random configs of 1..=11 voters (crossing the
        // stack/heap boundary at 7).
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..2000 {
            let n = (round % 11) + 1;
            let c: MajorityConfig = (1..=n as u64).collect();
            let mut l = BTreeMap::new();
            for id in c.iter() {
                if next() % 4 != 0 {
                    l.insert(id, next() % 20);
                }
            }
            assert_eq!(c.committed_index(&l), brute_committed(&c, &l), "{c} {l:?}");
        }
    }

    #[test]
    fn missing_voter_counts_as_zero() {
        let c = cfg(&[1, 2, 3]);
        assert_eq!(c.committed_index(&acked(&[(1, 10), (2, 8)])), 8);
        assert_eq!(c.committed_index(&acked(&[(1, 10)])), 0);
    }

    #[test]
    fn vote_result_rules() {
        let c = cfg(&[1, 2, 3]);
        let v = |pairs: &'static [(u64, bool)]| {
            move |id: u64| pairs.iter().find(|(i, _)| *i == id).map(|(_, b)| *b)
        };
        assert_eq!(c.vote_result(v(&[])), VoteResult::Pending);
        assert_eq!(c.vote_result(v(&[(1, true)])), VoteResult::Pending);
        assert_eq!(c.vote_result(v(&[(1, true), (2, true)])), VoteResult::Won);
        assert_eq!(
            c.vote_result(v(&[(1, false), (2, false)])),
            VoteResult::Lost
        );
        assert_eq!(
            c.vote_result(v(&[(1, true), (2, false)])),
            VoteResult::Pending
        );
        // Votes of non-members are ignored.
        assert_eq!(
            c.vote_result(v(&[(4, true), (5, true), (1, false), (2, false)])),
            VoteResult::Lost
        );
    }

    #[test]
    fn describe_table() {
        let c = cfg(&[1, 2, 3, 4, 5]);
        let l = acked(&[(1, 101), (2, 104), (3, 103), (4, 103)]);
        let want = "         idx\n\
                    x>       101    (id=1)\n\
                    xxxx>    104    (id=2)\n\
                    xx>      103    (id=3)\n\
                    xx>      103    (id=4)\n\
                    ?          0    (id=5)\n";
        assert_eq!(c.describe(&l), want);
    }

    #[test]
    fn display_is_sorted_hex() {
        assert_eq!(cfg(&[17, 3, 10]).to_string(), "(3 a 11)");
    }
}
