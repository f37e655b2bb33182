//! The Raft state machine (etcd's `raft` struct), split by concern. This
//! file holds the state (`Raft`), its construction (`newRaft`), role
//! transitions (`becomeFollower`, `becomeCandidate`, `becomePreCandidate`,
//! `becomeLeader`, `reset`), `tick`, commit and applied bookkeeping
//! (`maybeCommit`, `appliedTo`, the uncommitted-size limit), the role and
//! soft-state types and the node-id constants. The submodules hold the
//! rest:
//!
//! - `step`: the entry point for messages (`Step`) and the dispatch by
//!   role, with the leader's step function (`stepLeader`);
//! - `election`: campaigns, pre-votes, votes and the candidate's step
//!   function (`hup`, `campaign`, `poll`, `stepCandidate`);
//! - `follower`: the follower's step function (`stepFollower`);
//! - `replication`: proposals, appending and sending appends and
//!   heartbeats, and their handling on both sides;
//! - `snapshot`: sending, restoring and reporting snapshots;
//! - `membership`: conf changes, proposed and applied;
//! - `read_index`: linearizable reads (`ReadOnlySafe`, `ReadOnlyLeaseBased`);
//! - `leader_transfer`: MsgTransferLeader and MsgTimeoutNow;
//! - `tick`: the election, heartbeat and check-quorum timers;
//! - `outbox`: the outgoing-message queue (`send`, `msgs`,
//!   `msgsAfterAppend`, merged appends, the storage-thread messages).

mod election;
mod follower;
mod leader_transfer;
mod membership;
mod outbox;
mod read_index;
mod replication;
mod snapshot;
mod step;
mod tick;

pub(crate) use membership::conf_change_to_msg;
pub use outbox::Outbox;
pub(crate) use outbox::StepsOnAdvance;

use std::fmt;
use std::sync::Arc;

use crate::config::Config;
use crate::eraftpb::{Entry, HardState, Message, MessageType};
use crate::errors::{Error, Result};
use crate::logger::{Level, Logger};
use crate::raft_log::RaftLog;
use crate::read_only::{ReadOnly, ReadState};
use crate::storage::Storage;
use crate::tracker::ProgressTracker;

/// The id meaning "no node".
pub const INVALID_ID: u64 = 0;
/// The pseudo node id of the local append thread (async storage writes).
pub const LOCAL_APPEND_THREAD: u64 = u64::MAX;
/// The pseudo node id of the local apply thread (async storage writes).
pub const LOCAL_APPLY_THREAD: u64 = u64::MAX - 1;

/// True for the pseudo ids of the local storage threads.
pub fn is_local_msg_target(id: u64) -> bool {
    id == LOCAL_APPEND_THREAD || id == LOCAL_APPLY_THREAD
}

/// True for the message types that peers only ever send with a term (all
/// but the forwarded proposals, read requests and transfer requests, and the
/// local messages).
fn always_carries_term(t: MessageType) -> bool {
    matches!(
        t,
        MessageType::MsgApp
            | MessageType::MsgAppResp
            | MessageType::MsgVote
            | MessageType::MsgVoteResp
            | MessageType::MsgPreVote
            | MessageType::MsgPreVoteResp
            | MessageType::MsgHeartbeat
            | MessageType::MsgHeartbeatResp
            | MessageType::MsgSnap
            | MessageType::MsgTimeoutNow
            | MessageType::MsgReadIndexResp
    )
}

/// The role of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum StateRole {
    /// Follows a leader (or waits for one).
    #[default]
    Follower = 0,
    /// Campaigns for votes.
    Candidate = 1,
    /// Leads the cluster.
    Leader = 2,
    /// Runs a pre-vote round before campaigning.
    PreCandidate = 3,
}

impl fmt::Display for StateRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StateRole::Follower => "StateFollower",
            StateRole::Candidate => "StateCandidate",
            StateRole::Leader => "StateLeader",
            StateRole::PreCandidate => "StatePreCandidate",
        })
    }
}

