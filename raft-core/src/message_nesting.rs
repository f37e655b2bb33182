//! Messages to and from raftpb bytes: `encode_message`, `decode_message`
//! and `decode_message_bytes`, which every binding uses, and the one limit
//! on how deeply `Message::responses` nest, shared by every encoder and
//! decoder of the project (the C ABI's `raft_message_encode`,
//! `raft_message_decode` and `raft_rawnode_step`, the Lua parser).
//!
//! Raft itself nests one level (a local storage message carries the
//! responses to send once it is done); anything much deeper is malformed
//! input, and decoding it costs stack and memory.

use prost::Message as _;

use crate::eraftpb::Message;
use crate::errors::{Error, Result};

/// The deepest nesting of `responses` accepted: a message whose responses
/// carry responses ... down to this many levels below the top one.
pub const MAX_MESSAGE_DEPTH: usize = 8;

/// How many levels of `responses` sit below `m` (0 without responses),
/// counted without recursion and stopping at `MAX_MESSAGE_DEPTH + 1`.
pub fn message_depth(m: &Message) -> usize {
    if m.responses.is_empty() {
        return 0; // nearly every message: no walk, no allocation
    }
    let mut deepest = 0;
    let mut stack = vec![(m, 0usize)];
    while let Some((m, d)) = stack.pop() {
        deepest = deepest.max(d);
        if deepest > MAX_MESSAGE_DEPTH {
            break;
        }
        stack.extend(m.responses.iter().map(|r| (r, d + 1)));
    }
    deepest
}

/// [`Error::Decode`] when the responses of `m` nest deeper than
/// [`MAX_MESSAGE_DEPTH`].
pub(crate) fn check_message_depth(m: &Message) -> Result<()> {
    if message_depth(m) > MAX_MESSAGE_DEPTH {
        return Err(Error::Decode(format!(
            "message responses nested deeper than the limit of {MAX_MESSAGE_DEPTH} levels"
        )));
    }
    Ok(())
}

/// Decodes raftpb `Message` bytes, refusing responses nested deeper than
/// [`MAX_MESSAGE_DEPTH`] (protobuf's own limit is 100).
///
/// The bytes are copied once into one shared buffer and the payloads
/// (entry data, contexts, snapshot data) are views into it: one allocation
/// per message instead of one per payload. Inlined across crates so that
/// the decoder is compiled with its caller's code (the C library builds it
/// with one codegen unit, which lets the entry decoding be inlined).
#[inline]
pub fn decode_message(buf: &[u8]) -> Result<Message> {
    decode_message_bytes(bytes::Bytes::copy_from_slice(buf))
}

/// Appends the raftpb encoding of `m` to `out`: prost's bytes, written in
/// one pass for a message of the common shape (scalars, context, entries;
/// prost sizes each entry twice), by prost otherwise.
#[inline]
pub fn encode_message(m: &Message, out: &mut Vec<u8>) {
    if !crate::message_fast_path::encode(m, out) {
        m.encode_raw(out);
    }
}

/// [`decode_message`] for bytes the caller hands over (a received buffer
/// it no longer needs): the payloads are views into `buf`, with no copy.
///
/// A message of the common shape (scalars, context, entries) is read by
/// a specialised decoder; anything else, and anything malformed, by
/// prost, which the specialised decoder always agrees with.
#[inline]
pub fn decode_message_bytes(buf: bytes::Bytes) -> Result<Message> {
    if let Some(m) = crate::message_fast_path::decode(&buf) {
        return Ok(m); // no responses: nothing nested to check
    }
    let m = Message::decode(buf)?;
    check_message_depth(&m)?;
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eraftpb::MessageType;

    /// A message with `depth` levels of responses below it.
    pub(crate) fn nested(depth: usize) -> Message {
        let mut m = Message::with_type(MessageType::MsgAppResp);
        for _ in 0..depth {
            m = Message {
                responses: vec![m],
                ..Message::with_type(MessageType::MsgStorageAppend)
            };
        }
        m
    }

    #[test]
    fn depth_is_counted_in_levels_below_the_top() {
        assert_eq!(message_depth(&nested(0)), 0);
        assert_eq!(message_depth(&nested(3)), 3);
        let mut wide = nested(2);
        wide.responses.push(nested(5));
        assert_eq!(message_depth(&wide), 6);
        assert_eq!(message_depth(&nested(500)), MAX_MESSAGE_DEPTH + 1);
    }

    #[test]
    fn decode_accepts_the_limit_and_refuses_one_more() {
        let ok = nested(MAX_MESSAGE_DEPTH).encode_to_vec();
        assert_eq!(decode_message(&ok).unwrap(), nested(MAX_MESSAGE_DEPTH));
        for depth in [MAX_MESSAGE_DEPTH + 1, 99] {
            let bytes = nested(depth).encode_to_vec();
            assert!(Message::decode(bytes.as_slice()).is_ok(), "prost accepts");
            let e = decode_message(&bytes).unwrap_err();
            assert!(
                matches!(&e, Error::Decode(m) if m.contains("nested deeper")),
                "{e}"
            );
        }
    }
}
