//! An encoder and a decoder for the common shape of a raftpb `Message`:
//! its scalar fields, its context and its entries, and nothing else.
//!
//! prost's generated code dispatches every field of every entry through
//! generic code and, when encoding, sizes each entry twice (once for the
//! whole message, once for the entry's length prefix); taking in and
//! sending out MsgApps was most of the cost of a program that passes
//! messages as bytes (issue 11). These read and write the same bytes in
//! straight loops. They are not a second codec: for anything outside that
//! shape (a snapshot, nested responses; when decoding also an unknown
//! field, a wire type that does not match the field, a malformed varint or
//! length) the callers in `message_nesting` use prost. The encoder writes
//! exactly prost's bytes, and whenever the decoder returns a message prost
//! decodes the same bytes to an equal one: the tests below check both on
//! random messages and damaged bytes, and so does the `decode_raftpb`
//! fuzz target.

use bytes::Bytes;

use crate::eraftpb::{Entry, Message};

/// Room reserved per entry beyond its payload, at the longest: the entry's
/// key and length, three varint fields with their keys, the payload's key
/// and length. Only a reservation: the buffer grows if it is exceeded.
const ENTRY_OVERHEAD: usize = 1 + 5 + 3 * 11 + 1 + 5;

/// Protobuf wire types used by raftpb's messages.
const VARINT: u64 = 0;
const LEN: u64 = 2;

/// A cursor over the bytes being decoded.
struct Reader<'a> {
    buf: &'a Bytes,
    pos: usize,
    end: usize,
}

impl Reader<'_> {
    /// A base-128 varint, as prost reads it: at most ten bytes, the tenth
    /// at most 1 (a larger one overflows 64 bits, which prost refuses).
    #[inline(always)]
    fn varint(&mut self) -> Option<u64> {
        let b = &self.buf[self.pos..self.end];
        // Keys, terms, types and short lengths: one byte.
        if let Some(&b0) = b.first() {
            if b0 < 0x80 {
                self.pos += 1;
                return Some(u64::from(b0));
            }
        }
        let mut v = 0u64;
        for (i, &byte) in b.iter().enumerate().take(10) {
            if i == 9 && byte > 1 {
                return None;
            }
            v |= u64::from(byte & 0x7f) << (7 * i);
            if byte < 0x80 {
                self.pos += i + 1;
                return Some(v);
            }
        }
        None
    }

    /// A length prefix and the end of the bytes it covers.
    #[inline(always)]
    fn len_end(&mut self) -> Option<usize> {
        let len = usize::try_from(self.varint()?).ok()?;
        let end = self.pos.checked_add(len)?;
        (end <= self.end).then_some(end)
    }

    /// A length-delimited field's bytes, shared with the buffer (as prost
    /// does when it decodes from a `Bytes`).
    #[inline(always)]
    fn bytes(&mut self) -> Option<Bytes> {
        let end = self.len_end()?;
        let b = self.buf.slice(self.pos..end);
        self.pos = end;
        Some(b)
    }

    /// Whether the next byte (before the end) is `key`; if so, steps over
    /// it.
    #[inline(always)]
    fn next_byte_is(&mut self, key: u64) -> bool {
        if self.pos < self.end && u64::from(self.buf[self.pos]) == key {
            self.pos += 1;
            return true;
        }
        false
    }

    /// The next field's number and wire type.
    #[inline(always)]
    fn key(&mut self) -> Option<(u64, u64)> {
        let k = self.varint()?;
        Some((k >> 3, k & 7))
    }
}

