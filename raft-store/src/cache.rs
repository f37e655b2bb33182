//! The in-memory cache of a group's newest entries, bounded by bytes.
//!
//! It always holds a contiguous run of entries that ends at the group's
//! last index (or nothing), so replication and commit application, which
//! read the newest entries, never touch LevelDB.

use std::collections::VecDeque;

use raft_core::eraftpb::Entry;

/// The cache (see the module docs).
#[derive(Debug, Default)]
pub struct EntryCache {
    ents: VecDeque<Entry>,
    bytes: usize,
    cap: usize,
}

fn cost(e: &Entry) -> usize {
    e.size() as usize
}

impl EntryCache {
    /// An empty cache holding at most `cap` bytes of encoded entries.
    pub fn new(cap: usize) -> Self {
        EntryCache {
            cap,
            ..Default::default()
        }
    }

    /// The index of the first cached entry, if any.
    pub fn first(&self) -> Option<u64> {
        self.ents.front().map(|e| e.index)
    }

    /// The cached entry at `index`.
    pub fn get(&self, index: u64) -> Option<&Entry> {
        let first = self.first()?;
        let i = usize::try_from(index.checked_sub(first)?).ok()?;
        self.ents.get(i)
    }

    /// Drops every entry at or after `index`.
    pub fn truncate_from(&mut self, index: u64) {
        while self.ents.back().is_some_and(|e| e.index >= index) {
            let e = self.ents.pop_back().expect("checked");
            self.bytes -= cost(&e);
        }
    }

    /// Drops every entry at or before `index`.
    pub fn drop_through(&mut self, index: u64) {
        while self.ents.front().is_some_and(|e| e.index <= index) {
            let e = self.ents.pop_front().expect("checked");
            self.bytes -= cost(&e);
        }
    }

    /// Appends entries that directly follow the cached ones (the caller
    /// truncated first), then evicts the oldest beyond the byte bound.
    pub fn extend(&mut self, es: &[Entry]) {
        if let (Some(last), Some(e)) = (self.ents.back(), es.first()) {
            if last.index + 1 != e.index {
                self.clear();
            }
        }
        for e in es {
            self.bytes += cost(e);
            self.ents.push_back(e.clone());
        }
        while self.bytes > self.cap {
            let Some(e) = self.ents.pop_front() else {
                break;
            };
            self.bytes -= cost(&e);
        }
    }

    /// Empties the cache.
    pub fn clear(&mut self) {
        self.ents.clear();
        self.bytes = 0;
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ents(lo: u64, hi: u64) -> Vec<Entry> {
        (lo..=hi)
            .map(|i| Entry::new(1, i, vec![0u8; 100]))
            .collect()
    }

    #[test]
    fn stays_within_its_byte_bound_and_keeps_the_newest() {
        let one = cost(&ents(1, 1)[0]);
        let mut c = EntryCache::new(one * 3);
        c.extend(&ents(1, 5));
        assert_eq!(c.first(), Some(3));
        assert!(c.bytes() <= one * 3);
        assert!(c.get(2).is_none());
        assert_eq!(c.get(5).map(|e| e.index), Some(5));
        c.truncate_from(5);
        c.extend(&ents(5, 5));
        assert_eq!(c.get(5).map(|e| e.index), Some(5));
        c.drop_through(4);
        assert_eq!(c.first(), Some(5));
        // A run that does not follow the cached one replaces it.
        c.extend(&ents(9, 9));
        assert_eq!(c.first(), Some(9));
        let mut none = EntryCache::new(0);
        none.extend(&ents(1, 2));
        assert_eq!(none.first(), None);
    }
}
