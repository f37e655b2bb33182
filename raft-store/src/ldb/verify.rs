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
//! - a table (`*.ldb`, `*.sst`) has a bad footer, or a block (index, meta
//!   index or data) whose checksum does not match.

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
            _ if manifest => verify_records(&p, false)?,
            Some("log") => verify_records(&p, true)?,
            Some("ldb") | Some("sst") => verify_table(&p)?,
            _ => {}
        }
    }
    Ok(())
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
    verify_records(p, true)
}

/// Checks a file of log records (a write-ahead log, or a manifest with
/// `batches` false): damage is allowed only at its tail; with `batches`
/// every complete logical record must be a write batch.
fn verify_records(p: &Path, batches: bool) -> Result<(), String> {
    let b = read(p)?;
    let mut off = 0;
    // The logical record being reassembled from its fragments.
    let mut logical: Option<Vec<u8>> = None;
    while off < b.len() {
        let in_block = LOG_BLOCK - off % LOG_BLOCK;
        if in_block < LOG_HEADER {
            off += in_block;
            continue;
        }
        if let Some(len) = record_at(&b, off) {
            if batches {
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
                if complete.is_some_and(|r| !is_write_batch(&r)) {
                    return Err(bad("does not hold a write batch"));
                }
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
        return Ok(());
    }
    Ok(())
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
