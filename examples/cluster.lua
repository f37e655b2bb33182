-- A three-node Raft cluster in one Lua process, each node logging to its
-- own LevelDB database through ldbstorage.lua. The nodes elect a leader,
-- replicate proposals, lose their leader, elect another one, and one node
-- is restarted from disk to show that its log survived and that, given its
-- applied index back (cfg.Applied), it applies nothing twice.
--
-- Run with scripts/demo.sh (which sets LUA_PATH and LUA_CPATH).
local raft = require("lraft")
local ldbstorage = require("ldbstorage")
local pb = raft.pb

local dir = os.getenv("DEMO_DIR") or os.tmpname() .. "-raft-demo"
local ids = { 1, 2, 3 }
local nodes = {}

local function start(id, peers)
    local n = nodes[id] or { id = id, applied = {}, outbox = {} }
    n.store = ldbstorage.new(dir .. "/node" .. id)
    local cfg = raft.config()
    cfg.ID = id
    cfg.ElectionTick = 10
    cfg.HeartbeatTick = 1
    cfg.PreVote = true
    cfg.CheckQuorum = true
    cfg.Seed = id
    cfg.Applied = n.applied_index or 0
    cfg.Storage = n.store.base
    n.node = raft.rawnode()
    n.node:init(cfg, peers)
    nodes[id] = n
    return n
end

local function handle_ready(n)
    while n.node:has_ready() do
        local rd = n.node:ready()
        if rd.hardstate then n.store:set_hardstate(rd.hardstate) end
        if not rd.snapshot:empty() then n.store:apply_snapshot(rd.snapshot) end
        assert(n.store:append(rd.entries, true) == raft.OK) -- durable (fsync)
        for _, m in rd.messages:ipairs() do n.outbox[#n.outbox + 1] = m:serialize() end
        for _, e in rd.committed_entries:ipairs() do
            if e.type == pb.EntryConfChange then
                local cc = pb.confchange(); assert(cc:parser(e.data))
                n.node:apply_confchange(cc)
            elseif #e.data > 0 then
                n.applied[#n.applied + 1] = e.data
            end
            n.applied_index = e.index
        end
        n.node:advance(rd)
    end
end

local down = {}
local function settle()
    repeat
        local moved = false
        for _, id in ipairs(ids) do
            if not down[id] then handle_ready(nodes[id]) end
        end
        for _, id in ipairs(ids) do
            local out = nodes[id].outbox
            nodes[id].outbox = {}
            for _, bytes in ipairs(out) do
                local m = pb.message()
                assert(m:parser(bytes))
                if not down[id] and not down[m.to] then
                    nodes[m.to].node:step(m)
                    moved = true
                end
            end
        end
    until not moved
end

local function leader()
    for _, id in ipairs(ids) do
        if not down[id] and nodes[id].node:status().raft_state == raft.StateLeader then return id end
    end
end

local function tick_until_leader()
    for t = 1, 500 do
        for _, id in ipairs(ids) do
            if not down[id] then nodes[id].node:tick() end
        end
        settle()
        local l = leader()
        if l then return l, t end
    end
    error("no leader elected")
end

for _, id in ipairs(ids) do start(id, ids) end
settle()
local l, t = tick_until_leader()
print(("node %d elected leader after %d ticks"):format(l, t))

for i = 1, 100 do
    assert(nodes[l].node:propose("entry " .. i) == raft.OK)
    if i % 10 == 0 then settle() end
end
settle()
print(("leader %d replicated 100 entries; node 1..3 applied %d, %d, %d"):format(
    l, #nodes[1].applied, #nodes[2].applied, #nodes[3].applied))

down[l] = true
print(("node %d is cut off"):format(l))
local l2, t2 = tick_until_leader()
print(("node %d elected leader after %d ticks"):format(l2, t2))
assert(nodes[l2].node:propose("after failover") == raft.OK)
settle()

-- Restart a follower from its database.
local f
for _, id in ipairs(ids) do
    if id ~= l and id ~= l2 then f = id end
end
local before = nodes[f].store.count
nodes[f].node:close()
nodes[f].store:close()
start(f, nil)
print(("node %d restarted from disk with %d stored entries (had %d)"):format(f, nodes[f].store.count, before))
assert(nodes[f].store.count == before)

-- The restarted node got its applied index back as cfg.Applied (kept in the
-- node's table here; a real program stores it with its application state),
-- so it applies only what is new: no entry twice.
assert(nodes[l2].node:propose("after restart") == raft.OK)
for _ = 1, 5 do
    for _, id in ipairs(ids) do
        if not down[id] then nodes[id].node:tick() end
    end
    settle()
end
assert(#nodes[f].applied == #nodes[l2].applied, "the restarted node re-applied or missed entries")
for i, data in ipairs(nodes[l2].applied) do assert(nodes[f].applied[i] == data) end
print(("node %d applied %d entries, each once, like leader %d"):format(f, #nodes[f].applied, l2))

for _, id in ipairs(ids) do
    nodes[id].node:close()
    nodes[id].store:close()
    ldbstorage.delete_db(dir .. "/node" .. id)
end
os.remove(dir)
print("demo finished")
