//! [`RaftLog`]: the node's view of the whole log, the stable part in the
//! [`Storage`] followed by the [`Unstable`] part, as etcd's `raftLog`.
//!
//! Error policy. etcd panics when the storage fails in the middle of a log
//! operation. Here the methods etcd makes infallible stay infallible and
//! return a safe value, but the first unexpected storage error (anything
//! other than the `Compacted`/`Unavailable` answers etcd expects) is kept as
//! a *fault*; the caller must check [`RaftLog::take_fault`] and poison the
//! node. Inputs that would make etcd panic (committing beyond the log,
//! conflicting with a committed entry, out-of-range positions) are refused
//! with [`Error::Invariant`] and leave the log unchanged; they are not
//! faults.

use std::cell::Cell;
use std::fmt;
use std::sync::Arc;

use crate::eraftpb::{Entry, Snapshot};
use crate::errors::{Error, Result, StorageError};
use crate::log_unstable::{check_consecutive, Unstable};
use crate::logger::{Level, Logger};
use crate::proto_ext::prefix_within;
use crate::storage::Storage;

/// How many times [`RaftLog::all_entries`] retries after racing with a
/// compaction.
#[cfg(any(test, feature = "test-internals"))]
const ALL_ENTRIES_RETRIES: usize = 16;

/// The Raft log: stable entries in `store`, newer ones in `unstable`.
pub struct RaftLog<S: Storage> {
    /// The stable entries since the last snapshot.
    pub store: S,
    /// Entries and a snapshot not yet written to `store`.
    pub unstable: Unstable,
    /// The highest index known to be stored on a quorum.
    pub committed: u64,
    /// The highest index handed to the application for applying
    /// (`applied <= applying <= committed`).
    pub applying: u64,
    /// The highest index the application reported applied.
    pub applied: u64,
    /// Limit on the total encoded size of entries handed out for applying
    /// and not yet acknowledged through [`applied_to`](Self::applied_to).
    pub max_applying_ents_size: u64,
    /// Encoded size of the entries handed out and not yet acknowledged.
    pub applying_ents_size: u64,
    /// True while handing out committed entries is paused because of
    /// `max_applying_ents_size`.
    pub applying_ents_paused: bool,
    fault: Cell<Option<Error>>,
    logger: Arc<dyn Logger>,
}

impl<S: Storage> fmt::Display for RaftLog<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "committed={}, applied={}, applying={}, unstable.offset={}, unstable.offsetInProgress={}, len(unstable.Entries)={}",
            self.committed,
            self.applied,
            self.applying,
            self.unstable.offset,
            self.unstable.offset_in_progress,
            self.unstable.entries.len()
        )
    }
}

impl<S: Storage> fmt::Debug for RaftLog<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RaftLog({self})")
    }
}

/// A storage error when the storage answered a term or index beyond
/// [`MAX_TERM_OR_INDEX`](crate::bounds::MAX_TERM_OR_INDEX) (a broken
/// storage; the arithmetic on it would wrap).
fn check_store_index(what: &str, v: u64) -> Result<()> {
    // Named only when refused: this runs on every storage answer.
    if v <= crate::bounds::MAX_TERM_OR_INDEX {
        return Ok(());
    }
    crate::bounds::check(&format!("storage answered a {what}:"), v)
        .map_err(|e| StorageError::Other(e.to_string()).into())
}

/// As [`check_store_index`] for the first index, which is one past the
/// compaction point and so may be one more than the bound.
fn check_store_first_index(i: u64) -> Result<()> {
    if i.saturating_sub(1) > crate::bounds::MAX_TERM_OR_INDEX {
        return check_store_index("first index", i);
    }
    Ok(())
}

fn is_out_of_bounds(e: &Error) -> bool {
    matches!(
        e,
        Error::Store(StorageError::Compacted) | Error::Store(StorageError::Unavailable)
    )
}

