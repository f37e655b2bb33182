//! Checks the files of a LevelDB database before rusty-leveldb opens it.
//!
//! rusty-leveldb (4.0.2) is lenient in ways a Raft log cannot be: it stops
//! recovering a log file at the first damaged record and carries on with
//! the next file, its table iterators silently skip a block whose checksum
//! fails, and a damaged table footer makes it panic. This module reads the
//! files itself and refuses, naming the file, when
//! - a write-ahead log (`*.log`) or a manifest (`MANIFEST-*`, the same
//!   record format) has a damaged record followed by an intact one (damage
//!   in the middle: records after it would be replayed without the damaged
//!   one). A damaged record with nothing intact after it is the
//!   torn tail of a crashed write; LevelDB drops it, which is the last
//!   consistent state.
//! - a write-ahead log has intact records that do not hold write batches
//!   (fragments out of order, or a body that does not decode: another
//!   file's records under a log's name), on which rusty-leveldb panics.
//! - `CURRENT` is missing while logs or tables exist (rusty-leveldb would
//!   start a new database and replay the logs into it without the tables).
//! - a manifest record was lost (the current manifest, named by `CURRENT`,
//!   cut or damaged at its end, which passes for a torn tail): opening
//!   would replay the newer logs without the table that record added. Two
//!   signs tell: the manifest names a write-ahead log that is missing
//!   (LevelDB deletes a log only after the record that moves past it is
//!   synced), or a table the manifest does not list has a lower number than
//!   a log holding records (rusty-leveldb allocates a table's number after
//!   the log's, and writes to a new log only once the record listing its
//!   tables is synced; a crash before that leaves such a table orphaned
//!   but newer than every log with records).
//! - a table (`*.ldb`, `*.sst`) has a bad footer, or a block (index, meta
//!   index or data) whose checksum does not match.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

const LOG_BLOCK: usize = 32 * 1024;
const LOG_HEADER: usize = 7;
const MASK_DELTA: u32 = 0xa282_ead8;
const FOOTER_LEN: usize = 48;
const TABLE_MAGIC: [u8; 8] = [0x57, 0xfb, 0x80, 0x8b, 0x24, 0x75, 0x47, 0xdb];

fn unmask(mc: u32) -> u32 {
    let rot = mc.wrapping_sub(MASK_DELTA);
    rot.rotate_left(15)
}

/// Checks every log and table file in `dir` (see the module docs).
pub fn verify_dir(dir: &Path) -> Result<(), String> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("cannot list {}: {e}", dir.display())),
    };
    let mut files: Vec<PathBuf> = Vec::new();
    for e in rd {
        let e = e.map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        files.push(e.path());
    }
    files.sort();
    for p in files {
        let manifest = p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("MANIFEST-"));
        match p.extension().and_then(|x| x.to_str()) {
            _ if manifest => drop(verify_records(&p, false)?),
            Some("log") => drop(verify_records(&p, true)?),
            Some("ldb") | Some("sst") => verify_table(&p)?,
            _ => {}
        }
    }
    verify_current_log(dir)
}

