//! [`Group`]: the log of one Raft group in a [`Store`](crate::Store),
//! implementing the core's [`Storage`] and etcd `MemoryStorage`'s write
//! methods, each write being one atomic LevelDB batch.

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;

use bytes::Bytes;
use prost::Message as _;
use raft_core::eraftpb::{ConfState, Entry, HardState, Snapshot, SnapshotMetadata};
use raft_core::{Error, RaftState, Ready, Result, Storage, StorageError};
use rusty_leveldb::{LdbIterator, WriteBatch};

use crate::cache::EntryCache;
use crate::record::{frame, unframe, FileSum, Meta};
use crate::store::{other, StoreInner};
use crate::{keys, snapfile};

/// The in-memory state of an open group.
#[derive(Debug)]
pub(crate) struct GroupState {
    id: u64,
    hard_state: HardState,
    meta: Meta,
    last: u64,
    cache: EntryCache,
    /// Set when a write of this group failed outside the database (a
    /// snapshot file): the group refuses further work.
    failed: Option<String>,
    /// Set by `Store::drop_group`.
    pub(crate) dropped: bool,
}

fn corrupt(inner: &StoreInner, what: String) -> Error {
    other(format!(
        "raft store {}: damaged data: {what}",
        inner.path.display()
    ))
}

fn decode_entry(inner: &StoreInner, group: u64, index: u64, key: &[u8], v: &[u8]) -> Result<Entry> {
    let body = unframe(key, v).ok_or_else(|| {
        corrupt(
            inner,
            format!("entry {index} of group {group} fails its checksum"),
        )
    })?;
    let e = Entry::decode(body).map_err(|e| {
        corrupt(
            inner,
            format!("entry {index} of group {group} does not decode: {e}"),
        )
    })?;
    if e.index != index {
        return Err(corrupt(
            inner,
            format!("entry key {index} of group {group} holds index {}", e.index),
        ));
    }
    Ok(e)
}

impl GroupState {
    /// Loads group `id` from the database (see `Store::open_group`).
    pub(crate) fn load(inner: &StoreInner, id: u64) -> Result<GroupState> {
        let hk = keys::hard_state(id);
        let hard_state = match inner.get(&hk)? {
            None => HardState::default(),
            Some(v) => {
                let body = unframe(&hk, &v).ok_or_else(|| {
                    corrupt(
                        inner,
                        format!("hard state of group {id} fails its checksum"),
                    )
                })?;
                HardState::decode(body).map_err(|e| {
                    corrupt(
                        inner,
                        format!("hard state of group {id} does not decode: {e}"),
                    )
                })?
            }
        };
        let mk = keys::meta(id);
        let meta = match inner.get(&mk)? {
            None => Meta::default(),
            Some(v) => unframe(&mk, &v).and_then(Meta::decode).ok_or_else(|| {
                corrupt(
                    inner,
                    format!("metadata of group {id} fails its checksum or does not decode"),
                )
            })?,
        };
        let mut cache = EntryCache::new(inner.cache_bytes);
        let mut last = meta.offset_index;
        inner.with_db(|db| {
            let mut it = db
                .new_iter()
                .map_err(|e| other(format!("read {}: {e}", inner.path.display())))?;
            it.seek(&keys::entry(id, meta.offset_index.saturating_add(1)));
            let mut run = Vec::new();
            while it.valid() {
                let Some((k, v)) = it.current() else { break };
                let Some(index) = keys::entry_index(id, &k) else {
                    break;
                };
                if last.checked_add(1) != Some(index) {
                    return Err(corrupt(
                        inner,
                        format!(
                            "group {id} has entry {index} after entry {last} (a hole in the log)"
                        ),
                    ));
                }
                let e = decode_entry(inner, id, index, &k, &v)?;
                run.push(e);
                last = index;
                if run.len() >= 1024 {
                    cache.extend(&run);
                    run.clear();
                }
                it.advance();
            }
            cache.extend(&run);
            Ok(())
        })?;
        if let Some(sum) = meta.file {
            let p = snapfile::path(&inner.path, id, meta.snapshot.index);
            snapfile::read(&p, sum).map_err(|m| other(format!("raft store: {m}")))?;
            snapfile::remove_others(&inner.path, id, Some(&p));
        } else {
            snapfile::remove_others(&inner.path, id, None);
        }
        Ok(GroupState {
            id,
            hard_state,
            meta,
            last,
            cache,
            failed: None,
            dropped: false,
        })
    }

