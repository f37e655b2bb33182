//! [`Unstable`]: the log entries and snapshot that have not been written to
//! the [`Storage`](crate::Storage) yet, as etcd's `unstable`.
//!
//! Besides holding new entries until they are handed out for persistence,
//! the unstable log keeps them while they are being written ("in
//! progress"), so that the rest of the log sees them until the application
//! reports them stable.

use std::fmt;
use std::sync::Arc;

use crate::eraftpb::{Entry, Snapshot};
use crate::errors::{Error, Result};
use crate::logger::{Level, Logger};

/// Entries and a snapshot not yet persisted. `entries[i]` has log index
/// `offset + i`.
pub struct Unstable {
    /// The incoming snapshot, if any.
    pub snapshot: Option<Snapshot>,
    /// Entries not yet written to storage.
    pub entries: Vec<Entry>,
    /// Log index of `entries[0]`.
    pub offset: u64,
    /// True while the snapshot is being written to storage.
    pub snapshot_in_progress: bool,
    /// `entries[..offset_in_progress - offset]` are being written to storage
    /// (exclusive bound, like `offset`; always `>= offset`).
    pub offset_in_progress: u64,
    /// Where log lines go.
    pub logger: Arc<dyn Logger>,
}

impl fmt::Debug for Unstable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Unstable")
            .field("snapshot", &self.snapshot)
            .field("entries", &self.entries)
            .field("offset", &self.offset)
            .field("snapshot_in_progress", &self.snapshot_in_progress)
            .field("offset_in_progress", &self.offset_in_progress)
            .finish()
    }
}

/// Checks that `ents` have consecutive indexes below `u64::MAX` (the log
/// positions use exclusive bounds, so index `u64::MAX` cannot be stored).
pub(crate) fn check_consecutive(ents: &[Entry]) -> Result<()> {
    if ents.last().is_some_and(|e| e.index == u64::MAX) {
        return Err(Error::Invariant(format!(
            "entry index {} is out of range",
            u64::MAX
        )));
    }
    for w in ents.windows(2) {
        if w[0].index.checked_add(1) != Some(w[1].index) {
            return Err(Error::Invariant(format!(
                "entries are not consecutive: index {} follows {}",
                w[1].index, w[0].index
            )));
        }
    }
    Ok(())
}

impl Unstable {
    /// An empty unstable log whose next entry will have index `offset`.
    pub fn new(offset: u64, logger: Arc<dyn Logger>) -> Unstable {
        Unstable {
            snapshot: None,
            entries: Vec::new(),
            offset,
            snapshot_in_progress: false,
            offset_in_progress: offset,
            logger,
        }
    }

    /// The index of the first entry that can exist after the unstable
    /// snapshot, if there is one.
    pub fn maybe_first_index(&self) -> Option<u64> {
        self.snapshot
            .as_ref()
            .map(|s| s.metadata.index.saturating_add(1))
    }

    /// The index of the last unstable entry, or of the unstable snapshot when
    /// there are no entries.
    pub fn maybe_last_index(&self) -> Option<u64> {
        if !self.entries.is_empty() {
            return Some(self.offset + (self.entries.len() as u64 - 1));
        }
        self.snapshot.as_ref().map(|s| s.metadata.index)
    }

    /// The term of entry `i` if the unstable log knows it (an unstable entry
    /// or the unstable snapshot's last entry).
    pub fn maybe_term(&self, i: u64) -> Option<u64> {
        if i < self.offset {
            return match &self.snapshot {
                Some(s) if s.metadata.index == i => Some(s.metadata.term),
                _ => None,
            };
        }
        let idx = usize::try_from(i - self.offset).ok()?;
        self.entries.get(idx).map(|e| e.term)
    }

    /// The entries that are not already being written to storage.
    pub fn next_entries(&self) -> &[Entry] {
        let in_progress = self.offset_in_progress.saturating_sub(self.offset);
        usize::try_from(in_progress)
            .ok()
            .and_then(|k| self.entries.get(k..))
            .unwrap_or(&[])
    }

    /// The snapshot, if there is one that is not already being written.
    pub fn next_snapshot(&self) -> Option<&Snapshot> {
        if self.snapshot_in_progress {
            return None;
        }
        self.snapshot.as_ref()
    }

