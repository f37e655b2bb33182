//! [`RawNode`]: the thread-unsafe node interface in etcd's style
//! (`rawnode.go`). The application drives it with `tick`, `step`,
//! `propose`, and the `ready` / `advance` loop; this file builds and accepts
//! the Readys (the messages in them, and the acknowledgements `advance`
//! steps, come from `raft/outbox.rs`), reports [`SnapshotStatus`] and
//! [`Status`], and keeps the node's failure state.

use bytes::Bytes;
use prost::Message as _;

use crate::config::Config;
use crate::eraftpb::{
    ConfChange, ConfChangeType, ConfState, Entry, EntryType, HardState, Message, MessageType,
};
use crate::errors::{Error, Result};
use crate::proto_ext::{is_local_msg, is_response_msg, ConfChangeI};
use crate::raft::{is_local_msg_target, Raft, SoftState, StateRole, StepHook, StepsOnAdvance};
use crate::read_only::ReadState;
use crate::ready::{must_sync, Ready};
use crate::status::{PeerProgress, Status};
use crate::storage::Storage;

/// The outcome of sending a snapshot, reported with
/// [`RawNode::report_snapshot`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotStatus {
    /// The follower received and applied the snapshot.
    Finish,
    /// Sending failed; the leader will retry later.
    Failure,
}

/// How many election timeouts of ticks a handed-out Ready may wait for
/// `advance` before [`RawNode::tick`] logs a warning (and again after each
/// further such period).
pub const ADVANCE_WARNING_ELECTIONS: usize = 2;

/// A Raft node without its own thread or clock.
///
/// Not thread-safe: use one node from one thread at a time (it may move
/// between threads when its storage allows).
pub struct RawNode<S: Storage> {
    /// The state machine: public only for this crate's tests (the
    /// `test-internals` feature; not part of the API).
    #[cfg(feature = "test-internals")]
    #[doc(hidden)]
    pub raft: Raft<S>,
    #[cfg(not(feature = "test-internals"))]
    pub(crate) raft: Raft<S>,
    prev_soft_state: SoftState,
    prev_hard_state: HardState,
    /// What `advance` must do to acknowledge the Readys handed out: step
    /// the self-acks of appended entries, then acknowledge the persisted
    /// and the applied entries (etcd's `stepsOnAdvance`). A further `ready`
    /// is refused while this is not empty.
    steps_on_advance: StepsOnAdvance,
    /// At least one Ready was handed out since the last `advance` (so an
    /// `advance` has something to acknowledge, even when it steps nothing).
    ready_outstanding: bool,
    /// Ticks seen while a Ready awaits `advance` (0 when none does); drives
    /// the forgotten-advance warning.
    ticks_awaiting_advance: usize,
    async_storage_writes: bool,
    failed: Option<String>,
}

impl<S: Storage> RawNode<S> {
    /// Creates a node from a config and a storage (restarting from the
    /// storage's state when it is not empty).
    pub fn new(config: &Config, store: S) -> Result<Self> {
        let raft = Raft::new(config, store)?;
        let prev_soft_state = raft.soft_state();
        let prev_hard_state = raft.hard_state();
        Ok(RawNode {
            raft,
            prev_soft_state,
            prev_hard_state,
            steps_on_advance: StepsOnAdvance::default(),
            ready_outstanding: false,
            ticks_awaiting_advance: 0,
            async_storage_writes: config.async_storage_writes,
            failed: None,
        })
    }

    /// Runs `f` on the state machine unless the node failed earlier; a
    /// storage fault raised during `f` fails the node.
    fn guarded<T>(&mut self, f: impl FnOnce(&mut Raft<S>) -> Result<T>) -> Result<T> {
        if let Some(why) = &self.failed {
            return Err(Error::Poisoned(why.clone()));
        }
        let res = f(&mut self.raft);
        if let Some(fault) = self.raft.take_fault() {
            self.failed = Some(fault.to_string());
            return Err(fault);
        }
        res
    }

    /// True when an earlier storage failure disabled the node.
    pub fn is_failed(&self) -> bool {
        self.failed.is_some()
    }

    /// Why the node was disabled, if it was.
    pub fn failure(&self) -> Option<&str> {
        self.failed.as_deref()
    }

