//! The environment behind etcd's interaction transcripts (a Rust rendition
//! of etcd's `rafttest.InteractionEnv`): several RawNodes in one process, a
//! global message queue, and an output buffer shared with the nodes' logger.
//! The commands and output formats are those described in
//! `shared/conformance/README.md` §4.

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use raft_core::describe::{
    describe_entries, describe_hard_state, describe_message, describe_snapshot,
};
use raft_core::eraftpb::{
    ConfChange, ConfChangeSingle, ConfChangeTransition, ConfChangeType, ConfChangeV2, ConfState,
    Entry, HardState, Message, MessageType, Snapshot, SnapshotMetadata,
};
use raft_core::logger::{Level, Logger};
use raft_core::{
    ConfChangeI, Config, MemoryStorage, RaftState, RawNode, ReadOnlyOption, Ready, Storage,
    LOCAL_APPEND_THREAD, LOCAL_APPLY_THREAD,
};

/// One argument of a directive: `key`, `key=v` or `key=(v1,v2)`.
pub use crate::datadriven::CmdArg as Arg;

/// The output buffer shared by the handlers and the nodes' logger.
#[derive(Default)]
pub struct Output {
    buf: Mutex<String>,
    level: AtomicU8,
}

impl Output {
    fn quiet(&self) -> bool {
        self.level.load(Ordering::Relaxed) >= Level::Off as u8
    }
    pub fn write(&self, s: &str) {
        if self.quiet() {
            return;
        }
        self.buf.lock().unwrap().push_str(s);
    }
    fn take(&self) -> String {
        std::mem::take(&mut *self.buf.lock().unwrap())
    }
    fn set(&self, s: String) {
        *self.buf.lock().unwrap() = s;
    }
    fn level(&self) -> Level {
        Level::from_u8(self.level.load(Ordering::Relaxed))
    }
    fn set_level(&self, l: Level) {
        self.level.store(l as u8, Ordering::Relaxed);
    }
}

/// The nodes log into the output buffer, `LEVEL message\n`.
struct OutputLogger(Arc<Output>);

impl Logger for OutputLogger {
    fn enabled(&self, level: Level) -> bool {
        !self.0.quiet() && level >= self.0.level()
    }
    fn log(&self, level: Level, msg: fmt::Arguments<'_>) {
        let mut s = format!("{} {}", level.name(), msg);
        if !s.ends_with('\n') {
            s.push('\n');
        }
        self.0.write(&s);
    }
}

/// MemoryStorage whose `snapshot()` is the node's last applied state (the
/// last element of its History), as in etcd's harness.
#[derive(Clone)]
pub struct EnvStorage {
    pub mem: MemoryStorage,
    pub history: Rc<RefCell<Vec<Snapshot>>>,
}

impl Storage for EnvStorage {
    fn initial_state(&self) -> raft_core::Result<RaftState> {
        self.mem.initial_state()
    }
    fn entries(&self, lo: u64, hi: u64, max: u64) -> raft_core::Result<Vec<Entry>> {
        self.mem.entries(lo, hi, max)
    }
    fn term(&self, i: u64) -> raft_core::Result<u64> {
        self.mem.term(i)
    }
    fn first_index(&self) -> raft_core::Result<u64> {
        self.mem.first_index()
    }
    fn last_index(&self) -> raft_core::Result<u64> {
        self.mem.last_index()
    }
    fn snapshot(&self) -> raft_core::Result<Snapshot> {
        Ok(self.history.borrow().last().cloned().unwrap_or_default())
    }
}

pub struct Node {
    pub raw: RawNode<EnvStorage>,
    pub storage: EnvStorage,
    pub config: Config,
    pub append_work: Vec<Message>,
    pub apply_work: Vec<Message>,
}

pub struct Env {
    pub nodes: Vec<Node>,
    pub messages: Vec<Message>,
    pub output: Arc<Output>,
}

type HResult = Result<(), String>;

fn parse_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!("strconv.ParseBool: parsing {s:?}: invalid syntax")),
    }
}