impl<S: Storage> RaftLog<S> {
    #[cfg(any(test, feature = "test-internals"))]
    /// A log over `store` without a limit on the entries handed out for
    /// applying. Committed and applied start at the storage's compaction
    /// point.
    pub fn new(store: S, logger: Arc<dyn Logger>) -> Result<Self> {
        Self::new_with_size(store, logger, crate::NO_LIMIT)
    }

    /// A log over `store` that hands out at most `max_applying_ents_size`
    /// bytes of committed entries not yet acknowledged as applied.
    ///
    /// A storage error while reading the first and last index is returned.
    pub fn new_with_size(
        store: S,
        logger: Arc<dyn Logger>,
        max_applying_ents_size: u64,
    ) -> Result<Self> {
        let first = store.first_index()?;
        let last = store.last_index()?;
        check_store_first_index(first)?;
        check_store_index("last index", last)?;
        let base = first.saturating_sub(1);
        Ok(RaftLog {
            store,
            unstable: Unstable::new(last.saturating_add(1), logger.clone()),
            committed: base,
            applying: base,
            applied: base,
            max_applying_ents_size,
            applying_ents_size: 0,
            applying_ents_paused: false,
            fault: Cell::new(None),
            logger,
        })
    }

    /// Takes the first unexpected storage error seen, if any; the node must
    /// stop working when there is one.
    pub fn take_fault(&self) -> Option<Error> {
        self.fault.take()
    }

    #[cfg(any(test, feature = "test-internals"))]
    /// True when an unexpected storage error was seen (and not yet taken).
    pub fn has_fault(&self) -> bool {
        let f = self.fault.take();
        let has = f.is_some();
        self.fault.set(f);
        has
    }

    /// Keeps `e` as the fault unless an earlier one is kept.
    fn record_fault(&self, e: Error) {
        let cur = self.fault.take();
        self.fault.set(cur.or(Some(e)));
    }

    /// The index of the first entry that may still be read (after the
    /// snapshot or compaction point). On a storage error, the fault is kept
    /// and the stable part is treated as empty.
    pub fn first_index(&self) -> u64 {
        if let Some(i) = self.unstable.maybe_first_index() {
            return i;
        }
        match self.store.first_index() {
            Ok(i) if check_store_first_index(i).is_ok() => i,
            Ok(i) => {
                self.record_fault(check_store_first_index(i).unwrap_err());
                self.unstable.offset
            }
            Err(e) => {
                self.record_fault(e);
                self.unstable.offset
            }
        }
    }

    /// The index of the last entry.
    ///
    /// Unlike etcd's `lastIndex`, this does not ask the storage: the last
    /// stable index is always `unstable.offset - 1`. The offset starts at
    /// the storage's last index + 1 (read once in [`new_with_size`]) and
    /// moves only when the core itself learns that entries or a snapshot
    /// reached the storage (`stable_to`, `restore`), so the storage's answer
    /// could only differ if the application wrote the log behind the core's
    /// back (for example by acknowledging a Ready it did not persist, which
    /// the next read of those entries reports as a storage fault). Asking
    /// anyway cost one storage call (for a storage written in Lua, a Lua
    /// function call and a LevelDB read) per lookup, several times per
    /// replicated entry.
    ///
    /// [`new_with_size`]: Self::new_with_size
    pub fn last_index(&self) -> u64 {
        self.unstable
            .maybe_last_index()
            .unwrap_or(self.unstable.offset.saturating_sub(1))
    }

    /// The term of the last entry (0 and a fault if it cannot be read).
    pub fn last_term(&self) -> u64 {
        self.last_entry_id().0
    }

    /// `(term, index)` of the last entry.
    pub fn last_entry_id(&self) -> (u64, u64) {
        let index = self.last_index();
        match self.term(index) {
            Ok(t) => (t, index),
            Err(e) => {
                self.record_fault(Error::Invariant(format!(
                    "unexpected error when getting the last term ({e})"
                )));
                (0, index)
            }
        }
    }