    /// Bootstraps an empty storage with the given voters: one
    /// ConfChangeAddNode entry per peer at term 1, committed and applied to
    /// the configuration, handed out by the first Ready for persisting and
    /// applying.
    pub fn bootstrap(&mut self, peers: &[u64]) -> Result<()> {
        if peers.is_empty() {
            return Err(Error::Misuse(
                "must provide at least one peer to Bootstrap".into(),
            ));
        }
        if peers.contains(&0) {
            return Err(Error::Misuse("cannot bootstrap with peer id 0".into()));
        }
        let last = self.raft.raft_log.store.last_index()?;
        if last != 0 || self.raft.raft_log.last_index() != 0 {
            return Err(Error::Misuse("can't bootstrap a nonempty Storage".into()));
        }
        self.guarded(|r| {
            r.become_follower(1, 0);
            let mut ents: Vec<Entry> = peers
                .iter()
                .enumerate()
                .map(|(i, id)| {
                    let mut cc = ConfChange {
                        node_id: *id,
                        ..Default::default()
                    };
                    cc.set_change_type(ConfChangeType::ConfChangeAddNode);
                    let mut e = Entry {
                        term: 1,
                        index: i as u64 + 1,
                        data: Some(cc.encode_to_vec().into()),
                        ..Default::default()
                    };
                    e.set_entry_type(EntryType::EntryConfChange);
                    e
                })
                .collect();
            let n = ents.len() as u64;
            r.raft_log.append(&mut ents)?;
            r.raft_log.committed = n;
            for id in peers {
                let mut cc = ConfChange {
                    node_id: *id,
                    ..Default::default()
                };
                cc.set_change_type(ConfChangeType::ConfChangeAddNode);
                r.apply_conf_change(&ConfChangeI::V1(cc).as_v2())?;
            }
            Ok(())
        })?;
        self.prev_hard_state = HardState::default();
        Ok(())
    }

    /// Advances the logical clock by one tick.
    ///
    /// While a Ready awaits [`advance`](Self::advance), every
    /// [`ADVANCE_WARNING_ELECTIONS`] election timeouts' worth of ticks logs
    /// a warning: a node whose application never advances stops applying
    /// and, as a follower, never campaigns.
    pub fn tick(&mut self) {
        // Only a Ready that awaits acknowledgement stalls the node; an empty
        // one taken to look does not.
        if !self.steps_on_advance.is_empty() {
            self.ticks_awaiting_advance = self.ticks_awaiting_advance.saturating_add(1);
            let every =
                (self.raft.election_timeout.max(1)).saturating_mul(ADVANCE_WARNING_ELECTIONS);
            if self.ticks_awaiting_advance.is_multiple_of(every) {
                crate::raft_log!(
                    self.raft.logger,
                    crate::logger::Level::Warn,
                    "{:x} handed out a Ready {} ticks ago and advance has not been called since: the node applies nothing and elects no leader until the application calls advance after handling each Ready",
                    self.raft.id,
                    self.ticks_awaiting_advance
                );
            }
        }
        let _ = self.guarded(|r| {
            r.tick();
            Ok(())
        });
    }

    /// Starts an election (pre-vote first when enabled).
    pub fn campaign(&mut self) -> Result<()> {
        self.guarded(|r| r.step(Message::with_type(MessageType::MsgHup)))
    }

    /// Proposes data to be appended to the log.
    ///
    /// With `Config::merge_appends` (the default) a leader sends the
    /// followers one append for all the proposals made before the next
    /// [`ready`](Self::ready), built when that Ready is taken; until then
    /// [`status`](Self::status) does not show them in flight.
    pub fn propose(&mut self, data: impl Into<Bytes>) -> Result<()> {
        let e = Entry {
            data: Some(data.into()),
            ..Default::default()
        };
        self.guarded(|r| r.propose_entry(e))
    }

    /// Proposes a membership change (V1 or V2).
    pub fn propose_conf_change(&mut self, cc: impl Into<ConfChangeI>) -> Result<()> {
        let cc = cc.into();
        let m = crate::raft::conf_change_to_msg(Some(&cc));
        self.guarded(|r| r.step(m))
    }

    /// Applies a committed conf change and returns the new ConfState.
    pub fn apply_conf_change(&mut self, cc: &ConfChangeI) -> Result<ConfState> {
        let v2 = cc.as_v2();
        self.guarded(|r| r.apply_conf_change(&v2))
    }

    /// Feeds a message from a peer (or a local storage thread) to the node.
    ///
    /// Refuses a local message type ([`Error::StepLocalMsg`]), a response
    /// from a peer outside the configuration ([`Error::StepPeerNotFound`])
    /// and a message addressed to another node ([`Error::Misuse`]: `to` is
    /// neither this node's id nor 0), which a misrouting transport would
    /// otherwise feed in silently.
    pub fn step(&mut self, mut m: Message) -> Result<()> {
        let t = m.msg_type();
        if is_local_msg(t) && !is_local_msg_target(m.from) {
            return Err(Error::StepLocalMsg);
        }
        if m.to != 0 && m.to != self.raft.id && !is_local_msg_target(m.to) {
            return Err(Error::Misuse(format!(
                "step: {t:?} from {} is addressed to node {}, not to this node {}; deliver each message to the node its `to` names",
                m.from, m.to, self.raft.id
            )));
        }
        if is_response_msg(t)
            && !is_local_msg_target(m.from)
            && !self.raft.prs.progress.contains_key(&m.from)
        {
            return Err(Error::StepPeerNotFound);
        }
        self.guarded(|r| r.step_in_place(&mut m))
    }