/// One `Entry` in `r.buf[r.pos..end]`.
#[inline(always)]
fn entry(r: &mut Reader<'_>, end: usize) -> Option<Entry> {
    let outer_end = std::mem::replace(&mut r.end, end);
    let mut e = Entry::default();
    // prost writes the four fields in order, each behind a one-byte key:
    // read them so first. Whatever follows (a field out of order, repeated
    // or unknown) goes through the loop, in the order of the bytes, so the
    // last value of a repeated field still wins, as in prost.
    if r.next_byte_is(1 << 3 | VARINT) {
        e.entry_type = r.varint()? as i32;
    }
    if r.next_byte_is(2 << 3 | VARINT) {
        e.term = r.varint()?;
    }
    if r.next_byte_is(3 << 3 | VARINT) {
        e.index = r.varint()?;
    }
    if r.next_byte_is(4 << 3 | LEN) {
        e.data = Some(r.bytes()?);
    }
    while r.pos < r.end {
        match r.key()? {
            // prost reads an enum as a varint cut to 32 bits.
            (1, VARINT) => e.entry_type = r.varint()? as i32,
            (2, VARINT) => e.term = r.varint()?,
            (3, VARINT) => e.index = r.varint()?,
            (4, LEN) => e.data = Some(r.bytes()?),
            _ => return None,
        }
    }
    r.end = outer_end;
    Some(e)
}

/// `buf` as a `Message`, when it has the common shape described at the top
/// of this file; `None` otherwise (prost then decides).
pub(crate) fn decode(buf: &Bytes) -> Option<Message> {
    let mut r = Reader {
        buf,
        pos: 0,
        end: buf.len(),
    };
    let mut m = Message::default();
    while r.pos < r.end {
        match r.key()? {
            (1, VARINT) => m.msg_type = r.varint()? as i32,
            (2, VARINT) => m.to = r.varint()?,
            (3, VARINT) => m.from = r.varint()?,
            (4, VARINT) => m.term = r.varint()?,
            (5, VARINT) => m.log_term = r.varint()?,
            (6, VARINT) => m.index = r.varint()?,
            (7, LEN) => {
                // The list grows as it goes. Reserving the room an estimate
                // of the count asks for cost fewer instructions, but twice
                // the page faults (and a third of the speed) with 4 KiB
                // entries, measured in the side-by-side benchmark.
                let end = r.len_end()?;
                let e = entry(&mut r, end)?;
                m.entries.push(e);
            }
            (8, VARINT) => m.commit = r.varint()?,
            (10, VARINT) => m.reject = r.varint()? != 0,
            (11, VARINT) => m.reject_hint = r.varint()?,
            (12, LEN) => m.context = Some(r.bytes()?),
            (13, VARINT) => m.vote = r.varint()?,
            // 9 (snapshot), 14 (responses) and anything else: prost's.
            _ => return None,
        }
    }
    Some(m)
}

/// Appends `v` as a base-128 varint.
#[inline(always)]
fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A field key: the field number and the wire type.
#[inline(always)]
fn put_key(out: &mut Vec<u8>, field: u64, wire: u64) {
    put_varint(out, (field << 3) | wire);
}

/// A varint field. proto2 `required` fields are written even when zero,
/// as prost writes them.
#[inline(always)]
fn put_u64(out: &mut Vec<u8>, field: u64, v: u64) {
    put_key(out, field, VARINT);
    put_varint(out, v);
}

