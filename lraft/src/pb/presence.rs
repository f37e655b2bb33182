//! Field presence of the Lua message objects whose unset fields read as
//! `nil` (the contract's `message` scalars and `hardstate`). Presence only
//! decides what Lua reads: bytes always come from the core's prost types
//! (see [`super::codec`]), which write every non-nullable field as etcd's
//! gogoproto marshaller does.

use raft_core::eraftpb::{HardState, Message};

/// A message and the presence of its scalar fields (its entries, context
/// and snapshot live in `m`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Msg {
    /// The message.
    pub m: Message,
    /// Presence bits, one per field in [`MSG_FIELDS`] order.
    pub has: u16,
}

/// Scalar message fields by Lua name.
pub const MSG_FIELDS: [&str; 10] = [
    "type",
    "to",
    "from",
    "term",
    "logterm",
    "index",
    "commit",
    "reject",
    "rejecthint",
    "vote",
];

impl Msg {
    /// Presence bits of every scalar field.
    pub const ALL: u16 = (1 << MSG_FIELDS.len()) - 1;

    /// A message from the core or from bytes: every field set.
    pub fn full(m: Message) -> Msg {
        Msg { m, has: Self::ALL }
    }

    /// The bit of scalar field `i` of [`MSG_FIELDS`].
    pub fn bit(i: usize) -> u16 {
        1 << i
    }

    /// The raw value of scalar field `i` of [`MSG_FIELDS`].
    pub fn get(&self, i: usize) -> u64 {
        let m = &self.m;
        match i {
            0 => m.msg_type as i64 as u64,
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
            0 => m.msg_type = v as i64 as i32,
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

    /// A hard state from the core or from bytes: every field set.
    pub fn full(hs: HardState) -> Hs {
        Hs { hs, has: 7 }
    }
}