    fn first_index(&self) -> u64 {
        self.meta.offset_index.saturating_add(1)
    }
}

/// A handle on the log of one Raft group: give one clone to the node
/// (`RawNode::new(&cfg, group.clone())`) and write the Readys through
/// another ([`Group::persist_ready`]). Reads of the bounds and of the
/// entries in the cache never touch LevelDB.
///
/// Every write is one LevelDB batch, fsynced when the store syncs: durable
/// when the call returns. A failed write returns an error and makes the
/// store (or, for a snapshot file, the group) refuse every further call
/// with that reason, reads included, so a node reading it stops
/// (`Error::Poisoned`) instead of running on state that is not on disk.
///
/// Restarting: `initial_state` gives the saved hard state and the
/// snapshot's ConfState (as etcd's `MemoryStorage`); membership changes
/// committed after the snapshot are in the log. Restart the node with
/// `Config::applied` at most the snapshot index (0 works) so that they come
/// back in `committed_entries` to be applied again, as etcd's raftexample
/// does, or make a snapshot after each membership change.
///
/// (The failed write may still reach the disk later, when LevelDB flushes
/// its buffer on close, as a write cut short by a crash may; it was never
/// acknowledged, which is all Raft needs.)
#[derive(Clone)]
pub struct Group {
    inner: Rc<StoreInner>,
    st: Rc<RefCell<GroupState>>,
}

impl std::fmt::Debug for Group {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.st.borrow();
        write!(
            f,
            "Group({} in {}, [{}, {}])",
            st.id,
            self.inner.path.display(),
            st.first_index(),
            st.last
        )
    }
}

/// The database changes of one write, built before anything is written.
struct Plan {
    batch: WriteBatch,
    sync: bool,
    hard_state: Option<HardState>,
    meta: Option<Meta>,
    /// A snapshot file to write before the batch, and the old one to
    /// remove after it.
    file: Option<(PathBuf, Bytes)>,
    old_file: Option<PathBuf>,
    entries: Vec<Entry>,
    /// Cache updates: drop everything (snapshot), drop through (compact).
    clear_cache: bool,
    compact_through: Option<u64>,
    last: u64,
}

impl Group {
    pub(crate) fn new(inner: Rc<StoreInner>, st: Rc<RefCell<GroupState>>) -> Group {
        Group { inner, st }
    }

    /// The group id.
    pub fn id(&self) -> u64 {
        self.st.borrow().id
    }

    fn check(&self) -> Result<()> {
        self.inner.check()?;
        let st = self.st.borrow();
        if st.dropped {
            return Err(other(format!("raft store: group {} was dropped", st.id)));
        }
        if let Some(m) = &st.failed {
            return Err(other(format!(
                "raft store: group {} failed earlier and refuses further work: {m}",
                st.id
            )));
        }
        Ok(())
    }

    fn plan(&self, sync: bool) -> Plan {
        Plan {
            batch: WriteBatch::default(),
            sync,
            hard_state: None,
            meta: None,
            file: None,
            old_file: None,
            entries: Vec::new(),
            clear_cache: false,
            compact_through: None,
            last: self.st.borrow().last,
        }
    }

    fn old_file(&self) -> Option<PathBuf> {
        let st = self.st.borrow();
        st.meta
            .file
            .map(|_| snapfile::path(&self.inner.path, st.id, st.meta.snapshot.index))
    }

    fn put_meta(&self, p: &mut Plan, m: Meta) {
        let k = keys::meta(self.id());
        p.batch.put(&k, &frame(&k, &m.encode()));
        p.meta = Some(m);
    }

    fn plan_hard_state(&self, p: &mut Plan, hs: HardState) {
        let k = keys::hard_state(self.id());
        p.batch.put(&k, &frame(&k, &hs.encode_to_vec()));
        p.hard_state = Some(hs);
    }

