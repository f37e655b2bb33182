//! The fsyncing file layer (env) under every LevelDB database of the workspace.
//!
//! rusty-leveldb's posix env never calls fsync: a "synced" write only
//! reaches the kernel. [`SyncEnv`] delegates to it but opens writable files
//! itself so that `flush()` (which rusty-leveldb calls for a synced write, on
//! the manifest and when a table is finished) fsyncs the file, closing a file
//! fsyncs it, and creating or renaming a file fsyncs its directory so the new
//! name survives a crash too.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use rusty_leveldb::env::{Env, FileLock, Logger, RandomAccess};
use rusty_leveldb::{PosixDiskEnv, Result, Status, StatusCode};

/// The durable env (see the module docs).
pub struct SyncEnv {
    inner: PosixDiskEnv,
}

impl SyncEnv {
    /// A new env over the posix one.
    pub fn new() -> Self {
        SyncEnv {
            inner: PosixDiskEnv::new(),
        }
    }
}

impl Default for SyncEnv {
    fn default() -> Self {
        Self::new()
    }
}

/// A file whose `flush` is an fsync and which is fsynced when dropped.
struct SyncFile {
    f: File,
}

impl Write for SyncFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.f.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.f.sync_data()
    }
}

impl Drop for SyncFile {
    fn drop(&mut self) {
        // Errors cannot be reported from drop; every durable write already
        // went through `flush`, which reports them.
        let _ = self.f.sync_all();
    }
}

fn io_status(what: &str, p: &Path, e: io::Error) -> Status {
    Status::new(StatusCode::IOError, &format!("{what} {}: {e}", p.display()))
}

/// Fsyncs the directory that holds `p`.
pub fn sync_parent_dir(p: &Path) -> io::Result<()> {
    let dir: PathBuf = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    File::open(dir)?.sync_all()
}

impl SyncEnv {
    fn open_for_write(&self, p: &Path, truncate: bool) -> Result<Box<dyn Write>> {
        let existed = p.exists();
        let f = OpenOptions::new()
            .create(true)
            .write(true)
            .append(!truncate)
            .truncate(truncate)
            .open(p)
            .map_err(|e| io_status("open", p, e))?;
        if !existed {
            sync_parent_dir(p).map_err(|e| io_status("fsync directory of", p, e))?;
        }
        Ok(Box::new(SyncFile { f }))
    }
}

impl Env for SyncEnv {
    fn open_sequential_file(&self, p: &Path) -> Result<Box<dyn io::Read>> {
        self.inner.open_sequential_file(p)
    }
    fn open_random_access_file(&self, p: &Path) -> Result<Box<dyn RandomAccess>> {
        self.inner.open_random_access_file(p)
    }
    fn open_writable_file(&self, p: &Path) -> Result<Box<dyn Write>> {
        self.open_for_write(p, true)
    }
    fn open_appendable_file(&self, p: &Path) -> Result<Box<dyn Write>> {
        self.open_for_write(p, false)
    }
    fn exists(&self, p: &Path) -> Result<bool> {
        self.inner.exists(p)
    }
    fn children(&self, p: &Path) -> Result<Vec<PathBuf>> {
        self.inner.children(p)
    }
    fn size_of(&self, p: &Path) -> Result<usize> {
        self.inner.size_of(p)
    }
    fn delete(&self, p: &Path) -> Result<()> {
        self.inner.delete(p)
    }
    fn mkdir(&self, p: &Path) -> Result<()> {
        self.inner.mkdir(p)?;
        sync_parent_dir(p).map_err(|e| io_status("fsync directory of", p, e))
    }
    fn rmdir(&self, p: &Path) -> Result<()> {
        self.inner.rmdir(p)
    }
    fn rename(&self, old: &Path, new: &Path) -> Result<()> {
        self.inner.rename(old, new)?;
        sync_parent_dir(new).map_err(|e| io_status("fsync directory of", new, e))
    }
    fn lock(&self, p: &Path) -> Result<FileLock> {
        self.inner.lock(p)
    }
    fn unlock(&self, l: FileLock) -> Result<()> {
        self.inner.unlock(l)
    }
    fn new_logger(&self, p: &Path) -> Result<Logger> {
        self.inner.new_logger(p)
    }
    fn micros(&self) -> u64 {
        self.inner.micros()
    }
    fn sleep_for(&self, micros: u32) {
        self.inner.sleep_for(micros)
    }
}
