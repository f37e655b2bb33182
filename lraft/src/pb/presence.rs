//! Raft messages with proto2 field presence: each type wraps the core's prost
//! type and remembers which scalar fields were set, so that an unset field
//! reads as `nil`, is left out of `serialize()` and does not count in
//! `byte_size()`. Fields set everywhere encode exactly as etcd's raftpb.

use bytes::Bytes;
use prost::Message as _;
use raft_core::eraftpb::{
    ConfChange, ConfChangeSingle, ConfChangeV2, Entry, HardState, Message, Snapshot,
};

use super::wire::{
    bytes_len, put_bytes, put_key, put_uint, put_varint, uint_len, varint_len, Reader, LEN,
};

/// An entry and the set of its scalar fields that were set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ent {
    /// The entry.
    pub e: Entry,
    /// Presence bits: [`Ent::TYPE`], [`Ent::TERM`], [`Ent::INDEX`].
    pub has: u8,
}

impl Ent {
    /// Presence bit of `type`.
    pub const TYPE: u8 = 1;
    /// Presence bit of `term`.
    pub const TERM: u8 = 2;
    /// Presence bit of `index`.
    pub const INDEX: u8 = 4;
    /// All presence bits.
    pub const ALL: u8 = 7;

    /// An entry from the core, every field set.
    pub fn full(e: Entry) -> Ent {
        Ent { e, has: Self::ALL }
    }

    /// Encoded size with presence.
    pub fn byte_size(&self) -> usize {
        let mut n = 0;
        if self.has & Self::TYPE != 0 {
            n += uint_len(self.e.entry_type as u32 as u64);
        }
        if self.has & Self::TERM != 0 {
            n += uint_len(self.e.term);
        }
        if self.has & Self::INDEX != 0 {
            n += uint_len(self.e.index);
        }
        if let Some(d) = &self.e.data {
            n += bytes_len(d.len());
        }
        n
    }

    /// Appends the encoding.
    pub fn encode(&self, buf: &mut Vec<u8>) {
        if self.has & Self::TYPE != 0 {
            put_uint(buf, 1, enum_wire(self.e.entry_type));
        }
        if self.has & Self::TERM != 0 {
            put_uint(buf, 2, self.e.term);
        }
        if self.has & Self::INDEX != 0 {
            put_uint(buf, 3, self.e.index);
        }
        if let Some(d) = &self.e.data {
            put_bytes(buf, 4, d);
        }
    }

    /// Decodes an entry; `None` on malformed bytes.
    pub fn decode(b: &[u8]) -> Option<Ent> {
        let mut r = Reader::new(b);
        let mut out = Ent::default();
        while !r.done() {
            let (f, wt) = r.key()?;
            match f {
                1 => {
                    out.e.entry_type = enum_from_wire(r.uint(wt)?);
                    out.has |= Self::TYPE;
                }
                2 => {
                    out.e.term = r.uint(wt)?;
                    out.has |= Self::TERM;
                }
                3 => {
                    out.e.index = r.uint(wt)?;
                    out.has |= Self::INDEX;
                }
                4 => out.e.data = Some(Bytes::copy_from_slice(r.len_field(wt)?)),
                _ => r.skip(wt)?,
            }
        }
        Some(out)
    }
}

/// Enum values travel as their int32 varint (negative values sign-extended).
fn enum_wire(v: i32) -> u64 {
    v as i64 as u64
}

fn enum_from_wire(v: u64) -> i32 {
    v as i64 as i32
}

/// A message, its entries with their own presence, and the presence of its
/// scalar fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Msg {
    /// The message; its `entries` field is kept empty (see `ents`).
    pub m: Message,
    /// The entries.
    pub ents: Vec<Ent>,
    /// Presence bits, one per field in [`Msg::FIELDS`] order.
    pub has: u16,
}

/// Scalar message fields, in field-number order, by Lua name.
pub const MSG_FIELDS: [(&str, u32); 10] = [
    ("type", 1),
    ("to", 2),
    ("from", 3),
    ("term", 4),
    ("logterm", 5),
    ("index", 6),
    ("commit", 8),
    ("reject", 10),
    ("rejecthint", 11),
    ("vote", 13),
];

impl Msg {
    /// Presence bits of every scalar field.
    pub const ALL: u16 = (1 << MSG_FIELDS.len()) - 1;

    /// A message from the core, every field set.
    pub fn full(mut m: Message) -> Msg {
        let ents = std::mem::take(&mut m.entries)
            .into_iter()
            .map(Ent::full)
            .collect();
        Msg {
            m,
            ents,
            has: Self::ALL,
        }
    }