fn parse_u64(s: &str) -> Result<u64, String> {
    s.parse::<u64>()
        .map_err(|_| format!("strconv.ParseUint: parsing {s:?}: invalid syntax"))
}

fn describe_soft_state(ss: &raft_core::SoftState) -> String {
    format!("Lead:{} State:{}", ss.leader_id, ss.raft_state)
}

/// etcd's `DescribeReady`.
pub fn describe_ready(rd: &Ready) -> String {
    let mut buf = String::new();
    if let Some(ss) = &rd.soft_state {
        buf.push_str(&describe_soft_state(ss));
        buf.push('\n');
    }
    if let Some(hs) = rd.hard_state.as_ref().filter(|h| !h.is_empty()) {
        buf.push_str(&format!("HardState {}\n", describe_hard_state(hs)));
    }
    if !rd.read_states.is_empty() {
        let rs: Vec<String> = rd
            .read_states
            .iter()
            .map(|r| format!("{{{} {:?}}}", r.index, r.request_ctx.as_ref()))
            .collect();
        buf.push_str(&format!("ReadStates [{}]\n", rs.join(" ")));
    }
    if !rd.entries.is_empty() {
        buf.push_str("Entries:\n");
        buf.push_str(&describe_entries(&rd.entries));
    }
    if !rd.snapshot.is_empty() {
        buf.push_str(&format!("Snapshot {}\n", describe_snapshot(&rd.snapshot)));
    }
    if !rd.committed_entries.is_empty() {
        buf.push_str("CommittedEntries:\n");
        buf.push_str(&describe_entries(&rd.committed_entries));
    }
    if !rd.messages.is_empty() {
        buf.push_str("Messages:\n");
        for m in &rd.messages {
            buf.push_str(&describe_message(m));
            buf.push('\n');
        }
    }
    if buf.is_empty() {
        "<empty Ready>".to_string()
    } else {
        format!("Ready MustSync={}:\n{}", rd.must_sync, buf)
    }
}

fn is_local_target(id: u64) -> bool {
    id == LOCAL_APPEND_THREAD || id == LOCAL_APPLY_THREAD
}

/// Messages that must never be dropped (self-addressed or storage-thread).
fn is_local_delivery(m: &Message) -> bool {
    m.from == m.to || is_local_target(m.from) || is_local_target(m.to)
}

impl Env {
    pub fn new() -> Env {
        let output = Arc::new(Output::default());
        output.set_level(Level::Debug);
        Env {
            nodes: Vec::new(),
            messages: Vec::new(),
            output,
        }
    }

    fn out(&self, s: &str) {
        self.output.write(s);
    }

    fn with_indent<T>(&mut self, f: impl FnOnce(&mut Env) -> T) -> T {
        let orig = self.output.take();
        let res = f(self);
        let inner = self.output.take();
        let mut s = orig;
        for line in inner.lines() {
            s.push_str("  ");
            s.push_str(line);
            s.push('\n');
        }
        self.output.set(s);
        res
    }

    /// Runs one directive and returns its output (without the final
    /// newline handling, which the datadriven runner adds).
    pub fn handle(&mut self, cmd: &str, args: &[Arg], input: &str) -> String {
        let _ = self.output.take();
        let res = match cmd {
            "_breakpoint" => Ok(()),
            "add-nodes" => self.handle_add_nodes(args),
            "campaign" => self.handle_campaign(args),
            "compact" => self.handle_compact(args),
            "deliver-msgs" => self.handle_deliver_msgs(args),
            "process-ready" => self.handle_process_ready(args),
            "process-append-thread" => self.handle_process_append_thread(args),
            "process-apply-thread" => self.handle_process_apply_thread(args),
            "log-level" => self.handle_log_level(args),
            "raft-log" => self.handle_raft_log(args),
            "raft-state" => self.handle_raft_state(),
            "set-randomized-election-timeout" => self.handle_set_timeout(args),
            "stabilize" => self.handle_stabilize(args),
            "status" => self.handle_status(args),
            "tick-election" => self.handle_tick(args, true),
            "tick-heartbeat" => self.handle_tick(args, false),
            "transfer-leadership" => self.handle_transfer_leadership(args),
            "forget-leader" => self.handle_forget_leader(args),
            "send-snapshot" => self.handle_send_snapshot(args),
            "propose" => self.handle_propose(args),
            "propose-conf-change" => self.handle_propose_conf_change(args, input),
            "report-unreachable" => self.handle_report_unreachable(args),
            _ => Err("unknown command".to_string()),
        };
        if let Err(e) = res {
            if self.output.quiet() {
                return e;
            }
            let mut s = self.output.take();
            s.push_str(&e);
            self.output.set(s);
        }
        let s = self.output.take();
        if s.is_empty() {
            "ok".to_string()
        } else {
            s
        }
    }

