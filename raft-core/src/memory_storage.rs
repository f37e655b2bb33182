//! [`MemoryStorage`]: a [`Storage`] that keeps the log, hard state and
//! snapshot in memory, with etcd's `MemoryStorage` semantics.
//!
//! The log is kept as a vector whose first element is a dummy entry at the
//! `(index, term)` of the last compaction point (initially `(0, 0)`). Its term
//! stays available through [`Storage::term`] for log matching even though the
//! entry itself is gone.

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use bytes::Bytes;

use crate::eraftpb::{ConfState, Entry, HardState, Snapshot};
use crate::errors::{Error, Result, StorageError};
use crate::storage::{RaftState, Storage};

/// The state behind a [`MemoryStorage`] handle.
#[derive(Debug)]
struct MemoryStorageCore {
    hard_state: HardState,
    snapshot: Snapshot,
    /// `ents[0]` is a dummy entry at the compaction point; `ents[i]` has log
    /// index `ents[0].index + i`.
    ents: Vec<Entry>,
}

impl Default for MemoryStorageCore {
    fn default() -> Self {
        MemoryStorageCore {
            hard_state: HardState::default(),
            snapshot: Snapshot::default(),
            ents: vec![dummy_entry(0, 0)],
        }
    }
}

fn dummy_entry(index: u64, term: u64) -> Entry {
    Entry {
        index,
        term,
        ..Default::default()
    }
}

impl MemoryStorageCore {
    fn offset(&self) -> u64 {
        self.ents[0].index
    }

    fn first_index(&self) -> u64 {
        self.offset().saturating_add(1)
    }

    fn last_index(&self) -> u64 {
        self.offset() + (self.ents.len() as u64 - 1)
    }
}

/// An in-memory [`Storage`], as etcd's `MemoryStorage`.
///
/// A `MemoryStorage` is a cheap handle: clones share the same state, so the
/// application can append to the log through one handle while the node reads
/// through another. All methods take `&self` and lock internally; a poisoned
/// lock is recovered rather than turned into a panic.
#[derive(Clone, Default)]
pub struct MemoryStorage {
    core: Arc<RwLock<MemoryStorageCore>>,
}

impl std::fmt::Debug for MemoryStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStorage")
            .field("core", &*self.rl())
            .finish()
    }
}

impl MemoryStorage {
    /// An empty storage: no entries, an empty snapshot and hard state.
    pub fn new() -> MemoryStorage {
        MemoryStorage::default()
    }

    /// An empty storage whose (index 0) snapshot metadata carries `cs`, so
    /// that [`Storage::initial_state`] reports that membership.
    pub fn new_with_conf_state(cs: ConfState) -> MemoryStorage {
        let s = MemoryStorage::new();
        s.wl().snapshot.metadata.conf_state = cs;
        s
    }