/// Volatile state that the application may want to observe (it is not
/// persisted): the known leader and the node's role.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SoftState {
    /// The current leader, or 0.
    pub leader_id: u64,
    /// The node's role.
    pub raft_state: StateRole,
}

/// Why a campaign was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CampaignType {
    PreElection,
    Election,
    Transfer,
}

/// The context of vote requests sent for a leadership transfer.
pub(crate) const CAMPAIGN_TRANSFER: &[u8] = b"CampaignTransfer";

/// A replacement for the role step function (a test hook of the Lua API).
pub type StepHook = Box<dyn FnMut(&Message) -> Result<()>>;

/// A small seedable generator (xorshift64*) for election timeouts.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // Mix the seed (splitmix64) so that nearby seeds such as node ids
        // give unrelated sequences; xorshift needs a non-zero state.
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        Rng(if z == 0 { 1 } else { z })
    }
    /// A value in `[0, n)`; `n` must be > 0.
    pub fn below(&mut self, n: u64) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

internal_fields! {
/// The Raft state machine of one node. Its fields are crate-private (the
/// `test-internals` feature opens them to the crate's tests).
pub struct Raft<S: Storage> {
    /// This node's id.
    pub(crate) id: u64,
    /// The current term.
    pub(crate) term: u64,
    /// The node voted for in the current term, or 0.
    pub(crate) vote: u64,
    /// Read states produced for the application.
    pub(crate) read_states: Vec<ReadState>,
    /// The log.
    pub(crate) raft_log: RaftLog<S>,
    /// Per-peer replication progress and the configuration.
    pub(crate) prs: ProgressTracker,
    /// The node's role.
    pub(crate) state: StateRole,
    /// Whether this node is a learner in its own configuration.
    pub(crate) is_learner: bool,
    /// The outgoing messages.
    pub(crate) outbox: Outbox,
    /// With merged appends: proposals were appended since the last
    /// broadcast, which `flush_appends` sends (once per Ready, not once
    /// per proposal).
    pub(crate) appends_pending: bool,
    /// The known leader, or 0.
    pub(crate) leader_id: u64,
    /// The target of a leadership transfer in progress, or 0.
    pub(crate) lead_transferee: u64,
    /// Index of the newest conf change the leader proposed; no new conf
    /// change is proposed before it is applied.
    pub(crate) pending_conf_index: u64,
    /// Payload bytes of the uncommitted tail (leader only).
    pub(crate) uncommitted_size: u64,
    pub(crate) read_only: ReadOnly,
    pub(crate) pending_read_index_messages: Vec<Message>,

    pub(crate) election_elapsed: usize,
    pub(crate) heartbeat_elapsed: usize,
    pub(crate) election_timeout: usize,
    pub(crate) heartbeat_timeout: usize,
    pub(crate) randomized_election_timeout: usize,

    pub(crate) max_msg_size: u64,
    pub(crate) max_uncommitted_size: u64,
    pub(crate) check_quorum: bool,
    pub(crate) pre_vote: bool,
    pub(crate) disable_proposal_forwarding: bool,
    pub(crate) disable_conf_change_validation: bool,
    pub(crate) step_down_on_removal: bool,
    pub(crate) immediate_self_ack: bool,

    pub(crate) rng: Rng,
    /// Reused buffer for peer ids while broadcasting (avoids allocating on
    /// every proposal).
    pub(crate) peer_buf: Vec<u64>,
    /// Reused buffer for the entry of a proposal (`propose_entry`).
    pub(crate) proposal_buf: Vec<Entry>,
    pub(crate) step_hook: Option<StepHook>,
    /// The logger.
    pub(crate) logger: Arc<dyn Logger>,
}
}

macro_rules! log {
    ($r:expr, $lvl:ident, $($arg:tt)+) => {
        $crate::raft_log!($r.logger, $crate::logger::Level::$lvl, $($arg)+)
    };
}
pub(crate) use log;

