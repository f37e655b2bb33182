//! Node configuration ([`Config`]) and its validation.

use std::fmt;
use std::sync::Arc;

use crate::errors::{Error, Result};
use crate::logger::{default_logger, Logger};

/// No limit, for the size options.
pub const NO_LIMIT: u64 = u64::MAX;

/// How read-only requests (ReadIndex) are served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadOnlyOption {
    /// Linearizable: the leader confirms its leadership with a heartbeat
    /// round to a quorum before answering.
    #[default]
    Safe,
    /// The leader relies on its lease (requires `check_quorum`); faster, but
    /// only correct while clock drift is bounded.
    LeaseBased,
}

/// The parameters of one Raft node.
#[derive(Clone)]
pub struct Config {
    /// The identity of the local node; must not be 0.
    pub id: u64,
    /// Number of ticks a follower waits without hearing from a leader before
    /// campaigning. The actual timeout is drawn from
    /// `[election_tick, 2 * election_tick - 1]`. Must exceed `heartbeat_tick`.
    pub election_tick: usize,
    /// Number of ticks between heartbeats sent by a leader.
    pub heartbeat_tick: usize,
    /// The last applied index. Set it when restarting so that entries are not
    /// handed out for application twice.
    pub applied: u64,
    /// Limits the encoded size of the entries in one append message.
    /// 0 sends at most one entry per message; [`NO_LIMIT`] means unlimited.
    pub max_size_per_msg: u64,
    /// Limits the total size of the committed entries in one Ready.
    /// 0 falls back to `max_size_per_msg`.
    pub max_committed_size_per_ready: u64,
    /// Limits the payload bytes of the leader's uncommitted tail; proposals
    /// beyond it are dropped. 0 means no limit.
    pub max_uncommitted_entries_size: u64,
    /// Limits the number of in-flight append messages per follower in
    /// optimistic replication. Must be > 0.
    pub max_inflight_msgs: usize,
    /// Limits the bytes in flight to one follower. 0 means no limit.
    pub max_inflight_bytes: u64,
    /// The leader steps down when it has not heard from a quorum for one
    /// election timeout; followers ignore votes while they have a leader.
    pub check_quorum: bool,
    /// Run a pre-vote round before a real election, so that a partitioned
    /// node does not disrupt the cluster when it rejoins.
    pub pre_vote: bool,
    /// How ReadIndex requests are served.
    pub read_only_option: ReadOnlyOption,
    /// Followers drop proposals instead of forwarding them to the leader.
    pub disable_proposal_forwarding: bool,
    /// Skip the leader's checks on proposed conf changes (pending change,
    /// joint state). The application must then validate them itself.
    pub disable_conf_change_validation: bool,
    /// A leader that is removed from the configuration steps down.
    pub step_down_on_removal: bool,
    /// Hand storage writes to the application as messages
    /// (MsgStorageAppend / MsgStorageApply) instead of the Ready/Advance
    /// contract.
    pub async_storage_writes: bool,
    /// Count the node's own log appends and votes at once, before they are
    /// persisted (etcd's behaviour before v3.6). A single-voter node then
    /// becomes leader inside `campaign()` and commits a proposal in the same
    /// Ready in which the entry first appears. Off by default: the leader
    /// counts its own entries once the application acknowledged them.
    pub immediate_self_ack: bool,
    /// Merge the append messages queued for the same peer within one Ready
    /// into a single MsgApp where they are contiguous and the size limit
    /// allows (fewer, larger messages under load). Off reproduces etcd's
    /// one-message-per-proposal output exactly.
    pub merge_appends: bool,
    /// Where the node's log lines go.
    pub logger: Arc<dyn Logger>,
    /// Seed of the pseudo-random generator that draws election timeouts;
    /// `None` derives one from the node id and the clock.
    pub seed: Option<u64>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("id", &self.id)
            .field("election_tick", &self.election_tick)
            .field("heartbeat_tick", &self.heartbeat_tick)
            .field("applied", &self.applied)
            .field("max_size_per_msg", &self.max_size_per_msg)
            .field(
                "max_committed_size_per_ready",
                &self.max_committed_size_per_ready,
            )
            .field(
                "max_uncommitted_entries_size",
                &self.max_uncommitted_entries_size,
            )
            .field("max_inflight_msgs", &self.max_inflight_msgs)
            .field("max_inflight_bytes", &self.max_inflight_bytes)
            .field("check_quorum", &self.check_quorum)
            .field("pre_vote", &self.pre_vote)
            .field("read_only_option", &self.read_only_option)
            .field(
                "disable_proposal_forwarding",
                &self.disable_proposal_forwarding,
            )
            .field(
                "disable_conf_change_validation",
                &self.disable_conf_change_validation,
            )
            .field("step_down_on_removal", &self.step_down_on_removal)
            .field("async_storage_writes", &self.async_storage_writes)
            .field("immediate_self_ack", &self.immediate_self_ack)
            .field("merge_appends", &self.merge_appends)
            .field("seed", &self.seed)
            .finish()
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            id: 0,
            election_tick: 10,
            heartbeat_tick: 1,
            applied: 0,
            max_size_per_msg: 1024 * 1024,
            max_committed_size_per_ready: 0,
            max_uncommitted_entries_size: 0,
            max_inflight_msgs: 256,
            max_inflight_bytes: 0,
            check_quorum: false,
            pre_vote: false,
            read_only_option: ReadOnlyOption::Safe,
            disable_proposal_forwarding: false,
            disable_conf_change_validation: false,
            step_down_on_removal: false,
            async_storage_writes: false,
            immediate_self_ack: false,
            merge_appends: true,
            logger: default_logger(),
            seed: None,
        }
    }
}