    fn node_idxs(args: &[Arg]) -> Vec<usize> {
        args.iter()
            .filter(|a| a.vals.is_empty())
            .filter_map(|a| a.key.parse::<usize>().ok())
            .map(|id| id - 1)
            .collect()
    }

    fn first_idx(args: &[Arg]) -> Result<usize, String> {
        let a = args.first().ok_or("missing node id")?;
        let id: usize = a
            .key
            .parse()
            .map_err(|_| format!("bad node id {}", a.key))?;
        if id == 0 {
            return Err("node ids start at 1".into());
        }
        Ok(id - 1)
    }

    fn node(&mut self, idx: usize) -> Result<&mut Node, String> {
        self.nodes
            .get_mut(idx)
            .ok_or_else(|| format!("node {} does not exist", idx + 1))
    }

    fn handle_add_nodes(&mut self, args: &[Arg]) -> HResult {
        let n: usize = args
            .first()
            .and_then(|a| a.key.parse().ok())
            .ok_or("add-nodes needs a count")?;
        let mut cfg = Config {
            election_tick: 3,
            heartbeat_tick: 1,
            max_size_per_msg: u64::MAX,
            max_inflight_msgs: i32::MAX as usize,
            logger: Arc::new(OutputLogger(self.output.clone())),
            seed: Some(1),
            // etcd sends one MsgApp per proposal; its transcripts show that.
            merge_appends: false,
            ..Config::default()
        };
        let mut snap = Snapshot::default();
        let mut bootstrap = false;
        // Our own extensions (not used by etcd's transcripts).
        let mut bootstrap_peers: Vec<u64> = Vec::new();
        for a in &args[1..] {
            let v0 = || a.vals.first().cloned().unwrap_or_default();
            match a.key.as_str() {
                "voters" => {
                    for v in &a.vals {
                        snap.metadata.conf_state.voters.push(parse_u64(v)?);
                    }
                    bootstrap = true;
                }
                "learners" => {
                    for v in &a.vals {
                        snap.metadata.conf_state.learners.push(parse_u64(v)?);
                    }
                    bootstrap = true;
                }
                "inflight" => cfg.max_inflight_msgs = parse_u64(&v0())? as usize,
                "index" => {
                    snap.metadata.index = parse_u64(&v0())?;
                    cfg.applied = snap.metadata.index;
                    bootstrap = true;
                }
                "content" => {
                    snap.data = Some(Bytes::from(v0()));
                    bootstrap = true;
                }
                "async-storage-writes" => cfg.async_storage_writes = parse_bool(&v0())?,
                "prevote" => cfg.pre_vote = parse_bool(&v0())?,
                "checkquorum" => cfg.check_quorum = parse_bool(&v0())?,
                "max-committed-size-per-ready" => {
                    cfg.max_committed_size_per_ready = parse_u64(&v0())?
                }
                "disable-conf-change-validation" => {
                    cfg.disable_conf_change_validation = parse_bool(&v0())?
                }
                "read-only" => {
                    cfg.read_only_option = match v0().as_str() {
                        "safe" => ReadOnlyOption::Safe,
                        "lease-based" => ReadOnlyOption::LeaseBased,
                        other => return Err(format!("invalid read-only option {other:?}")),
                    }
                }
                "step-down-on-removal" => cfg.step_down_on_removal = parse_bool(&v0())?,
                "bootstrap-peers" => {
                    for v in &a.vals {
                        bootstrap_peers.push(parse_u64(v)?);
                    }
                }
                "immediate-self-ack" => cfg.immediate_self_ack = parse_bool(&v0())?,
                "merge-appends" => cfg.merge_appends = parse_bool(&v0())?,
                "max-uncommitted-size" => cfg.max_uncommitted_entries_size = parse_u64(&v0())?,
                "max-size-per-msg" => cfg.max_size_per_msg = parse_u64(&v0())?,
                other => return Err(format!("unknown arg {other}")),
            }
        }
        for _ in 0..n {
            let id = self.nodes.len() as u64 + 1;
            let mem = MemoryStorage::new();
            if bootstrap {
                if snap.metadata.index <= 1 {
                    return Err("index must be specified as > 1 due to bootstrap".into());
                }
                snap.metadata.term = 1;
                mem.apply_snapshot(snap.clone())
                    .map_err(|e| e.to_string())?;
            }
            let storage = EnvStorage {
                mem,
                history: Rc::new(RefCell::new(vec![snap.clone()])),
            };
            let mut c = cfg.clone();
            c.id = id;
            let mut raw = RawNode::new(&c, storage.clone()).map_err(|e| e.to_string())?;
            if !bootstrap_peers.is_empty() {
                raw.bootstrap(&bootstrap_peers).map_err(|e| e.to_string())?;
            }
            self.nodes.push(Node {
                raw,
                storage,
                config: c,
                append_work: Vec::new(),
                apply_work: Vec::new(),
            });
        }
        Ok(())
    }