impl<S: Storage> Raft<S> {
    /// Builds the state machine from a validated config and a storage, as
    /// etcd's `newRaft`.
    pub fn new(c: &Config, store: S) -> Result<Self> {
        let mut c = c.clone();
        c.validate()?;
        let logger = c.logger.clone();
        let raft_log =
            RaftLog::new_with_size(store, logger.clone(), c.max_committed_size_per_ready)?;
        let rs = raft_log.store.initial_state()?;
        let seed = c.seed.unwrap_or_else(|| {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            t ^ c.id.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        });
        let mut r = Raft {
            id: c.id,
            term: 0,
            vote: 0,
            read_states: Vec::new(),
            raft_log,
            prs: ProgressTracker::new(c.max_inflight_msgs, c.max_inflight_bytes),
            state: StateRole::Follower,
            is_learner: false,
            outbox: Outbox::new(c.merge_appends),
            appends_pending: false,
            leader_id: INVALID_ID,
            lead_transferee: INVALID_ID,
            pending_conf_index: 0,
            uncommitted_size: 0,
            read_only: ReadOnly::new(c.read_only_option),
            pending_read_index_messages: Vec::new(),
            election_elapsed: 0,
            heartbeat_elapsed: 0,
            election_timeout: c.election_tick,
            heartbeat_timeout: c.heartbeat_tick,
            randomized_election_timeout: c.election_tick,
            max_msg_size: c.max_size_per_msg,
            max_uncommitted_size: c.max_uncommitted_entries_size,
            check_quorum: c.check_quorum,
            pre_vote: c.pre_vote,
            disable_proposal_forwarding: c.disable_proposal_forwarding,
            disable_conf_change_validation: c.disable_conf_change_validation,
            step_down_on_removal: c.step_down_on_removal,
            immediate_self_ack: c.immediate_self_ack,
            rng: Rng::new(seed),
            peer_buf: Vec::new(),
            proposal_buf: Vec::new(),
            step_hook: None,
            logger,
        };
        let last_index = r.raft_log.last_index();
        let last_term = r.raft_log.last_term();
        r.restore_conf_state(&rs.conf_state, last_index)?;
        if !rs.hard_state.is_empty() {
            r.load_state(&rs.hard_state)?;
        }
        if c.applied > 0 {
            r.raft_log.applied_to(c.applied, 0)?;
        }
        let term = r.term;
        r.become_follower(term, INVALID_ID);
        if let Some(e) = r.raft_log.take_fault() {
            return Err(e);
        }
        if r.logger.enabled(Level::Info) {
            let peers: Vec<String> = r
                .prs
                .voter_nodes()
                .iter()
                .map(|id| format!("{id:x}"))
                .collect();
            log!(
                r,
                Info,
                "newRaft {:x} [peers: [{}], term: {}, commit: {}, applied: {}, lastindex: {}, lastterm: {}]",
                r.id,
                peers.join(","),
                r.term,
                r.raft_log.committed,
                r.raft_log.applied,
                last_index,
                last_term
            );
        }
        Ok(r)
    }

    /// The current soft state.
    pub fn soft_state(&self) -> SoftState {
        SoftState {
            leader_id: self.leader_id,
            raft_state: self.state,
        }
    }

    /// The current hard state.
    pub fn hard_state(&self) -> HardState {
        HardState {
            term: self.term,
            vote: self.vote,
            commit: self.raft_log.committed,
        }
    }

    /// The randomized election timeout now in force (for tests).
    #[cfg(any(test, feature = "test-internals"))]
    pub fn randomized_election_timeout(&self) -> usize {
        self.randomized_election_timeout
    }

    /// Overrides the randomized election timeout until the next reset (a
    /// test hook).
    #[cfg(any(test, feature = "test-internals"))]
    pub fn set_randomized_election_timeout(&mut self, t: usize) {
        self.randomized_election_timeout = t;
    }

    /// Installs (or removes) a replacement for the role step function.
    pub fn set_step_hook(&mut self, hook: Option<StepHook>) {
        self.step_hook = hook;
    }