    fn rl(&self) -> RwLockReadGuard<'_, MemoryStorageCore> {
        self.core.read().unwrap_or_else(|e| e.into_inner())
    }

    fn wl(&self) -> RwLockWriteGuard<'_, MemoryStorageCore> {
        self.core.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Saves the current hard state.
    pub fn set_hard_state(&self, hs: HardState) {
        self.wl().hard_state = hs;
    }

    /// The saved hard state.
    pub fn hard_state(&self) -> HardState {
        self.rl().hard_state
    }

    /// Replaces the whole content of the storage with `snap`: the log becomes
    /// empty with its compaction point at the snapshot's `(index, term)`.
    ///
    /// Returns [`StorageError::SnapshotOutOfDate`] when the held snapshot is
    /// at least as recent as `snap`, and [`Error::Invariant`] when its index
    /// or term is beyond [`MAX_TERM_OR_INDEX`](crate::MAX_TERM_OR_INDEX).
    pub fn apply_snapshot(&self, snap: Snapshot) -> Result<()> {
        crate::storage::check_snapshot(&snap)?;
        let mut core = self.wl();
        if core.snapshot.metadata.index >= snap.metadata.index {
            return Err(StorageError::SnapshotOutOfDate.into());
        }
        core.ents = vec![dummy_entry(snap.metadata.index, snap.metadata.term)];
        core.snapshot = snap;
        Ok(())
    }

    /// Persists what a Ready asks for, in order: its snapshot (when not
    /// empty), its entries, then its hard state. Stops at the first error,
    /// as [`apply_snapshot`](Self::apply_snapshot) and
    /// [`append`](Self::append) return it.
    pub fn persist(&self, hs: Option<HardState>, snap: &Snapshot, ents: &[Entry]) -> Result<()> {
        if !snap.is_empty() {
            self.apply_snapshot(snap.clone())?;
        }
        self.append(ents)?;
        if let Some(hs) = hs {
            self.set_hard_state(hs);
        }
        Ok(())
    }

    /// Makes a snapshot at log index `i` with the application state `data`,
    /// retrievable later with [`Storage::snapshot`], and returns it. When
    /// `cs` is given it becomes the snapshot's membership; otherwise the
    /// previous snapshot's membership is kept.
    ///
    /// Errors: [`StorageError::SnapshotOutOfDate`] when `i` is not newer than
    /// the held snapshot, [`StorageError::Compacted`] when entry `i` was
    /// compacted away, [`Error::Invariant`] when `i` is beyond the last index.
    pub fn create_snapshot(&self, i: u64, cs: Option<ConfState>, data: Bytes) -> Result<Snapshot> {
        let mut core = self.wl();
        if i <= core.snapshot.metadata.index {
            return Err(StorageError::SnapshotOutOfDate.into());
        }
        let offset = core.offset();
        if i > core.last_index() {
            return Err(Error::Invariant(format!(
                "snapshot {} is out of bound lastindex({})",
                i,
                core.last_index()
            )));
        }
        if i < offset {
            return Err(StorageError::Compacted.into());
        }
        let term = core.ents[(i - offset) as usize].term;
        let snap = &mut core.snapshot;
        snap.metadata.index = i;
        snap.metadata.term = term;
        if let Some(cs) = cs {
            snap.metadata.conf_state = cs;
        }
        snap.data = if data.is_empty() { None } else { Some(data) };
        Ok(snap.clone())
    }

    /// Discards the entries before `compact_index`; entry `compact_index`
    /// becomes the new compaction point (its term stays available). The
    /// application must not compact beyond what it has applied.
    ///
    /// Errors: [`StorageError::Compacted`] when `compact_index` is at or below
    /// the current compaction point, [`Error::Invariant`] when it is beyond
    /// the last index.
    pub fn compact(&self, compact_index: u64) -> Result<()> {
        let mut core = self.wl();
        let offset = core.offset();
        if compact_index <= offset {
            return Err(StorageError::Compacted.into());
        }
        if compact_index > core.last_index() {
            return Err(Error::Invariant(format!(
                "compact {} is out of bound lastindex({})",
                compact_index,
                core.last_index()
            )));
        }
        let i = (compact_index - offset) as usize;
        let term = core.ents[i].term;
        core.ents.drain(..i);
        core.ents[0] = dummy_entry(compact_index, term);
        Ok(())
    }

    /// Appends `entries` (consecutive indexes) to the log. Entries at or
    /// below the compaction point are ignored; existing entries from the
    /// first new index on are replaced.
    ///
    /// Returns [`Error::Invariant`] (and changes nothing) when the entries
    /// are not consecutive, would leave a gap after the last index, or go
    /// beyond [`MAX_TERM_OR_INDEX`](crate::MAX_TERM_OR_INDEX).
    pub fn append(&self, entries: &[Entry]) -> Result<()> {
        let mut core = self.wl();
        if let Some((skip, keep)) = Self::append_plan(&core, entries)? {
            core.ents.truncate(keep);
            core.ents.extend_from_slice(&entries[skip..]);
        }
        Ok(())
    }

    /// [`append`](Self::append), moving the entries in instead of cloning
    /// them: for a Ready's entries, which the application owns once it
    /// has the Ready (`storage.append_owned(std::mem::take(&mut
    /// rd.entries))`). On an error nothing is stored and the entries are
    /// dropped.
    pub fn append_owned(&self, mut entries: Vec<Entry>) -> Result<()> {
        let mut core = self.wl();
        if let Some((skip, keep)) = Self::append_plan(&core, &entries)? {
            core.ents.truncate(keep);
            if skip > 0 {
                entries.drain(..skip);
            }
            core.ents.append(&mut entries);
        }
        Ok(())
    }

    /// Checks `entries` for an append and says what to do: `None` when
    /// nothing is to be stored (no entries, or all at or below the
    /// compaction point), else how many of them to skip (those compacted)
    /// and how many stored entries to keep before them.
    fn append_plan(core: &MemoryStorageCore, entries: &[Entry]) -> Result<Option<(usize, usize)>> {
        let (Some(first_new), Some(last_new)) = (entries.first(), entries.last()) else {
            return Ok(None);
        };
        crate::storage::check_append(entries)?;
        let first = core.first_index();
        if last_new.index < first {
            // Everything offered is already compacted.
            return Ok(None);
        }
        let skip = first.saturating_sub(first_new.index) as usize;
        let keep = (entries[skip].index - core.offset()) as usize;
        if keep > core.ents.len() {
            return Err(Error::Invariant(format!(
                "missing log entry [last: {}, append at: {}]",
                core.last_index(),
                entries[skip].index
            )));
        }
        Ok(Some((skip, keep)))
    }
}