    /// Requests a linearizable read; the answer comes as a ReadState with
    /// the same context.
    pub fn read_index(&mut self, rctx: impl Into<Bytes>) -> Result<()> {
        let m = Message {
            entries: vec![Entry {
                data: Some(rctx.into()),
                ..Default::default()
            }],
            ..Message::with_type(MessageType::MsgReadIndex)
        };
        self.guarded(|r| r.step(m))
    }

    /// Asks the leader to hand leadership to `transferee`.
    pub fn transfer_leader(&mut self, transferee: u64) -> Result<()> {
        let m = Message {
            from: transferee,
            ..Message::with_type(MessageType::MsgTransferLeader)
        };
        self.guarded(|r| r.step(m))
    }

    /// Makes a follower forget its leader (so that it grants votes at once).
    pub fn forget_leader(&mut self) -> Result<()> {
        self.guarded(|r| r.step(Message::with_type(MessageType::MsgForgetLeader)))
    }

    /// Reports that the last message to `id` could not be delivered.
    pub fn report_unreachable(&mut self, id: u64) -> Result<()> {
        let m = Message {
            from: id,
            ..Message::with_type(MessageType::MsgUnreachable)
        };
        self.guarded(|r| r.step(m))
    }

    /// Reports the outcome of sending a snapshot to `id`.
    pub fn report_snapshot(&mut self, id: u64, status: SnapshotStatus) -> Result<()> {
        let m = Message {
            from: id,
            reject: status == SnapshotStatus::Failure,
            ..Message::with_type(MessageType::MsgSnapStatus)
        };
        self.guarded(|r| r.step(m))
    }

    fn apply_unstable_entries(&self) -> bool {
        !self.async_storage_writes
    }

    /// Whether `ready` would return something.
    pub fn has_ready(&self) -> bool {
        if self.failed.is_some() {
            return false;
        }
        let r = &self.raft;
        if r.soft_state() != self.prev_soft_state {
            return true;
        }
        let hs = r.hard_state();
        if !hs.is_empty() && hs != self.prev_hard_state {
            return true;
        }
        if r.raft_log.has_next_unstable_snapshot() {
            return true;
        }
        if !r.outbox.is_empty() || r.appends_pending {
            return true;
        }
        if r.raft_log.has_next_unstable_ents()
            || r.raft_log
                .has_next_committed_ents(self.apply_unstable_entries())
        {
            return true;
        }
        !r.read_states.is_empty()
    }

    /// Returns the pending work; the application must handle it and (unless
    /// async storage writes are on) call `advance` once it has.
    ///
    /// As in etcd, `ready` may be called again before `advance` while the
    /// Readys already handed out await no acknowledgement (they carried no
    /// entries, snapshot or committed entries: for example an empty Ready
    /// taken just to look). Each Ready hands out only what is new. While an
    /// earlier Ready awaits `advance`, `ready` returns [`Error::Misuse`] and
    /// changes nothing (etcd panics there: "two accepted Ready structs
    /// without call to Advance").
    pub fn ready(&mut self) -> Result<Ready> {
        if let Some(why) = &self.failed {
            return Err(Error::Poisoned(why.clone()));
        }
        if !self.steps_on_advance.is_empty() {
            return Err(Error::Misuse(
                "ready called again while the previous Ready awaits advance (it carried entries, a snapshot or committed entries)".into(),
            ));
        }
        let mut rd = Ready::default();
        let committed_size = self.fill_ready(&mut rd);
        if let Some(fault) = self.raft.take_fault() {
            self.failed = Some(fault.to_string());
            return Err(fault);
        }
        self.accept_ready(&rd, committed_size);
        Ok(rd)
    }

    /// Fills `rd` (empty) with the next Ready; returns the encoded size of
    /// its committed entries. Filled in place: a Ready is large, and
    /// returning it through one more call copied it once more.
    fn fill_ready(&mut self, rd: &mut Ready) -> u64 {
        let allow_unstable = self.apply_unstable_entries();
        let r = &mut self.raft;
        r.flush_appends();
        let (committed_entries, committed_size) =
            r.raft_log.next_committed_ents_sized(allow_unstable);
        rd.entries = r.raft_log.next_unstable_ents().to_vec();
        rd.committed_entries = committed_entries;
        rd.messages = r.outbox.take_msgs();
        let ss = r.soft_state();
        if ss != self.prev_soft_state {
            rd.soft_state = Some(ss);
        }
        let hs = r.hard_state();
        if hs != self.prev_hard_state {
            rd.hard_state = Some(hs);
        }
        if let Some(s) = r.raft_log.next_unstable_snapshot() {
            rd.snapshot = s.clone();
        }
        if !r.read_states.is_empty() {
            rd.read_states = r.read_states.clone();
        }
        rd.must_sync = must_sync(&hs, &self.prev_hard_state, rd.entries.len());
        if self.async_storage_writes {
            rd.messages.extend(self.raft.storage_append_msg(rd));
            if !rd.committed_entries.is_empty() {
                let m = self.raft.storage_apply_msg(&rd.committed_entries);
                rd.messages.push(m);
            }
        } else {
            // The responses to peers go into the Ready; the self-addressed
            // ones stay for `accept_ready` to step at `advance`.
            let id = self.raft.id;
            self.raft.outbox.move_peer_responses(id, &mut rd.messages);
        }
        committed_size
    }