/// A length-delimited field.
#[inline(always)]
fn put_bytes(out: &mut Vec<u8>, field: u64, b: &[u8]) {
    put_key(out, field, LEN);
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// Appends `m` in raftpb's encoding, as prost would write it, when it has
/// the common shape; returns false (and writes nothing) when it has a
/// snapshot or responses.
pub(crate) fn encode(m: &Message, out: &mut Vec<u8>) -> bool {
    if m.snapshot.is_some() || !m.responses.is_empty() {
        return false;
    }
    let payloads: usize = m.entries.iter().map(|e| e.data().len()).sum();
    let context = m.context.as_ref().map_or(0, |c| c.len() + 11);
    out.reserve(11 * 11 + context + payloads + m.entries.len() * ENTRY_OVERHEAD);
    // Enums are written as int32 values: sign-extended to 64 bits.
    put_u64(out, 1, i64::from(m.msg_type) as u64);
    put_u64(out, 2, m.to);
    put_u64(out, 3, m.from);
    put_u64(out, 4, m.term);
    put_u64(out, 5, m.log_term);
    put_u64(out, 6, m.index);
    for e in &m.entries {
        put_key(out, 7, LEN);
        put_varint(out, e.size());
        put_u64(out, 1, i64::from(e.entry_type) as u64);
        put_u64(out, 2, e.term);
        put_u64(out, 3, e.index);
        if let Some(d) = &e.data {
            put_bytes(out, 4, d);
        }
    }
    put_u64(out, 8, m.commit);
    put_u64(out, 10, u64::from(m.reject));
    put_u64(out, 11, m.reject_hint);
    if let Some(c) = &m.context {
        put_bytes(out, 12, c);
    }
    put_u64(out, 13, m.vote);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eraftpb::{MessageType, Snapshot};
    use crate::proto_ext::varint_len;
    use prost::Message as _;

    /// A small deterministic generator (xorshift), so failures replay.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        /// A value of a random magnitude: small, large, or at the edges.
        fn value(&mut self) -> u64 {
            match self.below(6) {
                0 => 0,
                1 => self.below(200),
                2 => self.below(1 << 20),
                3 => u64::MAX - self.below(3),
                4 => 1 << self.below(64),
                _ => self.next(),
            }
        }
        fn bytes(&mut self) -> Bytes {
            let n = match self.below(4) {
                0 => 0,
                1 => self.below(8),
                2 => self.below(200),
                _ => self.below(5000),
            };
            (0..n)
                .map(|_| self.next() as u8)
                .collect::<Vec<u8>>()
                .into()
        }
    }

    fn random_message(g: &mut Rng) -> Message {
        let mut m = Message {
            msg_type: g.below(30) as i32 - 3,
            to: g.value(),
            from: g.value(),
            term: g.value(),
            log_term: g.value(),
            index: g.value(),
            commit: g.value(),
            reject: g.below(2) == 0,
            reject_hint: g.value(),
            vote: g.value(),
            ..Default::default()
        };
        if g.below(3) == 0 {
            m.context = Some(g.bytes());
        }
        for _ in 0..g.below(5) * g.below(20) {
            m.entries.push(Entry {
                entry_type: g.below(5) as i32 - 1,
                term: g.value(),
                index: g.value(),
                data: (g.below(4) != 0).then(|| g.bytes()),
            });
        }
        if g.below(8) == 0 {
            m.snapshot = Some(Box::new(Snapshot {
                data: Some(g.bytes()),
                ..Default::default()
            }));
        }
        if g.below(8) == 0 {
            m.responses
                .push(Message::with_type(MessageType::MsgAppResp));
        }
        m
    }

    fn prost_decode(b: &Bytes) -> Option<Message> {
        Message::decode(b.clone()).ok()
    }

    #[test]
    fn agrees_with_prost_on_random_messages() {
        let mut g = Rng(0x9e37_79b9_7f4a_7c15);
        let mut fast = 0;
        for _ in 0..3000 {
            let m = random_message(&mut g);
            let b = Bytes::from(m.encode_to_vec());
            match decode(&b) {
                Some(d) => {
                    assert_eq!(d, m);
                    fast += 1;
                }
                // Only the shapes it leaves to prost.
                None => assert!(m.snapshot.is_some() || !m.responses.is_empty(), "{m:?}"),
            }
        }
        assert!(fast > 2000, "the common shape was decoded {fast} times");
    }

    #[test]
    fn encodes_exactly_as_prost() {
        let mut g = Rng(0x6a09_e667_f3bc_c908);
        let mut fast = 0;
        for _ in 0..3000 {
            let m = random_message(&mut g);
            let mut out = vec![0xee]; // appends after what is there
            if encode(&m, &mut out) {
                assert_eq!(out[1..], m.encode_to_vec()[..], "{m:?}");
                fast += 1;
            } else {
                assert_eq!(out, [0xee]);
                assert!(m.snapshot.is_some() || !m.responses.is_empty());
            }
        }
        assert!(fast > 2000, "the common shape was encoded {fast} times");
    }

    /// `Entry::size` (in `proto_ext`, written by hand) is prost's encoded
    /// length, for negative entry types, absent and empty payloads and
    /// 64-bit edge values alike.
    #[test]
    fn entry_size_is_the_encoded_length() {
        let mut g = Rng(0x2545_f491_4f6c_dd1d);
        let mut seen = 0;
        while seen < 5000 {
            for e in random_message(&mut g).entries {
                assert_eq!(e.size(), e.encoded_len() as u64, "{e:?}");
                seen += 1;
            }
        }
    }

    /// The entry decoder reads prost's field order first; other orders,
    /// repeated fields (the last wins) and unknown fields must decode as
    /// prost decodes them, or go to prost.
    #[test]
    fn entry_fields_in_any_order() {
        // (an entry's bytes, whether the fast decoder takes the message)
        let entries: [(&[u8], bool); 5] = [
            // data, index, term, type, then the term again.
            (
                &[0x22, 2, 0xaa, 0xbb, 0x18, 5, 0x10, 3, 0x08, 0, 0x10, 7],
                true,
            ),
            // In order, then the type and the data again.
            (
                &[0x08, 1, 0x10, 2, 0x18, 3, 0x22, 1, 9, 0x08, 2, 0x22, 0],
                true,
            ),
            // Only the index and the data, in order.
            (&[0x18, 0x80, 0x01, 0x22, 1, 4], true),
            // An unknown field 5 in the middle: prost's to decide.
            (&[0x08, 0, 0x10, 2, 0x28, 1, 0x18, 3], false),
            // Nothing: every field at its default.
            (&[], true),
        ];
        for (e, fast) in entries {
            let mut buf = vec![0x08, 3, 0x3a, e.len() as u8];
            buf.extend_from_slice(e);
            let buf = Bytes::from(buf);
            let m = decode(&buf);
            assert_eq!(m.is_some(), fast, "{e:02x?}");
            if let Some(m) = m {
                assert_eq!(Some(m), prost_decode(&buf), "{e:02x?}");
            }
        }
        let in_order = Bytes::from_static(&[0x3a, 6, 0x18, 0x80, 0x01, 0x22, 1, 4]);
        let m = decode(&in_order).expect("the common shape");
        assert_eq!((m.entries[0].index, m.entries[0].data()), (128, &[4u8][..]));
    }

    #[test]
    fn varint_lengths() {
        for (v, n) in [
            (0, 1),
            (127, 1),
            (128, 2),
            (16_383, 2),
            (16_384, 3),
            (u64::MAX, 10),
        ] {
            assert_eq!(varint_len(v), n, "{v}");
            let mut out = Vec::new();
            put_varint(&mut out, v);
            assert_eq!(out.len(), n, "{v}");
        }
    }

    #[test]
    fn never_disagrees_with_prost_on_damaged_bytes() {
        let mut g = Rng(0x2545_f491_4f6c_dd1d);
        let (mut ok, mut declined) = (0, 0);
        for _ in 0..20_000 {
            let m = random_message(&mut g);
            let mut v = m.encode_to_vec();
            if v.is_empty() {
                continue;
            }
            for _ in 0..=g.below(3) {
                let i = g.below(v.len() as u64) as usize;
                match g.below(4) {
                    0 => v[i] = g.next() as u8,
                    1 => v.truncate(i),
                    2 => v.insert(i, g.next() as u8),
                    _ => v[i] ^= 0x80,
                }
                if v.is_empty() {
                    break;
                }
            }
            let b = Bytes::from(v);
            match decode(&b) {
                Some(d) => {
                    assert_eq!(Some(d), prost_decode(&b), "bytes {:?}", &b[..]);
                    ok += 1;
                }
                None => declined += 1,
            }
        }
        // Both branches were exercised.
        assert!(ok > 1000 && declined > 1000, "ok {ok}, declined {declined}");
    }

    #[test]
    fn varints_at_the_64_bit_edge() {
        let cases: [(&[u8], Option<u64>); 5] = [
            (
                &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
                Some(u64::MAX),
            ),
            // A tenth byte above 1 would overflow 64 bits.
            (
                &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02],
                None,
            ),
            // Eleven bytes.
            (
                &[
                    0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00,
                ],
                None,
            ),
            // Cut short.
            (&[0x80], None),
            (&[0x00], Some(0)),
        ];
        for (bytes, want) in cases {
            let b = Bytes::copy_from_slice(bytes);
            let mut r = Reader {
                buf: &b,
                pos: 0,
                end: b.len(),
            };
            assert_eq!(r.varint(), want, "{bytes:?}");
        }
    }
}