    fn load_state(&mut self, hs: &HardState) -> Result<()> {
        crate::bounds::check("hard state term", hs.term)?;
        if hs.commit < self.raft_log.committed || hs.commit > self.raft_log.last_index() {
            return Err(Error::Invariant(format!(
                "{:x} state.commit {} is out of range [{}, {}]",
                self.id,
                hs.commit,
                self.raft_log.committed,
                self.raft_log.last_index()
            )));
        }
        self.raft_log.committed = hs.commit;
        self.term = hs.term;
        self.vote = hs.vote;
        Ok(())
    }

    pub(crate) fn reset(&mut self, term: u64) {
        if self.term != term {
            self.term = term;
            self.vote = INVALID_ID;
        }
        self.leader_id = INVALID_ID;
        self.election_elapsed = 0;
        self.heartbeat_elapsed = 0;
        self.reset_randomized_election_timeout();
        self.abort_leader_transfer();
        self.prs.reset_votes();
        let last_index = self.raft_log.last_index();
        let (max_inflight, max_bytes) = (self.prs.max_inflight, self.prs.max_inflight_bytes);
        let id = self.id;
        for (pid, pr) in self.prs.progress.iter_mut() {
            let is_learner = pr.is_learner;
            *pr = crate::tracker::Progress::new(last_index + 1, max_inflight, max_bytes);
            pr.is_learner = is_learner;
            if *pid == id {
                pr.matched = last_index;
            }
        }
        self.pending_conf_index = 0;
        self.uncommitted_size = 0;
        self.read_only = ReadOnly::new(self.read_only.option);
        self.appends_pending = false;
    }

    pub(crate) fn reset_randomized_election_timeout(&mut self) {
        let et = self.election_timeout;
        self.randomized_election_timeout = et + self.rng.below(et as u64) as usize;
    }

    pub(crate) fn past_election_timeout(&self) -> bool {
        self.election_elapsed >= self.randomized_election_timeout
    }

    /// Becomes a follower of `leader_id` at `term`.
    pub fn become_follower(&mut self, term: u64, leader_id: u64) {
        self.reset(term);
        self.leader_id = leader_id;
        self.state = StateRole::Follower;
        log!(
            self,
            Info,
            "{:x} became follower at term {}",
            self.id,
            self.term
        );
    }

    /// Becomes a candidate for the next term (votes for itself).
    pub fn become_candidate(&mut self) {
        if self.state == StateRole::Leader {
            log!(
                self,
                Error,
                "{:x} invalid transition [leader -> candidate]",
                self.id
            );
            return;
        }
        let term = self.term + 1;
        self.reset(term);
        self.vote = self.id;
        self.state = StateRole::Candidate;
        log!(
            self,
            Info,
            "{:x} became candidate at term {}",
            self.id,
            self.term
        );
    }

    /// Becomes a pre-candidate (term and vote unchanged).
    pub fn become_pre_candidate(&mut self) {
        if self.state == StateRole::Leader {
            log!(
                self,
                Error,
                "{:x} invalid transition [leader -> pre-candidate]",
                self.id
            );
            return;
        }
        self.prs.reset_votes();
        self.leader_id = INVALID_ID;
        self.state = StateRole::PreCandidate;
        log!(
            self,
            Info,
            "{:x} became pre-candidate at term {}",
            self.id,
            self.term
        );
    }

    /// Becomes the leader of the current term and appends an empty entry.
    pub fn become_leader(&mut self) {
        if self.state == StateRole::Follower {
            log!(
                self,
                Error,
                "{:x} invalid transition [follower -> leader]",
                self.id
            );
            return;
        }
        let term = self.term;
        self.reset(term);
        self.leader_id = self.id;
        self.state = StateRole::Leader;
        let id = self.id;
        if let Some(pr) = self.prs.progress.get_mut(&id) {
            pr.become_replicate();
            pr.recent_active = true;
        }
        self.pending_conf_index = self.raft_log.last_index();
        let empty = crate::eraftpb::Entry::default();
        // An empty entry never counts against the uncommitted-size limit
        // (its payload size is 0), so it cannot be refused here.
        let _ = self.append_entry(&mut vec![empty]);
        log!(
            self,
            Info,
            "{:x} became leader at term {}",
            self.id,
            self.term
        );
    }