/// Checks that no record of the current manifest was lost, nor the
/// `CURRENT` file naming it (see the module docs). Without a manifest there
/// is nothing more to check here (rusty-leveldb refuses the database).
fn verify_current_log(dir: &Path) -> Result<(), String> {
    let Ok(current) = fs::read_to_string(dir.join("CURRENT")) else {
        // LevelDB writes CURRENT before any log or table: without it,
        // rusty-leveldb would create a new database and replay the logs
        // into it without the tables.
        let listing =
            fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        for e in listing {
            let p = e
                .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
                .path();
            if matches!(
                p.extension().and_then(|x| x.to_str()),
                Some("log") | Some("ldb") | Some("sst")
            ) {
                return Err(format!(
                    "damaged LevelDB database {}: its CURRENT file is missing or unreadable, but it holds {}",
                    dir.display(),
                    p.display()
                ));
            }
        }
        return Ok(());
    };
    let manifest = dir.join(current.trim());
    if current.trim().is_empty() || !manifest.is_file() {
        return Ok(());
    }
    let records = verify_records(&manifest, false)?;
    let (log, live) = manifest_state(&records).ok_or_else(|| {
        format!(
            "corrupt LevelDB manifest {}: a record does not decode",
            manifest.display()
        )
    })?;
    let log_file = dir.join(format!("{log:06}.log"));
    if log != 0 && !log_file.exists() {
        return Err(format!(
            "damaged LevelDB database {}: manifest {} names log file {}, which is missing (a manifest record or the log itself was lost)",
            dir.display(),
            manifest.display(),
            log_file.display()
        ));
    }
    // The numbered files of the directory: tables, and logs with records.
    let mut orphan_tables = Vec::new();
    let mut newest_log_with_records = None;
    for e in fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))? {
        let p = e
            .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
            .path();
        let Some(n) = p
            .file_stem()
            .and_then(|x| x.to_str())
            .and_then(|x| x.parse::<u64>().ok())
        else {
            continue;
        };
        match p.extension().and_then(|x| x.to_str()) {
            Some("ldb") | Some("sst") if !live.contains(&n) => orphan_tables.push(p),
            Some("log") if !verify_records(&p, true)?.is_empty() => {
                newest_log_with_records = newest_log_with_records.max(Some(n));
            }
            _ => {}
        }
    }
    if let Some(newest) = newest_log_with_records {
        for t in orphan_tables {
            let n = t
                .file_stem()
                .and_then(|x| x.to_str())
                .and_then(|x| x.parse::<u64>().ok())
                .unwrap_or(0);
            if n < newest {
                return Err(format!(
                    "damaged LevelDB database {}: table {} is not in manifest {} but is older than log {newest:06}.log, which holds records (a manifest record was lost)",
                    dir.display(),
                    t.display(),
                    manifest.display()
                ));
            }
        }
    }
    Ok(())
}

/// Skips a length-prefixed byte string at `pos`.
fn skip_prefixed(b: &[u8], pos: &mut usize) -> Option<()> {
    let len = usize::try_from(varint(b, pos)?).ok()?;
    *pos = pos.checked_add(len).filter(|&e| e <= b.len())?;
    Some(())
}

/// What the version edits of a manifest end with: the log number (0 when
/// none sets it) and the numbers of the live tables; None when a record
/// does not decode as a version edit.
fn manifest_state(records: &[Vec<u8>]) -> Option<(u64, BTreeSet<u64>)> {
    let mut log = 0;
    let mut live = BTreeSet::new();
    for r in records {
        let mut pos = 0;
        while pos < r.len() {
            match varint(r, &mut pos)? {
                // Comparator name.
                1 => skip_prefixed(r, &mut pos)?,
                2 => log = varint(r, &mut pos)?,
                // Next file number, last sequence, previous log number.
                3 | 4 | 9 => drop(varint(r, &mut pos)?),
                // Compaction pointer: level, key.
                5 => {
                    varint(r, &mut pos)?;
                    skip_prefixed(r, &mut pos)?;
                }
                // Deleted file: level, number.
                6 => {
                    varint(r, &mut pos)?;
                    live.remove(&varint(r, &mut pos)?);
                }
                // New file: level, number, size, smallest and largest keys.
                7 => {
                    varint(r, &mut pos)?;
                    live.insert(varint(r, &mut pos)?);
                    varint(r, &mut pos)?;
                    skip_prefixed(r, &mut pos)?;
                    skip_prefixed(r, &mut pos)?;
                }
                _ => return None,
            }
        }
    }
    Some((log, live))
}

fn read(p: &Path) -> Result<Vec<u8>, String> {
    fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
}