    /// Marks every current entry and the snapshot as being written: they are
    /// no longer returned by [`next_entries`](Self::next_entries) and
    /// [`next_snapshot`](Self::next_snapshot).
    pub fn accept_in_progress(&mut self) {
        if let Some(last) = self.entries.last() {
            self.offset_in_progress = last.index.saturating_add(1);
        }
        if self.snapshot.is_some() {
            self.snapshot_in_progress = true;
        }
    }

    /// Records that the entries up to `(index, term)` were written to stable
    /// storage and drops them. Ignored (with a log line) when that entry is
    /// not in the unstable log, is the unstable snapshot, or has another term
    /// (it was replaced while being written).
    pub fn stable_to(&mut self, index: u64, term: u64) {
        let Some(gt) = self.maybe_term(index) else {
            crate::raft_log!(
                self.logger,
                Level::Info,
                "entry at index {} missing from unstable log; ignoring",
                index
            );
            return;
        };
        if index < self.offset {
            crate::raft_log!(
                self.logger,
                Level::Info,
                "entry at index {} matched unstable snapshot; ignoring",
                index
            );
            return;
        }
        if gt != term {
            crate::raft_log!(
                self.logger,
                Level::Info,
                "entry at (index,term)=({},{}) mismatched with entry at ({},{}) in unstable log; ignoring",
                index,
                term,
                index,
                gt
            );
            return;
        }
        let num = (index - self.offset) as usize + 1;
        self.entries.drain(..num);
        self.offset = index.saturating_add(1);
        self.offset_in_progress = self.offset_in_progress.max(self.offset);
        if self.entries.is_empty() && self.entries.capacity() > 1024 {
            // Do not keep a large buffer alive for an empty log.
            self.entries = Vec::new();
        }
    }

    /// Records that the snapshot at index `i` was written to storage and
    /// drops it.
    pub fn stable_snap_to(&mut self, i: u64) {
        if matches!(&self.snapshot, Some(s) if s.metadata.index == i) {
            self.snapshot = None;
            self.snapshot_in_progress = false;
        }
    }

    /// Replaces the whole unstable log with the snapshot `snap`.
    pub fn restore(&mut self, snap: Snapshot) {
        self.offset = snap.metadata.index.saturating_add(1);
        self.offset_in_progress = self.offset;
        self.entries.clear();
        self.snapshot = Some(snap);
        self.snapshot_in_progress = false;
    }

    /// Moves `ents` (consecutive indexes) into the unstable log, first
    /// dropping the unstable entries at and after `ents[0].index`; `ents`
    /// is left empty, with its capacity, for the caller to reuse.
    ///
    /// Returns [`Error::Invariant`], changing nothing (`ents` included),
    /// when `ents` are not consecutive or would leave a gap after the last
    /// unstable entry.
    pub fn truncate_and_append(&mut self, ents: &mut Vec<Entry>) -> Result<()> {
        let Some(first) = ents.first() else {
            return Ok(());
        };
        check_consecutive(ents)?;
        let from = first.index;
        let end = self.offset.saturating_add(self.entries.len() as u64);
        if from == end {
            // The next index: append directly.
            self.entries.append(ents);
        } else if from <= self.offset {
            crate::raft_log!(
                self.logger,
                Level::Info,
                "replace the unstable entries from index {}",
                from
            );
            // The log is truncated to before the unstable part: replace it.
            self.entries.clear();
            self.entries.append(ents);
            self.offset = from;
            self.offset_in_progress = from;
        } else {
            // Checked before logging so that a refused input leaves no trace.
            self.check_bounds(self.offset, from)?;
            crate::raft_log!(
                self.logger,
                Level::Info,
                "truncate the unstable entries before index {}",
                from
            );
            self.entries.truncate((from - self.offset) as usize);
            self.entries.append(ents);
            // Only the in-progress entries before `from` stay in progress.
            self.offset_in_progress = self.offset_in_progress.min(from);
        }
        Ok(())
    }

    /// The unstable entries with indexes in `[lo, hi)`; the whole range must
    /// be in the unstable log, else [`Error::Invariant`].
    pub fn slice(&self, lo: u64, hi: u64) -> Result<&[Entry]> {
        self.check_bounds(lo, hi)?;
        Ok(&self.entries[(lo - self.offset) as usize..(hi - self.offset) as usize])
    }

