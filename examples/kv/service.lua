-- service: the key-value service on one Raft node. Turns client requests
-- into proposals and ReadIndex reads, handles each Ready (persist with one
-- fsync, send, apply, advance), answers clients when their entry is
-- applied or their read index is reached, snapshots and compacts the log,
-- and follows membership changes.
local socket = require("socket")
local raft = require("lraft")
local pb = raft.pb
local wire = require("wire")
local statemachine = require("statemachine")

local service = {}
service.__index = service

local READ_TIMEOUT = 3      -- seconds a read may wait for its read index
local SCAN_LIMIT = 1000     -- default and largest scan size
local MAX_KEY, MAX_VALUE = 4096, 1024 * 1024

local STATE_NAMES = { [0] = "follower", "candidate", "leader", "pre-candidate" }

function service.new(o)
    local self = setmetatable({
        id = o.id, node = o.node, store = o.store, sm = o.sm, tr = o.transport, log = o.log,
        opts = o.opts, leader = 0, state = raft.StateFollower, term = 0,
        waiters = {},       -- "cid/seq" -> client connection
        new_reads = {},     -- reads that arrived since the last ReadIndex
        read_ctx = {},      -- ctx -> { reads, at }
        ready_reads = {},   -- { index, reads } whose read index is known
        ctx_seq = 0,
    }, service)
    -- What applying committed entries calls back (statemachine.apply).
    self.hooks = {
        confchange = function(cc) return self.node:apply_confchange(cc) end,
        result = function(cid, seq, res)
            local k = cid .. "/" .. seq
            local c = self.waiters[k]
            if c then self.waiters[k] = nil; self.tr:reply(c, res) end
        end,
        member = function(t, id, m) self:apply_member_change(t, id, m) end,
    }
    for id, m in pairs(self.sm.members) do
        if m.role ~= "removed" then self.tr:set_peer(id, m.peer) end
    end
    return self
end

function service:stop(reason, code)
    if self.stopped then return end
    self.stopped = true
    self.stop_reason = reason
    self.exit_code = code or 0
    self.log("stopping: %s", reason)
end

--- Who may connect: peers must be current members other than us.
function service:check_member(role, id)
    if role == "client" then
        if id ~= 0 then return "protocol", "a client connects with node id 0" end
        return nil
    end
    local m = self.sm.members[id]
    if id == self.id or not m then
        return "unknown-node", ("node id %d is not a member of this cluster"):format(id)
    end
    if m.role == "removed" then
        return "removed", ("node %d was removed from the cluster"):format(id)
    end
    return nil
end

function service:on_message(m)
    -- A snapshot whose data would not restore is dropped before Raft
    -- accepts it (afterwards the node could neither use nor refuse it).
    if m.type == pb.MsgSnap then
        local ok, err = statemachine.parse_snapshot(m.snapshot.data or "")
        if not ok then
            self.log("dropped a snapshot from node %d: %s", m.from, err)
            return
        end
    end
    local ok, err = pcall(self.node.step, self.node, m)
    if not ok then self.log("raft rejected a message from node %d: %s", m.from, tostring(err)) end
end

-- Client requests -------------------------------------------------------

function service:redirect(c)
    local l = self.leader
    local m = l ~= 0 and l ~= self.id and self.sm.members[l]
    if m and m.client and m.client ~= "" then
        self.tr:reply(c, { "redirect", tostring(l), m.client })
    else
        self.tr:reply(c, { "retry", "no leader known yet (election in progress)" })
    end
end

local function int_arg(s)
    local n = math.tointeger(tonumber(s or ""))
    if n and tostring(n) == s then return n end
end

-- Argument checks per command: number of arguments after the command (and
-- after client id and sequence number for writes).
local WRITES = { put = 2, del = 1, cas = 3, add = 3, remove = 1, promote = 1 }
local READS = { get = 1, scan = 2 }

