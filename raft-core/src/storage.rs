//! The [`Storage`] trait: the interface through which the core reads the
//! stable log, hard state and snapshot; and the rules every storage
//! applies to what it is asked to write: [`check_append`] for entries,
//! [`check_snapshot`] for a snapshot.

use crate::eraftpb::{ConfState, Entry, HardState, Snapshot};
use crate::errors::{Error, Result};

/// Refuses entries to append whose indexes do not follow each other
/// (etcd's `MemoryStorage.Append` assumes it; a storage must not write a log
/// with holes) or go beyond [`MAX_TERM_OR_INDEX`](crate::MAX_TERM_OR_INDEX)
/// (arithmetic on them could wrap). An empty slice passes.
pub fn check_append(entries: &[Entry]) -> Result<()> {
    if let (Some(first), Some(last)) = (entries.first(), entries.last()) {
        crate::bounds::check("appended entry index", first.index)?;
        crate::bounds::check("appended entry index", last.index)?;
    }
    for (k, w) in entries.windows(2).enumerate() {
        if w[0].index.checked_add(1) != Some(w[1].index) {
            return Err(Error::Invariant(format!(
                "appended entries are not consecutive: index {} at position {} follows {}",
                w[1].index,
                k + 1,
                w[0].index
            )));
        }
    }
    Ok(())
}

/// Refuses a snapshot whose index or term is beyond
/// [`MAX_TERM_OR_INDEX`](crate::MAX_TERM_OR_INDEX) (arithmetic on them could
/// wrap).
pub fn check_snapshot(s: &Snapshot) -> Result<()> {
    crate::bounds::check("snapshot index", s.metadata.index)?;
    crate::bounds::check("snapshot term", s.metadata.term)
}

/// The persisted state returned by [`Storage::initial_state`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RaftState {
    /// The last persisted hard state (term, vote, commit).
    pub hard_state: HardState,
    /// The membership as of the last applied configuration.
    pub conf_state: ConfState,
}

/// Read access to the persisted Raft log, as etcd's `raft.Storage`.
///
/// The trait is object-safe: `Box<dyn Storage>` and `&dyn Storage` are
/// storages too. Every method takes `&self`; implementations that can change
/// use interior mutability, so that the application can keep a handle for
/// writing while the node reads through its own handle.
///
/// An error other than the etcd kinds in [`StorageError`](crate::StorageError) is reported through
/// [`StorageError::Other`](crate::StorageError::Other); the core never panics on a storage error.
pub trait Storage {
    /// Returns the saved hard state and conf state.
    fn initial_state(&self) -> Result<RaftState>;

    /// Returns the entries in `[low, high)`. The total encoded size is
    /// limited by `max_size` (`u64::MAX` means no limit), but at least one
    /// entry is returned when the range is not empty.
    ///
    /// Errors: [`StorageError::Compacted`](crate::StorageError::Compacted) when `low` is at or below the
    /// compaction point, [`StorageError::Unavailable`](crate::StorageError::Unavailable) when `high` is beyond
    /// `last_index() + 1`.
    fn entries(&self, low: u64, high: u64, max_size: u64) -> Result<Vec<Entry>>;

    /// [`entries`](Self::entries), and the total encoded size of the
    /// entries returned (the sum of [`Entry::size`], saturating), which the
    /// core's size limits need. The provided method measures what `entries`
    /// returns. A storage that measures its entries anyway, to cut them to
    /// `max_size`, may return that sum instead and spare the core a second
    /// pass over every entry read ([`MemoryStorage`](crate::MemoryStorage)
    /// does); the sum must then be exact.
    fn entries_sized(&self, low: u64, high: u64, max_size: u64) -> Result<(Vec<Entry>, u64)> {
        let ents = self.entries(low, high, max_size)?;
        let size = ents
            .iter()
            .fold(0u64, |acc, e| acc.saturating_add(e.size()));
        Ok((ents, size))
    }

    /// Returns the term of entry `idx`, which must be in
    /// `[first_index() - 1, last_index()]`.
    fn term(&self, idx: u64) -> Result<u64>;

    /// Returns the index of the first entry that may be read through
    /// `entries` (older entries were compacted into a snapshot).
    fn first_index(&self) -> Result<u64>;

    /// Returns the index of the last entry in the log.
    fn last_index(&self) -> Result<u64>;

    /// Returns the most recent snapshot. [`StorageError::SnapshotTemporarilyUnavailable`](crate::StorageError::SnapshotTemporarilyUnavailable)
    /// tells the core to retry later.
    fn snapshot(&self) -> Result<Snapshot>;
}

macro_rules! forward_storage {
    ($ty:ty) => {
        impl<S: Storage + ?Sized> Storage for $ty {
            fn initial_state(&self) -> Result<RaftState> {
                (**self).initial_state()
            }
            fn entries(&self, low: u64, high: u64, max_size: u64) -> Result<Vec<Entry>> {
                (**self).entries(low, high, max_size)
            }
            fn entries_sized(
                &self,
                low: u64,
                high: u64,
                max_size: u64,
            ) -> Result<(Vec<Entry>, u64)> {
                (**self).entries_sized(low, high, max_size)
            }
            fn term(&self, idx: u64) -> Result<u64> {
                (**self).term(idx)
            }
            fn first_index(&self) -> Result<u64> {
                (**self).first_index()
            }
            fn last_index(&self) -> Result<u64> {
                (**self).last_index()
            }
            fn snapshot(&self) -> Result<Snapshot> {
                (**self).snapshot()
            }
        }
    };
}

forward_storage!(Box<S>);
forward_storage!(&S);
forward_storage!(std::rc::Rc<S>);
forward_storage!(std::sync::Arc<S>);
