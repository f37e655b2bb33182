//! The node configuration as a C struct ([`raft_config`]).

use std::ffi::c_void;
use std::sync::Arc;

use raft_core::logger::StderrLogger;
use raft_core::{Config, Level, Logger, ReadOnlyOption};

use crate::enums::{enum_in, raft_log_level, raft_read_only_option};
use crate::guard::{guard, out_ptr};
use crate::logger::{raft_log_fn, CallbackLogger};
use crate::result::{raft_result, FfiResult};

/// Every option of a node. Fill it with `raft_config_init` and change
/// fields afterwards; the meaning and defaults are those of the core's
/// `Config`. Validation happens in `raft_rawnode_new*`
/// (`RAFT_ERR_CONFIG_INVALID`). The struct is read during that call only.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct raft_config {
    /// Node id; must not be 0.
    pub id: u64,
    /// Ticks without a leader before campaigning (> heartbeat_tick). Default 10.
    pub election_tick: usize,
    /// Ticks between leader heartbeats. Default 1.
    pub heartbeat_tick: usize,
    /// Last applied index, when restarting. Default 0.
    pub applied: u64,
    /// Max encoded bytes of entries per append message (0 = one entry,
    /// UINT64_MAX = unlimited). Default 1 MiB.
    pub max_size_per_msg: u64,
    /// Max bytes of committed entries per Ready (0 = max_size_per_msg).
    pub max_committed_size_per_ready: u64,
    /// Max payload bytes of the uncommitted tail (0 = unlimited).
    pub max_uncommitted_entries_size: u64,
    /// Max in-flight append messages per follower (> 0). Default 256.
    pub max_inflight_msgs: usize,
    /// Max in-flight bytes per follower (0 = unlimited).
    pub max_inflight_bytes: u64,
    /// Leader steps down without a quorum for an election timeout.
    pub check_quorum: bool,
    /// Run a pre-vote round before elections.
    pub pre_vote: bool,
    /// A `raft_read_only_option`.
    pub read_only_option: i32,
    /// Followers drop proposals instead of forwarding them.
    pub disable_proposal_forwarding: bool,
    /// Skip the leader's checks of proposed conf changes.
    pub disable_conf_change_validation: bool,
    /// A removed leader steps down.
    pub step_down_on_removal: bool,
    /// Storage writes as MsgStorageAppend/MsgStorageApply messages.
    pub async_storage_writes: bool,
    /// Count the node's own appends and votes before they are persisted
    /// (etcd before v3.6).
    pub immediate_self_ack: bool,
    /// Merge contiguous append messages to the same peer within one Ready
    /// (default true; false reproduces etcd's one message per proposal).
    pub merge_appends: bool,
    /// Use `seed` for the election-timeout generator (else derived from the
    /// id and the clock).
    pub has_seed: bool,
    /// Seed, when `has_seed`.
    pub seed: u64,
    /// Log callback; NULL logs to standard error.
    pub log_fn: raft_log_fn,
    /// Passed to `log_fn`.
    pub log_userdata: *mut c_void,
    /// Lowest `raft_log_level` logged. Default RAFT_LOG_WARN.
    pub log_level: i32,
}

/// Fills `*cfg` with the defaults for node `id`.
///
/// # Safety
/// `cfg` is NULL or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn raft_config_init(cfg: *mut raft_config, id: u64) -> raft_result {
    guard("raft_config_init", || {
        let out = out_ptr(cfg, "cfg")?;
        let d = Config::new(id);
        *out = raft_config {
            id,
            election_tick: d.election_tick,
            heartbeat_tick: d.heartbeat_tick,
            applied: d.applied,
            max_size_per_msg: d.max_size_per_msg,
            max_committed_size_per_ready: d.max_committed_size_per_ready,
            max_uncommitted_entries_size: d.max_uncommitted_entries_size,
            max_inflight_msgs: d.max_inflight_msgs,
            max_inflight_bytes: d.max_inflight_bytes,
            check_quorum: d.check_quorum,
            pre_vote: d.pre_vote,
            read_only_option: 0,
            disable_proposal_forwarding: d.disable_proposal_forwarding,
            disable_conf_change_validation: d.disable_conf_change_validation,
            step_down_on_removal: d.step_down_on_removal,
            async_storage_writes: d.async_storage_writes,
            immediate_self_ack: d.immediate_self_ack,
            merge_appends: d.merge_appends,
            has_seed: false,
            seed: 0,
            log_fn: None,
            log_userdata: std::ptr::null_mut(),
            log_level: Level::Warn as i32,
        };
        Ok(())
    })
}

/// The core configuration described by `c` (not yet validated by the core).
pub fn config_in(c: &raft_config) -> FfiResult<Config> {
    let read_only_option = ReadOnlyOption::from(enum_in::<raft_read_only_option>(
        c.read_only_option,
        "config.read_only_option",
    )?);
    let level = Level::from(enum_in::<raft_log_level>(c.log_level, "config.log_level")?);
    let logger: Arc<dyn Logger> = match c.log_fn {
        Some(f) => Arc::new(CallbackLogger::new(f, c.log_userdata, level)),
        None => Arc::new(StderrLogger::new(level)),
    };
    Ok(Config {
        id: c.id,
        election_tick: c.election_tick,
        heartbeat_tick: c.heartbeat_tick,
        applied: c.applied,
        max_size_per_msg: c.max_size_per_msg,
        max_committed_size_per_ready: c.max_committed_size_per_ready,
        max_uncommitted_entries_size: c.max_uncommitted_entries_size,
        max_inflight_msgs: c.max_inflight_msgs,
        max_inflight_bytes: c.max_inflight_bytes,
        check_quorum: c.check_quorum,
        pre_vote: c.pre_vote,
        read_only_option,
        disable_proposal_forwarding: c.disable_proposal_forwarding,
        disable_conf_change_validation: c.disable_conf_change_validation,
        step_down_on_removal: c.step_down_on_removal,
        async_storage_writes: c.async_storage_writes,
        immediate_self_ack: c.immediate_self_ack,
        merge_appends: c.merge_appends,
        logger,
        seed: c.has_seed.then_some(c.seed),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_matches_core_defaults_and_converts_back() {
        // SAFETY: zeroed raft_config is a valid value to overwrite.
        let mut c: raft_config = unsafe { std::mem::zeroed() };
        // SAFETY: valid pointer.
        assert_eq!(unsafe { raft_config_init(&mut c, 7) }, raft_result::RAFT_OK);
        let core = config_in(&c).unwrap();
        let d = Config::new(7);
        assert_eq!(format!("{core:?}"), format!("{d:?}"));
        c.read_only_option = 5;
        assert!(config_in(&c).is_err());
        // SAFETY: NULL is refused.
        assert_eq!(
            unsafe { raft_config_init(std::ptr::null_mut(), 1) },
            raft_result::RAFT_ERR_NULL
        );
    }
}