function service:status_reply()
    local st = self.node:status()
    local parts = {}
    local ids = {}
    for id in pairs(self.sm.members) do ids[#ids + 1] = id end
    table.sort(ids)
    for _, id in ipairs(ids) do
        local m = self.sm.members[id]
        parts[#parts + 1] = ("%d=%s@%s"):format(id, m.role, m.client or "")
    end
    return { "ok", "id", tostring(self.id), "state", STATE_NAMES[st.raft_state] or "?",
        "leader", tostring(st.lead), "term", tostring(st.term), "commit", tostring(st.commit),
        "applied", tostring(self.sm.applied), "snapshot", tostring(self.store.snap.metadata.index),
        "first_index", tostring(self.store.offset + 1), "sessions", tostring(self.sm:session_count()),
        "members", table.concat(parts, " ") }
end

function service:on_request(c, l)
    local cmd = l[1]
    if cmd == "status" then
        return self.tr:reply(c, self:status_reply())
    elseif cmd == "digest" then
        return self.tr:reply(c, { "ok", tostring(self.sm.applied), self.sm:digest(), self.sm:sessions_digest() })
    end
    local nw, nr = WRITES[cmd], READS[cmd]
    if not nw and not nr then
        return self.tr:reply(c, { "error", ("unknown command %q"):format(tostring(cmd)) })
    end
    if nr then
        local n = #l - 1
        if not (n == nr or (cmd == "scan" and n == 3)) then
            return self.tr:reply(c, { "error", ("%s takes %d arguments, got %d"):format(cmd, nr, n) })
        end
        local limit = SCAN_LIMIT
        if cmd == "scan" and l[4] then
            limit = int_arg(l[4])
            if not limit or limit < 1 or limit > SCAN_LIMIT then
                return self.tr:reply(c, { "error", "scan: limit must be an integer in 1.." .. SCAN_LIMIT })
            end
        end
        if self.state ~= raft.StateLeader then return self:redirect(c) end
        self.new_reads[#self.new_reads + 1] = { c = c, cmd = cmd, a = l[2], b = l[3], limit = limit }
        return
    end
    -- Writes: cmd, client id, seq, args.
    local cid, seq = l[2], int_arg(l[3])
    if #l - 3 ~= nw or not cid or #cid == 0 or #cid > 64 or not seq or seq < 1 then
        return self.tr:reply(c, { "error", ("%s takes a client id, a sequence number >= 1 and %d arguments")
            :format(cmd, nw) })
    end
    for i = 4, #l do
        if #l[i] > ((i == 4) and MAX_KEY or MAX_VALUE) then
            return self.tr:reply(c, { "error", "key or value too large" })
        end
    end
    if self.state ~= raft.StateLeader then return self:redirect(c) end
    local done = self.sm:dedup(cid, seq)
    if done then return self.tr:reply(c, done) end
    local rc
    if cmd == "add" or cmd == "remove" or cmd == "promote" then
        local id = int_arg(l[4])
        if not id or id < 1 then return self.tr:reply(c, { "error", cmd .. ": bad node id " .. l[4] }) end
        local cc = pb.confchange()
        cc.nodeid = id
        local ctx = { cid, tostring(seq) }
        if cmd == "add" then
            if self.sm.members[id] and self.sm.members[id].role ~= "removed" then
                return self.tr:reply(c, { "error", ("node %d is already a member"):format(id) })
            end
            if not wire.split_addr(l[5]) or not wire.split_addr(l[6]) then
                return self.tr:reply(c, { "error", "add: addresses must be HOST:PORT" })
            end
            cc.type = pb.ConfChangeAddLearnerNode
            ctx[3], ctx[4] = l[5], l[6]
        elseif cmd == "remove" then
            cc.type = pb.ConfChangeRemoveNode
        else
            local m = self.sm.members[id]
            if not m or m.role ~= "learner" then
                return self.tr:reply(c, { "error", ("node %d is not a learner"):format(id) })
            end
            cc.type = pb.ConfChangeAddNode
        end
        if cmd ~= "add" and not self.sm.members[id] then
            return self.tr:reply(c, { "error", ("node %d is not a member"):format(id) })
        end
        cc.context = wire.encode_list(ctx)
        rc = self.node:propose_confchange(cc)
    else
        local data = { cid, tostring(seq), cmd }
        for i = 4, #l do data[#data + 1] = l[i] end
        rc = self.node:propose(wire.encode_list(data))
    end
    if rc ~= raft.OK then
        return self.tr:reply(c, { "retry", "proposal dropped (code " .. tostring(rc) .. ")" })
    end
    self.waiters[cid .. "/" .. seq] = c
end

function service:serve_read(r)
    if r.cmd == "get" then
        local v = self.sm:get(r.a)
        self.tr:reply(r.c, v and { "ok", v } or { "notfound" })
    else
        local l = self.sm:scan(r.a, r.b, r.limit)
        table.insert(l, 1, "ok")
        self.tr:reply(r.c, l)
    end
end

function service:fail_pending(reason)
    for _, c in pairs(self.waiters) do self.tr:reply(c, { "retry", reason }) end
    self.waiters = {}
    local function fail(reads) for _, r in ipairs(reads) do self.tr:reply(r.c, { "retry", reason }) end end
    fail(self.new_reads); self.new_reads = {}
    for _, x in pairs(self.read_ctx) do fail(x.reads) end
    self.read_ctx = {}
    for _, x in ipairs(self.ready_reads) do fail(x.reads) end
    self.ready_reads = {}
end

-- Ticks, reads and the Ready --------------------------------------------

function service:on_tick(now)
    for ctx, x in pairs(self.read_ctx) do
        if now - x.at > READ_TIMEOUT then
            self.read_ctx[ctx] = nil
            for _, r in ipairs(x.reads) do self.tr:reply(r.c, { "retry", "read index timed out" }) end
        end
    end
end

function service:issue_reads()
    if #self.new_reads == 0 then return end
    self.ctx_seq = self.ctx_seq + 1
    local ctx = string.pack(">I8", self.ctx_seq)
    self.read_ctx[ctx] = { reads = self.new_reads, at = socket.gettime() }
    self.new_reads = {}
    self.node:readindex(ctx)
end

function service:serve_ready_reads()
    local keep = {}
    for _, x in ipairs(self.ready_reads) do
        if x.index <= self.sm.applied then
            for _, r in ipairs(x.reads) do self:serve_read(r) end
        else
            keep[#keep + 1] = x
        end
    end
    self.ready_reads = keep
end

--- The connection to peer `id` just failed. When `id` is the leader this
--- node follows, the leader may have died: forget it (etcd's ForgetLeader,
--- so this node's vote is no longer held back by the leader's lease) and
--- campaign after a random pause of 50 to 300 ms unless a leader appears
--- first (the pause keeps two followers that saw the same death from
--- splitting the vote). A leader that is alive loses nothing: the pre-vote
--- fails at every follower that still hears from it (PreVote and
--- CheckQuorum are on), and its next heartbeat brings this node back.
function service:on_peer_down(id)
    if self.stopped or self.state ~= raft.StateFollower or self.leader ~= id then return end
    self.node:forget_leader()
    self.leader = 0 -- as the next Ready's soft state will say
    local pause = 0.05 + math.random() * 0.25
    self.campaign_at = socket.gettime() + pause
    self.log("lost the connection to leader %d: campaigning in %d ms unless a leader appears", id,
        math.floor(pause * 1000))
end

--- Runs the campaign `on_peer_down` scheduled (`self.campaign_at`, which
--- the event loop also wakes up for), when it is due and no leader has
--- appeared since.
function service:maybe_campaign(now)
    local at = self.campaign_at
    if not at then return end
    if self.stopped or self.state ~= raft.StateFollower or self.leader ~= 0 then
        self.campaign_at = nil
        return
    end
    if now < at then return end
    self.campaign_at = nil
    self.log("campaigning: the leader's connection was lost")
    self.node:campaign()
end

function service:on_softstate(ss)
    local was_leader = self.state == raft.StateLeader
    local term = self.node:status().term
    if ss.RaftState == raft.StateLeader and not was_leader then
        self.log("elected leader at term %d", term)
    elseif was_leader and ss.RaftState ~= raft.StateLeader then
        self.log("stepped down at term %d (now %s)", term, STATE_NAMES[ss.RaftState] or "?")
        self:fail_pending("leadership lost; retry")
    elseif ss.Lead ~= self.leader and ss.Lead ~= 0 and ss.Lead ~= self.id then
        self.log("following leader %d at term %d", ss.Lead, term)
    end
    self.state, self.leader = ss.RaftState, ss.Lead
end

function service:apply_member_change(cctype, id, m)
    -- A node that joins after the log was compacted catches up from the
    -- stored snapshot, which must already name it: take a fresh one.
    self.snapshot_now = true
    if m.role == "removed" then
        self.log("member %d removed", id)
        if id == self.id then
            self.removed_self = true
        else
            self.tr:forget_peer(id)
        end
    else
        self.log("member %d is now a %s (%s)", id, m.role, m.peer or "?")
        self.tr:set_peer(id, m.peer)
    end
end

function service:send(m)
    local to = m.to
    local snap = m.type == pb.MsgSnap
    local bytes = m:serialize()
    local on_sent
    if snap then
        local idx = m.snapshot.metadata.index
        self.log("sending snapshot at index %d (%d bytes) to node %d", idx, #bytes, to)
        on_sent = function(ok)
            if ok then self.log("snapshot at index %d sent to node %d", idx, to)
            else self.log("snapshot at index %d to node %d failed", idx, to) end
            self.pending_reports[#self.pending_reports + 1] = { snap = true, to = to, ok = ok }
        end
    end
    if not self.tr:send(to, bytes, on_sent) then
        self.unreachable[to] = true
        if snap then self.pending_reports[#self.pending_reports + 1] = { snap = true, to = to, ok = false } end
    end
end

function service:handle_ready()
    self.unreachable = self.unreachable or {}
    self.pending_reports = self.pending_reports or {}
    self:issue_reads()
    local hooks = self.hooks
    while self.node:has_ready() do
        local rd = self.node:ready()
        if rd.softstate then self:on_softstate(rd.softstate) end
        local snap = rd.snapshot
        local no_snap = snap:empty()
        if not no_snap then
            local meta = snap.metadata
            assert(self.store:apply_snapshot(snap) == raft.OK, "cannot store the snapshot")
            assert(self.sm:restore(snap.data, meta.index, meta.term))
            self.log("snapshot at index %d applied (%d keys)", meta.index, self:count_keys())
            for id, m in pairs(self.sm.members) do
                if m.role == "removed" then self.tr:forget_peer(id) else self.tr:set_peer(id, m.peer) end
            end
        end
        -- A leader may send its appends before its own write is durable
        -- (Raft thesis 10.2.1), so its fsync and the followers' overlap:
        -- the entries count toward commitment only through acks, which are
        -- stepped after this Ready, when the write below has returned.
        -- Everything else (votes, responses) waits for the fsync.
        local leader = self.state == raft.StateLeader
        local sent_early, later = false, {}
        for _, m in rd.messages:ipairs() do
            local t = m.type
            if leader and (t == pb.MsgApp or t == pb.MsgHeartbeat or t == pb.MsgSnap) then
                self:send(m)
                sent_early = true
            else
                later[#later + 1] = m
            end
        end
        -- A leader's committed entries were made durable in earlier Readys
        -- (followers' acks, stepped between Readys, are what commits them),
        -- so it applies and answers before this Ready's fsync. Not when a
        -- committed entry is in this Ready's own entries (a single voter
        -- commits at once): that one must be on disk first.
        local applied_early = false
        local ce, ne = rd.committed_entries, rd.entries
        if leader and no_snap and (#ne == 0 or #ce == 0 or ce[#ce].index < ne[1].index) then
            self.sm:apply(ce, hooks)
            applied_early = true
        end
        if sent_early or applied_early then self.tr:flush_all() end
        -- One fsync per Ready: hard state and entries are one LevelDB
        -- write, synced when Raft says it must be.
        local hs = rd.hardstate
        if hs or #ne > 0 then
            assert(self.store:save(hs, ne, rd.mustsync) == raft.OK, "log append failed")
        end
        for _, m in ipairs(later) do self:send(m) end
        -- Acks and votes leave now, not after this Ready's apply (or a
        -- snapshot) below.
        if #later > 0 then self.tr:flush_all() end
        for _, rs in rd.readstates:ipairs() do
            local x = self.read_ctx[rs.request_ctx]
            if x then
                self.read_ctx[rs.request_ctx] = nil
                self.ready_reads[#self.ready_reads + 1] = { index = rs.index, reads = x.reads }
            end
        end
        if not applied_early then self.sm:apply(ce, hooks) end
        self.node:advance(rd)
    end
    for id in pairs(self.unreachable) do self.node:report_unreachable(id) end
    self.unreachable = {}
    local reports = self.pending_reports
    self.pending_reports = {}
    for _, r in ipairs(reports) do self.node:report_snapshot(r.to, r.ok) end
    self:serve_ready_reads()
    self:propose_session_limits()
    self:maybe_snapshot()
    if self.removed_self then self:stop("this node was removed from the cluster") end
end

--- A leader whose --session-expiry/--max-sessions differ from the
--- replicated limits proposes its own (once per term): every replica then
--- trims its session table at the same entries.
function service:propose_session_limits()
    local o, sm = self.opts, self.sm
    if self.state ~= raft.StateLeader or self.stopped
        or (sm.session_expiry == o.session_expiry and sm.max_sessions == o.max_sessions) then
        return
    end
    local term = self.node:status().term
    if self.session_limits_term == term then return end
    local data = wire.encode_list({ "", "0", "sessions", o.session_expiry, o.max_sessions })
    if self.node:propose(data) == raft.OK then
        self.session_limits_term = term
        self.log("proposing session limits: expiry %d entries, at most %d sessions", o.session_expiry,
            o.max_sessions)
    end
end

function service:count_keys()
    local n = 0
    for _ in self.sm.db:iter("d", "e") do n = n + 1 end
    return n
end

--- Snapshots the state and compacts the log every `snapshot_entries`.
function service:maybe_snapshot()
    local applied = self.sm.applied
    local snapidx = self.store.snap.metadata.index
    local forced = self.snapshot_now and self.store.offset > 0 and applied > snapidx
    self.snapshot_now = false
    if applied - snapidx < self.opts.snapshot_entries and not forced then return end
    local data = self.sm:snapshot_data()
    local rc = self.store:create_snapshot(applied, self.sm:conf_state(), data)
    if rc ~= raft.OK then return end
    local upto = applied - self.opts.catchup_entries
    if upto > self.store.offset then self.store:compact(upto) end
    self.log("snapshot at index %d (%d bytes); log compacted up to %d", applied, #data,
        math.max(self.store.offset, 0))
end

return service
