//! [`Store`]: one LevelDB database directory holding the logs of any
//! number of Raft groups.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use raft_core::{Error, Result, StorageError};
use rusty_leveldb::env::Env;
use rusty_leveldb::{LdbIterator, WriteBatch, DB};

use crate::group::{Group, GroupState};
use crate::ldb::{self, sync_parent_dir, InfoLog};
use crate::{keys, snapfile};

/// How to open a [`Store`].
pub struct StoreOptions {
    /// The database directory (created when missing).
    pub path: PathBuf,
    /// Whether writes that must be durable are fsynced (default true). With
    /// `false` a crash of the machine (not only of the process) may lose
    /// acknowledged writes; only for tests and throw-away clusters.
    pub sync: bool,
    /// Bytes of recent entries each group keeps in memory (default 4 MiB).
    pub cache_bytes: usize,
    /// The file layer (default: [`ldb::SyncEnv`]). Tests wrap it to inject
    /// faults.
    pub env: Option<Box<dyn Env>>,
}

impl StoreOptions {
    /// Default options for the database at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        StoreOptions {
            path: path.into(),
            sync: true,
            cache_bytes: 4 << 20,
            env: None,
        }
    }
}

/// The state shared by a store and its groups.
pub(crate) struct StoreInner {
    pub(crate) path: PathBuf,
    pub(crate) sync: bool,
    pub(crate) cache_bytes: usize,
    db: RefCell<Option<DB>>,
    info: InfoLog,
    /// Set by the first failed write: the database's memory may then hold a
    /// write that is not on disk, so nothing is served any more.
    failed: RefCell<Option<String>>,
    writes: Cell<u64>,
    /// Reads that went to LevelDB (not served from memory).
    pub(crate) db_reads: Cell<u64>,
    pub(crate) groups: RefCell<HashMap<u64, Rc<RefCell<GroupState>>>>,
}

/// A `StorageError::Other` error.
pub(crate) fn other(msg: impl Into<String>) -> Error {
    StorageError::Other(msg.into()).into()
}

impl StoreInner {
    /// Fails when the store failed earlier or was closed.
    pub(crate) fn check(&self) -> Result<()> {
        if let Some(m) = &*self.failed.borrow() {
            return Err(other(format!(
                "raft store {} failed earlier and refuses further work: {m}",
                self.path.display()
            )));
        }
        if self.db.borrow().is_none() {
            return Err(other(format!(
                "raft store {} is closed",
                self.path.display()
            )));
        }
        Ok(())
    }

    /// Runs `f` on the database.
    pub(crate) fn with_db<R>(&self, f: impl FnOnce(&mut DB) -> Result<R>) -> Result<R> {
        self.check()?;
        let mut g = self
            .db
            .try_borrow_mut()
            .map_err(|_| other("raft store: the database is busy (reentrant call)"))?;
        f(g.as_mut().expect("checked open"))
    }

    /// Writes `batch`, fsynced when `sync` and the store syncs, or always
    /// when `force` (a batch after which a file is deleted must be on disk
    /// first). A failure marks the store failed.
    pub(crate) fn write(&self, batch: WriteBatch, sync: bool, force: bool) -> Result<()> {
        let sync = (sync && self.sync) || force;
        let r = self.with_db(|db| {
            db.write(batch, sync)
                .map_err(|e| other(format!("write to {}: {e}", self.path.display())))
        });
        if let Err(e) = &r {
            self.fail(e.to_string());
        } else {
            // Keep the info log from growing with compactions.
            let n = self.writes.get().wrapping_add(1);
            self.writes.set(n);
            if n & 4095 == 0 {
                self.info.clear();
            }
        }
        r
    }

    /// Marks the store failed with `reason` (the first reason is kept).
    pub(crate) fn fail(&self, reason: String) {
        let mut f = self.failed.borrow_mut();
        if f.is_none() {
            *f = Some(reason);
        }
    }

    /// Reads the framed value of `key`.
    pub(crate) fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.db_reads.set(self.db_reads.get() + 1);
        self.with_db(|db| {
            ldb::get_key(db, key).map_err(|e| other(format!("read {}: {e}", self.path.display())))
        })
    }
}

/// A durable store of Raft logs: one LevelDB database directory (with the
/// snapshot data files in `snapshots/` beside the tables) serving any
/// number of groups, each opened with [`Store::open_group`].
///
/// The handle is cheap to clone (clones share the database) but not
/// `Send`: use a store and its groups from one thread. The database keeps
/// its `LOCK` until every clone and group handle is dropped (or
/// [`Store::close`] is called); a second process opening the same
/// directory gets an error.
#[derive(Clone)]
pub struct Store {
    inner: Rc<StoreInner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.inner.path.display())
    }
}

