//! The key layout of the store's LevelDB database.
//!
//! Every key of a group starts with `b'g'` and the group id (8 bytes, big
//! endian), so a group's keys are one contiguous range that no other group
//! shares; the next byte says what the key holds:
//! - `e` + index (8 bytes, big endian): one log entry, in index order;
//! - `h`: the hard state;
//! - `m`: the group's metadata (compaction point, snapshot metadata and the
//!   name and checksum of its data file).

const GROUP: u8 = b'g';
const ENTRY: u8 = b'e';
const HARD_STATE: u8 = b'h';
const META: u8 = b'm';

fn group_key(group: u64, kind: u8) -> Vec<u8> {
    let mut k = Vec::with_capacity(18);
    k.push(GROUP);
    k.extend_from_slice(&group.to_be_bytes());
    k.push(kind);
    k
}

/// The key of entry `index` of `group`.
pub fn entry(group: u64, index: u64) -> Vec<u8> {
    let mut k = group_key(group, ENTRY);
    k.extend_from_slice(&index.to_be_bytes());
    k
}

/// The index of an entry key of `group`, or None for any other key.
pub fn entry_index(group: u64, key: &[u8]) -> Option<u64> {
    let p = group_key(group, ENTRY);
    if key.len() != p.len() + 8 || !key.starts_with(&p) {
        return None;
    }
    Some(u64::from_be_bytes(key[p.len()..].try_into().ok()?))
}

/// The key of the hard state of `group`.
pub fn hard_state(group: u64) -> Vec<u8> {
    group_key(group, HARD_STATE)
}

/// The key of the metadata of `group`.
pub fn meta(group: u64) -> Vec<u8> {
    group_key(group, META)
}

/// The first key of `group` (every key of the group starts with it).
pub fn group_prefix(group: u64) -> Vec<u8> {
    let mut k = vec![GROUP];
    k.extend_from_slice(&group.to_be_bytes());
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_keys_sort_by_index_and_stay_inside_their_group() {
        assert!(entry(1, 255) < entry(1, 256));
        assert!(entry(1, u64::MAX) < hard_state(1));
        assert!(meta(1) < entry(2, 0));
        assert!(entry(1, 7).starts_with(&group_prefix(1)));
        assert!(!entry(256, 7).starts_with(&group_prefix(1)));
        assert_eq!(entry_index(1, &entry(1, 42)), Some(42));
        assert_eq!(entry_index(2, &entry(1, 42)), None);
        assert_eq!(entry_index(1, &hard_state(1)), None);
    }
}