/// The length of the intact physical record at `off`, or None.
fn record_at(b: &[u8], off: usize) -> Option<usize> {
    let in_block = LOG_BLOCK - off % LOG_BLOCK;
    if in_block < LOG_HEADER || off + LOG_HEADER > b.len() {
        return None;
    }
    let h = &b[off..off + LOG_HEADER];
    let crc = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
    let len = u16::from_le_bytes([h[4], h[5]]) as usize;
    let typ = h[6];
    if !(1..=4).contains(&typ) || LOG_HEADER + len > in_block || off + LOG_HEADER + len > b.len() {
        return None;
    }
    let data = &b[off + LOG_HEADER..off + LOG_HEADER + len];
    let got = crc32c::crc32c_append(crc32c::crc32c(&[typ]), data);
    (got == unmask(crc)).then_some(len)
}

/// Whether the bytes in `[off, off + n)` are all zero (block trailers and
/// preallocated space are zeros).
fn zeros(b: &[u8], off: usize, n: usize) -> bool {
    b[off..(off + n).min(b.len())].iter().all(|&x| x == 0)
}

/// Whether `b` is a well-formed write batch: a 12-byte header (sequence,
/// count) and exactly `count` puts and deletes.
fn is_write_batch(b: &[u8]) -> bool {
    if b.len() < 12 {
        return false;
    }
    let count = u32::from_le_bytes([b[8], b[9], b[10], b[11]]);
    let mut pos = 12;
    let mut n = 0u32;
    let field = |pos: &mut usize| -> Option<()> {
        let len = usize::try_from(varint(b, pos)?).ok()?;
        *pos = pos.checked_add(len).filter(|&e| e <= b.len())?;
        Some(())
    };
    while pos < b.len() {
        let tag = b[pos];
        pos += 1;
        let ok = match tag {
            0 => field(&mut pos),
            1 => field(&mut pos).and_then(|()| field(&mut pos)),
            _ => None,
        };
        if ok.is_none() {
            return false;
        }
        n += 1;
    }
    n == count
}

/// Checks a write-ahead log file: damage is allowed only at its tail, and
/// its records hold write batches.
pub fn verify_log(p: &Path) -> Result<(), String> {
    verify_records(p, true).map(drop)
}

/// Checks a file of log records (a write-ahead log, or a manifest with
/// `batches` false): damage is allowed only at its tail; fragments come in
/// order; with `batches` every complete logical record is a write batch.
/// Returns the complete logical records (a torn one at the tail left out).
fn verify_records(p: &Path, batches: bool) -> Result<Vec<Vec<u8>>, String> {
    let b = read(p)?;
    let mut off = 0;
    let mut records = Vec::new();
    // The logical record being reassembled from its fragments.
    let mut logical: Option<Vec<u8>> = None;
    while off < b.len() {
        let in_block = LOG_BLOCK - off % LOG_BLOCK;
        if in_block < LOG_HEADER {
            off += in_block;
            continue;
        }
        if let Some(len) = record_at(&b, off) {
            let data = &b[off + LOG_HEADER..off + LOG_HEADER + len];
            let bad = |what: &str| {
                format!(
                    "corrupt LevelDB log file {}: record at byte {off} {what}",
                    p.display()
                )
            };
            let complete = match (b[off + 6], logical.as_mut()) {
                (1, None) => Some(data.to_vec()),
                (2, None) => {
                    logical = Some(data.to_vec());
                    None
                }
                (3, Some(l)) => {
                    l.extend_from_slice(data);
                    None
                }
                (4, Some(l)) => {
                    l.extend_from_slice(data);
                    logical.take()
                }
                _ => return Err(bad("is a fragment out of order")),
            };
            if let Some(r) = complete {
                if batches && !is_write_batch(&r) {
                    return Err(bad("does not hold a write batch"));
                }
                records.push(r);
            }
            off += LOG_HEADER + len;
            continue;
        }
        if zeros(&b, off, in_block) {
            // Padding to the end of the block.
            off += in_block;
            continue;
        }
        // Damage at `off`: acceptable only if no intact record follows.
        let mut probe = off + 1;
        while probe + LOG_HEADER <= b.len() {
            if record_at(&b, probe).is_some() {
                return Err(format!(
                    "corrupt LevelDB log file {}: damaged record at byte {off} followed by intact records (refusing to replay past it)",
                    p.display()
                ));
            }
            probe += 1;
        }
        return Ok(records);
    }
    Ok(records)
}