    /// The core message (unset fields are zero).
    pub fn to_core(&self) -> Message {
        let mut m = self.m.clone();
        m.entries = self.ents.iter().map(|e| e.e.clone()).collect();
        m
    }

    /// The bit of scalar field `i` of [`MSG_FIELDS`].
    pub fn bit(i: usize) -> u16 {
        1 << i
    }

    /// The raw value of scalar field `i` of [`MSG_FIELDS`].
    pub fn get(&self, i: usize) -> u64 {
        let m = &self.m;
        match i {
            0 => enum_wire(m.msg_type),
            1 => m.to,
            2 => m.from,
            3 => m.term,
            4 => m.log_term,
            5 => m.index,
            6 => m.commit,
            7 => u64::from(m.reject),
            8 => m.reject_hint,
            _ => m.vote,
        }
    }

    /// Sets scalar field `i` of [`MSG_FIELDS`] and marks it present.
    pub fn set(&mut self, i: usize, v: u64) {
        let m = &mut self.m;
        match i {
            0 => m.msg_type = enum_from_wire(v),
            1 => m.to = v,
            2 => m.from = v,
            3 => m.term = v,
            4 => m.log_term = v,
            5 => m.index = v,
            6 => m.commit = v,
            7 => m.reject = v != 0,
            8 => m.reject_hint = v,
            _ => m.vote = v,
        }
        self.has |= Self::bit(i);
    }

    /// Appends the encoding (fields in etcd's order).
    pub fn encode(&self, buf: &mut Vec<u8>) {
        for (i, (_, field)) in MSG_FIELDS.iter().enumerate() {
            if *field == 8 {
                for e in &self.ents {
                    put_key(buf, 7, LEN);
                    put_varint(buf, e.byte_size() as u64);
                    e.encode(buf);
                }
            }
            if *field == 13 {
                if let Some(c) = &self.m.context {
                    put_bytes(buf, 12, c);
                }
            }
            if *field == 10 {
                if let Some(s) = &self.m.snapshot {
                    put_bytes(buf, 9, &s.encode_to_vec());
                }
            }
            if self.has & Self::bit(i) != 0 {
                put_uint(buf, *field, self.get(i));
            }
        }
        for r in &self.m.responses {
            put_bytes(buf, 14, &r.encode_to_vec());
        }
    }

    /// Encoded size.
    pub fn byte_size(&self) -> usize {
        let mut n = 0;
        for (i, _) in MSG_FIELDS.iter().enumerate() {
            if self.has & Self::bit(i) != 0 {
                n += uint_len(self.get(i));
            }
        }
        for e in &self.ents {
            n += bytes_len(e.byte_size());
        }
        if let Some(c) = &self.m.context {
            n += bytes_len(c.len());
        }
        if let Some(s) = &self.m.snapshot {
            n += bytes_len(s.encoded_len());
        }
        for r in &self.m.responses {
            n += bytes_len(r.encoded_len());
        }
        n
    }

    /// Decodes a message; `None` on malformed bytes, including responses
    /// nested deeper than the core's `MAX_MESSAGE_DEPTH` (the limit of every
    /// encoder and decoder of the project).
    pub fn decode(b: &[u8]) -> Option<Msg> {
        let mut r = Reader::new(b);
        let mut out = Msg::default();
        while !r.done() {
            let (f, wt) = r.key()?;
            if let Some(i) = MSG_FIELDS.iter().position(|(_, n)| *n == f) {
                let v = r.uint(wt)?;
                out.set(i, v);
                continue;
            }
            match f {
                7 => out.ents.push(Ent::decode(r.len_field(wt)?)?),
                9 => out.m.snapshot = Some(Snapshot::decode(r.len_field(wt)?).ok()?),
                12 => out.m.context = Some(Bytes::copy_from_slice(r.len_field(wt)?)),
                14 => out
                    .m
                    .responses
                    .push(Message::decode(r.len_field(wt)?).ok()?),
                _ => r.skip(wt)?,
            }
        }
        // The top message is one level above its responses.
        let depth = out
            .m
            .responses
            .iter()
            .map(|r| 1 + raft_core::message_nesting::message_depth(r))
            .max()
            .unwrap_or(0);
        if depth > raft_core::message_nesting::MAX_MESSAGE_DEPTH {
            return None;
        }
        Some(out)
    }
}

/// A hard state with presence of term, vote and commit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Hs {
    /// The hard state.
    pub hs: HardState,
    /// Presence bits: 1 term, 2 vote, 4 commit.
    pub has: u8,
}

impl Hs {
    /// Presence bit of `term`.
    pub const TERM: u8 = 1;
    /// Presence bit of `vote`.
    pub const VOTE: u8 = 2;
    /// Presence bit of `commit`.
    pub const COMMIT: u8 = 4;

