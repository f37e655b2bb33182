//! The encoding of the store's values: every value carries a CRC32C of its
//! key and body, so a damaged value (or a value found under the wrong key)
//! is detected when read instead of being returned.

use prost::Message as _;
use raft_core::eraftpb::SnapshotMetadata;

/// Frames `body` stored under `key`: checksum (4 bytes, LE) then body.
pub fn frame(key: &[u8], body: &[u8]) -> Vec<u8> {
    let crc = crc32c::crc32c_append(crc32c::crc32c(key), body);
    let mut v = Vec::with_capacity(4 + body.len());
    v.extend_from_slice(&crc.to_le_bytes());
    v.extend_from_slice(body);
    v
}

/// The body of a framed value, or None when its checksum does not match.
pub fn unframe<'a>(key: &[u8], value: &'a [u8]) -> Option<&'a [u8]> {
    if value.len() < 4 {
        return None;
    }
    let (c, body) = value.split_at(4);
    let want = u32::from_le_bytes(c.try_into().ok()?);
    (crc32c::crc32c_append(crc32c::crc32c(key), body) == want).then_some(body)
}

/// The data file of a snapshot: its length and CRC32C.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileSum {
    /// Length in bytes.
    pub len: u64,
    /// CRC32C of the content.
    pub crc: u32,
}

/// A group's metadata record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Meta {
    /// Index of the compaction point (the dummy entry before the log).
    pub offset_index: u64,
    /// Term of the compaction point.
    pub offset_term: u64,
    /// The held snapshot's metadata (index 0 when none).
    pub snapshot: SnapshotMetadata,
    /// The snapshot's data file, when its data is not empty.
    pub file: Option<FileSum>,
}

impl Meta {
    /// The record body.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(64);
        v.extend_from_slice(&self.offset_index.to_le_bytes());
        v.extend_from_slice(&self.offset_term.to_le_bytes());
        match self.file {
            Some(f) => {
                v.push(1);
                v.extend_from_slice(&f.len.to_le_bytes());
                v.extend_from_slice(&f.crc.to_le_bytes());
            }
            None => v.push(0),
        }
        self.snapshot.encode(&mut v).expect("a Vec grows");
        v
    }

    /// Decodes a record body.
    pub fn decode(b: &[u8]) -> Option<Meta> {
        let u64_at = |o: usize| Some(u64::from_le_bytes(b.get(o..o + 8)?.try_into().ok()?));
        let offset_index = u64_at(0)?;
        let offset_term = u64_at(8)?;
        let (file, rest) = match *b.get(16)? {
            0 => (None, 17),
            1 => {
                let len = u64_at(17)?;
                let crc = u32::from_le_bytes(b.get(25..29)?.try_into().ok()?);
                (Some(FileSum { len, crc }), 29)
            }
            _ => return None,
        };
        let snapshot = SnapshotMetadata::decode(&b[rest..]).ok()?;
        Some(Meta {
            offset_index,
            offset_term,
            snapshot,
            file,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_detect_flipped_bytes_and_moved_values() {
        let v = frame(b"k1", b"body");
        assert_eq!(unframe(b"k1", &v), Some(&b"body"[..]));
        assert_eq!(unframe(b"k2", &v), None);
        for i in 0..v.len() {
            let mut w = v.clone();
            w[i] ^= 0x10;
            assert_eq!(unframe(b"k1", &w), None, "flip at {i}");
        }
        assert_eq!(unframe(b"k1", &v[..3]), None);
    }

    #[test]
    fn meta_round_trips() {
        let mut m = Meta {
            offset_index: 7,
            offset_term: 3,
            file: Some(FileSum { len: 10, crc: 99 }),
            ..Default::default()
        };
        m.snapshot.index = 7;
        m.snapshot.term = 3;
        m.snapshot.conf_state.voters = vec![1, 2];
        assert_eq!(Meta::decode(&m.encode()), Some(m.clone()));
        m.file = None;
        assert_eq!(Meta::decode(&m.encode()), Some(m));
        assert_eq!(Meta::decode(&[1, 2, 3]), None);
    }
}