    fn plan_snapshot(&self, p: &mut Plan, snap: &Snapshot) -> Result<()> {
        // The same bounds as MemoryStorage: arithmetic on the index and term
        // must not wrap.
        raft_core::storage::check_snapshot(snap)?;
        let (id, cur, first) = {
            let st = self.st.borrow();
            (st.id, st.meta.snapshot.index, st.first_index())
        };
        let md = &snap.metadata;
        if cur >= md.index {
            return Err(StorageError::SnapshotOutOfDate.into());
        }
        for i in first..=p.last {
            p.batch.delete(&keys::entry(id, i));
        }
        let data = snap.data.clone().unwrap_or_default();
        let file = if data.is_empty() {
            None
        } else {
            let path = snapfile::path(&self.inner.path, id, md.index);
            let sum = FileSum {
                len: data.len() as u64,
                crc: crc32c::crc32c(&data),
            };
            p.file = Some((path, data));
            Some(sum)
        };
        p.old_file = self.old_file();
        self.put_meta(
            p,
            Meta {
                offset_index: md.index,
                offset_term: md.term,
                snapshot: md.clone(),
                file,
            },
        );
        p.clear_cache = true;
        p.last = md.index;
        Ok(())
    }

    fn plan_entries(&self, p: &mut Plan, entries: &[Entry]) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        raft_core::storage::check_append(entries)?;
        let (id, offset) = match &p.meta {
            Some(m) => (self.id(), m.offset_index),
            None => (self.id(), self.st.borrow().meta.offset_index),
        };
        let first = offset.saturating_add(1);
        let last_new = entries[entries.len() - 1].index;
        if last_new < first {
            return Ok(());
        }
        let entries = if first > entries[0].index {
            &entries[(first - entries[0].index) as usize..]
        } else {
            entries
        };
        let first_new = entries[0].index;
        if first_new > p.last.saturating_add(1) {
            return Err(Error::Invariant(format!(
                "missing log entry [last: {}, append at: {}]",
                p.last, first_new
            )));
        }
        for i in last_new.saturating_add(1)..=p.last {
            p.batch.delete(&keys::entry(id, i));
        }
        for e in entries {
            let k = keys::entry(id, e.index);
            p.batch.put(&k, &frame(&k, &e.encode_to_vec()));
        }
        p.entries = entries.to_vec();
        p.last = last_new;
        Ok(())
    }

    /// Writes a plan: the snapshot file, then the batch, then the memory.
    fn commit(&self, p: Plan) -> Result<()> {
        if let Some((path, data)) = &p.file {
            if let Err(m) = snapfile::write(path, data) {
                let m = format!("raft store: writing snapshot file: {m}");
                self.st.borrow_mut().failed = Some(m.clone());
                return Err(other(m));
            }
        }
        self.inner.write(p.batch, p.sync, p.old_file.is_some())?;
        let mut st = self.st.borrow_mut();
        if let Some(hs) = p.hard_state {
            st.hard_state = hs;
        }
        if let Some(m) = p.meta {
            st.meta = m;
        }
        if p.clear_cache {
            st.cache.clear();
        }
        if let Some(i) = p.compact_through {
            st.cache.drop_through(i);
        }
        if let Some(e) = p.entries.first() {
            st.cache.truncate_from(e.index);
            st.cache.extend(&p.entries);
        }
        st.last = p.last;
        drop(st);
        if let Some(old) = p.old_file {
            if p.file.as_ref().map(|(n, _)| n) != Some(&old) {
                let _ = std::fs::remove_file(old);
            }
        }
        Ok(())
    }

    /// Persists a Ready's hard state, snapshot and entries as one atomic
    /// batch, fsynced once when `rd.must_sync` (or a snapshot is applied)
    /// and the store syncs. Durable when it returns `Ok`; on error nothing
    /// of the Ready may be acknowledged. A Ready without `must_sync` only
    /// moves the commit index: as etcd allows, it is written without fsync
    /// and may be lost in a crash (the node learns the commit index again).
    pub fn persist_ready(&self, rd: &Ready) -> Result<()> {
        self.persist(rd.hard_state, &rd.snapshot, &rd.entries, rd.must_sync)
    }

    /// [`Group::persist_ready`] from its parts (an empty snapshot, index 0,
    /// means none).
    pub fn persist(
        &self,
        hs: Option<HardState>,
        snap: &Snapshot,
        entries: &[Entry],
        must_sync: bool,
    ) -> Result<()> {
        self.check()?;
        let mut p = self.plan(must_sync || !snap.is_empty());
        if let Some(hs) = hs {
            self.plan_hard_state(&mut p, hs);
        }
        if !snap.is_empty() {
            self.plan_snapshot(&mut p, snap)?;
        }
        self.plan_entries(&mut p, entries)?;
        self.commit(p)
    }

    /// Saves the hard state (etcd `SetHardState`).
    pub fn set_hard_state(&self, hs: HardState) -> Result<()> {
        self.check()?;
        let mut p = self.plan(true);
        self.plan_hard_state(&mut p, hs);
        self.commit(p)
    }

    /// Bytes of entries held in the group's cache.
    pub fn cached_bytes(&self) -> usize {
        self.st.borrow().cache.bytes()
    }

    /// The saved hard state.
    pub fn hard_state(&self) -> HardState {
        self.st.borrow().hard_state
    }

    /// Appends entries with etcd `MemoryStorage.Append` semantics: entries
    /// at or below the compaction point are ignored, existing entries from
    /// the first new index on are replaced, a gap is an error.
    pub fn append(&self, entries: &[Entry]) -> Result<()> {
        self.check()?;
        let mut p = self.plan(true);
        self.plan_entries(&mut p, entries)?;
        if p.entries.is_empty() {
            return Ok(());
        }
        self.commit(p)
    }

    /// Replaces the group's log with `snap` (etcd `ApplySnapshot`);
    /// `SnapshotOutOfDate` when the held snapshot is not older.
    pub fn apply_snapshot(&self, snap: &Snapshot) -> Result<()> {
        self.check()?;
        let mut p = self.plan(true);
        self.plan_snapshot(&mut p, snap)?;
        self.commit(p)
    }

    /// Makes a snapshot at applied index `i` with application state `data`
    /// and membership `cs` (None keeps the previous one), durably, and
    /// returns it (etcd `CreateSnapshot`).
    pub fn create_snapshot(&self, i: u64, cs: Option<ConfState>, data: Bytes) -> Result<Snapshot> {
        self.check()?;
        let (id, cur, offset, last) = {
            let st = self.st.borrow();
            (st.id, st.meta.clone(), st.meta.offset_index, st.last)
        };
        if i <= cur.snapshot.index {
            return Err(StorageError::SnapshotOutOfDate.into());
        }
        if i > last {
            return Err(Error::Invariant(format!(
                "snapshot {i} is out of bound lastindex({last})"
            )));
        }
        if i < offset {
            return Err(StorageError::Compacted.into());
        }
        let term = self.term(i)?;
        let md = SnapshotMetadata {
            conf_state: cs.unwrap_or_else(|| cur.snapshot.conf_state.clone()),
            index: i,
            term,
        };
        let mut p = self.plan(true);
        let file = if data.is_empty() {
            None
        } else {
            let path = snapfile::path(&self.inner.path, id, i);
            let sum = FileSum {
                len: data.len() as u64,
                crc: crc32c::crc32c(&data),
            };
            p.file = Some((path, data.clone()));
            Some(sum)
        };
        p.old_file = self.old_file();
        self.put_meta(
            &mut p,
            Meta {
                snapshot: md.clone(),
                file,
                ..cur
            },
        );
        self.commit(p)?;
        Ok(Snapshot {
            data: if data.is_empty() { None } else { Some(data) },
            metadata: md,
        })
    }

    /// Discards the entries before `compact_index` (etcd `Compact`): entry
    /// `compact_index` becomes the compaction point.
    pub fn compact(&self, compact_index: u64) -> Result<()> {
        self.check()?;
        let (id, meta, last) = {
            let st = self.st.borrow();
            (st.id, st.meta.clone(), st.last)
        };
        if compact_index <= meta.offset_index {
            return Err(StorageError::Compacted.into());
        }
        if compact_index > last {
            return Err(Error::Invariant(format!(
                "compact {compact_index} is out of bound lastindex({last})"
            )));
        }
        let term = self.term(compact_index)?;
        let mut p = self.plan(true);
        for i in meta.offset_index + 1..=compact_index {
            p.batch.delete(&keys::entry(id, i));
        }
        self.put_meta(
            &mut p,
            Meta {
                offset_index: compact_index,
                offset_term: term,
                ..meta
            },
        );
        p.compact_through = Some(compact_index);
        self.commit(p)
    }

    /// Reads entries `[low, high)` from LevelDB (outside the cache).
    fn read_entries(&self, low: u64, high: u64) -> Result<Vec<Entry>> {
        let id = self.id();
        let inner = &*self.inner;
        inner.db_reads.set(inner.db_reads.get() + 1);
        inner.with_db(|db| {
            let mut it = db
                .new_iter()
                .map_err(|e| other(format!("read {}: {e}", inner.path.display())))?;
            it.seek(&keys::entry(id, low));
            let mut out = Vec::with_capacity((high - low).min(1024) as usize);
            for want in low..high {
                let cur = if it.valid() { it.current() } else { None };
                let Some((k, v)) = cur else {
                    return Err(corrupt(
                        inner,
                        format!("entry {want} of group {id} is missing"),
                    ));
                };
                if keys::entry_index(id, &k) != Some(want) {
                    return Err(corrupt(
                        inner,
                        format!("entry {want} of group {id} is missing"),
                    ));
                }
                out.push(decode_entry(inner, id, want, &k, &v)?);
                it.advance();
            }
            Ok(out)
        })
    }
}