    /// Checks `offset <= lo <= hi <= offset + len(entries)`.
    fn check_bounds(&self, lo: u64, hi: u64) -> Result<()> {
        if lo > hi {
            return Err(Error::Invariant(format!(
                "invalid unstable.slice {lo} > {hi}"
            )));
        }
        let upper = self.offset.saturating_add(self.entries.len() as u64);
        if lo < self.offset || hi > upper {
            return Err(Error::Invariant(format!(
                "unstable.slice[{},{}) out of bound [{},{}]",
                lo, hi, self.offset, upper
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::eraftpb::SnapshotMetadata;
    use std::sync::Mutex;

    /// A logger that records the lines it is given.
    #[derive(Default)]
    pub(crate) struct CaptureLogger {
        pub(crate) lines: Mutex<Vec<String>>,
    }

    impl Logger for CaptureLogger {
        fn enabled(&self, _: Level) -> bool {
            true
        }
        fn log(&self, level: Level, msg: fmt::Arguments<'_>) {
            self.lines
                .lock()
                .unwrap()
                .push(format!("{} {}", level.name(), msg));
        }
    }

    impl CaptureLogger {
        pub(crate) fn take(&self) -> Vec<String> {
            std::mem::take(&mut *self.lines.lock().unwrap())
        }
    }

    pub(crate) fn ent(index: u64, term: u64) -> Entry {
        Entry {
            index,
            term,
            ..Default::default()
        }
    }

    fn snap(index: u64, term: u64) -> Snapshot {
        Snapshot {
            data: None,
            metadata: SnapshotMetadata {
                index,
                term,
                ..Default::default()
            },
        }
    }

    fn unstable(
        entries: Vec<Entry>,
        offset: u64,
        snapshot: Option<Snapshot>,
    ) -> (Unstable, Arc<CaptureLogger>) {
        let logger = Arc::new(CaptureLogger::default());
        let mut u = Unstable::new(offset, logger.clone());
        u.entries = entries;
        u.snapshot = snapshot;
        (u, logger)
    }

    #[test]
    fn maybe_first_index() {
        let cases = [
            (vec![ent(5, 1)], 5, None, None),
            (vec![], 0, None, None),
            (vec![ent(5, 1)], 5, Some(snap(4, 1)), Some(5)),
            (vec![], 5, Some(snap(4, 1)), Some(5)),
        ];
        for (i, (ents, off, s, want)) in cases.into_iter().enumerate() {
            let (u, _) = unstable(ents, off, s);
            assert_eq!(u.maybe_first_index(), want, "#{i}");
        }
    }

    #[test]
    fn maybe_last_index() {
        let cases = [
            (vec![ent(5, 1)], 5, None, Some(5)),
            (vec![ent(5, 1)], 5, Some(snap(4, 1)), Some(5)),
            (vec![], 5, Some(snap(4, 1)), Some(4)),
            (vec![], 0, None, None),
        ];
        for (i, (ents, off, s, want)) in cases.into_iter().enumerate() {
            let (u, _) = unstable(ents, off, s);
            assert_eq!(u.maybe_last_index(), want, "#{i}");
        }
    }

    #[test]
    fn maybe_term() {
        let cases = [
            (vec![ent(5, 1)], 5, None, 5, Some(1)),
            (vec![ent(5, 1)], 5, None, 6, None),
            (vec![ent(5, 1)], 5, None, 4, None),
            (vec![ent(5, 1)], 5, Some(snap(4, 1)), 5, Some(1)),
            (vec![ent(5, 1)], 5, Some(snap(4, 1)), 6, None),
            (vec![ent(5, 1)], 5, Some(snap(4, 1)), 4, Some(1)),
            (vec![ent(5, 1)], 5, Some(snap(4, 1)), 3, None),
            (vec![], 5, Some(snap(4, 1)), 5, None),
            (vec![], 5, Some(snap(4, 1)), 4, Some(1)),
            (vec![], 0, None, 5, None),
            (vec![], 0, None, u64::MAX, None),
        ];
        for (i, (ents, off, s, idx, want)) in cases.into_iter().enumerate() {
            let (u, _) = unstable(ents, off, s);
            assert_eq!(u.maybe_term(idx), want, "#{i}");
        }
    }

    #[test]
    fn restore() {
        let (mut u, _) = unstable(vec![ent(5, 1)], 5, Some(snap(4, 1)));
        u.offset_in_progress = 6;
        u.snapshot_in_progress = true;
        let s = snap(6, 2);
        u.restore(s.clone());
        assert_eq!(u.offset, 7);
        assert_eq!(u.offset_in_progress, 7);
        assert!(u.entries.is_empty());
        assert_eq!(u.snapshot, Some(s));
        assert!(!u.snapshot_in_progress);
    }

    #[test]
    fn next_entries() {
        let ents = vec![ent(5, 1), ent(6, 1)];
        let cases = [
            (5, vec![], vec![]),
            (5, ents.clone(), ents.clone()),
            (6, ents.clone(), vec![ent(6, 1)]),
            (7, ents.clone(), vec![]),
        ];
        for (i, (oip, e, want)) in cases.into_iter().enumerate() {
            let (mut u, _) = unstable(e, 5, None);
            u.offset_in_progress = oip;
            assert_eq!(u.next_entries(), &want[..], "#{i}");
        }
    }

    #[test]
    fn next_snapshot() {
        let s = snap(4, 1);
        let cases = [
            (None, false, None),
            (None, true, None),
            (Some(s.clone()), false, Some(s.clone())),
            (Some(s.clone()), true, None),
        ];
        for (i, (sn, inp, want)) in cases.into_iter().enumerate() {
            let (mut u, _) = unstable(vec![], 5, sn);
            u.snapshot_in_progress = inp;
            assert_eq!(u.next_snapshot(), want.as_ref(), "#{i}");
        }
    }

    #[test]
    fn accept_in_progress() {
        // (entries, snapshot, offset_in_progress, snapshot_in_progress,
        //  want offset_in_progress, want snapshot_in_progress)
        let two = vec![ent(5, 1), ent(6, 1)];
        let cases = [
            (vec![], None, 5, false, 5, false),
            (vec![ent(5, 1)], None, 5, false, 6, false),
            (two.clone(), None, 5, false, 7, false),
            (two.clone(), None, 6, false, 7, false),
            (two.clone(), None, 7, false, 7, false),
            (vec![], Some(snap(4, 1)), 5, false, 5, true),
            (vec![ent(5, 1)], Some(snap(4, 1)), 5, false, 6, true),
            (two.clone(), Some(snap(4, 1)), 6, true, 7, true),
            (vec![], Some(snap(4, 1)), 5, true, 5, true),
        ];
        for (i, (e, s, oip, sip, woip, wsip)) in cases.into_iter().enumerate() {
            let (mut u, _) = unstable(e, 5, s);
            u.offset_in_progress = oip;
            u.snapshot_in_progress = sip;
            u.accept_in_progress();
            assert_eq!(u.offset_in_progress, woip, "#{i}");
            assert_eq!(u.snapshot_in_progress, wsip, "#{i}");
        }
    }

    #[test]
    fn stable_to() {
        // (entries, offset, offset_in_progress, snapshot, index, term,
        //  want offset, want offset_in_progress, want len, want log)
        type Case = (
            Vec<Entry>,
            u64,
            u64,
            Option<Snapshot>,
            u64,
            u64,
            u64,
            u64,
            usize,
            Option<&'static str>,
        );
        let missing6 = "INFO entry at index 6 missing from unstable log; ignoring";
        let missing5 = "INFO entry at index 5 missing from unstable log; ignoring";
        let cases: Vec<Case> = vec![
            (vec![], 0, 0, None, 5, 1, 0, 0, 0, Some(missing5)),
            (vec![ent(5, 1)], 5, 6, None, 5, 1, 6, 6, 0, None),
            (vec![ent(5, 1), ent(6, 1)], 5, 6, None, 5, 1, 6, 6, 1, None),
            (vec![ent(5, 1), ent(6, 1)], 5, 7, None, 5, 1, 6, 7, 1, None),
            (
                vec![ent(6, 2)],
                6,
                7,
                None,
                6,
                1,
                6,
                7,
                1,
                Some("INFO entry at (index,term)=(6,1) mismatched with entry at (6,2) in unstable log; ignoring"),
            ),
            (vec![ent(5, 1)], 5, 6, None, 4, 1, 5, 6, 1, Some("INFO entry at index 4 missing from unstable log; ignoring")),
            (vec![ent(5, 1)], 5, 6, None, 4, 2, 5, 6, 1, Some("INFO entry at index 4 missing from unstable log; ignoring")),
            // With a snapshot.
            (vec![ent(5, 1)], 5, 6, Some(snap(4, 1)), 5, 1, 6, 6, 0, None),
            (vec![ent(5, 1), ent(6, 1)], 5, 6, Some(snap(4, 1)), 5, 1, 6, 6, 1, None),
            (
                vec![ent(6, 2)],
                6,
                7,
                Some(snap(5, 1)),
                6,
                1,
                6,
                7,
                1,
                Some("INFO entry at (index,term)=(6,1) mismatched with entry at (6,2) in unstable log; ignoring"),
            ),
            (
                vec![ent(5, 1)],
                5,
                6,
                Some(snap(4, 1)),
                4,
                1,
                5,
                6,
                1,
                Some("INFO entry at index 4 matched unstable snapshot; ignoring"),
            ),
            (vec![ent(5, 2)], 5, 6, Some(snap(4, 2)), 4, 1, 5, 6, 1, Some("INFO entry at index 4 matched unstable snapshot; ignoring")),
            (vec![ent(5, 1)], 5, 6, None, 6, 1, 5, 6, 1, Some(missing6)),
        ];
        for (i, (e, off, oip, s, idx, t, woff, woip, wlen, wlog)) in cases.into_iter().enumerate() {
            let (mut u, logger) = unstable(e, off, s);
            u.offset_in_progress = oip;
            u.stable_to(idx, t);
            assert_eq!(u.offset, woff, "#{i} offset");
            assert_eq!(u.offset_in_progress, woip, "#{i} offset_in_progress");
            assert_eq!(u.entries.len(), wlen, "#{i} len");
            let lines = logger.take();
            assert_eq!(
                lines,
                wlog.into_iter().map(String::from).collect::<Vec<_>>(),
                "#{i} log"
            );
        }
    }

    #[test]
    fn stable_snap_to() {
        let (mut u, _) = unstable(vec![], 5, Some(snap(4, 1)));
        u.snapshot_in_progress = true;
        u.stable_snap_to(3);
        assert!(u.snapshot.is_some());
        assert!(u.snapshot_in_progress);
        u.stable_snap_to(4);
        assert!(u.snapshot.is_none());
        assert!(!u.snapshot_in_progress);
    }

    #[test]
    fn truncate_and_append() {
        // (entries, offset, offset_in_progress, to append,
        //  want offset, want offset_in_progress, want entries, want log)
        type Case = (
            Vec<Entry>,
            u64,
            u64,
            Vec<Entry>,
            u64,
            u64,
            Vec<Entry>,
            Option<&'static str>,
        );
        let cases: Vec<Case> = vec![
            // Append to the end.
            (
                vec![ent(5, 1)],
                5,
                5,
                vec![ent(6, 1), ent(7, 1)],
                5,
                5,
                vec![ent(5, 1), ent(6, 1), ent(7, 1)],
                None,
            ),
            (
                vec![ent(5, 1)],
                5,
                6,
                vec![ent(6, 1), ent(7, 1)],
                5,
                6,
                vec![ent(5, 1), ent(6, 1), ent(7, 1)],
                None,
            ),
            // Replace the unstable entries.
            (
                vec![ent(5, 1)],
                5,
                5,
                vec![ent(5, 2), ent(6, 2)],
                5,
                5,
                vec![ent(5, 2), ent(6, 2)],
                Some("INFO replace the unstable entries from index 5"),
            ),
            (
                vec![ent(5, 1)],
                5,
                5,
                vec![ent(4, 2), ent(5, 2), ent(6, 2)],
                4,
                4,
                vec![ent(4, 2), ent(5, 2), ent(6, 2)],
                Some("INFO replace the unstable entries from index 4"),
            ),
            (
                vec![ent(5, 1)],
                5,
                6,
                vec![ent(5, 2), ent(6, 2)],
                5,
                5,
                vec![ent(5, 2), ent(6, 2)],
                Some("INFO replace the unstable entries from index 5"),
            ),
            // Truncate the existing entries and append.
            (
                vec![ent(5, 1), ent(6, 1), ent(7, 1)],
                5,
                5,
                vec![ent(6, 2)],
                5,
                5,
                vec![ent(5, 1), ent(6, 2)],
                Some("INFO truncate the unstable entries before index 6"),
            ),
            (
                vec![ent(5, 1), ent(6, 1), ent(7, 1)],
                5,
                5,
                vec![ent(7, 2), ent(8, 2)],
                5,
                5,
                vec![ent(5, 1), ent(6, 1), ent(7, 2), ent(8, 2)],
                Some("INFO truncate the unstable entries before index 7"),
            ),
            (
                vec![ent(5, 1), ent(6, 1), ent(7, 1)],
                5,
                6,
                vec![ent(6, 2)],
                5,
                6,
                vec![ent(5, 1), ent(6, 2)],
                Some("INFO truncate the unstable entries before index 6"),
            ),
            (
                vec![ent(5, 1), ent(6, 1), ent(7, 1)],
                5,
                7,
                vec![ent(6, 2)],
                5,
                6,
                vec![ent(5, 1), ent(6, 2)],
                Some("INFO truncate the unstable entries before index 6"),
            ),
            (
                vec![ent(5, 1), ent(6, 1), ent(7, 1)],
                5,
                8,
                vec![ent(6, 2)],
                5,
                6,
                vec![ent(5, 1), ent(6, 2)],
                Some("INFO truncate the unstable entries before index 6"),
            ),
            // Nothing to append.
            (vec![ent(5, 1)], 5, 6, vec![], 5, 6, vec![ent(5, 1)], None),
        ];
        for (i, (e, off, oip, app, woff, woip, went, wlog)) in cases.into_iter().enumerate() {
            let (mut u, logger) = unstable(e, off, None);
            u.offset_in_progress = oip;
            u.truncate_and_append(&mut app.to_vec()).unwrap();
            assert_eq!(u.offset, woff, "#{i} offset");
            assert_eq!(u.offset_in_progress, woip, "#{i} offset_in_progress");
            assert_eq!(u.entries, went, "#{i} entries");
            assert_eq!(
                logger.take(),
                wlog.into_iter().map(String::from).collect::<Vec<_>>(),
                "#{i} log"
            );
        }
    }

    #[test]
    fn truncate_and_append_refuses_gaps_and_holes() {
        let (mut u, logger) = unstable(vec![ent(5, 1)], 5, None);
        assert_eq!(
            u.truncate_and_append(&mut vec![ent(7, 1)]),
            Err(Error::Invariant(
                "unstable.slice[5,7) out of bound [5,6]".into()
            ))
        );
        assert!(matches!(
            u.truncate_and_append(&mut vec![ent(6, 1), ent(8, 1)]),
            Err(Error::Invariant(_))
        ));
        assert_eq!(u.entries, vec![ent(5, 1)]);
        assert_eq!(u.offset, 5);
        assert!(logger.take().is_empty());
    }

    #[test]
    fn slice_bounds() {
        let (u, _) = unstable(vec![ent(5, 1), ent(6, 1), ent(7, 2)], 5, None);
        assert_eq!(u.slice(5, 8).unwrap(), &[ent(5, 1), ent(6, 1), ent(7, 2)]);
        assert_eq!(u.slice(6, 7).unwrap(), &[ent(6, 1)]);
        assert_eq!(u.slice(6, 6).unwrap(), &[] as &[Entry]);
        assert_eq!(
            u.slice(4, 6),
            Err(Error::Invariant(
                "unstable.slice[4,6) out of bound [5,8]".into()
            ))
        );
        assert_eq!(
            u.slice(5, 9),
            Err(Error::Invariant(
                "unstable.slice[5,9) out of bound [5,8]".into()
            ))
        );
        assert_eq!(
            u.slice(7, 6),
            Err(Error::Invariant("invalid unstable.slice 7 > 6".into()))
        );
    }
}