impl Storage for MemoryStorage {
    fn initial_state(&self) -> Result<RaftState> {
        let core = self.rl();
        Ok(RaftState {
            hard_state: core.hard_state,
            conf_state: core.snapshot.metadata.conf_state.clone(),
        })
    }

    fn entries(&self, low: u64, high: u64, max_size: u64) -> Result<Vec<Entry>> {
        Ok(self.entries_sized(low, high, max_size)?.0)
    }

    fn entries_sized(&self, low: u64, high: u64, max_size: u64) -> Result<(Vec<Entry>, u64)> {
        let core = self.rl();
        let offset = core.offset();
        if low <= offset {
            return Err(StorageError::Compacted.into());
        }
        if high > core.last_index().saturating_add(1) {
            return Err(StorageError::Unavailable.into());
        }
        if core.ents.len() == 1 {
            // Only the dummy entry.
            return Err(StorageError::Unavailable.into());
        }
        if low > high {
            return Err(Error::Invariant(format!(
                "invalid entries range {low} > {high}"
            )));
        }
        let range = &core.ents[(low - offset) as usize..(high - offset) as usize];
        // The longest prefix within max_size, but at least one entry.
        let (keep, size) = crate::proto_ext::prefix_within(range, 0, max_size, true);
        Ok((range[..keep].to_vec(), size))
    }

    fn term(&self, idx: u64) -> Result<u64> {
        let core = self.rl();
        let offset = core.offset();
        if idx < offset {
            return Err(StorageError::Compacted.into());
        }
        match core.ents.get((idx - offset) as usize) {
            Some(e) => Ok(e.term),
            None => Err(StorageError::Unavailable.into()),
        }
    }

    fn first_index(&self) -> Result<u64> {
        Ok(self.rl().first_index())
    }

    fn last_index(&self) -> Result<u64> {
        Ok(self.rl().last_index())
    }

