//! Views of decoded protobuf values and their owner, the [`raft_decoded`]
//! handle: every pointer in a view returned together with a `raft_decoded`
//! stays valid until that handle is freed.

use raft_core::eraftpb::{ConfChange, ConfChangeV2, ConfState, Entry, Message, Snapshot};

use crate::bytes::raft_bytes;
use crate::guard::{free_handle, Handle};
use crate::last_error::HandleState;
use crate::messages::{
    raft_conf_change, raft_conf_change_single, raft_conf_change_v2, raft_conf_state, raft_entry,
    raft_message, raft_snapshot,
};

/// Owns the arrays of views built for nested values. Every array is a boxed
/// slice that is never resized, so pointers into it stay valid while the
/// arena lives (moving the arena does not move the slices).
#[derive(Default)]
pub struct Arena {
    entries: Vec<Box<[raft_entry]>>,
    // Boxed one by one: a pointer to each is handed out while more are
    // pushed, so they must not move when the vector grows.
    #[allow(clippy::vec_box)]
    snapshots: Vec<Box<raft_snapshot>>,
    messages: Vec<Box<[raft_message]>>,
    singles: Vec<Box<[raft_conf_change_single]>>,
}

/// A view of an entry; its pointers are into `e`.
pub fn entry_view(e: &Entry) -> raft_entry {
    raft_entry {
        entry_type: e.entry_type,
        term: e.term,
        index: e.index,
        data: raft_bytes::of_opt(e.data.as_ref()),
    }
}

/// A view of a conf state; its pointers are into `cs`.
pub fn conf_state_view(cs: &ConfState) -> raft_conf_state {
    raft_conf_state {
        voters: cs.voters.as_ptr(),
        voters_len: cs.voters.len(),
        learners: cs.learners.as_ptr(),
        learners_len: cs.learners.len(),
        voters_outgoing: cs.voters_outgoing.as_ptr(),
        voters_outgoing_len: cs.voters_outgoing.len(),
        learners_next: cs.learners_next.as_ptr(),
        learners_next_len: cs.learners_next.len(),
        auto_leave: cs.auto_leave,
    }
}

/// A view of a snapshot; its pointers are into `s`.
pub fn snapshot_view(s: &Snapshot) -> raft_snapshot {
    raft_snapshot {
        data: raft_bytes::of_opt(s.data.as_ref()),
        index: s.metadata.index,
        term: s.metadata.term,
        conf_state: conf_state_view(&s.metadata.conf_state),
    }
}

/// A view of a conf change; its pointers are into `c`.
pub fn conf_change_view(c: &ConfChange) -> raft_conf_change {
    raft_conf_change {
        id: c.id,
        change_type: c.change_type,
        node_id: c.node_id,
        context: raft_bytes::of_opt(c.context.as_ref()),
    }
}

impl Arena {
    /// Views of `es`, owned by the arena.
    pub fn entries(&mut self, es: &[Entry]) -> (*const raft_entry, usize) {
        let b: Box<[raft_entry]> = es.iter().map(entry_view).collect();
        let r = (b.as_ptr(), b.len());
        self.entries.push(b);
        r
    }

    /// A view of `c`; the changes array is owned by the arena.
    pub fn conf_change_v2(&mut self, c: &ConfChangeV2) -> raft_conf_change_v2 {
        let b: Box<[raft_conf_change_single]> = c
            .changes
            .iter()
            .map(|s| raft_conf_change_single {
                change_type: s.change_type,
                node_id: s.node_id,
            })
            .collect();
        let v = raft_conf_change_v2 {
            transition: c.transition,
            changes: b.as_ptr(),
            changes_len: b.len(),
            context: raft_bytes::of_opt(c.context.as_ref()),
        };
        self.singles.push(b);
        v
    }

    /// A view of `m`, its entries, snapshot and responses.
    pub fn message(&mut self, m: &Message) -> raft_message {
        let (entries, entries_len) = self.entries(&m.entries);
        let snapshot = match &m.snapshot {
            Some(s) => {
                let b = Box::new(snapshot_view(s));
                let p: *const raft_snapshot = &*b;
                self.snapshots.push(b);
                p
            }
            None => std::ptr::null(),
        };
        let responses: Box<[raft_message]> = m.responses.iter().map(|r| self.message(r)).collect();
        let v = raft_message {
            msg_type: m.msg_type,
            to: m.to,
            from: m.from,
            term: m.term,
            log_term: m.log_term,
            index: m.index,
            entries,
            entries_len,
            commit: m.commit,
            snapshot,
            reject: m.reject,
            reject_hint: m.reject_hint,
            context: raft_bytes::of_opt(m.context.as_ref()),
            vote: m.vote,
            responses: responses.as_ptr(),
            responses_len: responses.len(),
        };
        self.messages.push(responses);
        v
    }
}

/// The decoded value a [`raft_decoded`] keeps alive. The fields are never
/// read: they only own the memory the views point into.
#[allow(dead_code)]
pub enum Value {
    /// An entry.
    Entry(Box<Entry>),
    /// A list of entries.
    Entries(Vec<Entry>),
    /// A message.
    Message(Box<Message>),
    /// A conf change.
    ConfChange(Box<ConfChange>),
    /// A conf change v2.
    ConfChangeV2(Box<ConfChangeV2>),
    /// A conf state.
    ConfState(Box<ConfState>),
    /// A snapshot.
    Snapshot(Box<Snapshot>),
}

/// Owner of decoded data: the views returned with it point into it and stay
/// valid until `raft_decoded_free`. Threading: may be moved between threads;
/// it is never modified after creation, so its views may be read from
/// several threads while no thread frees it.
pub struct raft_decoded {
    st: HandleState,
    _value: Value,
    _arena: Arena,
}

impl Handle for raft_decoded {
    const NAME: &'static str = "raft_decoded";
    fn state(&self) -> &HandleState {
        &self.st
    }
}

impl raft_decoded {
    /// Wraps a decoded value and the arena of its views into a handle for C.
    /// The views must have been built from the heap parts of `value` (boxed
    /// values and vectors), which do not move when the handle is created.
    pub fn into_raw(value: Value, arena: Arena) -> *mut raft_decoded {
        Box::into_raw(Box::new(raft_decoded {
            st: HandleState::default(),
            _value: value,
            _arena: arena,
        }))
    }
}

/// Releases a `raft_decoded` and every view that points into it, then sets
/// `*decoded` to NULL. Accepts NULL and a pointer to NULL.
///
/// # Safety
/// `decoded` is NULL or points to NULL or to a handle returned by this
/// library and not yet freed.
#[no_mangle]
pub unsafe extern "C" fn raft_decoded_free(decoded: *mut *mut raft_decoded) {
    // SAFETY: forwarded contract.
    unsafe { free_handle(decoded, |_| false) }
}
