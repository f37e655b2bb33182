//! Quorum arithmetic: committed indexes and election outcomes for majority
//! and joint configurations (etcd's `quorum` package).
//!
//! Everything here is pure: a configuration is a set of voter ids, and the
//! facts about the voters (acknowledged log indexes, votes) are looked up
//! through small traits or closures, so callers never have to build maps on
//! hot paths.

mod joint;
mod majority;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::BuildHasher;

pub use joint::JointConfig;
pub use majority::MajorityConfig;

/// A Raft log index as seen by the quorum code.
pub type Index = u64;

#[cfg(any(test, feature = "test-internals"))]
/// Displays an [`Index`], printing `∞` for `u64::MAX` (the committed index
/// of an empty configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DisplayIndex(pub Index);

#[cfg(any(test, feature = "test-internals"))]
impl fmt::Display for DisplayIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == u64::MAX {
            f.write_str("∞")
        } else {
            write!(f, "{}", self.0)
        }
    }
}

/// The outcome of an election as far as it is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VoteResult {
    /// Neither a winning nor a losing quorum has been reached yet.
    Pending,
    /// A quorum rejected the candidate.
    Lost,
    /// A quorum granted its vote.
    Won,
}

impl fmt::Display for VoteResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VoteResult::Pending => "VotePending",
            VoteResult::Lost => "VoteLost",
            VoteResult::Won => "VoteWon",
        })
    }
}

/// Looks up the log index a voter is known to have acknowledged.
///
/// `None` means "no information" (the voter is unknown), which is different
/// from `Some(0)`.
pub trait AckedIndexer {
    /// The acknowledged index of voter `id`, if known.
    fn acked_index(&self, id: u64) -> Option<Index>;
}

impl AckedIndexer for BTreeMap<u64, Index> {
    fn acked_index(&self, id: u64) -> Option<Index> {
        self.get(&id).copied()
    }
}

impl<S: BuildHasher> AckedIndexer for HashMap<u64, Index, S> {
    fn acked_index(&self, id: u64) -> Option<Index> {
        self.get(&id).copied()
    }
}

impl<F: Fn(u64) -> Option<Index>> AckedIndexer for F {
    fn acked_index(&self, id: u64) -> Option<Index> {
        self(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_index_prints_infinity_for_max() {
        assert_eq!(DisplayIndex(u64::MAX).to_string(), "∞");
        assert_eq!(DisplayIndex(0).to_string(), "0");
        assert_eq!(DisplayIndex(17).to_string(), "17");
    }

    #[test]
    fn vote_result_display() {
        assert_eq!(VoteResult::Pending.to_string(), "VotePending");
        assert_eq!(VoteResult::Lost.to_string(), "VoteLost");
        assert_eq!(VoteResult::Won.to_string(), "VoteWon");
    }

    #[test]
    fn acked_indexer_impls_agree() {
        let b: BTreeMap<u64, u64> = [(1, 5), (2, 0)].into_iter().collect();
        let h: HashMap<u64, u64> = b.iter().map(|(k, v)| (*k, *v)).collect();
        let f = |id: u64| b.get(&id).copied();
        for id in 0..4 {
            assert_eq!(b.acked_index(id), h.acked_index(id));
            assert_eq!(b.acked_index(id), f.acked_index(id));
        }
        assert_eq!(b.acked_index(2), Some(0));
        assert_eq!(b.acked_index(3), None);
    }
}
