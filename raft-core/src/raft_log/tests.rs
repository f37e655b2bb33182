use std::cell::Cell;

use super::*;
use crate::eraftpb::SnapshotMetadata;
use crate::NO_LIMIT;
use crate::proto_ext::limit_size;
use crate::log_unstable::tests::{ent, CaptureLogger};
use crate::logger::NullLogger;
use crate::memory_storage::MemoryStorage;

fn null() -> Arc<dyn Logger> {
    Arc::new(NullLogger)
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

/// A log whose storage holds `stable` (after an optional snapshot).
fn log_with(snapshot: Option<Snapshot>, stable: &[Entry]) -> RaftLog<MemoryStorage> {
    let s = MemoryStorage::new();
    if let Some(sn) = snapshot {
        s.apply_snapshot(sn).unwrap();
    }
    s.append(stable).unwrap();
    RaftLog::new(s, null()).unwrap()
}

fn ents(range: std::ops::Range<u64>) -> Vec<Entry> {
    range.map(|i| ent(i, i)).collect()
}

fn compacted() -> Error {
    StorageError::Compacted.into()
}

fn unavailable() -> Error {
    StorageError::Unavailable.into()
}

#[test]
fn new_log_starts_at_compaction_point() {
    let l = log_with(Some(snap(1000, 1000)), &[]);
    assert_eq!(l.committed, 1000);
    assert_eq!(l.applied, 1000);
    assert_eq!(l.applying, 1000);
    assert_eq!(l.first_index(), 1001);
    assert_eq!(l.last_index(), 1000);
    assert_eq!(l.last_term(), 1000);
    assert_eq!(l.last_entry_id(), (1000, 1000));
    assert_eq!(l.unstable.offset, 1001);
    assert_eq!(l.unstable.offset_in_progress, 1001);
    assert!(l.all_entries().is_empty());
    assert_eq!(
        l.to_string(),
        "committed=1000, applied=1000, applying=1000, unstable.offset=1001, unstable.offsetInProgress=1001, len(unstable.Entries)=0"
    );

    let l = log_with(None, &[ent(1, 1), ent(2, 1)]);
    assert_eq!((l.committed, l.applied, l.applying), (0, 0, 0));
    assert_eq!(l.unstable.offset, 3);
}

#[test]
fn find_conflict() {
    let prev = [ent(1, 1), ent(2, 2), ent(3, 3)];
    let cases: Vec<(Vec<Entry>, u64)> = vec![
        (vec![], 0),
        (vec![ent(1, 1), ent(2, 2), ent(3, 3)], 0),
        (vec![ent(2, 2), ent(3, 3)], 0),
        (vec![ent(3, 3)], 0),
        (
            vec![ent(1, 1), ent(2, 2), ent(3, 3), ent(4, 4), ent(5, 4)],
            4,
        ),
        (vec![ent(2, 2), ent(3, 3), ent(4, 4), ent(5, 4)], 4),
        (vec![ent(3, 3), ent(4, 4), ent(5, 4)], 4),
        (vec![ent(4, 4), ent(5, 4)], 4),
        (vec![ent(1, 4), ent(2, 4)], 1),
        (vec![ent(2, 1), ent(3, 4), ent(4, 4)], 2),
        (vec![ent(3, 1), ent(4, 2), ent(5, 4), ent(6, 4)], 3),
    ];
    for (i, (e, want)) in cases.into_iter().enumerate() {
        let mut l = RaftLog::new(MemoryStorage::new(), null()).unwrap();
        l.append(&mut prev.to_vec()).unwrap();
        assert_eq!(l.find_conflict(&e), want, "#{i}");
    }
}

#[test]
fn find_conflict_logs_like_etcd() {
    let logger = Arc::new(CaptureLogger::default());
    let mut l = RaftLog::new(MemoryStorage::new(), logger.clone()).unwrap();
    l.append(&mut vec![ent(1, 1), ent(2, 2), ent(3, 3)]).unwrap();
    logger.take();
    assert_eq!(l.find_conflict(&[ent(2, 1), ent(3, 4)]), 2);
    assert_eq!(
        logger.take(),
        vec!["INFO found conflict at index 2 [existing term: 2, conflicting term: 1]"]
    );
    // A new entry past the end is not a conflict with an existing one.
    assert_eq!(l.find_conflict(&[ent(4, 4)]), 4);
    assert!(logger.take().is_empty());
}

#[test]
fn find_conflict_by_term() {
    // Stable 1:1 2:1 3:3 4:3 5:5, unstable 6:5 7:7.
    let terms = [1u64, 1, 3, 3, 5];
    let stable: Vec<Entry> = terms
        .iter()
        .enumerate()
        .map(|(i, &t)| ent(i as u64 + 1, t))
        .collect();
    let mut l = log_with(None, &stable);
    l.append(&mut vec![ent(6, 5), ent(7, 7)]).unwrap();
    let cases = [
        ((7, 7), (7, 7)),
        ((7, 8), (7, 7)),
        ((7, 6), (6, 5)),
        ((7, 4), (4, 3)),
        ((5, 3), (4, 3)),
        ((7, 2), (2, 1)),
        ((7, 0), (0, 0)),
        ((0, 9), (0, 0)),
        // Beyond the log: unknown, so it may match.
        ((10, 3), (10, 0)),
        ((u64::MAX, 3), (u64::MAX, 0)),
    ];
    for ((idx, term), want) in cases {
        assert_eq!(l.find_conflict_by_term(idx, term), want, "({idx}, {term})");
    }
    // After compaction, the compacted part is unknown.
    l.stable_to(7, 7);
    l.store.append(&[ent(6, 5), ent(7, 7)]).unwrap();
    l.store.compact(2).unwrap();
    assert_eq!(l.find_conflict_by_term(7, 2), (2, 1));
    l.store.compact(3).unwrap();
    assert_eq!(l.find_conflict_by_term(7, 2), (2, 0));
}

#[test]
fn is_up_to_date() {
    let l = log_with(None, &[ent(1, 1), ent(2, 2), ent(3, 3)]);
    let li = l.last_index();
    let cases = [
        (li - 1, 4, true),
        (li, 4, true),
        (li + 1, 4, true),
        (li - 1, 2, false),
        (li, 2, false),
        (li + 1, 2, false),
        (li - 1, 3, false),
        (li, 3, true),
        (li + 1, 3, true),
    ];
    for (idx, term, want) in cases {
        assert_eq!(l.is_up_to_date(idx, term), want, "({idx}, {term})");
    }
}

#[test]
fn append() {
    let prev = [ent(1, 1), ent(2, 2)];
    let cases: Vec<(Vec<Entry>, u64, Vec<Entry>, u64)> = vec![
        (vec![], 2, vec![ent(1, 1), ent(2, 2)], 3),
        (vec![ent(3, 2)], 3, vec![ent(1, 1), ent(2, 2), ent(3, 2)], 3),
        // Conflicts with index 1.
        (vec![ent(1, 2)], 1, vec![ent(1, 2)], 1),
        // Conflicts with index 2.
        (
            vec![ent(2, 3), ent(3, 3)],
            3,
            vec![ent(1, 1), ent(2, 3), ent(3, 3)],
            2,
        ),
    ];
    for (i, (e, windex, wents, woffset)) in cases.into_iter().enumerate() {
        let mut l = log_with(None, &prev);
        assert_eq!(l.append(&mut e.to_vec()).unwrap(), windex, "#{i}");
        assert_eq!(l.entries(1, NO_LIMIT).unwrap(), wents, "#{i}");
        assert_eq!(l.unstable.offset, woffset, "#{i}");
    }
}

#[test]
fn append_refuses_bad_input_without_change() {
    let mut l = log_with(None, &[ent(1, 1), ent(2, 2), ent(3, 3)]);
    l.commit_to(2).unwrap();
    let before = l.to_string();
    // Would replace committed entry 2.
    assert_eq!(
        l.append(&mut vec![ent(2, 5)]),
        Err(Error::Invariant(
            "after(1) is out of range [committed(2)]".into()
        ))
    );
    // A gap after the last index.
    assert!(matches!(l.append(&mut vec![ent(5, 5)]), Err(Error::Invariant(_))));
    // Not consecutive.
    assert!(matches!(
        l.append(&mut vec![ent(4, 5), ent(6, 5)]),
        Err(Error::Invariant(_))
    ));
    // Index 0.
    assert!(matches!(l.append(&mut vec![ent(0, 5)]), Err(Error::Invariant(_))));
    assert_eq!(l.to_string(), before);
    assert_eq!(l.all_entries(), vec![ent(1, 1), ent(2, 2), ent(3, 3)]);
    assert!(!l.has_fault());
}

#[test]
fn maybe_append() {
    let prev = [ent(1, 1), ent(2, 2), ent(3, 3)];
    let (li, lt, commit) = (3u64, 3u64, 1u64);
    // (log_term, index, committed, ents, want last new, want commit)
    type Case = (u64, u64, u64, Vec<Entry>, Option<u64>, u64);
    let cases: Vec<Case> = vec![
        // No match: term or index.
        (lt - 1, li, li, vec![ent(li + 1, 4)], None, commit),
        (lt, li + 1, li, vec![ent(li + 2, 4)], None, commit),
        // Match with the last entry.
        (lt, li, li, vec![], Some(li), li),
        (lt, li, li + 1, vec![], Some(li), li),
        (lt, li, li - 1, vec![], Some(li), li - 1),
        (lt, li, 0, vec![], Some(li), commit),
        (0, 0, li, vec![], Some(0), commit),
        (lt, li, li, vec![ent(li + 1, 4)], Some(li + 1), li),
        (lt, li, li + 1, vec![ent(li + 1, 4)], Some(li + 1), li + 1),
        (lt, li, li + 2, vec![ent(li + 1, 4)], Some(li + 1), li + 1),
        (
            lt,
            li,
            li + 2,
            vec![ent(li + 1, 4), ent(li + 2, 4)],
            Some(li + 2),
            li + 2,
        ),
        // Match with an entry in the middle.
        (lt - 1, li - 1, li, vec![ent(li, 4)], Some(li), li),
        (
            lt - 2,
            li - 2,
            li,
            vec![ent(li - 1, 4)],
            Some(li - 1),
            li - 1,
        ),
        (
            lt - 2,
            li - 2,
            li,
            vec![ent(li - 1, 4), ent(li, 4)],
            Some(li),
            li,
        ),
    ];
    for (i, (log_term, index, committed, e, want, wcommit)) in cases.into_iter().enumerate() {
        let mut l = log_with(None, &[]);
        l.append(&mut prev.to_vec()).unwrap();
        l.committed = commit;
        assert_eq!(
            l.maybe_append(index, log_term, committed, e.to_vec()),
            Ok(want),
            "#{i}"
        );
        assert_eq!(l.committed, wcommit, "#{i} commit");
        if want.is_some() && !e.is_empty() {
            let got = l.slice(
                l.last_index() - e.len() as u64 + 1,
                l.last_index() + 1,
                NO_LIMIT,
            );
            assert_eq!(got.unwrap(), e, "#{i} entries");
        }
    }
}

#[test]
fn maybe_append_refuses_conflict_with_committed_entry() {
    let mut l = log_with(None, &[]);
    l.append(&mut vec![ent(1, 1), ent(2, 2), ent(3, 3)]).unwrap();
    l.committed = 1;
    let before = l.to_string();
    assert_eq!(
        l.maybe_append(0, 0, 3, vec![ent(1, 4)]),
        Err(Error::Invariant(
            "entry 1 conflict with committed entry [committed(1)]".into()
        ))
    );
    // Entries that do not follow the matched index are refused too.
    assert!(matches!(
        l.maybe_append(1, 1, 3, vec![ent(3, 4)]),
        Err(Error::Invariant(_))
    ));
    assert!(matches!(
        l.maybe_append(1, 1, 3, vec![ent(2, 4), ent(4, 4)]),
        Err(Error::Invariant(_))
    ));
    assert_eq!(l.to_string(), before);
    assert_eq!(l.all_entries(), vec![ent(1, 1), ent(2, 2), ent(3, 3)]);
}

/// A log with a storage snapshot at 3/1, stable entry 4, unstable 5 and 6,
/// committed 5 (etcd's next-committed-entries setup).
fn committed_setup() -> RaftLog<MemoryStorage> {
    let mut l = log_with(Some(snap(3, 1)), &[ent(4, 1)]);
    l.append(&mut vec![ent(5, 1), ent(6, 1)]).unwrap();
    assert!(l.maybe_commit(5, 1));
    l
}

#[test]
fn next_committed_ents() {
    // (applied, applying, allow_unstable, paused, snapshot, want)
    type Case = (u64, u64, bool, bool, bool, Vec<Entry>);
    let cases: Vec<Case> = vec![
        (3, 3, true, false, false, vec![ent(4, 1), ent(5, 1)]),
        (3, 4, true, false, false, vec![ent(5, 1)]),
        (3, 5, true, false, false, vec![]),
        (4, 4, true, false, false, vec![ent(5, 1)]),
        (4, 5, true, false, false, vec![]),
        (5, 5, true, false, false, vec![]),
        // Without unstable entries.
        (3, 3, false, false, false, vec![ent(4, 1)]),
        (3, 4, false, false, false, vec![]),
        (3, 5, false, false, false, vec![]),
        (4, 4, false, false, false, vec![]),
        (4, 5, false, false, false, vec![]),
        (5, 5, false, false, false, vec![]),
        // Paused.
        (3, 3, true, true, false, vec![]),
        // A pending snapshot.
        (3, 3, true, false, true, vec![]),
    ];
    for (i, (applied, applying, allow, paused, with_snap, want)) in cases.into_iter().enumerate() {
        let mut l = committed_setup();
        l.applied_to(applied, 0).unwrap();
        l.accept_applying(applying, 0, allow).unwrap();
        l.applying_ents_paused = paused;
        if with_snap {
            l.unstable.snapshot = Some(snap(4, 1));
        }
        assert_eq!(l.next_committed_ents(allow), want, "#{i}");
        assert_eq!(l.has_next_committed_ents(allow), !want.is_empty(), "#{i}");
    }
}

#[test]
fn max_appliable_index() {
    let l = committed_setup();
    assert_eq!(l.max_appliable_index(true), 5);
    assert_eq!(l.max_appliable_index(false), 4);
}

#[test]
fn accept_applying_pauses() {
    let size = ent(4, 1).size();
    // (max size, applying, allow_unstable, accepted size, want paused)
    let cases = [
        (size * 3, 3, true, size, true),
        (size * 3, 4, true, size, true),
        (size * 3, 5, true, size, false),
        (size * 3, 3, false, size, true),
        (size * 3, 4, false, size, false),
        (size * 3, 5, false, size, false),
        (size * 3, 5, true, size * 3, true),
        (size * 3, 5, true, size * 4, true),
        (size * 3, 5, true, size * 2, false),
    ];
    for (i, (max, applying, allow, accepted, wpaused)) in cases.into_iter().enumerate() {
        let mut l = committed_setup();
        l.max_applying_ents_size = max;
        l.applied_to(3, 0).unwrap();
        l.accept_applying(applying, accepted, allow).unwrap();
        assert_eq!(l.applying_ents_paused, wpaused, "#{i}");
    }
}

#[test]
fn applied_to_unpauses() {
    let size = ent(4, 1).size();
    // (applied index, acknowledged size, want size, want paused)
    let cases = [
        (4, size, size * 3, true),
        (4, size * 2, size * 2, false),
        (5, size * 2, size * 2, false),
        (5, size * 10, 0, false),
    ];
    for (i, (idx, acked, wsize, wpaused)) in cases.into_iter().enumerate() {
        let mut l = committed_setup();
        l.max_applying_ents_size = size * 3;
        l.applied_to(3, 0).unwrap();
        l.accept_applying(5, size * 4, false).unwrap();
        assert!(l.applying_ents_paused);
        l.applied_to(idx, acked).unwrap();
        assert_eq!(l.applied, idx, "#{i}");
        assert_eq!(l.applying, 5, "#{i}");
        assert_eq!(l.applying_ents_size, wsize, "#{i}");
        assert_eq!(l.applying_ents_paused, wpaused, "#{i}");
    }
}

#[test]
fn applied_to_and_accept_applying_refuse_out_of_range() {
    let mut l = committed_setup();
    l.applied_to(4, 0).unwrap();
    assert_eq!(
        l.applied_to(3, 0),
        Err(Error::Invariant(
            "applied(3) is out of range [prevApplied(4), committed(5)]".into()
        ))
    );
    assert!(matches!(l.applied_to(6, 0), Err(Error::Invariant(_))));
    assert_eq!(
        l.accept_applying(6, 0, true),
        Err(Error::Invariant(
            "applying(6) is out of range [prevApplying(4), committed(5)]".into()
        ))
    );
    assert_eq!((l.applied, l.applying, l.applying_ents_size), (4, 4, 0));
}

#[test]
fn next_committed_ents_pages_by_size() {
    let e = |i| Entry::new(1, i, vec![b'x'; 10]);
    let size = e(1).size();
    let mut l = log_with(None, &(1..=5).map(e).collect::<Vec<_>>());
    l.commit_to(5).unwrap();
    l.max_applying_ents_size = size * 2;

    let batch = l.next_committed_ents(false);
    assert_eq!(batch, vec![e(1), e(2)]);
    l.accept_applying(2, size * 2, false).unwrap();
    assert!(l.applying_ents_paused);
    assert!(l.next_committed_ents(false).is_empty());
    assert!(!l.has_next_committed_ents(false));

    // Acknowledging one entry frees room for one more.
    l.applied_to(1, size).unwrap();
    assert!(!l.applying_ents_paused);
    assert_eq!(l.next_committed_ents(false), vec![e(3)]);
    l.accept_applying(3, size, false).unwrap();
    assert!(l.applying_ents_paused);
    l.applied_to(3, size * 2).unwrap();
    assert_eq!(l.next_committed_ents(false), vec![e(4), e(5)]);

    // A budget that stops between entries pauses after the batch even
    // though it is not used up.
    let mut l = log_with(None, &(1..=5).map(e).collect::<Vec<_>>());
    l.commit_to(5).unwrap();
    l.max_applying_ents_size = size * 5 / 2;
    let batch = l.next_committed_ents(true);
    assert_eq!(batch.len(), 2);
    l.accept_applying(2, size * 2, true).unwrap();
    assert!(l.applying_ents_paused);
}

#[test]
fn next_committed_ents_with_zero_limit_hands_out_one_entry() {
    let mut l = log_with(None, &ents(1..4));
    l.commit_to(3).unwrap();
    l.max_applying_ents_size = 0;
    assert_eq!(l.next_committed_ents(true), vec![ent(1, 1)]);
}

#[test]
fn commit_to() {
    let prev = [ent(1, 1), ent(2, 2), ent(3, 3)];
    let cases = [(3, Ok(()), 3), (1, Ok(()), 2)];
    for (to, want, wcommit) in cases {
        let mut l = log_with(None, &prev);
        l.committed = 2;
        assert_eq!(l.commit_to(to), want);
        assert_eq!(l.committed, wcommit);
    }
    let mut l = log_with(None, &prev);
    l.committed = 2;
    assert_eq!(
        l.commit_to(4),
        Err(Error::Invariant(
            "tocommit(4) is out of range [lastIndex(3)]. Was the raft log corrupted, truncated, or lost?"
                .into()
        ))
    );
    assert_eq!(l.committed, 2);
}

#[test]
fn maybe_commit() {
    let mut l = log_with(None, &[ent(1, 1), ent(2, 2), ent(3, 3)]);
    assert!(!l.maybe_commit(3, 2), "term mismatch");
    assert!(!l.maybe_commit(4, 3), "beyond the log");
    assert!(!l.maybe_commit(0, 0), "term 0");
    assert!(l.maybe_commit(2, 2));
    assert_eq!(l.committed, 2);
    assert!(!l.maybe_commit(2, 2), "not beyond committed");
    assert!(!l.maybe_commit(1, 1));
    assert!(l.maybe_commit(3, 3));
    assert_eq!(l.committed, 3);
}

#[test]
fn compaction_through_storage() {
    let last = 1000u64;
    let mut l = log_with(None, &[]);
    l.append(&mut ents(1..last + 1)).unwrap();
    l.store.append(&ents(1..last + 1)).unwrap();
    l.stable_to(last, last);
    l.commit_to(last).unwrap();
    l.applied_to(l.committed, 0).unwrap();

    for (compact, want_len) in [(300u64, 700usize), (800, 200)] {
        l.store.compact(compact).unwrap();
        assert_eq!(l.first_index(), compact + 1);
        assert_eq!(l.all_entries().len(), want_len);
        assert_eq!(l.term(compact), Ok(compact));
        assert_eq!(l.term(compact - 1), Err(compacted()));
        assert_eq!(l.slice(compact, compact + 1, NO_LIMIT), Err(compacted()));
        assert_eq!(l.entries(compact + 1, NO_LIMIT).unwrap().len(), want_len);
    }
    // Compacting again at the same point fails in the storage.
    assert_eq!(l.store.compact(800), Err(compacted()));
}

#[test]
fn restore() {
    let logger = Arc::new(CaptureLogger::default());
    let s = MemoryStorage::new();
    s.append(&ents(1..4)).unwrap();
    let mut l = RaftLog::new(s, logger.clone()).unwrap();
    l.append(&mut ents(4..6)).unwrap();
    l.commit_to(2).unwrap();
    l.applied_to(1, 0).unwrap();
    logger.take();

    l.restore(snap(10, 7));
    assert_eq!(
        logger.take(),
        vec!["INFO log [committed=2, applied=1, applying=1, unstable.offset=4, unstable.offsetInProgress=4, len(unstable.Entries)=2] starts to restore snapshot [index: 10, term: 7]"]
    );
    assert_eq!(l.committed, 10);
    assert_eq!(l.first_index(), 11);
    assert_eq!(l.last_index(), 10);
    assert_eq!(l.last_term(), 7);
    assert_eq!(l.unstable.offset, 11);
    assert!(l.unstable.entries.is_empty());
    assert_eq!(l.snapshot().unwrap(), snap(10, 7));
    assert!(l.has_next_unstable_snapshot());
    assert!(l.has_next_or_in_progress_snapshot());
    assert_eq!(l.next_unstable_snapshot(), Some(&snap(10, 7)));
    assert!(!l.has_next_committed_ents(true));
    assert_eq!(l.term(9), Err(compacted()));
    assert_eq!(l.term(11), Err(unavailable()));

    l.accept_unstable();
    assert!(!l.has_next_unstable_snapshot());
    assert!(l.has_next_or_in_progress_snapshot());
    l.store.apply_snapshot(snap(10, 7)).unwrap();
    l.stable_snap_to(10);
    assert!(!l.has_next_or_in_progress_snapshot());
    assert_eq!(l.snapshot().unwrap(), snap(10, 7));
    assert_eq!(l.first_index(), 11);
}

#[test]
fn term() {
    let (offset, num) = (100u64, 100u64);
    let l = log_with(Some(snap(offset, 1)), &[]);
    let all: Vec<Entry> = (1..num).map(|i| ent(offset + i, i)).collect();
    // Half stable, half unstable.
    l.store.append(&all[..(num / 2) as usize]).unwrap();
    let mut l = RaftLog::new(l.store.clone(), null()).unwrap();
    l.append(&mut all[(num / 2) as usize..].to_vec()).unwrap();
    let cases = [
        (offset - 1, Err(compacted())),
        (offset, Ok(1)),
        (offset + num / 2, Ok(num / 2)),
        (offset + num / 2 + 1, Ok(num / 2 + 1)),
        (offset + num - 1, Ok(num - 1)),
        (offset + num, Err(unavailable())),
    ];
    for (i, want) in cases {
        assert_eq!(l.term(i), want, "term({i})");
    }
    assert_eq!(l.zero_term_on_out_of_bounds(l.term(offset - 1)), 0);
    assert_eq!(l.zero_term_on_out_of_bounds(l.term(offset + num)), 0);
    assert_eq!(l.zero_term_on_out_of_bounds(l.term(offset)), 1);
    assert!(!l.has_fault());
}

#[test]
fn term_with_unstable_snapshot() {
    let (storage_snap, unstable_snap) = (100u64, 105u64);
    let mut l = log_with(Some(snap(storage_snap, 1)), &[]);
    l.restore(snap(unstable_snap, 1));
    let cases = [
        (storage_snap, Err(compacted())),
        (storage_snap + 1, Err(compacted())),
        (unstable_snap - 1, Err(compacted())),
        (unstable_snap, Ok(1)),
        (unstable_snap + 1, Err(unavailable())),
    ];
    for (i, want) in cases {
        assert_eq!(l.term(i), want, "term({i})");
    }
}

/// Storage snapshot at `offset`, stable `[offset + 1, half)`, unstable
/// `[half, last]`, each entry's term equal to its index.
fn slice_setup(offset: u64, num: u64) -> RaftLog<MemoryStorage> {
    let (last, half) = (offset + num, offset + num / 2);
    let mut l = log_with(Some(snap(offset, 0)), &ents(offset + 1..half));
    l.append(&mut ents(half..last)).unwrap();
    l
}

#[test]
fn slice() {
    let (offset, num) = (100u64, 100u64);
    let (last, half) = (offset + num, offset + num / 2);
    let l = slice_setup(offset, num);
    let size = ent(half, half).size();
    let cases: Vec<(u64, u64, u64, Result<Vec<Entry>>)> = vec![
        (offset - 1, offset + 1, NO_LIMIT, Err(compacted())),
        (offset, offset + 1, NO_LIMIT, Err(compacted())),
        (half - 1, half + 1, NO_LIMIT, Ok(ents(half - 1..half + 1))),
        (half, half + 1, NO_LIMIT, Ok(ents(half..half + 1))),
        (last - 1, last, NO_LIMIT, Ok(ents(last - 1..last))),
        (
            last,
            last + 1,
            NO_LIMIT,
            Err(Error::Invariant(format!(
                "slice[{last},{}) out of bound [{},{}]",
                last + 1,
                offset + 1,
                last - 1
            ))),
        ),
        (
            half + 1,
            half,
            NO_LIMIT,
            Err(Error::Invariant(format!(
                "invalid slice {} > {}",
                half + 1,
                half
            ))),
        ),
        (half, half, NO_LIMIT, Ok(vec![])),
        // Size limits.
        (half - 1, half + 1, 0, Ok(ents(half - 1..half))),
        (half - 2, half + 1, size + 1, Ok(ents(half - 2..half - 1))),
        (half - 1, half + 1, size * 2, Ok(ents(half - 1..half + 1))),
        (half - 1, half + 2, size * 3, Ok(ents(half - 1..half + 2))),
        (half, half + 2, size, Ok(ents(half..half + 1))),
        (half, half + 2, size * 2, Ok(ents(half..half + 2))),
    ];
    for (lo, hi, max, want) in cases {
        assert_eq!(l.slice(lo, hi, max), want, "slice({lo}, {hi}, {max})");
    }
    assert!(!l.has_fault());
}

/// A storage with only the required methods (so `entries_sized` is the
/// trait's provided one), optionally ignoring the size limit.
struct PlainStorage {
    inner: MemoryStorage,
    ignore_limit: bool,
}

impl Storage for PlainStorage {
    fn initial_state(&self) -> Result<crate::RaftState> {
        self.inner.initial_state()
    }
    fn entries(&self, low: u64, high: u64, max_size: u64) -> Result<Vec<Entry>> {
        let max_size = if self.ignore_limit { NO_LIMIT } else { max_size };
        self.inner.entries(low, high, max_size)
    }
    fn term(&self, idx: u64) -> Result<u64> {
        self.inner.term(idx)
    }
    fn first_index(&self) -> Result<u64> {
        self.inner.first_index()
    }
    fn last_index(&self) -> Result<u64> {
        self.inner.last_index()
    }
    fn snapshot(&self) -> Result<Snapshot> {
        self.inner.snapshot()
    }
}

/// `slice` and `slice_sized` cut by etcd's limitSize rule whatever the
/// storage: `MemoryStorage` (which returns the size it measured while
/// cutting), one that leaves the measuring to the trait's provided
/// `entries_sized`, and one that ignores the limit.
#[test]
fn slice_agrees_with_limit_size_everywhere() {
    let (offset, num) = (10u64, 12u64);
    let memory = slice_setup(offset, num);
    let plain = |ignore_limit| {
        let s = PlainStorage {
            inner: memory.store.clone(),
            ignore_limit,
        };
        let mut l = RaftLog::new(s, null()).unwrap();
        l.append(&mut memory.unstable.entries.clone()).unwrap();
        l
    };
    let (respecting, ignoring) = (plain(false), plain(true));
    let size = ent(offset + 1, offset + 1).size();
    for lo in offset + 1..offset + num {
        for hi in lo..offset + num {
            for max in [
                0,
                size - 1,
                size,
                size + 1,
                size * 2,
                size * 3 + 1,
                NO_LIMIT,
            ] {
                let mut want = ents(lo..hi);
                limit_size(&mut want, max);
                let want_size: u64 = want.iter().map(Entry::size).sum();
                let case = format!("({lo},{hi},{max})");
                assert_eq!(memory.slice(lo, hi, max).unwrap(), want, "{case}");
                // The sized variant returns the same entries and their
                // total encoded size (what appends and the applying budget
                // count without measuring the entries again).
                let got = memory.slice_sized(lo, hi, max).unwrap();
                assert_eq!(got, (want.clone(), want_size), "{case}");
                let got = respecting.slice_sized(lo, hi, max).unwrap();
                assert_eq!(got, (want.clone(), want_size), "provided {case}");
                let got = ignoring.slice_sized(lo, hi, max).unwrap();
                assert_eq!(got, (want, want_size), "ignoring {case}");
            }
        }
    }
}

#[test]
fn scan() {
    let (offset, num) = (47u64, 20u64);
    let (last, half) = (offset + num, offset + num / 2);
    let l = slice_setup(offset, num);
    let size = ent(half, half).size();
    for page in [
        0,
        1,
        size - 1,
        size,
        size + 1,
        size * 2,
        size * 3 - 1,
        NO_LIMIT,
    ] {
        for lo in offset + 1..last {
            for hi in lo..=last.min(lo + 7) {
                let mut got = Vec::new();
                l.scan(lo, hi, page, |es| {
                    assert!(!es.is_empty());
                    assert!(es.len() == 1 || es.iter().map(Entry::size).sum::<u64>() <= page);
                    got.extend_from_slice(es);
                    Ok(())
                })
                .unwrap();
                assert_eq!(got, ents(lo..hi), "page {page} [{lo},{hi})");
            }
        }
    }
    // An error from the callback stops the scan and is returned.
    let mut calls = 0;
    let err = l.scan(offset + 1, last, 0, |_| {
        calls += 1;
        if calls == 3 {
            Err(Error::Invariant("stop".into()))
        } else {
            Ok(())
        }
    });
    assert_eq!(err, Err(Error::Invariant("stop".into())));
    assert_eq!(calls, 3);
    // Out of bounds.
    assert_eq!(l.scan(offset, last, NO_LIMIT, |_| Ok(())), Err(compacted()));
}

#[test]
fn stable_to() {
    // (index, term, want unstable offset)
    let cases = [(1, 1, 2), (2, 2, 3), (2, 1, 1), (3, 1, 1)];
    for (index, term, woffset) in cases {
        let mut l = log_with(None, &[]);
        l.append(&mut vec![ent(1, 1), ent(2, 2)]).unwrap();
        l.stable_to(index, term);
        assert_eq!(l.unstable.offset, woffset, "({index}, {term})");
    }
}

#[test]
fn stable_to_with_snapshot() {
    let (si, st) = (5u64, 2u64);
    // (stable index, stable term, new entries, want offset)
    let cases: Vec<(u64, u64, Vec<Entry>, u64)> = vec![
        (si + 1, st, vec![], si + 1),
        (si, st, vec![], si + 1),
        (si - 1, st, vec![], si + 1),
        (si + 1, st + 1, vec![], si + 1),
        (si, st + 1, vec![], si + 1),
        (si - 1, st + 1, vec![], si + 1),
        (si + 1, st, vec![ent(si + 1, st)], si + 2),
        (si, st, vec![ent(si + 1, st)], si + 1),
        (si - 1, st, vec![ent(si + 1, st)], si + 1),
        (si + 1, st + 1, vec![ent(si + 1, st)], si + 1),
        (si, st + 1, vec![ent(si + 1, st)], si + 1),
        (si - 1, st + 1, vec![ent(si + 1, st)], si + 1),
    ];
    for (i, (index, term, new, woffset)) in cases.into_iter().enumerate() {
        let mut l = log_with(Some(snap(si, st)), &[]);
        l.append(&mut new.to_vec()).unwrap();
        l.stable_to(index, term);
        assert_eq!(l.unstable.offset, woffset, "#{i}");
    }
}

#[test]
fn unstable_ents_and_accept_unstable() {
    let mut l = log_with(None, &ents(1..3));
    assert!(!l.has_next_unstable_ents());
    assert!(!l.has_next_or_in_progress_unstable_ents());
    l.append(&mut ents(3..5)).unwrap();
    assert_eq!(l.next_unstable_ents(), &ents(3..5)[..]);
    assert!(l.has_next_unstable_ents());
    l.accept_unstable();
    assert!(l.next_unstable_ents().is_empty());
    assert!(!l.has_next_unstable_ents());
    assert!(l.has_next_or_in_progress_unstable_ents());
    l.append(&mut ents(5..6)).unwrap();
    assert_eq!(l.next_unstable_ents(), &ents(5..6)[..]);
    l.store.append(&ents(3..5)).unwrap();
    l.stable_to(4, 4);
    assert_eq!(l.unstable.offset, 5);
    assert_eq!(l.next_unstable_ents(), &ents(5..6)[..]);
    assert_eq!(l.all_entries(), ents(1..6));
}

#[test]
fn entries_from_index() {
    let mut l = log_with(None, &ents(1..4));
    l.append(&mut ents(4..6)).unwrap();
    assert_eq!(l.entries(2, NO_LIMIT).unwrap(), ents(2..6));
    assert_eq!(l.entries(6, NO_LIMIT).unwrap(), vec![]);
    assert_eq!(l.entries(4, 0).unwrap(), ents(4..5));
    assert_eq!(l.entries(0, NO_LIMIT), Err(compacted()));
}

/// A storage over a `MemoryStorage` whose calls can be made to fail.
#[derive(Default)]
struct FailingStorage {
    inner: MemoryStorage,
    fail_first: Cell<bool>,
    fail_last: Cell<bool>,
    fail_term: Cell<bool>,
    fail_entries: Cell<bool>,
    entries_unavailable: Cell<bool>,
    fail_snapshot: Cell<Option<StorageError>>,
}

fn other(what: &str) -> Error {
    StorageError::Other(what.into()).into()
}

impl Storage for FailingStorage {
    fn initial_state(&self) -> Result<crate::RaftState> {
        self.inner.initial_state()
    }
    fn entries(&self, low: u64, high: u64, max_size: u64) -> Result<Vec<Entry>> {
        if self.fail_entries.get() {
            return Err(other("entries"));
        }
        if self.entries_unavailable.get() {
            return Err(unavailable());
        }
        self.inner.entries(low, high, max_size)
    }
    fn term(&self, idx: u64) -> Result<u64> {
        if self.fail_term.get() {
            return Err(other("term"));
        }
        self.inner.term(idx)
    }
    fn first_index(&self) -> Result<u64> {
        if self.fail_first.get() {
            return Err(other("first"));
        }
        self.inner.first_index()
    }
    fn last_index(&self) -> Result<u64> {
        if self.fail_last.get() {
            return Err(other("last"));
        }
        self.inner.last_index()
    }
    fn snapshot(&self) -> Result<Snapshot> {
        if let Some(e) = self.fail_snapshot.take() {
            self.fail_snapshot.set(Some(e.clone()));
            return Err(e.into());
        }
        self.inner.snapshot()
    }
}

fn failing_log() -> RaftLog<FailingStorage> {
    let s = FailingStorage::default();
    s.inner.append(&ents(1..6)).unwrap();
    let mut l = RaftLog::new(s, null()).unwrap();
    l.commit_to(5).unwrap();
    l
}

#[test]
fn construction_reports_storage_errors() {
    let s = FailingStorage::default();
    s.fail_first.set(true);
    assert_eq!(RaftLog::new(s, null()).err(), Some(other("first")));
    let s = FailingStorage::default();
    s.fail_last.set(true);
    assert_eq!(RaftLog::new(s, null()).err(), Some(other("last")));
}

#[test]
fn failing_term_is_a_fault() {
    let l = failing_log();
    assert!(!l.has_fault());
    l.store.fail_term.set(true);
    assert_eq!(l.last_term(), 0);
    assert!(l.has_fault());
    assert!(l.has_fault(), "has_fault does not take the fault");
    assert!(!l.match_term(3, 3));
    assert_eq!(l.term(3), Err(other("term")));
    assert_eq!(l.take_fault(), Some(other("term")));
    assert!(!l.has_fault());
    assert_eq!(l.take_fault(), None);

    // zero_term_on_out_of_bounds keeps other errors as the fault.
    assert_eq!(l.zero_term_on_out_of_bounds(Err(other("x"))), 0);
    assert_eq!(l.take_fault(), Some(other("x")));
    // is_up_to_date and find_conflict do not panic either.
    let _ = l.is_up_to_date(5, 5);
    assert_eq!(l.find_conflict(&[ent(1, 1)]), 1);
    assert!(l.has_fault());
}

#[test]
fn first_fault_is_kept() {
    let l = failing_log();
    l.store.fail_first.set(true);
    l.store.fail_term.set(true);
    assert_eq!(l.first_index(), 6, "falls back to the unstable offset");
    assert_eq!(l.term(3), Err(StorageError::Compacted.into()));
    assert_eq!(l.take_fault(), Some(other("first")));
}

#[test]
fn bounds_of_the_stable_log_come_from_the_unstable_offset() {
    // The storage's first and last index calls fail: every lookup below
    // that still asked them would leave a fault.
    let mut l = failing_log();
    l.store.fail_last.set(true);
    l.store.fail_first.set(true);
    assert_eq!(l.last_index(), 5, "the stable last index is offset - 1");
    assert_eq!(l.term(5), Ok(5), "the last stable entry needs no bounds");
    assert_eq!(l.term(6), Err(StorageError::Unavailable.into()));
    assert_eq!(l.term(u64::MAX), Err(StorageError::Unavailable.into()));
    assert!(!l.has_fault());
    // A range that starts at the unstable offset needs no first index.
    assert_eq!(l.append(&mut ents(6..9)).unwrap(), 8);
    assert_eq!(l.slice(6, 9, NO_LIMIT).unwrap(), ents(6..9));
    assert_eq!(l.last_index(), 8);
    assert!(!l.has_fault());
    // Older indexes still check the first index (a compacted entry must
    // not be read as if it were there).
    assert_eq!(l.term(3), Err(StorageError::Compacted.into()));
    assert_eq!(l.take_fault(), Some(other("first")));
}

#[test]
fn failing_entries_are_a_fault() {
    let l = failing_log();
    l.store.fail_entries.set(true);
    assert!(l.has_next_committed_ents(true));
    assert!(l.next_committed_ents(true).is_empty());
    assert!(l.has_fault());
    assert!(l.all_entries().is_empty());
    assert_eq!(l.slice(1, 3, NO_LIMIT), Err(other("entries")));
    assert!(l.take_fault().is_some());

    // Unavailable inside the stable range is an inconsistent storage.
    l.store.fail_entries.set(false);
    l.store.entries_unavailable.set(true);
    assert!(matches!(l.slice(1, 3, NO_LIMIT), Err(Error::Invariant(_))));
    assert_eq!(
        l.take_fault(),
        Some(Error::Invariant(
            "entries[1:3) is unavailable from storage".into()
        ))
    );
}

#[test]
fn snapshot_errors() {
    let l = failing_log();
    l.store
        .fail_snapshot
        .set(Some(StorageError::SnapshotTemporarilyUnavailable));
    assert_eq!(
        l.snapshot(),
        Err(StorageError::SnapshotTemporarilyUnavailable.into())
    );
    assert!(!l.has_fault(), "temporarily unavailable is expected");
    l.store
        .fail_snapshot
        .set(Some(StorageError::Other("snap".into())));
    assert_eq!(l.snapshot(), Err(other("snap")));
    assert_eq!(l.take_fault(), Some(other("snap")));
}

#[test]
fn indexes_at_the_top_of_the_range_do_not_overflow() {
    let mut l = log_with(None, &ents(1..3));
    l.restore(snap(u64::MAX - 2, 1));
    assert_eq!(
        l.maybe_append(u64::MAX - 2, 1, u64::MAX, vec![ent(u64::MAX - 1, 1)]),
        Ok(Some(u64::MAX - 1))
    );
    assert_eq!(l.last_index(), u64::MAX - 1);
    assert_eq!(l.committed, u64::MAX - 1);
    // Index u64::MAX cannot be stored: refused, nothing changes.
    let before = l.to_string();
    assert_eq!(
        l.maybe_append(u64::MAX - 1, 1, u64::MAX, vec![ent(u64::MAX, 1)]),
        Err(Error::Invariant(format!(
            "entry index {} is out of range",
            u64::MAX
        )))
    );
    assert!(matches!(
        l.append(&mut vec![ent(u64::MAX, 1)]),
        Err(Error::Invariant(_))
    ));
    assert!(matches!(
        l.unstable.truncate_and_append(&mut vec![ent(u64::MAX, 1)]),
        Err(Error::Invariant(_))
    ));
    assert_eq!(l.to_string(), before);
    l.accept_unstable();
    assert!(l.next_unstable_ents().is_empty());
    assert_eq!(
        l.entries(u64::MAX - 1, NO_LIMIT).unwrap(),
        vec![ent(u64::MAX - 1, 1)]
    );
    assert_eq!(l.find_conflict_by_term(u64::MAX, 1), (u64::MAX, 0));
    assert_eq!(l.find_conflict_by_term(u64::MAX - 1, 1), (u64::MAX - 1, 1));
    l.stable_to(u64::MAX - 1, 1);
    assert_eq!(l.unstable.offset, u64::MAX);
    assert!(!l.has_fault());

    // The storage refuses a snapshot at the very top (beyond
    // MAX_TERM_OR_INDEX), and the log refuses a storage that reports one.
    let s = MemoryStorage::new();
    assert!(s.apply_snapshot(snap(u64::MAX, 1)).is_err());
    assert_eq!(s.last_index().unwrap(), 0);
    s.apply_snapshot(snap(crate::MAX_TERM_OR_INDEX, 1)).unwrap();
    let l = RaftLog::new(s, null()).unwrap();
    assert_eq!(l.last_index(), crate::MAX_TERM_OR_INDEX);
    assert_eq!(l.term(crate::MAX_TERM_OR_INDEX), Ok(1));
}