impl Storage for Group {
    fn initial_state(&self) -> Result<RaftState> {
        self.check()?;
        let st = self.st.borrow();
        Ok(RaftState {
            hard_state: st.hard_state,
            conf_state: st.meta.snapshot.conf_state.clone(),
        })
    }

    fn entries(&self, low: u64, high: u64, max_size: u64) -> Result<Vec<Entry>> {
        Ok(self.entries_sized(low, high, max_size)?.0)
    }

    /// Measures each entry once, to cut the read at `max_size`, and returns
    /// that total with the entries.
    fn entries_sized(&self, low: u64, high: u64, max_size: u64) -> Result<(Vec<Entry>, u64)> {
        self.check()?;
        let (offset, last, cache_first) = {
            let st = self.st.borrow();
            (st.meta.offset_index, st.last, st.cache.first())
        };
        if low <= offset {
            return Err(StorageError::Compacted.into());
        }
        if high > last.saturating_add(1) {
            return Err(StorageError::Unavailable.into());
        }
        if last == offset {
            return Err(StorageError::Unavailable.into());
        }
        if low > high {
            return Err(Error::Invariant(format!(
                "invalid entries range {low} > {high}"
            )));
        }
        if low == high {
            return Ok((Vec::new(), 0));
        }
        // Read from LevelDB only below the cache, and only as much as the
        // size limit can take.
        let mut out = Vec::new();
        let mut size: u64 = 0;
        let split = cache_first.unwrap_or(high).clamp(low, high);
        if low < split {
            for e in self.read_entries(low, split)? {
                let next = size.saturating_add(e.size());
                if !out.is_empty() && next > max_size {
                    return Ok((out, size));
                }
                size = next;
                out.push(e);
            }
        }
        let st = self.st.borrow();
        for i in split..high {
            let Some(e) = st.cache.get(i) else {
                return Err(other(format!(
                    "raft store: entry {i} of group {} is missing from the cache",
                    st.id
                )));
            };
            let next = size.saturating_add(e.size());
            if !out.is_empty() && next > max_size {
                break;
            }
            size = next;
            out.push(e.clone());
        }
        Ok((out, size))
    }