    fn snapshot(&self) -> Result<Snapshot> {
        Ok(self.rl().snapshot.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto_ext::limit_size;

    fn ent(index: u64, term: u64) -> Entry {
        dummy_entry(index, term)
    }

    /// A storage holding exactly `ents` (the first one is the dummy).
    fn storage_with(ents: &[Entry]) -> MemoryStorage {
        let s = MemoryStorage::new();
        s.wl().ents = ents.to_vec();
        s
    }

    #[test]
    fn persist_applies_snapshot_then_entries_then_hard_state() {
        let s = storage_with(&[ent(3, 3), ent(4, 4)]);
        let mut snap = Snapshot::default();
        snap.metadata.index = 5;
        snap.metadata.term = 5;
        let hs = HardState {
            term: 6,
            vote: 1,
            commit: 5,
        };
        s.persist(Some(hs), &snap, &[ent(6, 6), ent(7, 6)]).unwrap();
        assert_eq!(s.first_index().unwrap(), 6);
        assert_eq!(s.last_index().unwrap(), 7);
        assert_eq!(s.snapshot().unwrap().metadata.index, 5);
        assert_eq!(s.hard_state(), hs);
        // An out-of-date snapshot stops it before the entries and hard state.
        let later = HardState { commit: 7, ..hs };
        assert_eq!(
            s.persist(Some(later), &snap, &[ent(8, 6)]),
            Err(StorageError::SnapshotOutOfDate.into())
        );
        assert_eq!(s.last_index().unwrap(), 7);
        assert_eq!(s.hard_state(), hs);
        // Without a snapshot: a gap is refused and the hard state kept.
        assert!(matches!(
            s.persist(Some(later), &Snapshot::default(), &[ent(9, 6)]),
            Err(Error::Invariant(_))
        ));
        assert_eq!(s.hard_state(), hs);
        s.persist(Some(later), &Snapshot::default(), &[ent(8, 6)])
            .unwrap();
        assert_eq!((s.last_index().unwrap(), s.hard_state()), (8, later));
    }

    fn stored(s: &MemoryStorage) -> Vec<Entry> {
        s.rl().ents.clone()
    }

    fn compacted() -> Error {
        StorageError::Compacted.into()
    }

    fn unavailable() -> Error {
        StorageError::Unavailable.into()
    }

    fn out_of_date() -> Error {
        StorageError::SnapshotOutOfDate.into()
    }

    fn base() -> Vec<Entry> {
        vec![ent(3, 3), ent(4, 4), ent(5, 5)]
    }

    #[test]
    fn new_storage_is_empty() {
        let s = MemoryStorage::new();
        assert_eq!(s.first_index().unwrap(), 1);
        assert_eq!(s.last_index().unwrap(), 0);
        assert_eq!(s.term(0).unwrap(), 0);
        assert_eq!(s.term(1), Err(unavailable()));
        assert!(s.snapshot().unwrap().is_empty());
        assert_eq!(s.initial_state().unwrap(), RaftState::default());
        assert_eq!(s.entries(1, 1, u64::MAX), Err(unavailable()));
    }

    #[test]
    fn term_cases() {
        let s = storage_with(&base());
        let cases = [
            (2, Err(compacted())),
            (3, Ok(3)),
            (4, Ok(4)),
            (5, Ok(5)),
            (6, Err(unavailable())),
        ];
        for (i, want) in cases {
            assert_eq!(s.term(i), want, "term({i})");
        }
    }

    #[test]
    fn entries_cases() {
        let ents = vec![ent(3, 3), ent(4, 4), ent(5, 5), ent(6, 6)];
        let sz = ents[1].size();
        let s = storage_with(&ents);
        let cases: Vec<(u64, u64, u64, Result<Vec<Entry>>)> = vec![
            (2, 6, u64::MAX, Err(compacted())),
            (3, 4, u64::MAX, Err(compacted())),
            (4, 5, u64::MAX, Ok(vec![ent(4, 4)])),
            (4, 6, u64::MAX, Ok(vec![ent(4, 4), ent(5, 5)])),
            (4, 7, u64::MAX, Ok(vec![ent(4, 4), ent(5, 5), ent(6, 6)])),
            // Even with a zero limit, one entry is returned.
            (4, 7, 0, Ok(vec![ent(4, 4)])),
            (4, 7, sz * 2, Ok(vec![ent(4, 4), ent(5, 5)])),
            (4, 7, sz * 3 - 1, Ok(vec![ent(4, 4), ent(5, 5)])),
            (4, 7, sz * 3, Ok(vec![ent(4, 4), ent(5, 5), ent(6, 6)])),
            (4, 8, u64::MAX, Err(unavailable())),
            (
                5,
                4,
                u64::MAX,
                Err(Error::Invariant("invalid entries range 5 > 4".into())),
            ),
            (5, 5, u64::MAX, Ok(vec![])),
        ];
        for (lo, hi, max, want) in cases {
            assert_eq!(s.entries(lo, hi, max), want, "entries({lo}, {hi}, {max})");
        }
    }

    #[test]
    fn entries_limit_agrees_with_limit_size() {
        let ents: Vec<Entry> = (1..=8u64)
            .map(|i| Entry::new(1, i, vec![b'x'; (i * 7 % 5) as usize]))
            .collect();
        let s = MemoryStorage::new();
        s.append(&ents).unwrap();
        for max in 0..120u64 {
            let mut want = ents.clone();
            limit_size(&mut want, max);
            assert_eq!(s.entries(1, 9, max).unwrap(), want, "max {max}");
        }
    }

    #[test]
    fn first_and_last_index() {
        let s = storage_with(&base());
        assert_eq!(s.first_index().unwrap(), 4);
        assert_eq!(s.last_index().unwrap(), 5);
        s.append(&[ent(6, 5)]).unwrap();
        assert_eq!(s.last_index().unwrap(), 6);
        s.compact(4).unwrap();
        assert_eq!(s.first_index().unwrap(), 5);
        assert_eq!(s.last_index().unwrap(), 6);
    }

    #[test]
    fn compact_cases() {
        let cases: Vec<(u64, Result<()>, u64, u64, usize)> = vec![
            (2, Err(compacted()), 3, 3, 3),
            (3, Err(compacted()), 3, 3, 3),
            (4, Ok(()), 4, 4, 2),
            (5, Ok(()), 5, 5, 1),
            (
                6,
                Err(Error::Invariant(
                    "compact 6 is out of bound lastindex(5)".into(),
                )),
                3,
                3,
                3,
            ),
        ];
        for (i, want, windex, wterm, wlen) in cases {
            let s = storage_with(&base());
            assert_eq!(s.compact(i), want, "compact({i})");
            let ents = stored(&s);
            assert_eq!(ents[0].index, windex, "compact({i}) index");
            assert_eq!(ents[0].term, wterm, "compact({i}) term");
            assert_eq!(ents.len(), wlen, "compact({i}) len");
        }
    }

    #[test]
    fn compact_turns_entry_into_data_free_dummy() {
        let s = MemoryStorage::new();
        s.append(&[Entry::new(1, 1, "a"), Entry::new(1, 2, "b")])
            .unwrap();
        s.compact(1).unwrap();
        assert_eq!(stored(&s)[0], ent(1, 1));
        assert_eq!(s.term(1).unwrap(), 1);
        assert_eq!(
            s.entries(2, 3, u64::MAX).unwrap(),
            vec![Entry::new(1, 2, "b")]
        );
    }

    #[test]
    fn create_snapshot_cases() {
        let cs = ConfState {
            voters: vec![1, 2, 3],
            ..Default::default()
        };
        let data = Bytes::from_static(b"data");
        let s = storage_with(&base());
        let snap = s
            .create_snapshot(4, Some(cs.clone()), data.clone())
            .unwrap();
        assert_eq!(snap.metadata.index, 4);
        assert_eq!(snap.metadata.term, 4);
        assert_eq!(snap.metadata.conf_state, cs);
        assert_eq!(snap.data.as_deref(), Some(&b"data"[..]));
        assert_eq!(s.snapshot().unwrap(), snap);
        // The log is not compacted by creating a snapshot.
        assert_eq!(s.first_index().unwrap(), 4);

        // Without a conf state, the previous one is kept.
        let snap = s.create_snapshot(5, None, data.clone()).unwrap();
        assert_eq!((snap.metadata.index, snap.metadata.term), (5, 5));
        assert_eq!(snap.metadata.conf_state, cs);

        assert_eq!(s.create_snapshot(5, None, data.clone()), Err(out_of_date()));
        assert_eq!(s.create_snapshot(4, None, data.clone()), Err(out_of_date()));
        assert_eq!(
            s.create_snapshot(6, None, data),
            Err(Error::Invariant(
                "snapshot 6 is out of bound lastindex(5)".into()
            ))
        );
        assert_eq!(s.snapshot().unwrap().metadata.index, 5);
    }

    #[test]
    fn create_snapshot_below_compaction_point_is_an_error() {
        let s = MemoryStorage::new();
        s.append(&[ent(1, 1), ent(2, 1), ent(3, 2)]).unwrap();
        s.compact(2).unwrap();
        assert_eq!(s.create_snapshot(1, None, Bytes::new()), Err(compacted()));
        let snap = s.create_snapshot(3, None, Bytes::new()).unwrap();
        assert_eq!((snap.metadata.index, snap.metadata.term), (3, 2));
        assert_eq!(snap.data, None);
    }

    #[test]
    fn apply_snapshot_cases() {
        let cs = ConfState {
            voters: vec![1, 2, 3],
            ..Default::default()
        };
        let snap = |index, term| Snapshot {
            data: Some(Bytes::from_static(b"data")),
            metadata: crate::eraftpb::SnapshotMetadata {
                conf_state: cs.clone(),
                index,
                term,
            },
        };
        let s = MemoryStorage::new();
        s.append(&[ent(1, 1), ent(2, 1)]).unwrap();
        s.apply_snapshot(snap(4, 4)).unwrap();
        assert_eq!(s.snapshot().unwrap(), snap(4, 4));
        assert_eq!(stored(&s), vec![ent(4, 4)]);
        assert_eq!(s.first_index().unwrap(), 5);
        assert_eq!(s.last_index().unwrap(), 4);
        assert_eq!(s.term(4).unwrap(), 4);
        assert_eq!(s.initial_state().unwrap().conf_state, cs);

        assert_eq!(s.apply_snapshot(snap(3, 3)), Err(out_of_date()));
        assert_eq!(s.apply_snapshot(snap(4, 4)), Err(out_of_date()));
        assert_eq!(s.snapshot().unwrap().metadata.index, 4);
    }

    #[test]
    fn append_cases() {
        let cases: Vec<(Vec<Entry>, Result<()>, Vec<Entry>)> = vec![
            (vec![ent(1, 1), ent(2, 2)], Ok(()), base()),
            (vec![ent(3, 3), ent(4, 4), ent(5, 5)], Ok(()), base()),
            (
                vec![ent(3, 3), ent(4, 6), ent(5, 6)],
                Ok(()),
                vec![ent(3, 3), ent(4, 6), ent(5, 6)],
            ),
            (
                vec![ent(3, 3), ent(4, 4), ent(5, 5), ent(6, 5)],
                Ok(()),
                vec![ent(3, 3), ent(4, 4), ent(5, 5), ent(6, 5)],
            ),
            // Overlapping the compacted prefix: the prefix is ignored.
            (
                vec![ent(2, 3), ent(3, 3), ent(4, 5)],
                Ok(()),
                vec![ent(3, 3), ent(4, 5)],
            ),
            // Truncate the existing entries and append.
            (vec![ent(4, 5)], Ok(()), vec![ent(3, 3), ent(4, 5)]),
            // Direct append.
            (
                vec![ent(6, 5)],
                Ok(()),
                vec![ent(3, 3), ent(4, 4), ent(5, 5), ent(6, 5)],
            ),
            // A gap.
            (
                vec![ent(7, 5)],
                Err(Error::Invariant(
                    "missing log entry [last: 5, append at: 7]".into(),
                )),
                base(),
            ),
            // Not consecutive.
            (
                vec![ent(5, 5), ent(7, 5)],
                Err(Error::Invariant(
                    "appended entries are not consecutive: index 7 at position 1 follows 5".into(),
                )),
                base(),
            ),
            (vec![], Ok(()), base()),
        ];
        for (i, (ents, want, wents)) in cases.into_iter().enumerate() {
            let s = storage_with(&base());
            assert_eq!(s.append(&ents), want, "#{i}");
            assert_eq!(stored(&s), wents, "#{i}");
            // Moving the entries in does exactly the same.
            let s = storage_with(&base());
            assert_eq!(s.append_owned(ents), want, "#{i} owned");
            assert_eq!(stored(&s), wents, "#{i} owned");
        }
    }

    #[test]
    fn clones_share_state() {
        let a = MemoryStorage::new();
        let b = a.clone();
        a.append(&[ent(1, 1)]).unwrap();
        a.set_hard_state(HardState {
            term: 1,
            vote: 2,
            commit: 1,
        });
        assert_eq!(b.last_index().unwrap(), 1);
        assert_eq!(b.hard_state().vote, 2);
        assert_eq!(b.initial_state().unwrap().hard_state.commit, 1);
    }

    #[test]
    fn new_with_conf_state_reports_it() {
        let cs = ConfState {
            voters: vec![1, 2],
            learners: vec![3],
            ..Default::default()
        };
        let s = MemoryStorage::new_with_conf_state(cs.clone());
        assert_eq!(s.initial_state().unwrap().conf_state, cs);
        assert_eq!(s.last_index().unwrap(), 0);
    }

    #[test]
    fn poisoned_lock_is_recovered() {
        let s = MemoryStorage::new();
        let s2 = s.clone();
        let _ = std::thread::spawn(move || {
            let _g = s2.wl();
            panic!("poison the lock");
        })
        .join();
        assert!(s.core.is_poisoned());
        s.append(&[ent(1, 1)]).unwrap();
        assert_eq!(s.last_index().unwrap(), 1);
    }
}
