-- A harness that drives rawnodes over a storage: the Ready loop (persist,
-- apply, collect messages), a simulated network for clusters, and log
-- read-back through the storage callbacks.
local raft = require("lraft")
local pb = raft.pb

local nodes = {}

--- The stored log as {index, term, type, data} from the dummy entry on,
--- read through the storage callbacks only.
function nodes.log_of(s)
    local err, first = s:FirstIndex()
    assert(err == raft.OK, "FirstIndex")
    local err2, last = s:LastIndex()
    assert(err2 == raft.OK, "LastIndex")
    local e0, t0 = s:Term(first - 1)
    assert(e0 == raft.OK, "Term")
    local out = { { first - 1, t0 } }
    if last >= first then
        local e, ents = s:Entries(first, last + 1, raft.noLimit)
        assert(e == raft.OK, "Entries")
        for i = 1, #ents do
            local x = ents[i]
            out[#out + 1] = { x.index, x.term, x.type, x.data }
        end
    end
    return out
end

local Node = {}
Node.__index = Node

--- A node on a fresh storage made by `st` (a storages.list factory).
--- opts: peers (init's list), cfg (a function(cfg) to adjust the config).
function nodes.new(st, id, opts)
    opts = opts or {}
    local s, cleanup, track = st.make(opts.ents)
    local self = setmetatable({ st = st, id = id, s = s, cleanup_fn = cleanup, track = track,
        applied = {}, opts = opts, out = {} }, Node)
    self:start(opts.peers)
    return self
end

--- (Re)creates the rawnode over the current storage.
function Node:start(peers)
    local cfg = raft.config()
    cfg.ID = self.id
    cfg.ElectionTick = 10
    cfg.HeartbeatTick = 1
    -- A fixed seed per node keeps election timeouts reproducible.
    cfg.Seed = self.id * 2 + 1
    cfg.Applied = self.applied_index or 0
    cfg.Storage = self.st.base(self.s)
    if self.opts.cfg then self.opts.cfg(cfg) end
    self.cfg = cfg
    self.node = raft.rawnode()
    self.node:init(cfg, peers)
end

--- Closes the node (and for ldbstorage the database), reopens the storage
--- and restarts the node with `peers` (ignored by a non-empty storage).
--- `self.applied_index`, when set, becomes the config's Applied.
function Node:restart(peers)
    self.node:close()
    self.s = self.st.reopen(self.s)
    if self.track then self.track(self.s) end
    self:start(peers)
end

function Node:cleanup()
    if self.node then self.node:close() end
    self.cleanup_fn()
end

--- Persists and applies one Ready, queues its messages, advances.
function Node:handle(rd)
    local s = self.s
    if rd.hardstate then s:set_hardstate(rd.hardstate) end
    if not rd.snapshot:empty() then
        assert(s:apply_snapshot(rd.snapshot) == raft.OK, "apply_snapshot")
    end
    assert(s:append(rd.entries, true) == raft.OK, "append")
    for _, m in rd.messages:ipairs() do
        self.out[#self.out + 1] = m
    end
    for _, e in rd.committed_entries:ipairs() do
        if e.type == pb.EntryConfChange then
            local cc = pb.confchange()
            assert(cc:parser(e.data))
            self.node:apply_confchange(cc)
        elseif e.type == pb.EntryConfChangeV2 then
            local cc = pb.confchangev2()
            assert(cc:parser(e.data))
            self.node:apply_confchange(cc)
        elseif #e.data > 0 then
            self.applied[#self.applied + 1] = e.data
        end
    end
    self.node:advance(rd)
end

--- Handles Readys until there is none; returns how many were handled.
function Node:drain()
    local n = 0
    while self.node:has_ready() do
        self:handle(self.node:ready())
        n = n + 1
        assert(n < 1000, "ready loop does not settle")
    end
    return n
end

--- Takes the queued outgoing messages.
function Node:take()
    local out = self.out
    self.out = {}
    return out
end

function Node:log()
    return nodes.log_of(self.s)
end

function Node:state()
    return self.node:status().raft_state
end

nodes.Node = Node

--- A cluster of nodes 1..n on storages made by `st`, bootstrapped with
--- peers {1..n}. Messages travel serialized (etcd wire bytes).
local Cluster = {}
Cluster.__index = Cluster

function nodes.cluster(st, n, opts)
    local peers = {}
    for i = 1, n do peers[i] = i end
    local c = setmetatable({ nodes = {}, cut = {}, delivered = 0 }, Cluster)
    for i = 1, n do
        local o = {}
        for k, v in pairs(opts or {}) do o[k] = v end
        o.peers = peers
        c.nodes[i] = nodes.new(st, i, o)
    end
    return c
end

--- Drops every message to or from `id` (true) or restores it (false).
function Cluster:isolate(id, on)
    self.cut[id] = on or nil
end

--- Moves messages until none is in flight (bounded).
function Cluster:settle()
    for _ = 1, 200 do
        local moved = false
        for _, nd in ipairs(self.nodes) do nd:drain() end
        for _, nd in ipairs(self.nodes) do
            for _, m in ipairs(nd:take()) do
                moved = true
                if not self.cut[m.from] and not self.cut[m.to] then
                    local copy = pb.message()
                    assert(copy:parser(m:serialize()), "message does not round-trip")
                    local code = self.nodes[m.to].node:step(copy)
                    assert(math.type(code) == "integer")
                    self.delivered = self.delivered + 1
                end
            end
        end
        if not moved then return end
    end
    error("cluster does not settle")
end

--- One tick on every node, then settle.
function Cluster:tick()
    for _, nd in ipairs(self.nodes) do nd.node:tick() end
    self:settle()
end

--- The ids of the nodes that are leader (among the reachable ones when
--- `reachable_only`).
function Cluster:leaders(reachable_only)
    local out = {}
    for i, nd in ipairs(self.nodes) do
        if nd:state() == raft.StateLeader and not (reachable_only and self.cut[i]) then
            out[#out + 1] = i
        end
    end
    return out
end

--- Ticks until `pred()` holds; returns the number of ticks (fails after max).
function Cluster:tick_until(pred, max)
    for t = 1, max or 200 do
        self:tick()
        if pred() then return t end
    end
    error("condition not reached")
end

function Cluster:cleanup()
    for _, nd in ipairs(self.nodes) do nd:cleanup() end
end

return nodes
