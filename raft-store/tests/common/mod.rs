//! Helpers shared by the store's integration tests: temporary directories
//! and an env that fails writes on demand.
#![allow(dead_code)]

use std::cell::Cell;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use raft_store::ldb::SyncEnv;
use rusty_leveldb::env::{Env, FileLock, Logger, RandomAccess};
use rusty_leveldb::{Result, Status, StatusCode};

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "raft-store-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The files of `dir` whose extension is `ext`, sorted.
pub fn files_with_ext(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    v.sort();
    v
}

/// A switch shared by a [`FailEnv`] and the test, which also counts the
/// flushes (fsyncs, through [`SyncEnv`]) of written files.
#[derive(Clone, Default)]
pub struct FailSwitch(Rc<Cell<bool>>, Rc<Cell<u64>>);

impl FailSwitch {
    pub fn set(&self, on: bool) {
        self.0.set(on)
    }
    fn on(&self) -> bool {
        self.0.get()
    }
    /// Flushes of writable files so far.
    pub fn flushes(&self) -> u64 {
        self.1.get()
    }
}

/// [`SyncEnv`] whose writable files fail every write and flush while the
/// switch is on (a full disk), and which refuses to create files then.
pub struct FailEnv {
    inner: SyncEnv,
    switch: FailSwitch,
}

impl FailEnv {
    pub fn new(switch: FailSwitch) -> FailEnv {
        FailEnv {
            inner: SyncEnv::new(),
            switch,
        }
    }
    fn refuse(&self, p: &Path) -> Result<()> {
        if self.switch.on() {
            return Err(Status::new(
                StatusCode::IOError,
                &format!("injected: no space left on device ({})", p.display()),
            ));
        }
        Ok(())
    }
}

struct FailFile {
    f: Box<dyn Write>,
    switch: FailSwitch,
}

fn enospc() -> io::Error {
    io::Error::other("injected: no space left on device")
}

impl Write for FailFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.switch.on() {
            return Err(enospc());
        }
        self.f.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        if self.switch.on() {
            return Err(enospc());
        }
        self.switch.1.set(self.switch.1.get() + 1);
        self.f.flush()
    }
}

impl Env for FailEnv {
    fn open_sequential_file(&self, p: &Path) -> Result<Box<dyn io::Read>> {
        self.inner.open_sequential_file(p)
    }
    fn open_random_access_file(&self, p: &Path) -> Result<Box<dyn RandomAccess>> {
        self.inner.open_random_access_file(p)
    }
    fn open_writable_file(&self, p: &Path) -> Result<Box<dyn Write>> {
        self.refuse(p)?;
        Ok(Box::new(FailFile {
            f: self.inner.open_writable_file(p)?,
            switch: self.switch.clone(),
        }))
    }
    fn open_appendable_file(&self, p: &Path) -> Result<Box<dyn Write>> {
        self.refuse(p)?;
        Ok(Box::new(FailFile {
            f: self.inner.open_appendable_file(p)?,
            switch: self.switch.clone(),
        }))
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
        self.inner.mkdir(p)
    }
    fn rmdir(&self, p: &Path) -> Result<()> {
        self.inner.rmdir(p)
    }
    fn rename(&self, old: &Path, new: &Path) -> Result<()> {
        self.refuse(new)?;
        self.inner.rename(old, new)
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