    /// Advances the logical clock by one tick.
    pub fn tick(&mut self) {
        match self.state {
            StateRole::Leader => self.tick_heartbeat(),
            _ => self.tick_election(),
        }
    }

    /// Whether this node may become leader: it is a voter in its own
    /// configuration and has no snapshot pending.
    pub fn promotable(&self) -> bool {
        match self.prs.progress.get(&self.id) {
            Some(pr) => !pr.is_learner && !self.raft_log.has_next_or_in_progress_snapshot(),
            None => false,
        }
    }

    /// Records that entries up to `index` were applied (etcd's `appliedTo`)
    /// and, on a leader in an auto-leave joint configuration, proposes the
    /// transition out of it.
    pub(crate) fn applied_to(&mut self, index: u64, size: u64) -> Result<()> {
        let old = self.raft_log.applied;
        let new_applied = index.max(old);
        self.raft_log.applied_to(new_applied, size)?;
        if self.prs.config.auto_leave
            && new_applied >= self.pending_conf_index
            && self.state == StateRole::Leader
        {
            let m = membership::conf_change_to_msg(None);
            match self.step(m) {
                Err(e) => log!(
                    self,
                    Debug,
                    "not initiating automatic transition out of joint configuration {}: {}",
                    self.prs.config,
                    e
                ),
                Ok(()) => log!(
                    self,
                    Info,
                    "initiating automatic transition out of joint configuration {}",
                    self.prs.config
                ),
            }
        }
        Ok(())
    }

    pub(crate) fn applied_snap(&mut self, index: u64) -> Result<()> {
        self.raft_log.stable_snap_to(index);
        self.applied_to(index, 0)
    }

    /// Tries to advance the commit index from the progress of the voters;
    /// true if it moved.
    pub(crate) fn maybe_commit(&mut self) -> bool {
        let mci = self.prs.committed();
        self.raft_log.maybe_commit(mci, self.term)
    }

    pub(crate) fn increase_uncommitted_size(&mut self, ents: &[crate::eraftpb::Entry]) -> bool {
        let s = crate::proto_ext::payloads_size(ents);
        if self.uncommitted_size > 0
            && s > 0
            && self.uncommitted_size.saturating_add(s) > self.max_uncommitted_size
        {
            return false;
        }
        self.uncommitted_size += s;
        true
    }

    pub(crate) fn reduce_uncommitted_size(&mut self, s: u64) {
        self.uncommitted_size = self.uncommitted_size.saturating_sub(s);
    }

    /// True once the leader committed an entry of its own term.
    pub(crate) fn committed_entry_in_current_term(&self) -> bool {
        let t = self
            .raft_log
            .zero_term_on_out_of_bounds(self.raft_log.term(self.raft_log.committed));
        t == self.term
    }

    /// Refuses a proposal because no leader is known (etcd logs the same
    /// line on candidates and on leaderless followers).
    pub(crate) fn drop_proposal_without_leader(&self) -> Result<()> {
        log!(
            self,
            Info,
            "{:x} no leader at term {}; dropping proposal",
            self.id,
            self.term
        );
        Err(Error::ProposalDropped)
    }

    /// Takes the first storage failure seen since the last call, if any.
    pub fn take_fault(&self) -> Option<Error> {
        self.raft_log.take_fault()
    }
}

#[cfg(test)]
mod rng_tests {
    use super::Rng;

    #[test]
    fn nearby_seeds_give_different_sequences() {
        for seed in 0..16u64 {
            let mut a = Rng::new(seed);
            let mut b = Rng::new(seed + 1);
            let sa: Vec<u64> = (0..8).map(|_| a.below(1000)).collect();
            let sb: Vec<u64> = (0..8).map(|_| b.below(1000)).collect();
            assert_ne!(sa, sb, "seeds {seed} and {}", seed + 1);
        }
    }

    #[test]
    fn values_stay_below_the_bound() {
        let mut r = Rng::new(42);
        assert!((0..1000).all(|_| r.below(7) < 7));
    }
}