    /// The term of entry `i`. The valid range is `[first_index() - 1,
    /// last_index()]`: below it [`StorageError::Compacted`], above it
    /// [`StorageError::Unavailable`]. Any other storage error is returned
    /// and kept as the fault.
    pub fn term(&self, i: u64) -> Result<u64> {
        // The unstable log first: what it knows is in the valid range.
        if let Some(t) = self.unstable.maybe_term(i) {
            return Ok(t);
        }
        // Past the stable part and not in the unstable entries: past the
        // last index (see `last_index`), with no storage call.
        let offset = self.unstable.offset;
        if i >= offset {
            return Err(StorageError::Unavailable.into());
        }
        // The last stable entry (`offset - 1`) is never below the dummy
        // entry; only older indexes need the first index.
        if i.saturating_add(1) < offset {
            let first = self.first_index();
            if first > 0 && i < first - 1 {
                return Err(StorageError::Compacted.into());
            }
        }
        match self.store.term(i) {
            Ok(t) => match check_store_index("term", t) {
                Ok(()) => Ok(t),
                Err(e) => {
                    self.record_fault(e.clone());
                    Err(e)
                }
            },
            Err(e) if is_out_of_bounds(&e) => Err(e),
            Err(e) => {
                self.record_fault(e.clone());
                Err(e)
            }
        }
    }

    /// The term from a [`term`](Self::term) result, with 0 for an index out
    /// of the log (etcd's `zeroTermOnOutOfBounds`). Other errors are kept as
    /// the fault and also give 0.
    pub fn zero_term_on_out_of_bounds(&self, r: Result<u64>) -> u64 {
        match r {
            Ok(t) => t,
            Err(e) if is_out_of_bounds(&e) => 0,
            Err(e) => {
                self.record_fault(e);
                0
            }
        }
    }

    /// True when entry `i` exists and has term `term`.
    pub fn match_term(&self, i: u64, term: u64) -> bool {
        matches!(self.term(i), Ok(t) if t == term)
    }

    /// True when a log ending at `(last_index, term)` is at least as
    /// up-to-date as this one (higher last term, or the same last term and
    /// at least as long).
    pub fn is_up_to_date(&self, last_index: u64, term: u64) -> bool {
        let (lt, li) = self.last_entry_id();
        term > lt || (term == lt && last_index >= li)
    }

    /// Appends `ents` after the entry `(index, log_term)` if this log has
    /// that entry, replacing any conflicting suffix, then commits up to
    /// `min(committed, index + len(ents))`.
    ///
    /// Returns `Ok(None)` when `(index, log_term)` does not match,
    /// `Ok(Some(last new index))` on success, and [`Error::Invariant`] (log
    /// unchanged) when `ents` do not follow `index` consecutively or would
    /// replace a committed entry.
    pub fn maybe_append(
        &mut self,
        index: u64,
        log_term: u64,
        committed: u64,
        mut ents: Vec<Entry>,
    ) -> Result<Option<u64>> {
        if !self.match_term(index, log_term) {
            return Ok(None);
        }
        if let Some(first) = ents.first() {
            if index.checked_add(1) != Some(first.index) {
                return Err(Error::Invariant(format!(
                    "entry {} does not follow index {}",
                    first.index, index
                )));
            }
            check_consecutive(&ents)?;
        }
        let last_new = index + ents.len() as u64;
        let ci = self.find_conflict(&ents);
        if ci != 0 {
            if ci <= self.committed {
                return Err(Error::Invariant(format!(
                    "entry {} conflict with committed entry [committed({})]",
                    ci, self.committed
                )));
            }
            // ents[0].index == index + 1 and ci is the index of one of them:
            // the entries from there on move into the log.
            let start = (ci - (index + 1)) as usize;
            ents.drain(..start);
            self.append(&mut ents)?;
        }
        self.commit_to(committed.min(last_new))?;
        Ok(Some(last_new))
    }

