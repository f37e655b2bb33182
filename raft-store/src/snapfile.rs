//! Snapshot data files, kept in `snapshots/` beside the database.
//!
//! A file is written under a temporary name, fsynced, renamed to its final
//! name and the directory fsynced, so that a crash leaves either no file or
//! the whole file. Its length and CRC32C are recorded in the group's
//! metadata and checked on every read.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::ldb::sync_parent_dir;
use crate::record::FileSum;

/// The directory of snapshot files of the store at `db`.
pub fn dir(db: &Path) -> PathBuf {
    db.join("snapshots")
}

/// The name of the data file of `group`'s snapshot at `index`.
pub fn path(db: &Path, group: u64, index: u64) -> PathBuf {
    dir(db).join(format!("{group:016x}-{index:016x}.snap"))
}

fn group_of(name: &str) -> Option<u64> {
    let stem = name.strip_suffix(".snap")?;
    u64::from_str_radix(stem.split('-').next()?, 16).ok()
}

/// Writes `data` durably to `p` (see the module docs) and returns its sum.
pub fn write(p: &Path, data: &[u8]) -> Result<FileSum, String> {
    let tmp = p.with_extension("tmp");
    let fail = |what: &str, e: std::io::Error| format!("{what} {}: {e}", tmp.display());
    let mut f = File::create(&tmp).map_err(|e| fail("create", e))?;
    f.write_all(data).map_err(|e| fail("write", e))?;
    f.sync_all().map_err(|e| fail("fsync", e))?;
    drop(f);
    fs::rename(&tmp, p).map_err(|e| format!("rename {} to {}: {e}", tmp.display(), p.display()))?;
    sync_parent_dir(p).map_err(|e| format!("fsync directory of {}: {e}", p.display()))?;
    Ok(FileSum {
        len: data.len() as u64,
        crc: crc32c::crc32c(data),
    })
}

/// Reads `p` and checks it against `sum`.
pub fn read(p: &Path, sum: FileSum) -> Result<Vec<u8>, String> {
    let data = fs::read(p).map_err(|e| format!("snapshot file {}: {e}", p.display()))?;
    if data.len() as u64 != sum.len || crc32c::crc32c(&data) != sum.crc {
        return Err(format!(
            "snapshot file {} is damaged: its length or CRC32C does not match the one recorded ({} bytes, crc {:08x})",
            p.display(),
            sum.len,
            sum.crc
        ));
    }
    Ok(data)
}

/// Removes the snapshot files of `group` other than `keep`, and every
/// temporary file left by a crash. Errors are ignored: a leftover file only
/// costs space.
pub fn remove_others(db: &Path, group: u64, keep: Option<&Path>) {
    let Ok(rd) = fs::read_dir(dir(db)) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().to_string();
        let stale_tmp = name.ends_with(".tmp");
        let other = group_of(&name) == Some(group) && Some(p.as_path()) != keep;
        if stale_tmp || other {
            let _ = fs::remove_file(&p);
        }
    }
}