    fn handle_campaign(&mut self, args: &[Arg]) -> HResult {
        let idx = Self::first_idx(args)?;
        self.node(idx)?.raw.campaign().map_err(|e| e.to_string())
    }

    fn handle_compact(&mut self, args: &[Arg]) -> HResult {
        let idx = Self::first_idx(args)?;
        let i = parse_u64(&args.get(1).ok_or("missing index")?.key)?;
        self.node(idx)?
            .storage
            .mem
            .compact(i)
            .map_err(|e| e.to_string())?;
        self.raft_log(idx)
    }

    fn raft_log(&mut self, idx: usize) -> HResult {
        let s = self.node(idx)?.storage.mem.clone();
        let fi = s.first_index().map_err(|e| e.to_string())?;
        let li = s.last_index().map_err(|e| e.to_string())?;
        if li < fi {
            self.out(&format!("log is empty: first index={fi}, last index={li}"));
            return Ok(());
        }
        let ents = s.entries(fi, li + 1, u64::MAX).map_err(|e| e.to_string())?;
        self.out(&describe_entries(&ents));
        Ok(())
    }

    fn handle_raft_log(&mut self, args: &[Arg]) -> HResult {
        let idx = Self::first_idx(args)?;
        self.raft_log(idx)
    }

    fn handle_raft_state(&mut self) -> HResult {
        let mut s = String::new();
        for n in &self.nodes {
            let st = n.raw.status();
            let cs = &st.config;
            let voter = if cs.voters.contains(&st.id) || cs.voters_outgoing.contains(&st.id) {
                "(Voter)"
            } else {
                "(Non-Voter)"
            };
            s.push_str(&format!(
                "{}: {} {} Term:{} Lead:{}\n",
                st.id, st.soft_state.raft_state, voter, st.hard_state.term, st.soft_state.leader_id
            ));
        }
        self.out(&s);
        Ok(())
    }

    fn handle_set_timeout(&mut self, args: &[Arg]) -> HResult {
        let idx = Self::first_idx(args)?;
        let t = args
            .iter()
            .find(|a| a.key == "timeout")
            .and_then(|a| a.vals.first())
            .ok_or("missing timeout")?;
        let t = parse_u64(t)? as usize;
        if t == 0 {
            return Err("timeout must be > 0".into());
        }
        self.node(idx)?.raw.raft.set_randomized_election_timeout(t);
        Ok(())
    }