    /// Moves `ents` (consecutive indexes) into the unstable log, replacing
    /// the entries from `ents[0].index` on, and returns the new last index;
    /// `ents` is left empty, with its capacity, for the caller to reuse.
    ///
    /// Returns [`Error::Invariant`] (log and `ents` unchanged) when that
    /// would replace a committed entry, leave a gap, or the entries are not
    /// consecutive.
    pub fn append(&mut self, ents: &mut Vec<Entry>) -> Result<u64> {
        let Some(first) = ents.first() else {
            return Ok(self.last_index());
        };
        match first.index.checked_sub(1) {
            Some(after) if after >= self.committed => {}
            _ => {
                return Err(Error::Invariant(format!(
                    "after({}) is out of range [committed({})]",
                    first.index as i128 - 1,
                    self.committed
                )))
            }
        }
        self.unstable.truncate_and_append(ents)?;
        Ok(self.last_index())
    }

    /// The index of the first entry of `ents` that is not in this log with
    /// the same term, or 0 when all of them are. Logs a line when an
    /// existing entry has another term.
    pub fn find_conflict(&self, ents: &[Entry]) -> u64 {
        for ne in ents {
            if !self.match_term(ne.index, ne.term) {
                if ne.index <= self.last_index() {
                    let existing = self.zero_term_on_out_of_bounds(self.term(ne.index));
                    crate::raft_log!(
                        self.logger,
                        Level::Info,
                        "found conflict at index {} [existing term: {}, conflicting term: {}]",
                        ne.index,
                        existing,
                        ne.term
                    );
                }
                return ne.index;
            }
        }
        0
    }

    /// The largest index `<= index` whose term is `<= term` or unknown, and
    /// that term (0 when unknown): a guess of where this log stops matching
    /// a log that has entry `(index, term)`.
    pub fn find_conflict_by_term(&self, index: u64, term: u64) -> (u64, u64) {
        let mut index = index;
        while index > 0 {
            match self.term(index) {
                // Compacted or not stored: it may match.
                Err(_) => return (index, 0),
                Ok(our) if our <= term => return (index, our),
                Ok(_) => index -= 1,
            }
        }
        (0, 0)
    }

    /// The unstable entries not already being written to storage.
    pub fn next_unstable_ents(&self) -> &[Entry] {
        self.unstable.next_entries()
    }

    /// True when there are unstable entries not already being written.
    pub fn has_next_unstable_ents(&self) -> bool {
        !self.next_unstable_ents().is_empty()
    }

    /// True when there are unstable entries, being written or not.
    pub fn has_next_or_in_progress_unstable_ents(&self) -> bool {
        !self.unstable.entries.is_empty()
    }

    /// The unstable snapshot, if it is not already being written.
    pub fn next_unstable_snapshot(&self) -> Option<&Snapshot> {
        self.unstable.next_snapshot()
    }

    /// True when there is an unstable snapshot not already being written.
    pub fn has_next_unstable_snapshot(&self) -> bool {
        self.unstable.next_snapshot().is_some()
    }

    /// True when there is an unstable snapshot, being written or not.
    pub fn has_next_or_in_progress_snapshot(&self) -> bool {
        self.unstable.snapshot.is_some()
    }

    /// The committed entries to hand to the application next: those in
    /// `(applying, max_appliable_index]`, within the remaining
    /// `max_applying_ents_size` budget (at least one entry). Nothing while
    /// application is paused or a snapshot is pending. With `allow_unstable`
    /// false only entries already in stable storage are returned.
    #[cfg(any(test, feature = "test-internals"))]
    pub fn next_committed_ents(&self, allow_unstable: bool) -> Vec<Entry> {
        self.next_committed_ents_sized(allow_unstable).0
    }

