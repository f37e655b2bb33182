//! The workspace's one LevelDB layer over rusty-leveldb: the fsyncing env
//! ([`sync_env`]), the options every database is opened with, the one way
//! to open a database ([`open_checked`]: its files checked first by
//! [`verify`]), and point reads that work around a rusty-leveldb lookup
//! bug. Both the Raft store of this crate and lraft's `lraft.leveldb`
//! binding use it.

pub mod sync_env;
pub mod verify;

use std::cell::RefCell;
use std::fmt;
use std::io::{self, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::rc::Rc;

use rusty_leveldb::env::Env;
use rusty_leveldb::infolog::Logger;
use rusty_leveldb::{LdbIterator, Options, DB};

pub use sync_env::{sync_parent_dir, SyncEnv};

/// The options every database is opened with: the fsyncing env, and no
/// reuse of the last log file. rusty-leveldb reuses it by default and then
/// appends after whatever the crash left at its end; a torn record there
/// stops the next recovery, which silently drops every later (synced) write.
pub fn base_options() -> Options {
    options_with_env(Box::new(SyncEnv::new()))
}

/// [`base_options`] over another env (a wrapper of [`SyncEnv`], for example
/// one that injects faults in tests).
pub fn options_with_env(env: Box<dyn Env>) -> Options {
    Options {
        env: Rc::new(env),
        create_if_missing: true,
        reuse_logs: false,
        ..Default::default()
    }
}

/// Why [`open_checked`] refused to open a database.
#[derive(Debug)]
pub enum OpenError {
    /// A file failed the check of [`verify`]; the message names it.
    Damaged(String),
    /// rusty-leveldb's own error (locked, missing files, ...).
    Ldb(rusty_leveldb::Status),
    /// rusty-leveldb panicked reading a malformed file.
    Panicked,
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Damaged(m) => f.write_str(m),
            OpenError::Ldb(e) => write!(f, "{e}"),
            OpenError::Panicked => {
                f.write_str("LevelDB failed reading the database (damaged files)")
            }
        }
    }
}

/// Opens the database at `path` with options `o`, the way every user of
/// this layer opens one: the files are checked first ([`verify::verify_dir`]:
/// a damaged table, or a log or manifest damaged anywhere but at its torn
/// tail, is refused naming the file, where rusty-leveldb would replay past
/// the damage or panic), and a panic of rusty-leveldb on a malformed file
/// that the check lets through becomes [`OpenError::Panicked`].
pub fn open_checked(path: &Path, o: Options) -> Result<DB, OpenError> {
    verify::verify_dir(path).map_err(OpenError::Damaged)?;
    match catch_unwind(AssertUnwindSafe(|| DB::open(path, o))) {
        Ok(Ok(db)) => Ok(db),
        Ok(Err(e)) => Err(OpenError::Ldb(e)),
        Err(_) => Err(OpenError::Panicked),
    }
}

/// Reads the newest value of `k`.
///
/// This seeks an iterator instead of calling rusty-leveldb's `get`: its
/// table lookup (4.0.2) gives up on a block whose index key equals the
/// lookup key, which happens when the newest version of a key is the last
/// entry of a block and the key was the last one written. The lookup then
/// falls through to an older table and returns a stale value (seen after
/// crash recovery: a storage's bounds key read as its previous value,
/// hiding acknowledged entries). Iterators skip to the next block instead.
pub fn get_key(db: &mut DB, k: &[u8]) -> rusty_leveldb::Result<Option<Vec<u8>>> {
    let mut it = db.new_iter()?;
    it.seek(k);
    if !it.valid() {
        return Ok(None);
    }
    Ok(match it.current() {
        Some((key, v)) if key.as_ref() == k => Some(v.to_vec()),
        _ => None,
    })
}

/// A writer into a shared in-memory buffer, used as rusty-leveldb's info
/// log so that the details behind an error such as "missing live files
/// (see log)" can be put into the error message.
#[derive(Clone, Default)]
pub struct InfoLog(Rc<RefCell<Vec<u8>>>);

impl InfoLog {
    /// A logger writing into this buffer.
    pub fn logger(&self) -> Rc<RefCell<Logger>> {
        Rc::new(RefCell::new(Logger(Box::new(self.clone()))))
    }

    /// The logged lines that contain `needle`.
    pub fn lines_with(&self, needle: &str) -> Vec<String> {
        String::from_utf8_lossy(&self.0.borrow())
            .lines()
            .filter(|l| l.contains(needle))
            .map(str::to_string)
            .collect()
    }

    /// Drops what was logged so far (the buffer would otherwise grow with
    /// every compaction of a long-running database).
    pub fn clear(&self) {
        self.0.borrow_mut().clear();
    }
}

impl Write for InfoLog {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut b = self.0.borrow_mut();
        // Keep the buffer bounded: only the lines since the last clear matter.
        if b.len() > 1 << 20 {
            b.clear();
        }
        b.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