fn varint(b: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v: u64 = 0;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*pos)?;
        *pos += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

fn handle(b: &[u8], pos: &mut usize) -> Option<(usize, usize)> {
    let off = usize::try_from(varint(b, pos)?).ok()?;
    let len = usize::try_from(varint(b, pos)?).ok()?;
    Some((off, len))
}

/// The contents of the table block at `(off, len)` after checking its
/// trailer (compression type and checksum).
fn table_block(p: &Path, b: &[u8], (off, len): (usize, usize)) -> Result<(u8, Vec<u8>), String> {
    let bad = |what: &str| {
        format!(
            "corrupt LevelDB table file {}: {what} (block at byte {off})",
            p.display()
        )
    };
    let end = off
        .checked_add(len)
        .and_then(|e| e.checked_add(5))
        .filter(|&e| e <= b.len())
        .ok_or_else(|| bad("block beyond the end of the file"))?;
    let data = &b[off..off + len];
    let typ = b[off + len];
    let want = unmask(u32::from_le_bytes([
        b[end - 4],
        b[end - 3],
        b[end - 2],
        b[end - 1],
    ]));
    if crc32c::crc32c_append(crc32c::crc32c(data), &[typ]) != want {
        return Err(bad("checksum mismatch"));
    }
    Ok((typ, data.to_vec()))
}

/// The values of the entries of an uncompressed block (block handles, for
/// an index block).
fn block_values(block: &[u8]) -> Option<Vec<Vec<u8>>> {
    if block.len() < 4 {
        return None;
    }
    let n = u32::from_le_bytes(block[block.len() - 4..].try_into().ok()?) as usize;
    let end = block.len().checked_sub(4 + n.checked_mul(4)?)?;
    let mut pos = 0;
    let mut out = Vec::new();
    while pos < end {
        let _shared = varint(block, &mut pos)?;
        let non_shared = usize::try_from(varint(block, &mut pos)?).ok()?;
        let vlen = usize::try_from(varint(block, &mut pos)?).ok()?;
        pos = pos.checked_add(non_shared)?;
        let vend = pos.checked_add(vlen)?;
        if vend > end {
            return None;
        }
        out.push(block[pos..vend].to_vec());
        pos = vend;
    }
    Some(out)
}

/// Checks a table file: footer, index blocks and every data block.
pub fn verify_table(p: &Path) -> Result<(), String> {
    let b = read(p)?;
    let bad = |what: &str| format!("corrupt LevelDB table file {}: {what}", p.display());
    if b.len() < FOOTER_LEN || b[b.len() - 8..] != TABLE_MAGIC {
        return Err(bad("bad footer"));
    }
    let footer = &b[b.len() - FOOTER_LEN..];
    let mut pos = 0;
    let meta = handle(footer, &mut pos).ok_or_else(|| bad("bad footer"))?;
    let index = handle(footer, &mut pos).ok_or_else(|| bad("bad footer"))?;
    table_block(p, &b, meta)?;
    let (typ, index_block) = table_block(p, &b, index)?;
    if typ != 0 {
        // A compressed index (only databases opened with compression by
        // lraft.leveldb): its checksum was verified; rusty-leveldb checks
        // the data blocks when it reads them.
        return Ok(());
    }
    let handles = block_values(&index_block).ok_or_else(|| bad("malformed index block"))?;
    for h in handles {
        let mut pos = 0;
        let data = handle(&h, &mut pos).ok_or_else(|| bad("malformed block handle"))?;
        table_block(p, &b, data)?;
    }
    Ok(())
}
