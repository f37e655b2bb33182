//! The C ABI calls that take bytes, called as C would (through the
//! exported symbols of libraft): every `raft_*_decode`, and a node fed with
//! `raft_rawnode_step`, `raft_rawnode_propose` and `raft_rawnode_read_index`
//! between ticks and campaigns, its Ready loop run through the C calls.
//! Any result code is fine; a crash, a leak under the sanitizer or a
//! panic escaping the ABI is a finding.
#![no_main]

use std::ffi::c_void;
use std::ptr::null_mut;

use libfuzzer_sys::fuzz_target;
// Links libraft's exported symbols (the declarations are below, as C
// programs take them from include/raft.h).
use raft as _;

type Res = i32;
const RAFT_OK: Res = 0;

/// Mirrors `raft_config` of include/raft.h.
#[repr(C)]
struct RaftConfig {
    id: u64,
    election_tick: usize,
    heartbeat_tick: usize,
    applied: u64,
    max_size_per_msg: u64,
    max_committed_size_per_ready: u64,
    max_uncommitted_entries_size: u64,
    max_inflight_msgs: usize,
    max_inflight_bytes: u64,
    check_quorum: bool,
    pre_vote: bool,
    read_only_option: i32,
    disable_proposal_forwarding: bool,
    disable_conf_change_validation: bool,
    step_down_on_removal: bool,
    async_storage_writes: bool,
    immediate_self_ack: bool,
    merge_appends: bool,
    has_seed: bool,
    seed: u64,
    log_fn: *const c_void,
    log_userdata: *mut c_void,
    log_level: i32,
}

/// Room for any of the out-structs of the decode and Ready calls (opaque
/// here: only passed back to the library).
#[repr(C, align(8))]
struct Opaque([u8; 512]);

type Decode = unsafe extern "C" fn(*const u8, usize, *mut *mut c_void, *mut Opaque) -> Res;

extern "C" {
    fn raft_entry_decode(b: *const u8, n: usize, d: *mut *mut c_void, o: *mut Opaque) -> Res;
    fn raft_hard_state_decode(b: *const u8, n: usize, o: *mut Opaque) -> Res;
    fn raft_conf_state_decode(b: *const u8, n: usize, d: *mut *mut c_void, o: *mut Opaque) -> Res;
    fn raft_conf_change_decode(b: *const u8, n: usize, d: *mut *mut c_void, o: *mut Opaque) -> Res;
    fn raft_conf_change_v2_decode(
        b: *const u8,
        n: usize,
        d: *mut *mut c_void,
        o: *mut Opaque,
    ) -> Res;
    fn raft_snapshot_decode(b: *const u8, n: usize, d: *mut *mut c_void, o: *mut Opaque) -> Res;
    fn raft_message_decode(b: *const u8, n: usize, d: *mut *mut c_void, o: *mut Opaque) -> Res;
    fn raft_decoded_free(d: *mut *mut c_void);

    fn raft_config_init(cfg: *mut RaftConfig, id: u64) -> Res;
    fn raft_memory_storage_new(out: *mut *mut c_void) -> Res;
    fn raft_memory_storage_free(ms: *mut *mut c_void);
    fn raft_memory_storage_append(ms: *const c_void, e: *const c_void, n: usize) -> Res;
    fn raft_memory_storage_set_hard_state(ms: *const c_void, hs: *const Opaque) -> Res;
    fn raft_memory_storage_apply_snapshot(ms: *const c_void, s: *const Opaque) -> Res;
    fn raft_rawnode_new(cfg: *const RaftConfig, ms: *const c_void, out: *mut *mut c_void) -> Res;
    fn raft_rawnode_free(node: *mut *mut c_void);
    fn raft_rawnode_bootstrap(node: *const c_void, peers: *const u64, n: usize) -> Res;
    fn raft_rawnode_tick(node: *const c_void) -> Res;
    fn raft_rawnode_campaign(node: *const c_void) -> Res;
    fn raft_rawnode_step(node: *const c_void, b: *const u8, n: usize) -> Res;
    fn raft_rawnode_propose(node: *const c_void, b: *const u8, n: usize) -> Res;
    fn raft_rawnode_read_index(node: *const c_void, b: *const u8, n: usize) -> Res;
    fn raft_rawnode_has_ready(node: *const c_void, out: *mut bool) -> Res;
    fn raft_rawnode_ready(node: *const c_void, out: *mut *mut c_void) -> Res;
    fn raft_rawnode_advance(node: *const c_void) -> Res;
    fn raft_ready_free(rd: *mut *mut c_void);
    fn raft_ready_entries(rd: *const c_void, out: *mut *const c_void, n: *mut usize) -> Res;
    fn raft_ready_hard_state(rd: *const c_void, changed: *mut bool, out: *mut Opaque) -> Res;
    fn raft_ready_snapshot(rd: *const c_void, present: *mut bool, out: *mut Opaque) -> Res;
}