    fn handle_status(&mut self, args: &[Arg]) -> HResult {
        let idx = Self::first_idx(args)?;
        let st = self.node(idx)?.raw.status();
        let mut s = String::new();
        if let Some(prs) = st.progress {
            for (id, pr) in prs {
                s.push_str(&format!("{id}: {pr}\n"));
            }
        }
        self.out(&s);
        Ok(())
    }

    fn handle_tick(&mut self, args: &[Arg], election: bool) -> HResult {
        let idx = Self::first_idx(args)?;
        let n = self.node(idx)?;
        let count = if election {
            n.config.election_tick
        } else {
            n.config.heartbeat_tick
        };
        for _ in 0..count {
            n.raw.tick();
        }
        Ok(())
    }

    fn handle_transfer_leadership(&mut self, args: &[Arg]) -> HResult {
        let get = |k: &str| -> Result<u64, String> {
            let a = args
                .iter()
                .find(|a| a.key == k)
                .and_then(|a| a.vals.first())
                .ok_or_else(|| format!("missing {k}"))?;
            parse_u64(a)
        };
        let (from, to) = (get("from")?, get("to")?);
        if from == 0
            || from as usize > self.nodes.len()
            || to == 0
            || to as usize > self.nodes.len()
        {
            return Err("invalid from/to".into());
        }
        self.node(from as usize - 1)?
            .raw
            .transfer_leader(to)
            .map_err(|e| e.to_string())
    }

    fn handle_forget_leader(&mut self, args: &[Arg]) -> HResult {
        let idx = Self::first_idx(args)?;
        let _ = self.node(idx)?.raw.forget_leader();
        Ok(())
    }

    fn handle_send_snapshot(&mut self, args: &[Arg]) -> HResult {
        let from = Self::first_idx(args)?;
        let to = parse_u64(&args.get(1).ok_or("missing to")?.key)?;
        let n = self.node(from)?;
        let snap = n.storage.snapshot().map_err(|e| e.to_string())?;
        let term = n.raw.status().hard_state.term;
        let m = Message {
            term,
            from: from as u64 + 1,
            to,
            snapshot: Some(Box::new(snap)),
            ..Message::with_type(MessageType::MsgSnap)
        };
        self.out(&describe_message(&m));
        self.messages.push(m);
        Ok(())
    }

    fn handle_propose(&mut self, args: &[Arg]) -> HResult {
        let idx = Self::first_idx(args)?;
        let data = args.get(1).ok_or("missing data")?.key.clone();
        self.node(idx)?
            .raw
            .propose(Bytes::from(data))
            .map_err(|e| e.to_string())
    }

    fn handle_propose_conf_change(&mut self, args: &[Arg], input: &str) -> HResult {
        let idx = Self::first_idx(args)?;
        let mut v1 = false;
        let mut transition = ConfChangeTransition::ConfChangeTransitionAuto;
        for a in &args[1..] {
            let v0 = a.vals.first().cloned().unwrap_or_default();
            match a.key.as_str() {
                "v1" => v1 = parse_bool(&v0)?,
                "transition" => {
                    transition = match v0.as_str() {
                        "auto" => ConfChangeTransition::ConfChangeTransitionAuto,
                        "implicit" => ConfChangeTransition::ConfChangeTransitionJointImplicit,
                        "explicit" => ConfChangeTransition::ConfChangeTransitionJointExplicit,
                        other => return Err(format!("unknown transition {other}")),
                    }
                }
                other => return Err(format!("unknown command {other}")),
            }
        }
        let changes = parse_conf_changes(input)?;
        let cc: ConfChangeI = if v1 {
            if changes.len() > 1 || transition != ConfChangeTransition::ConfChangeTransitionAuto {
                return Err("v1 conf change can only have one operation and no transition".into());
            }
            let mut c = ConfChange::default();
            if let Some(ch) = changes.first() {
                c.change_type = ch.change_type;
                c.node_id = ch.node_id;
            }
            ConfChangeI::V1(c)
        } else {
            ConfChangeI::V2(ConfChangeV2 {
                transition: transition as i32,
                changes,
                context: None,
            })
        };
        self.node(idx)?
            .raw
            .propose_conf_change(cc)
            .map_err(|e| e.to_string())
    }