    /// A hard state from the core, every field set.
    pub fn full(hs: HardState) -> Hs {
        Hs { hs, has: 7 }
    }

    /// Appends the encoding.
    pub fn encode(&self, buf: &mut Vec<u8>) {
        if self.has & Self::TERM != 0 {
            put_uint(buf, 1, self.hs.term);
        }
        if self.has & Self::VOTE != 0 {
            put_uint(buf, 2, self.hs.vote);
        }
        if self.has & Self::COMMIT != 0 {
            put_uint(buf, 3, self.hs.commit);
        }
    }

    /// Decodes a hard state; `None` on malformed bytes.
    pub fn decode(b: &[u8]) -> Option<Hs> {
        let mut r = Reader::new(b);
        let mut out = Hs::default();
        while !r.done() {
            let (f, wt) = r.key()?;
            match f {
                1 => {
                    out.hs.term = r.uint(wt)?;
                    out.has |= Self::TERM;
                }
                2 => {
                    out.hs.vote = r.uint(wt)?;
                    out.has |= Self::VOTE;
                }
                3 => {
                    out.hs.commit = r.uint(wt)?;
                    out.has |= Self::COMMIT;
                }
                _ => r.skip(wt)?,
            }
        }
        Some(out)
    }
}

/// A V1 conf change with presence of id, type and node id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cc {
    /// The change.
    pub cc: ConfChange,
    /// Presence bits: 1 id, 2 type, 4 node id.
    pub has: u8,
}

impl Cc {
    /// Presence bit of `id`.
    pub const ID: u8 = 1;
    /// Presence bit of `type`.
    pub const TYPE: u8 = 2;
    /// Presence bit of `nodeid`.
    pub const NODE: u8 = 4;

    /// Appends the encoding.
    pub fn encode(&self, buf: &mut Vec<u8>) {
        if self.has & Self::ID != 0 {
            put_uint(buf, 1, self.cc.id);
        }
        if self.has & Self::TYPE != 0 {
            put_uint(buf, 2, enum_wire(self.cc.change_type));
        }
        if self.has & Self::NODE != 0 {
            put_uint(buf, 3, self.cc.node_id);
        }
        if let Some(c) = &self.cc.context {
            put_bytes(buf, 4, c);
        }
    }

    /// Decodes a conf change; `None` on malformed bytes.
    pub fn decode(b: &[u8]) -> Option<Cc> {
        let mut r = Reader::new(b);
        let mut out = Cc::default();
        while !r.done() {
            let (f, wt) = r.key()?;
            match f {
                1 => {
                    out.cc.id = r.uint(wt)?;
                    out.has |= Self::ID;
                }
                2 => {
                    out.cc.change_type = enum_from_wire(r.uint(wt)?);
                    out.has |= Self::TYPE;
                }
                3 => {
                    out.cc.node_id = r.uint(wt)?;
                    out.has |= Self::NODE;
                }
                4 => out.cc.context = Some(Bytes::copy_from_slice(r.len_field(wt)?)),
                _ => r.skip(wt)?,
            }
        }
        Some(out)
    }
}

/// A V2 conf change with presence of its transition.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cc2 {
    /// The change.
    pub cc: ConfChangeV2,
    /// Presence bit 1: transition.
    pub has: u8,
}

impl Cc2 {
    /// Appends the encoding.
    pub fn encode(&self, buf: &mut Vec<u8>) {
        if self.has & 1 != 0 {
            put_uint(buf, 1, enum_wire(self.cc.transition));
        }
        for c in &self.cc.changes {
            put_bytes(buf, 2, &c.encode_to_vec());
        }
        if let Some(c) = &self.cc.context {
            put_bytes(buf, 3, c);
        }
    }

    /// Decodes a V2 conf change; `None` on malformed bytes.
    pub fn decode(b: &[u8]) -> Option<Cc2> {
        let mut r = Reader::new(b);
        let mut out = Cc2::default();
        while !r.done() {
            let (f, wt) = r.key()?;
            match f {
                1 => {
                    out.cc.transition = enum_from_wire(r.uint(wt)?);
                    out.has |= 1;
                }
                2 => out
                    .cc
                    .changes
                    .push(ConfChangeSingle::decode(r.len_field(wt)?).ok()?),
                3 => out.cc.context = Some(Bytes::copy_from_slice(r.len_field(wt)?)),
                _ => r.skip(wt)?,
            }
        }
        Some(out)
    }
}

/// Size of a varint field, exported for the snapshot's sake.
pub fn field_len(v: u64) -> usize {
    1 + varint_len(v)
}
