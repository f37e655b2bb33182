//! The sliding window of append messages sent to a follower but not yet
//! acknowledged.

/// One in-flight append: the index of its last entry and its payload bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Inflight {
    index: u64,
    bytes: u64,
}

/// A bounded FIFO of in-flight appends, limited by count (`size`) and
/// optionally by total bytes (`max_bytes`).
///
/// The ring buffer grows on demand up to `size`, so a huge limit (etcd
/// tests use `i32::MAX`) costs nothing until messages are actually in
/// flight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inflights {
    /// Position of the oldest in-flight message in `buffer`.
    start: usize,
    /// Number of in-flight messages.
    count: usize,
    /// Total bytes of the in-flight messages.
    bytes: u64,
    /// Maximum number of in-flight messages.
    size: usize,
    /// Byte limit; 0 or `u64::MAX` means none.
    max_bytes: u64,
    /// Ring buffer; its length grows up to `size`.
    buffer: Vec<Inflight>,
}

impl Inflights {
    /// An empty window for at most `size` messages and (unless `max_bytes`
    /// is 0 or `u64::MAX`) at most `max_bytes` payload bytes.
    pub fn new(size: usize, max_bytes: u64) -> Self {
        Inflights {
            start: 0,
            count: 0,
            bytes: 0,
            size,
            max_bytes: if max_bytes == u64::MAX { 0 } else { max_bytes },
            buffer: Vec::new(),
        }
    }

    /// Records an append whose last entry is `index`, carrying `bytes`
    /// payload bytes. Indexes must be added in increasing order. Returns
    /// false, and records nothing, if the window is [`full`](Self::full).
    pub fn add(&mut self, index: u64, bytes: u64) -> bool {
        if self.full() {
            return false;
        }
        let mut next = self.start + self.count;
        if next >= self.size {
            next -= self.size;
        }
        if next >= self.buffer.len() {
            self.grow();
        }
        self.buffer[next] = Inflight { index, bytes };
        self.count += 1;
        self.bytes = self.bytes.saturating_add(bytes);
        true
    }

    /// Extends the newest in-flight message to end at `index` and carry
    /// `bytes` more payload bytes (entries were appended to a message that
    /// has not been sent yet). Returns false, changing nothing, when nothing
    /// is in flight or `index` is below the newest index.
    pub fn extend_last(&mut self, index: u64, bytes: u64) -> bool {
        if self.count == 0 {
            return false;
        }
        let mut last = self.start + self.count - 1;
        if last >= self.size {
            last -= self.size;
        }
        let slot = &mut self.buffer[last];
        if index < slot.index {
            return false;
        }
        slot.index = index;
        slot.bytes = slot.bytes.saturating_add(bytes);
        self.bytes = self.bytes.saturating_add(bytes);
        true
    }

    /// Doubles the buffer (at least 1, at most `size`). Only called while the
    /// occupied slots do not wrap, so a prefix copy keeps every position.
    fn grow(&mut self) {
        let new_len = match self.buffer.len() {
            0 => 1,
            n => n.saturating_mul(2).min(self.size),
        };
        self.buffer.resize(new_len, Inflight::default());
    }

    /// Frees every in-flight message whose index is `<= to` (they were
    /// acknowledged).
    pub fn free_le(&mut self, to: u64) {
        if self.count == 0 || to < self.buffer[self.start].index {
            return;
        }
        let mut idx = self.start;
        let mut freed = 0usize;
        let mut bytes = 0u64;
        while freed < self.count {
            let inflight = self.buffer[idx];
            if to < inflight.index {
                break;
            }
            bytes = bytes.saturating_add(inflight.bytes);
            freed += 1;
            idx += 1;
            if idx >= self.size {
                idx -= self.size;
            }
        }
        self.count -= freed;
        self.bytes = self.bytes.saturating_sub(bytes);
        self.start = if self.count == 0 { 0 } else { idx };
    }

    /// True when no more messages may be sent: the count limit is reached,
    /// or the byte limit (if any) is reached or exceeded.
    pub fn full(&self) -> bool {
        self.count == self.size || (self.max_bytes != 0 && self.bytes >= self.max_bytes)
    }

    /// Number of in-flight messages.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Total payload bytes in flight.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The count limit.
    pub fn cap(&self) -> usize {
        self.size
    }