/// `raft_hard_state_decode` has no arena; the others share one shape.
unsafe extern "C" fn hard_state(
    b: *const u8,
    n: usize,
    _: *mut *mut c_void,
    o: *mut Opaque,
) -> Res {
    // SAFETY: forwarded valid pointers.
    unsafe { raft_hard_state_decode(b, n, o) }
}

fn decode(which: u8, data: &[u8]) {
    let f: Decode = match which % 7 {
        0 => raft_entry_decode,
        1 => hard_state,
        2 => raft_conf_state_decode,
        3 => raft_conf_change_decode,
        4 => raft_conf_change_v2_decode,
        5 => raft_snapshot_decode,
        _ => raft_message_decode,
    };
    let mut d = null_mut();
    let mut out = Opaque([0; 512]);
    // SAFETY: valid input slice and out-parameters; the arena is freed.
    unsafe {
        let _ = f(data.as_ptr(), data.len(), &mut d, &mut out);
        raft_decoded_free(&mut d);
    }
}

/// Runs the node's Ready loop through the C calls (persist, advance).
unsafe fn drain(node: *const c_void, ms: *const c_void) {
    // SAFETY (whole body): live handles, valid out-parameters.
    unsafe {
        let mut has = false;
        while raft_rawnode_has_ready(node, &mut has) == RAFT_OK && has {
            let mut rd = null_mut();
            if raft_rawnode_ready(node, &mut rd) != RAFT_OK {
                return;
            }
            let mut snap = Opaque([0; 512]);
            let mut present = false;
            if raft_ready_snapshot(rd, &mut present, &mut snap) == RAFT_OK && present {
                raft_memory_storage_apply_snapshot(ms, &snap);
            }
            let (mut ents, mut n) = (std::ptr::null(), 0usize);
            if raft_ready_entries(rd, &mut ents, &mut n) == RAFT_OK {
                raft_memory_storage_append(ms, ents, n);
            }
            let mut hs = Opaque([0; 512]);
            let mut changed = false;
            if raft_ready_hard_state(rd, &mut changed, &mut hs) == RAFT_OK && changed {
                raft_memory_storage_set_hard_state(ms, &hs);
            }
            raft_ready_free(&mut rd);
            if raft_rawnode_advance(node) != RAFT_OK {
                return;
            }
        }
    }
}

fn drive_node(data: &[u8]) {
    // SAFETY (whole body): the handles are created, used and freed here;
    // every pointer passed is valid for the call.
    unsafe {
        let mut cfg: RaftConfig = std::mem::zeroed();
        assert_eq!(raft_config_init(&mut cfg, 1), RAFT_OK);
        cfg.log_level = 5; // off
        cfg.has_seed = true;
        cfg.seed = 7;
        let mut ms = null_mut();
        assert_eq!(raft_memory_storage_new(&mut ms), RAFT_OK);
        let mut node = null_mut();
        assert_eq!(raft_rawnode_new(&cfg, ms, &mut node), RAFT_OK);
        let peers = [1u64, 2, 3];
        assert_eq!(raft_rawnode_bootstrap(node, peers.as_ptr(), 3), RAFT_OK);
        drain(node, ms);
        // Chunks: an op byte, a length byte, then that many bytes.
        let mut rest = data;
        while rest.len() >= 2 {
            let (op, len) = (rest[0], rest[1] as usize);
            let chunk = &rest[2..(2 + len).min(rest.len())];
            rest = &rest[(2 + len).min(rest.len())..];
            let _ = match op % 6 {
                0 => raft_rawnode_step(node, chunk.as_ptr(), chunk.len()),
                1 => raft_rawnode_propose(node, chunk.as_ptr(), chunk.len()),
                2 => raft_rawnode_read_index(node, chunk.as_ptr(), chunk.len()),
                3 => raft_rawnode_tick(node),
                4 => raft_rawnode_campaign(node),
                _ => {
                    decode(len as u8, chunk);
                    RAFT_OK
                }
            };
            drain(node, ms);
        }
        raft_rawnode_free(&mut node);
        raft_memory_storage_free(&mut ms);
    }
}

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((&k, rest)) if k < 128 => decode(k, rest),
        Some((_, rest)) => drive_node(rest),
        None => {}
    }
});