impl Config {
    /// A default configuration for node `id`.
    pub fn new(id: u64) -> Self {
        Config {
            id,
            ..Default::default()
        }
    }

    /// Checks the configuration and fills in derived defaults (as etcd's
    /// `Config.validate`): `max_uncommitted_entries_size` 0 becomes
    /// unlimited and `max_committed_size_per_ready` 0 becomes
    /// `max_size_per_msg`.
    pub fn validate(&mut self) -> Result<()> {
        if self.id == 0 {
            return Err(Error::ConfigInvalid("cannot use none as id".into()));
        }
        if self.heartbeat_tick == 0 {
            return Err(Error::ConfigInvalid(
                "heartbeat tick must be greater than 0".into(),
            ));
        }
        if self.election_tick <= self.heartbeat_tick {
            return Err(Error::ConfigInvalid(
                "election tick must be greater than heartbeat tick".into(),
            ));
        }
        if self.election_tick > usize::MAX / 2 {
            return Err(Error::ConfigInvalid("election tick is too large".into()));
        }
        if self.max_uncommitted_entries_size == 0 {
            self.max_uncommitted_entries_size = NO_LIMIT;
        }
        if self.max_committed_size_per_ready == 0 {
            self.max_committed_size_per_ready = self.max_size_per_msg;
        }
        if self.max_inflight_msgs == 0 {
            return Err(Error::ConfigInvalid(
                "max inflight messages must be greater than 0".into(),
            ));
        }
        if self.max_inflight_bytes == 0 {
            self.max_inflight_bytes = NO_LIMIT;
        } else if self.max_inflight_bytes < self.max_size_per_msg {
            return Err(Error::ConfigInvalid(
                "max inflight bytes must be >= max message size".into(),
            ));
        }
        if self.read_only_option == ReadOnlyOption::LeaseBased && !self.check_quorum {
            return Err(Error::ConfigInvalid(
                "CheckQuorum must be enabled when ReadOnlyOption is ReadOnlyLeaseBased".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_configs() {
        let ok = Config::new(1);
        assert!(ok.clone().validate().is_ok());
        for bad in [
            Config {
                id: 0,
                ..ok.clone()
            },
            Config {
                heartbeat_tick: 0,
                ..ok.clone()
            },
            Config {
                election_tick: 1,
                ..ok.clone()
            },
            Config {
                max_inflight_msgs: 0,
                ..ok.clone()
            },
            Config {
                max_inflight_bytes: 10,
                ..ok.clone()
            },
            Config {
                read_only_option: ReadOnlyOption::LeaseBased,
                ..ok.clone()
            },
        ] {
            assert!(
                matches!(bad.clone().validate(), Err(Error::ConfigInvalid(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn fills_derived_defaults() {
        let mut c = Config::new(1);
        c.validate().unwrap();
        assert_eq!(c.max_uncommitted_entries_size, NO_LIMIT);
        assert_eq!(c.max_committed_size_per_ready, c.max_size_per_msg);
        assert_eq!(c.max_inflight_bytes, NO_LIMIT);
    }
}