    /// Marks `rd` handed out; `committed_size` is the encoded size of its
    /// committed entries (counted against the applying budget).
    fn accept_ready(&mut self, rd: &Ready, committed_size: u64) {
        if let Some(ss) = rd.soft_state {
            self.prev_soft_state = ss;
        }
        if let Some(hs) = rd.hard_state.as_ref().filter(|h| !h.is_empty()) {
            self.prev_hard_state = *hs;
        }
        if !rd.read_states.is_empty() {
            self.raft.read_states.clear();
        }
        if !self.async_storage_writes {
            // `steps_on_advance` is empty here: `ready` refuses to hand out
            // a Ready otherwise.
            self.steps_on_advance = self.raft.take_steps_on_advance(rd, committed_size);
            self.ready_outstanding = true;
        }
        self.raft.outbox.clear();
        self.raft.raft_log.accept_unstable();
        if let Some(last) = rd.committed_entries.last() {
            let allow = self.apply_unstable_entries();
            if let Err(e) = self
                .raft
                .raft_log
                .accept_applying(last.index, committed_size, allow)
            {
                // Cannot happen for entries handed out by next_committed_ents;
                // refuse further work rather than continue inconsistently.
                self.failed = Some(e.to_string());
            }
        }
    }

    /// Acknowledges the Readys handed out since the last `advance`: their
    /// entries and hard state are persisted and their committed entries
    /// applied. Without a Ready handed out it returns [`Error::Misuse`].
    pub fn advance(&mut self) -> Result<()> {
        if self.async_storage_writes {
            return Err(Error::Misuse(
                "advance must not be called when using async storage writes".into(),
            ));
        }
        if !self.ready_outstanding {
            return Err(Error::Misuse(
                "advance called without a pending Ready".into(),
            ));
        }
        self.ready_outstanding = false;
        self.ticks_awaiting_advance = 0;
        let steps = std::mem::take(&mut self.steps_on_advance);
        self.guarded(|r| {
            // Errors of these internal acknowledgements are not the
            // caller's (etcd ignores them too); faults still surface.
            for m in steps.msgs {
                let _ = r.step(m);
            }
            if let Some(ack) = steps.appended {
                let _ = r.ack_appended(ack);
            }
            if let Some(ack) = steps.applied {
                let _ = r.ack_applied(ack);
            }
            Ok(())
        })
    }

    /// The node's status.
    pub fn status(&self) -> Status {
        let r = &self.raft;
        Status {
            id: r.id,
            hard_state: r.hard_state(),
            soft_state: r.soft_state(),
            applied: r.raft_log.applied,
            lead_transferee: r.lead_transferee,
            config: r.prs.conf_state(),
            progress: (r.state == StateRole::Leader).then(|| {
                r.prs
                    .progress
                    .iter()
                    .map(|(id, p)| (*id, PeerProgress::from(p)))
                    .collect()
            }),
        }
    }

    /// The storage the node reads from.
    pub fn store(&self) -> &S {
        &self.raft.raft_log.store
    }

    /// The node id.
    pub fn id(&self) -> u64 {
        self.raft.id
    }

    /// Payload bytes of the leader's uncommitted tail.
    pub fn uncommitted_size(&self) -> u64 {
        self.raft.uncommitted_size
    }

    /// Read states not yet handed out by a Ready.
    pub fn read_states(&self) -> &[ReadState] {
        &self.raft.read_states
    }

    /// Replaces the pending read states.
    pub fn set_read_states(&mut self, rs: Vec<ReadState>) {
        self.raft.read_states = rs;
    }

    /// Installs (or removes) a replacement for the role step function; the
    /// hook receives every message that would reach the role's step.
    ///
    /// A test hook, public because a binding's contract exposes it (lraft's
    /// write-only `step_func`, as etcd's `raft.step` field is used by its
    /// tests); an application has no use for it.
    pub fn set_step_hook(&mut self, hook: Option<StepHook>) {
        self.raft.set_step_hook(hook);
    }
}