    /// The committed entries to hand to the application next (see
    /// `next_committed_ents`) with their total encoded size (what
    /// [`accept_applying`](Self::accept_applying) counts).
    pub(crate) fn next_committed_ents_sized(&self, allow_unstable: bool) -> (Vec<Entry>, u64) {
        if self.applying_ents_paused || self.has_next_or_in_progress_snapshot() {
            return (Vec::new(), 0);
        }
        let lo = self.applying.saturating_add(1);
        let hi = self.max_appliable_index(allow_unstable).saturating_add(1);
        if lo >= hi {
            return (Vec::new(), 0);
        }
        // A zero budget (a zero limit) still hands out one entry at a time.
        let max_size = self
            .max_applying_ents_size
            .saturating_sub(self.applying_ents_size);
        match self.slice_sized(lo, hi, max_size) {
            Ok(sized) => sized,
            Err(e) => {
                self.record_fault(Error::Invariant(format!(
                    "unexpected error when getting unapplied entries ({e})"
                )));
                (Vec::new(), 0)
            }
        }
    }

    /// True when [`next_committed_ents_sized`](Self::next_committed_ents_sized) would
    /// return something (without reading the entries).
    pub fn has_next_committed_ents(&self, allow_unstable: bool) -> bool {
        if self.applying_ents_paused || self.has_next_or_in_progress_snapshot() {
            // With a snapshot pending, entries are not handed out: which
            // one to apply first would be unclear.
            return false;
        }
        self.applying < self.max_appliable_index(allow_unstable)
    }

    /// The highest committed index that may be applied: `committed`, or
    /// with `allow_unstable` false the last index known to be stable if that
    /// is lower.
    pub fn max_appliable_index(&self, allow_unstable: bool) -> u64 {
        if allow_unstable {
            self.committed
        } else {
            self.committed.min(self.unstable.offset.saturating_sub(1))
        }
    }

    /// The current snapshot: the unstable one if any, else the storage's.
    /// A storage error other than
    /// [`StorageError::SnapshotTemporarilyUnavailable`] is also kept as the
    /// fault.
    pub fn snapshot(&self) -> Result<Snapshot> {
        if let Some(s) = &self.unstable.snapshot {
            return Ok(s.clone());
        }
        let res = self.store.snapshot().and_then(|s| {
            check_store_index("snapshot index", s.metadata.index)?;
            check_store_index("snapshot term", s.metadata.term)?;
            Ok(s)
        });
        res.inspect_err(|e| {
            if !matches!(
                e,
                Error::Store(StorageError::SnapshotTemporarilyUnavailable)
            ) {
                self.record_fault(e.clone());
            }
        })
    }

    /// Raises the commit index to `to` (it never decreases).
    /// [`Error::Invariant`] when `to` is beyond the last index.
    pub fn commit_to(&mut self, to: u64) -> Result<()> {
        if self.committed < to {
            let last = self.last_index();
            if last < to {
                return Err(Error::Invariant(format!(
                    "tocommit({to}) is out of range [lastIndex({last})]. Was the raft log corrupted, truncated, or lost?"
                )));
            }
            self.committed = to;
        }
        Ok(())
    }

    /// Commits up to `max_index` if that is beyond the commit index and the
    /// entry there has term `term` (a leader only commits entries of its own
    /// term by counting). Returns whether the commit index moved.
    pub fn maybe_commit(&mut self, max_index: u64, term: u64) -> bool {
        // The `mutation-commit-old-term` feature breaks the rule on purpose
        // (commits entries of earlier terms by counting replicas, Raft
        // §5.4.2), to show the simulation catches it (README).
        let of_this_term = cfg!(feature = "mutation-commit-old-term")
            || self.zero_term_on_out_of_bounds(self.term(max_index)) == term;
        if max_index > self.committed && term != 0 && of_this_term {
            return self.commit_to(max_index).is_ok();
        }
        false
    }