    fn handle_report_unreachable(&mut self, args: &[Arg]) -> HResult {
        let ids = Self::node_idxs(args);
        if ids.len() != 2 {
            return Err(
                "must specify exactly two node indexes: node on which to report, and reported node"
                    .into(),
            );
        }
        let target = ids[1] as u64 + 1;
        let _ = self.node(ids[0])?.raw.report_unreachable(target);
        Ok(())
    }

    fn handle_log_level(&mut self, args: &[Arg]) -> HResult {
        let name = args.first().ok_or("missing level")?.key.to_uppercase();
        let l = level_by_name(&name)
            .ok_or("log levels must be either of [DEBUG INFO WARN ERROR FATAL NONE]".to_string())?;
        self.output.set_level(l);
        Ok(())
    }

    fn handle_process_ready(&mut self, args: &[Arg]) -> HResult {
        let idxs = Self::node_idxs(args);
        for &idx in &idxs {
            if idxs.len() > 1 {
                self.out(&format!("> {} handling Ready\n", idx + 1));
                self.with_indent(|env| env.process_ready(idx))?;
            } else {
                self.process_ready(idx)?;
            }
        }
        Ok(())
    }

    fn handle_process_append_thread(&mut self, args: &[Arg]) -> HResult {
        let idxs = Self::node_idxs(args);
        for &idx in &idxs {
            if idxs.len() > 1 {
                self.out(&format!("> {} processing append thread\n", idx + 1));
                self.with_indent(|env| env.process_append_thread(idx))?;
            } else {
                self.process_append_thread(idx)?;
            }
        }
        Ok(())
    }

    fn handle_process_apply_thread(&mut self, args: &[Arg]) -> HResult {
        let idxs = Self::node_idxs(args);
        for &idx in &idxs {
            if idxs.len() > 1 {
                self.out(&format!("> {} processing apply thread\n", idx + 1));
                self.with_indent(|env| env.process_apply_thread(idx))?;
            } else {
                self.process_apply_thread(idx)?;
            }
        }
        Ok(())
    }

    fn handle_deliver_msgs(&mut self, args: &[Arg]) -> HResult {
        let mut typ: Option<MessageType> = None;
        let mut rs: Vec<(u64, bool)> = Vec::new();
        for a in args {
            if a.vals.is_empty() {
                if let Ok(id) = a.key.parse::<u64>() {
                    rs.push((id, false));
                }
                continue;
            }
            match a.key.as_str() {
                "drop" => {
                    for v in &a.vals {
                        let id = parse_u64(v)?;
                        if rs.iter().any(|(r, d)| *r == id && !*d) {
                            return Err(format!("can't both deliver and drop msgs to {id}"));
                        }
                        rs.push((id, true));
                    }
                }
                "type" => {
                    let name = a.vals.first().cloned().unwrap_or_default();
                    typ = Some(
                        MessageType::from_str_name(&name)
                            .ok_or_else(|| format!("unknown message type {name}"))?,
                    );
                }
                _ => {}
            }
        }
        if self.deliver_msgs(typ, &rs) == 0 {
            self.out("no messages\n");
        }
        Ok(())
    }

    fn split_msgs(&mut self, to: u64, typ: Option<MessageType>, drop: bool) -> Vec<Message> {
        let (take, keep): (Vec<Message>, Vec<Message>) = std::mem::take(&mut self.messages)
            .into_iter()
            .partition(|m| {
                m.to == to
                    && !(drop && is_local_delivery(m))
                    && typ.is_none_or(|t| m.msg_type() == t)
            });
        self.messages = keep;
        take
    }

