//! Bookkeeping for linearizable reads (etcd's `readOnly`): pending
//! ReadIndex requests waiting for a heartbeat quorum.

use std::collections::{BTreeMap, HashMap, VecDeque};

use bytes::Bytes;

use crate::config::ReadOnlyOption;
use crate::eraftpb::Message;

/// The answer to a ReadIndex request: once the application has applied up to
/// `index`, reads issued with `request_ctx` are linearizable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadState {
    /// The commit index at the time the request was confirmed.
    pub index: u64,
    /// The context the application passed to `read_index`.
    pub request_ctx: Bytes,
}

/// A ReadIndex request waiting for heartbeat acknowledgements.
#[derive(Debug, Clone)]
pub struct ReadIndexStatus {
    pub req: Message,
    pub index: u64,
    pub acks: BTreeMap<u64, bool>,
}

/// Pending read requests of a leader, in arrival order.
#[derive(Debug, Clone)]
pub struct ReadOnly {
    pub option: ReadOnlyOption,
    pending: HashMap<Bytes, ReadIndexStatus>,
    queue: VecDeque<Bytes>,
}

impl ReadOnly {
    pub fn new(option: ReadOnlyOption) -> ReadOnly {
        ReadOnly {
            option,
            pending: HashMap::new(),
            queue: VecDeque::new(),
        }
    }

    /// Records a request (keyed by its context, the data of its only entry)
    /// to be confirmed at commit index `index`. A duplicate context is
    /// ignored.
    pub fn add_request(&mut self, index: u64, m: Message) {
        let Some(ctx) = m.entries.first().and_then(|e| e.data.clone()) else {
            return;
        };
        if self.pending.contains_key(&ctx) {
            return;
        }
        self.queue.push_back(ctx.clone());
        self.pending.insert(
            ctx,
            ReadIndexStatus {
                req: m,
                index,
                acks: BTreeMap::new(),
            },
        );
    }

    /// Records that `id` acknowledged the heartbeat carrying `ctx`; returns
    /// the acknowledgements so far, or `None` for an unknown context.
    pub fn recv_ack(&mut self, id: u64, ctx: &[u8]) -> Option<&BTreeMap<u64, bool>> {
        let rs = self.pending.get_mut(ctx)?;
        rs.acks.insert(id, true);
        Some(&rs.acks)
    }

    /// Removes and returns every request queued up to and including the one
    /// whose context is `ctx` (they are all confirmed by its quorum).
    pub fn advance(&mut self, ctx: &[u8]) -> Vec<ReadIndexStatus> {
        let Some(pos) = self.queue.iter().position(|c| c.as_ref() == ctx) else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(pos + 1);
        for c in self.queue.drain(..=pos) {
            if let Some(rs) = self.pending.remove(&c) {
                out.push(rs);
            }
        }
        out
    }

    /// The context of the newest pending request.
    pub fn last_pending_request_ctx(&self) -> Option<Bytes> {
        self.queue.back().cloned()
    }

    /// Number of pending requests.
    #[cfg(test)]
    pub fn pending_len(&self) -> usize {
        self.queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eraftpb::{Entry, MessageType};

    fn req(ctx: &'static [u8]) -> Message {
        let mut m = Message::default();
        m.set_msg_type(MessageType::MsgReadIndex);
        m.entries.push(Entry {
            data: Some(Bytes::from_static(ctx)),
            ..Default::default()
        });
        m
    }

    #[test]
    fn advance_releases_everything_up_to_the_acked_context() {
        let mut ro = ReadOnly::new(ReadOnlyOption::Safe);
        ro.add_request(5, req(b"a"));
        ro.add_request(6, req(b"b"));
        ro.add_request(7, req(b"c"));
        ro.add_request(8, req(b"b")); // duplicate ignored
        assert_eq!(ro.pending_len(), 3);
        assert_eq!(ro.recv_ack(2, b"b").map(|a| a.len()), Some(1));
        assert!(ro.recv_ack(2, b"zzz").is_none());
        let done = ro.advance(b"b");
        assert_eq!(done.iter().map(|r| r.index).collect::<Vec<_>>(), vec![5, 6]);
        assert_eq!(ro.last_pending_request_ctx().as_deref(), Some(&b"c"[..]));
        assert!(ro.advance(b"unknown").is_empty());
        assert_eq!(ro.pending_len(), 1);
    }

    #[test]
    fn request_without_entry_is_ignored() {
        let mut ro = ReadOnly::new(ReadOnlyOption::Safe);
        ro.add_request(1, Message::default());
        assert_eq!(ro.pending_len(), 0);
    }
}