    /// Records that entries up to `i` were applied, `size` being the encoded
    /// size of the acknowledged entries; resumes handing out entries once
    /// under the limit. [`Error::Invariant`] when `i` is not in
    /// `[applied, committed]`.
    pub fn applied_to(&mut self, i: u64, size: u64) -> Result<()> {
        if self.committed < i || i < self.applied {
            return Err(Error::Invariant(format!(
                "applied({}) is out of range [prevApplied({}), committed({})]",
                i, self.applied, self.committed
            )));
        }
        self.applied = i;
        self.applying = self.applying.max(i);
        self.applying_ents_size = self.applying_ents_size.saturating_sub(size);
        self.applying_ents_paused = self.applying_ents_size >= self.max_applying_ents_size;
        Ok(())
    }

    /// Records that entries up to `i` (`size` encoded bytes) were handed to
    /// the application, and pauses handing out more when the limit is
    /// reached or the handed-out batch was cut by it.
    /// [`Error::Invariant`] when `i` is beyond the commit index.
    pub fn accept_applying(&mut self, i: u64, size: u64, allow_unstable: bool) -> Result<()> {
        if self.committed < i {
            return Err(Error::Invariant(format!(
                "applying({}) is out of range [prevApplying({}), committed({})]",
                i, self.applying, self.committed
            )));
        }
        self.applying = i;
        self.applying_ents_size = self.applying_ents_size.saturating_add(size);
        // Pause when the budget is used up, or when the batch stopped short
        // of what could be applied: the next entry would exceed the budget.
        self.applying_ents_paused = self.applying_ents_size >= self.max_applying_ents_size
            || i < self.max_appliable_index(allow_unstable);
        Ok(())
    }

    /// Records that entries up to `(index, term)` are in stable storage.
    pub fn stable_to(&mut self, index: u64, term: u64) {
        self.unstable.stable_to(index, term);
    }

    /// Records that the snapshot at index `i` is in stable storage.
    pub fn stable_snap_to(&mut self, i: u64) {
        self.unstable.stable_snap_to(i);
    }

    /// Marks the current unstable entries and snapshot as being written, so
    /// they are not handed out again.
    pub fn accept_unstable(&mut self) {
        self.unstable.accept_in_progress();
    }

    /// The entries from `i` to the end, within `max_size` (at least one).
    #[cfg(any(test, feature = "test-internals"))]
    pub fn entries(&self, i: u64, max_size: u64) -> Result<Vec<Entry>> {
        self.entries_sized(i, max_size).map(|(ents, _)| ents)
    }

    /// The entries from `i` to the end, within `max_size` (at least one),
    /// with their total encoded size.
    pub(crate) fn entries_sized(&self, i: u64, max_size: u64) -> Result<(Vec<Entry>, u64)> {
        let last = self.last_index();
        if i > last {
            return Ok((Vec::new(), 0));
        }
        self.slice_sized(i, last.saturating_add(1), max_size)
    }

    #[cfg(any(test, feature = "test-internals"))]
    /// Every entry in the log. On an unexpected error the fault is kept and
    /// an empty list returned.
    pub fn all_entries(&self) -> Vec<Entry> {
        for _ in 0..ALL_ENTRIES_RETRIES {
            match self.entries(self.first_index(), crate::NO_LIMIT) {
                Ok(ents) => return ents,
                // A compaction raced with us: try again.
                Err(Error::Store(StorageError::Compacted)) => continue,
                Err(e) => {
                    self.record_fault(e);
                    return Vec::new();
                }
            }
        }
        self.record_fault(Error::Invariant(
            "all entries: the log kept being compacted while reading it".into(),
        ));
        Vec::new()
    }

    /// Replaces the log with the snapshot `snap` (kept unstable until it is
    /// persisted) and commits up to its index.
    pub fn restore(&mut self, snap: Snapshot) {
        crate::raft_log!(
            self.logger,
            Level::Info,
            "log [{}] starts to restore snapshot [index: {}, term: {}]",
            self,
            snap.metadata.index,
            snap.metadata.term
        );
        self.committed = snap.metadata.index;
        self.unstable.restore(snap);
    }