    fn deliver_msgs(&mut self, typ: Option<MessageType>, rs: &[(u64, bool)]) -> usize {
        let mut n = 0;
        for &(id, drop) in rs {
            let msgs = self.split_msgs(id, typ, drop);
            n += msgs.len();
            for m in msgs {
                if drop {
                    self.out("dropped: ");
                }
                self.out(&format!("{}\n", describe_message(&m)));
                if drop {
                    continue;
                }
                let to = m.to as usize;
                let Some(node) = self.nodes.get_mut(to.wrapping_sub(1)) else {
                    continue;
                };
                if let Err(e) = node.raw.step(m) {
                    self.out(&format!("{e}\n"));
                }
            }
        }
        n
    }

    fn handle_stabilize(&mut self, args: &[Arg]) -> HResult {
        let idxs = Self::node_idxs(args);
        let mut restore = None;
        for a in args {
            if a.key == "log-level" {
                let name = a.vals.first().cloned().unwrap_or_default().to_uppercase();
                let l = level_by_name(&name).ok_or(
                    "log levels must be either of [DEBUG INFO WARN ERROR FATAL NONE]".to_string(),
                )?;
                restore = Some(self.output.level());
                self.output.set_level(l);
            }
        }
        let res = self.stabilize(&idxs);
        if let Some(l) = restore {
            self.output.set_level(l);
        }
        res
    }

    fn stabilize(&mut self, idxs: &[usize]) -> HResult {
        let set: Vec<usize> = if idxs.is_empty() {
            (0..self.nodes.len()).collect()
        } else {
            idxs.to_vec()
        };
        loop {
            let mut done = true;
            for &idx in &set {
                if self.node(idx)?.raw.has_ready() {
                    self.out(&format!("> {} handling Ready\n", idx + 1));
                    self.with_indent(|env| env.process_ready(idx))?;
                    done = false;
                }
            }
            for &idx in &set {
                let id = idx as u64 + 1;
                if self.messages.iter().any(|m| m.to == id) {
                    self.out(&format!("> {id} receiving messages\n"));
                    self.with_indent(|env| env.deliver_msgs(None, &[(id, false)]));
                    done = false;
                }
            }
            for &idx in &set {
                if !self.node(idx)?.append_work.is_empty() {
                    self.out(&format!("> {} processing append thread\n", idx + 1));
                    while !self.node(idx)?.append_work.is_empty() {
                        self.with_indent(|env| env.process_append_thread(idx))?;
                    }
                    done = false;
                }
            }
            for &idx in &set {
                if !self.node(idx)?.apply_work.is_empty() {
                    self.out(&format!("> {} processing apply thread\n", idx + 1));
                    while !self.node(idx)?.apply_work.is_empty() {
                        self.with_indent(|env| env.process_apply_thread(idx))?;
                    }
                    done = false;
                }
            }
            if done {
                return Ok(());
            }
        }
    }