    /// Frees everything (keeps the allocated buffer).
    pub fn reset(&mut self) {
        self.start = 0;
        self.count = 0;
        self.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn indexes(i: &Inflights) -> Vec<u64> {
        (0..i.count)
            .map(|k| i.buffer[(i.start + k) % i.size].index)
            .collect()
    }

    #[test]
    fn extend_last_grows_the_newest_message() {
        let mut i = Inflights::new(3, 0);
        assert!(!i.extend_last(5, 10), "nothing in flight");
        // Wrap the ring so that the newest slot sits before `start`.
        for k in 1..=3 {
            assert!(i.add(k, 1));
        }
        i.free_le(2);
        assert!(i.add(4, 1));
        assert!(i.extend_last(6, 5));
        assert_eq!(indexes(&i), vec![3, 6]);
        assert_eq!(i.bytes(), 7);
        assert_eq!(i.count(), 2);
        assert!(!i.extend_last(5, 1), "index below the newest one");
        i.free_le(5);
        assert_eq!(indexes(&i), vec![6]);
        assert_eq!(i.bytes(), 6);
    }

    #[test]
    fn add_and_wrap_around() {
        let mut i = Inflights::new(10, 0);
        for k in 0..5 {
            assert!(i.add(k, 100 + k));
        }
        assert_eq!(i.count(), 5);
        assert_eq!(i.bytes(), 510);
        assert!(!i.full());
        for k in 5..10 {
            assert!(i.add(k, 100 + k));
        }
        assert!(i.full());
        assert!(!i.add(10, 1), "a full window refuses");
        assert_eq!(i.count(), 10);

        i.free_le(4);
        assert_eq!(i.count(), 5);
        assert_eq!(i.start, 5);
        assert_eq!(i.bytes(), (5..10).map(|k| 100 + k).sum::<u64>());
        // Wrap around the ring.
        for k in 10..15 {
            assert!(i.add(k, 1));
        }
        assert!(i.full());
        assert_eq!(indexes(&i), (5..15).collect::<Vec<_>>());
        i.free_le(12);
        assert_eq!(indexes(&i), vec![13, 14]);
        i.free_le(100);
        assert_eq!(i.count(), 0);
        assert_eq!(i.start, 0);
        assert_eq!(i.bytes(), 0);
    }

    #[test]
    fn free_le_below_first_is_noop() {
        let mut i = Inflights::new(4, 0);
        i.free_le(3);
        assert_eq!(i.count(), 0);
        i.add(5, 1);
        i.add(7, 1);
        i.free_le(4);
        assert_eq!(i.count(), 2);
        i.free_le(6);
        assert_eq!(indexes(&i), vec![7]);
    }

    #[test]
    fn byte_limit() {
        let mut i = Inflights::new(100, 30);
        assert!(i.add(1, 10));
        assert!(i.add(2, 10));
        assert!(!i.full());
        assert!(i.add(3, 15));
        assert!(i.full(), "35 bytes >= 30");
        i.free_le(1);
        assert!(!i.full(), "25 bytes < 30");
        assert!(i.add(4, 5));
        assert!(i.full(), "exactly 30 bytes is full");
        // u64::MAX means no byte limit.
        let mut u = Inflights::new(2, u64::MAX);
        assert!(u.add(1, u64::MAX - 1));
        assert!(!u.full());
    }

    #[test]
    fn huge_size_allocates_lazily() {
        let mut i = Inflights::new(i32::MAX as usize, 0);
        assert!(i.buffer.is_empty());
        for k in 1..=5 {
            i.add(k, 0);
        }
        assert_eq!(i.buffer.len(), 8);
        assert!(!i.full());
    }

    #[test]
    fn zero_size_is_always_full() {
        let mut i = Inflights::new(0, 0);
        assert!(i.full());
        assert!(!i.add(1, 1));
        i.free_le(10);
        assert_eq!(i.count(), 0);
    }

    #[test]
    fn reset_empties() {
        let mut i = Inflights::new(3, 0);
        i.add(1, 5);
        i.add(2, 5);
        i.free_le(1);
        i.reset();
        assert_eq!((i.count(), i.bytes(), i.start), (0, 0, 0));
        assert!(i.add(9, 1));
        assert_eq!(indexes(&i), vec![9]);
    }
}