fn open_error(path: &Path, info: &InfoLog, e: rusty_leveldb::Status) -> Error {
    let msg = e.to_string();
    if msg.contains("lock") || matches!(e.code, rusty_leveldb::StatusCode::LockError) {
        return other(format!(
            "raft store {}: the database is locked: another process (or another Store in this process) has it open ({msg})",
            path.display()
        ));
    }
    let detail = info.lines_with("Missing");
    if !detail.is_empty() {
        // "Missing at least these files: {5, 7}" -> names.
        let nums: Vec<String> = detail
            .join(" ")
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .map(|n| format!("{}/{n:0>6}.ldb", path.display()))
            .collect();
        return other(format!(
            "raft store {}: a file of the database is missing: {} ({msg})",
            path.display(),
            nums.join(", ")
        ));
    }
    other(format!(
        "raft store {}: cannot open the database: {msg}",
        path.display()
    ))
}

impl Store {
    /// Opens (creating when missing) the store described by `opts`.
    ///
    /// Before LevelDB replays anything the files are checked
    /// ([`ldb::verify`]): a damaged table, or a log damaged anywhere but at
    /// its torn tail, is refused with an error naming the file.
    pub fn open(opts: StoreOptions) -> Result<Store> {
        let StoreOptions {
            path,
            sync,
            cache_bytes,
            env,
        } = opts;
        if !path.exists() {
            fs::create_dir_all(&path)
                .map_err(|e| other(format!("raft store: create {}: {e}", path.display())))?;
            sync_parent_dir(&path).map_err(|e| {
                other(format!(
                    "raft store: fsync parent of {}: {e}",
                    path.display()
                ))
            })?;
        }
        let info = InfoLog::default();
        let mut o = match env {
            Some(env) => ldb::options_with_env(env),
            None => ldb::base_options(),
        };
        o.log = Some(info.logger());
        let db = match ldb::open_checked(&path, o) {
            Ok(db) => db,
            Err(ldb::OpenError::Damaged(m)) => return Err(other(format!("raft store: {m}"))),
            Err(ldb::OpenError::Ldb(e)) => return Err(open_error(&path, &info, e)),
            Err(e @ ldb::OpenError::Panicked) => {
                return Err(other(format!("raft store {}: {e}", path.display())))
            }
        };
        let sd = snapfile::dir(&path);
        if !sd.exists() {
            fs::create_dir(&sd)
                .map_err(|e| other(format!("raft store: create {}: {e}", sd.display())))?;
            sync_parent_dir(&sd)
                .map_err(|e| other(format!("raft store: fsync {}: {e}", path.display())))?;
        }
        Ok(Store {
            inner: Rc::new(StoreInner {
                path,
                sync,
                cache_bytes,
                db: RefCell::new(Some(db)),
                info,
                failed: RefCell::new(None),
                writes: Cell::new(0),
                db_reads: Cell::new(0),
                groups: RefCell::new(HashMap::new()),
            }),
        })
    }

    /// The database directory.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The reason the store refuses work, if a write failed.
    pub fn failure(&self) -> Option<String> {
        self.inner.failed.borrow().clone()
    }

    /// How many reads went to LevelDB rather than memory since the store
    /// was opened (opening a group reads it whole; after that, reads of
    /// entries in the cache do not count).
    pub fn leveldb_reads(&self) -> u64 {
        self.inner.db_reads.get()
    }

    /// Opens group `id` (empty when never written): loads its hard state,
    /// metadata and bounds, checks that its entries are intact and
    /// contiguous and that its snapshot file matches its checksum, and fills
    /// the entry cache. Opening an open group returns another handle on the
    /// same state.
    pub fn open_group(&self, id: u64) -> Result<Group> {
        self.inner.check()?;
        if let Some(st) = self.inner.groups.borrow().get(&id) {
            return Ok(Group::new(self.inner.clone(), st.clone()));
        }
        let st = GroupState::load(&self.inner, id)?;
        let st = Rc::new(RefCell::new(st));
        self.inner.groups.borrow_mut().insert(id, st.clone());
        Ok(Group::new(self.inner.clone(), st))
    }

    /// Removes every key and the snapshot file of group `id`, durably.
    /// Handles of the group still held fail from then on.
    pub fn drop_group(&self, id: u64) -> Result<()> {
        let prefix = keys::group_prefix(id);
        let doomed: Vec<Vec<u8>> = self.inner.with_db(|db| {
            let mut it = db
                .new_iter()
                .map_err(|e| other(format!("read {}: {e}", self.inner.path.display())))?;
            it.seek(&prefix);
            let mut v = Vec::new();
            while it.valid() {
                let Some((k, _)) = it.current() else { break };
                if !k.starts_with(&prefix) {
                    break;
                }
                v.push(k.to_vec());
                it.advance();
            }
            Ok(v)
        })?;
        let mut b = WriteBatch::default();
        for k in &doomed {
            b.delete(k);
        }
        self.inner.write(b, true, true)?;
        if let Some(st) = self.inner.groups.borrow_mut().remove(&id) {
            st.borrow_mut().dropped = true;
        }
        snapfile::remove_others(&self.inner.path, id, None);
        Ok(())
    }

    /// Flushes and closes the database, releasing its lock. Every handle
    /// of the store and its groups fails from then on.
    pub fn close(&self) -> Result<()> {
        let db = self.inner.db.borrow_mut().take();
        if let Some(mut db) = db {
            db.close()
                .map_err(|e| other(format!("close {}: {e}", self.inner.path.display())))?;
        }
        Ok(())
    }
}