    fn process_ready(&mut self, idx: usize) -> HResult {
        let async_writes = self.node(idx)?.config.async_storage_writes;
        let rd = self.node(idx)?.raw.ready().map_err(|e| e.to_string())?;
        self.out(&describe_ready(&rd));
        if !async_writes {
            self.process_append(
                idx,
                rd.hard_state.unwrap_or_default(),
                &rd.entries,
                &rd.snapshot,
            )?;
            self.process_apply(idx, &rd.committed_entries)?;
        }
        for m in rd.messages {
            if is_local_target(m.to) {
                let n = self.node(idx)?;
                match m.msg_type() {
                    MessageType::MsgStorageAppend => n.append_work.push(m),
                    MessageType::MsgStorageApply => n.apply_work.push(m),
                    t => return Err(format!("unexpected message type {t:?}")),
                }
            } else {
                self.messages.push(m);
            }
        }
        if !async_writes {
            self.node(idx)?.raw.advance().map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    fn process_append(
        &mut self,
        idx: usize,
        hs: HardState,
        ents: &[Entry],
        snap: &Snapshot,
    ) -> HResult {
        let s = self.node(idx)?.storage.mem.clone();
        if !hs.is_empty() {
            s.set_hard_state(hs);
        }
        if !snap.is_empty() {
            if !ents.is_empty() {
                return Err("can't apply snapshot and entries at the same time".into());
            }
            return s.apply_snapshot(snap.clone()).map_err(|e| e.to_string());
        }
        s.append(ents).map_err(|e| e.to_string())
    }

    fn process_apply(&mut self, idx: usize, ents: &[Entry]) -> HResult {
        for e in ents {
            let (update, cs): (Bytes, Option<ConfState>) = match ConfChangeI::from_entry(e) {
                None => (e.data.clone().unwrap_or_default(), None),
                Some(cc) => {
                    let cc = cc.map_err(|e| e.to_string())?;
                    let ctx = match &cc {
                        ConfChangeI::V1(c) => c.context.clone(),
                        ConfChangeI::V2(c) => c.context.clone(),
                    };
                    let cs = self
                        .node(idx)?
                        .raw
                        .apply_conf_change(&cc)
                        .map_err(|e| e.to_string())?;
                    (ctx.unwrap_or_default(), Some(cs))
                }
            };
            let n = self.node(idx)?;
            let mut hist = n.storage.history.borrow_mut();
            let last = hist.last().cloned().unwrap_or_default();
            let mut data = last.data().to_vec();
            data.extend_from_slice(&update);
            let snap = Snapshot {
                data: Some(Bytes::from(data)),
                metadata: SnapshotMetadata {
                    conf_state: cs.unwrap_or(last.metadata.conf_state),
                    index: e.index,
                    term: e.term,
                },
            };
            hist.push(snap);
        }
        Ok(())
    }

    fn process_append_thread(&mut self, idx: usize) -> HResult {
        let n = self.node(idx)?;
        if n.append_work.is_empty() {
            self.out("no append work to perform");
            return Ok(());
        }
        let mut m = n.append_work.remove(0);
        let resps = std::mem::take(&mut m.responses);
        self.out("Processing:\n");
        self.out(&format!("{}\n", describe_message(&m)));
        let hs = HardState {
            term: m.term,
            vote: m.vote,
            commit: m.commit,
        };
        let snap = m.snapshot.clone().unwrap_or_default();
        self.process_append(idx, hs, &m.entries, &snap)?;
        self.out("Responses:\n");
        for r in &resps {
            self.out(&format!("{}\n", describe_message(r)));
        }
        self.messages.extend(resps);
        Ok(())
    }

    fn process_apply_thread(&mut self, idx: usize) -> HResult {
        let n = self.node(idx)?;
        if n.apply_work.is_empty() {
            self.out("no apply work to perform");
            return Ok(());
        }
        let mut m = n.apply_work.remove(0);
        let resps = std::mem::take(&mut m.responses);
        self.out("Processing:\n");
        self.out(&format!("{}\n", describe_message(&m)));
        self.process_apply(idx, &m.entries)?;
        self.out("Responses:\n");
        for r in &resps {
            self.out(&format!("{}\n", describe_message(r)));
        }
        self.messages.extend(resps);
        Ok(())
    }
}

fn level_by_name(name: &str) -> Option<Level> {
    Some(match name {
        "DEBUG" => Level::Debug,
        "INFO" => Level::Info,
        "WARN" => Level::Warn,
        "ERROR" => Level::Error,
        "FATAL" => Level::Fatal,
        "NONE" => Level::Off,
        _ => return None,
    })
}

/// Parses `v2 l3 r1 u4` into conf change singles (etcd's
/// `raftpb.ConfChangesFromString`).
pub fn parse_conf_changes(s: &str) -> Result<Vec<ConfChangeSingle>, String> {
    let mut out = Vec::new();
    for tok in s.split_whitespace() {
        if tok.len() < 2 {
            return Err(format!("unknown token {tok}"));
        }
        let t = match &tok[..1] {
            "v" => ConfChangeType::ConfChangeAddNode,
            "l" => ConfChangeType::ConfChangeAddLearnerNode,
            "r" => ConfChangeType::ConfChangeRemoveNode,
            "u" => ConfChangeType::ConfChangeUpdateNode,
            _ => return Err(format!("unknown input: {tok}")),
        };
        let id = parse_u64(&tok[1..])?;
        out.push(ConfChangeSingle::new(t, id));
    }
    Ok(out)
}
