//! Conveniences over the generated protobuf types: typed enum accessors,
//! message-type classification and conf-change conversions.

use bytes::Bytes;
use prost::Message as _;

use crate::eraftpb::{
    ConfChange, ConfChangeSingle, ConfChangeTransition, ConfChangeType, ConfChangeV2, ConfState,
    Entry, EntryType, HardState, Message, MessageType, Snapshot,
};
use crate::errors::Result;

impl Entry {
    /// A normal entry at `(term, index)` with the given payload.
    pub fn new(term: u64, index: u64, data: impl Into<Bytes>) -> Entry {
        Entry {
            entry_type: EntryType::EntryNormal as i32,
            term,
            index,
            data: Some(data.into()),
        }
    }
    /// Payload bytes, the unit of `max_uncommitted_entries_size`.
    pub fn payload_size(&self) -> u64 {
        self.data().len() as u64
    }
    /// Encoded size in bytes, the unit of the message and Ready size limits.
    ///
    /// Computed here rather than by prost's `encoded_len`, which a 3-voter
    /// round called five times per entry at about 35 instructions each
    /// (issue 11); the test `entry_size_is_the_encoded_length` holds it to
    /// prost's answer.
    #[inline]
    pub fn size(&self) -> u64 {
        // The three required varint fields are always written, each behind
        // a one-byte key; the enum as an int32, sign-extended to 64 bits.
        let mut n = 3
            + varint_len(i64::from(self.entry_type) as u64)
            + varint_len(self.term)
            + varint_len(self.index);
        if let Some(d) = &self.data {
            n += 1 + varint_len(d.len() as u64) + d.len();
        }
        n as u64
    }
}

/// How many bytes `v` takes as a protobuf varint.
#[inline(always)]
pub(crate) fn varint_len(v: u64) -> usize {
    // ceil(bits / 7) for the value's significant bits (at least 1), as
    // (bits * 9 + 64) / 64: a multiply and a shift (exact for 1..=64 bits;
    // `div_ceil(7)` did not fold into that and cost more than the rest).
    let bits = 64 - (v | 1).leading_zeros() as usize;
    (bits * 9 + 64) >> 6
}

impl Message {
    /// A message of type `t` with every other field zero.
    pub fn with_type(t: MessageType) -> Message {
        Message {
            msg_type: t as i32,
            ..Default::default()
        }
    }
}

impl HardState {
    /// True when term, vote and commit are all zero.
    pub fn is_empty(&self) -> bool {
        self.term == 0 && self.vote == 0 && self.commit == 0
    }
}

impl Snapshot {
    /// True for the empty snapshot (index 0).
    pub fn is_empty(&self) -> bool {
        self.metadata.index == 0
    }
}

impl ConfState {
    /// True when both configurations have the same members (order and
    /// duplicates ignored) and the same auto-leave flag.
    pub fn equivalent(&self, other: &ConfState) -> bool {
        fn sorted(v: &[u64]) -> Vec<u64> {
            let mut v = v.to_vec();
            v.sort_unstable();
            v.dedup();
            v
        }
        sorted(&self.voters) == sorted(&other.voters)
            && sorted(&self.learners) == sorted(&other.learners)
            && sorted(&self.voters_outgoing) == sorted(&other.voters_outgoing)
            && sorted(&self.learners_next) == sorted(&other.learners_next)
            && self.auto_leave == other.auto_leave
    }
}

impl ConfChange {}

impl ConfChangeSingle {
    /// A single change of type `t` for `node_id`.
    pub fn new(t: ConfChangeType, node_id: u64) -> Self {
        ConfChangeSingle {
            change_type: t as i32,
            node_id,
        }
    }
}

impl ConfChangeV2 {
    /// Whether this change enters a joint configuration, and if so whether
    /// the joint state is left automatically (as etcd's `EnterJoint`).
    pub fn enter_joint(&self) -> Option<bool> {
        if self.transition() != ConfChangeTransition::ConfChangeTransitionAuto
            || self.changes.len() > 1
        {
            let auto_leave = match self.transition() {
                ConfChangeTransition::ConfChangeTransitionAuto
                | ConfChangeTransition::ConfChangeTransitionJointImplicit => true,
                ConfChangeTransition::ConfChangeTransitionJointExplicit => false,
            };
            Some(auto_leave)
        } else {
            None
        }
    }
    /// True for the empty change that leaves a joint configuration.
    pub fn leave_joint(&self) -> bool {
        self.transition() == ConfChangeTransition::ConfChangeTransitionAuto
            && self.changes.is_empty()
            && self.context.as_deref().is_none_or(|c| c.is_empty())
    }
}

/// A conf change of either version, as etcd's `ConfChangeI`.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfChangeI {
    /// A legacy single change.
    V1(ConfChange),
    /// A (possibly joint) change.
    V2(ConfChangeV2),
}