    fn term(&self, idx: u64) -> Result<u64> {
        self.check()?;
        let (offset, offset_term, last, cached) = {
            let st = self.st.borrow();
            (
                st.meta.offset_index,
                st.meta.offset_term,
                st.last,
                st.cache.get(idx).map(|e| e.term),
            )
        };
        if idx < offset {
            return Err(StorageError::Compacted.into());
        }
        if idx == offset {
            return Ok(offset_term);
        }
        if idx > last {
            return Err(StorageError::Unavailable.into());
        }
        if let Some(t) = cached {
            return Ok(t);
        }
        Ok(self.read_entries(idx, idx + 1)?[0].term)
    }

    fn first_index(&self) -> Result<u64> {
        self.check()?;
        Ok(self.st.borrow().first_index())
    }

    fn last_index(&self) -> Result<u64> {
        self.check()?;
        Ok(self.st.borrow().last)
    }

    fn snapshot(&self) -> Result<Snapshot> {
        self.check()?;
        let (id, meta) = {
            let st = self.st.borrow();
            (st.id, st.meta.clone())
        };
        let data = match meta.file {
            None => None,
            Some(sum) => {
                let p = snapfile::path(&self.inner.path, id, meta.snapshot.index);
                let d = snapfile::read(&p, sum).map_err(|m| other(format!("raft store: {m}")))?;
                Some(Bytes::from(d))
            }
        };
        Ok(Snapshot {
            data,
            metadata: meta.snapshot,
        })
    }
}