    /// The entries in `[lo, hi)`, the stored ones first then the unstable
    /// ones, limited to `max_size` encoded bytes (at least one entry).
    ///
    /// Errors: [`StorageError::Compacted`] when `lo` is below the first
    /// index; [`Error::Invariant`] when the range is inverted or goes past
    /// the last index. A storage failure is returned and kept as the fault.
    pub fn slice(&self, lo: u64, hi: u64, max_size: u64) -> Result<Vec<Entry>> {
        self.slice_sized(lo, hi, max_size).map(|(ents, _)| ents)
    }

    /// [`slice`](Self::slice), with the total encoded size of the entries
    /// returned: each entry's size is computed once, here, and callers that
    /// need the total (an append's size, the applying budget) reuse it.
    pub(crate) fn slice_sized(&self, lo: u64, hi: u64, max_size: u64) -> Result<(Vec<Entry>, u64)> {
        self.check_out_of_bounds(lo, hi)?;
        if lo == hi {
            return Ok((Vec::new(), 0));
        }
        let offset = self.unstable.offset;
        let mut ents = Vec::new();
        let mut size = 0u64;
        if lo < offset {
            let stored_hi = hi.min(offset);
            let (stored, stored_size) = match self.store.entries_sized(lo, stored_hi, max_size) {
                Ok(v) => v,
                Err(Error::Store(StorageError::Compacted)) => {
                    return Err(StorageError::Compacted.into())
                }
                Err(Error::Store(StorageError::Unavailable)) => {
                    let e = Error::Invariant(format!(
                        "entries[{lo}:{stored_hi}) is unavailable from storage"
                    ));
                    self.record_fault(e.clone());
                    return Err(e);
                }
                Err(e) => {
                    self.record_fault(e.clone());
                    return Err(e);
                }
            };
            ents = stored;
            size = stored_size;
            if (ents.len() as u64) < stored_hi - lo {
                // Cut by the size limit: returned as the storage gave them
                // (etcd does not limit them again either).
                return Ok((ents, size));
            }
            if size > max_size && ents.len() > 1 {
                // The storage ignored the limit: keep the longest prefix
                // within it (at least one entry), as etcd's limitSize over
                // the whole result would.
                let keep;
                (keep, size) = prefix_within(&ents, 0, max_size, true);
                ents.truncate(keep);
                return Ok((ents, size));
            }
        }
        if hi > offset {
            let unstable = self.unstable.slice(lo.max(offset), hi)?;
            // Append as much as fits, by the same rule.
            let keep;
            (keep, size) = prefix_within(unstable, size, max_size, ents.is_empty());
            ents.extend_from_slice(&unstable[..keep]);
        }
        Ok((ents, size))
    }

    /// Checks `first_index() <= lo <= hi <= last_index() + 1`.
    fn check_out_of_bounds(&self, lo: u64, hi: u64) -> Result<()> {
        if lo > hi {
            return Err(Error::Invariant(format!("invalid slice {lo} > {hi}")));
        }
        // The first index is at most the unstable offset, so a range that
        // starts there needs no storage call.
        if lo < self.unstable.offset && lo < self.first_index() {
            return Err(StorageError::Compacted.into());
        }
        let li = self.last_index();
        if hi > li.saturating_add(1) {
            return Err(Error::Invariant(format!(
                "slice[{lo},{hi}) out of bound [{},{li}]",
                self.first_index()
            )));
        }
        Ok(())
    }

    /// Calls `f` on the entries in `[lo, hi)` in pages of at most
    /// `page_size` encoded bytes (at least one entry per page), stopping at
    /// the first error.
    pub fn scan(
        &self,
        lo: u64,
        hi: u64,
        page_size: u64,
        mut f: impl FnMut(&[Entry]) -> Result<()>,
    ) -> Result<()> {
        let mut lo = lo;
        while lo < hi {
            let ents = self.slice(lo, hi, page_size)?;
            if ents.is_empty() {
                return Err(Error::Invariant(format!("got 0 entries in [{lo}, {hi})")));
            }
            f(&ents)?;
            lo += ents.len() as u64;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