impl ConfChangeI {
    /// The change as a V2 change (a V1 change becomes one single change with
    /// the auto transition).
    pub fn as_v2(&self) -> ConfChangeV2 {
        match self {
            ConfChangeI::V2(cc) => cc.clone(),
            ConfChangeI::V1(cc) => ConfChangeV2 {
                transition: ConfChangeTransition::ConfChangeTransitionAuto as i32,
                changes: vec![ConfChangeSingle {
                    change_type: cc.change_type,
                    node_id: cc.node_id,
                }],
                context: cc.context.clone(),
            },
        }
    }
    /// The V1 form, if this is a V1 change.
    pub fn as_v1(&self) -> Option<&ConfChange> {
        match self {
            ConfChangeI::V1(cc) => Some(cc),
            ConfChangeI::V2(_) => None,
        }
    }
    /// The entry type and encoded payload for proposing this change.
    pub fn to_entry_parts(&self) -> (EntryType, Bytes) {
        match self {
            ConfChangeI::V1(cc) => (EntryType::EntryConfChange, cc.encode_to_vec().into()),
            ConfChangeI::V2(cc) => (EntryType::EntryConfChangeV2, cc.encode_to_vec().into()),
        }
    }
    /// Decodes the conf change carried by a conf-change entry; `None` for a
    /// normal entry.
    pub fn from_entry(e: &Entry) -> Option<Result<ConfChangeI>> {
        match e.entry_type() {
            EntryType::EntryNormal => None,
            EntryType::EntryConfChange => Some(
                ConfChange::decode(e.data())
                    .map(ConfChangeI::V1)
                    .map_err(Into::into),
            ),
            EntryType::EntryConfChangeV2 => Some(
                ConfChangeV2::decode(e.data())
                    .map(ConfChangeI::V2)
                    .map_err(Into::into),
            ),
        }
    }
}

impl From<ConfChange> for ConfChangeI {
    fn from(cc: ConfChange) -> Self {
        ConfChangeI::V1(cc)
    }
}

impl From<ConfChangeV2> for ConfChangeI {
    fn from(cc: ConfChangeV2) -> Self {
        ConfChangeI::V2(cc)
    }
}

/// True for message types that never leave the node (etcd's `IsLocalMsg`).
pub fn is_local_msg(t: MessageType) -> bool {
    use MessageType::*;
    matches!(
        t,
        MsgHup
            | MsgBeat
            | MsgUnreachable
            | MsgSnapStatus
            | MsgCheckQuorum
            | MsgStorageAppend
            | MsgStorageAppendResp
            | MsgStorageApply
            | MsgStorageApplyResp
    )
}

/// True for response message types (etcd's `IsResponseMsg`).
pub fn is_response_msg(t: MessageType) -> bool {
    use MessageType::*;
    matches!(
        t,
        MsgAppResp
            | MsgVoteResp
            | MsgHeartbeatResp
            | MsgUnreachable
            | MsgReadIndexResp
            | MsgPreVoteResp
            | MsgStorageAppendResp
            | MsgStorageApplyResp
    )
}


/// The response type for a vote request type.
pub fn vote_resp_msg_type(t: MessageType) -> MessageType {
    match t {
        MessageType::MsgPreVote => MessageType::MsgPreVoteResp,
        _ => MessageType::MsgVoteResp,
    }
}

/// Sum of the payload sizes of `ents`.
pub fn payloads_size(ents: &[Entry]) -> u64 {
    ents.iter().map(Entry::payload_size).sum()
}

/// How many of `ents`, taken in order after `used` bytes already taken,
/// stay within `max_size` encoded bytes, and the total size then (`used`
/// included): etcd's `limitSize` rule, where the first entry of a result is
/// kept even when it alone is over the limit (`keep_first`). The log and
/// `MemoryStorage` cut their reads with it.
#[inline]
pub(crate) fn prefix_within(ents: &[Entry], used: u64, max_size: u64, keep_first: bool) -> (usize, u64) {
    let mut size = used;
    for (i, e) in ents.iter().enumerate() {
        let next = size.saturating_add(e.size());
        if next > max_size && !(i == 0 && keep_first) {
            return (i, size);
        }
        size = next;
    }
    (ents.len(), size)
}

/// Truncates `ents` so that their total encoded size stays within
/// `max_size`, keeping at least the first entry (etcd's `limitSize`). The
/// log applies this rule as it reads (`RaftLog::slice`); tests check it
/// against this plain form.
#[cfg(test)]
pub fn limit_size(ents: &mut Vec<Entry>, max_size: u64) {
    if ents.len() <= 1 || max_size == u64::MAX {
        return;
    }
    let mut size = 0u64;
    let mut keep = 0usize;
    for e in ents.iter() {
        size = size.saturating_add(e.size());
        if keep > 0 && size > max_size {
            break;
        }
        keep += 1;
    }
    ents.truncate(keep);
}
