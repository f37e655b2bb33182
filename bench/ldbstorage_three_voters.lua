-- The storage benchmark of issue 10 for the contract's Lua-written
-- storage: a 3-voter cluster in one process where every node persists
-- each Ready through its own `ldbstorage.lua` (LevelDB, one synced write
-- of entries and hard state per Ready that must sync), 128-byte entries
-- proposed in rounds of BENCH_BATCH (default 64; 1 for one per round). The
-- clock runs from after the election until every node applied every
-- entry; every node must have applied exactly the proposed payloads in
-- order (else it exits 1). Prints entries/s and how many storage
-- callbacks the core made per entry and node (FirstIndex, LastIndex, Term,
-- Entries).
--
-- Usage: LUA_CPATH=target/lua/?.so LUA_PATH='lua/?.lua;;' \
--          lua5.4 bench/ldbstorage_three_voters.lua [rounds]
local raft = require("lraft")
local ldbstorage = require("ldbstorage")
local pb = raft.pb
local ok, socket = pcall(require, "socket")
local now = ok and socket.gettime or os.clock

local SIZE, BATCH = 128, tonumber(os.getenv("BENCH_BATCH") or "64")
local rounds = tonumber(arg[1] or (BATCH == 1 and "300" or "100"))
local QUERIES = { FirstIndex = true, LastIndex = true, Term = true, Entries = true }

local filler = string.rep("x", SIZE - 8)
local function payload(seq) return string.pack("<i8", seq) .. filler end

local function fail(why)
    io.stderr:write("ldbstorage_three_voters.lua: CHECK FAILED: " .. why .. "\n")
    os.exit(1)
end

-- A storage base that counts the core's queries and forwards everything.
local function counted(inner, calls)
    local w = setmetatable({}, {
        __index = function(_, k)
            local v = inner[k]
            if type(v) ~= "function" then return v end
            if QUERIES[k] then
                return function(_, ...)
                    calls[k] = calls[k] + 1
                    return v(inner, ...)
                end
            end
            return function(_, ...) return v(inner, ...) end
        end,
    })
    return raft.ldbstorage(w)
end

local function handle(n, net)
    if not n.node:has_ready() then return false end
    local rd = n.node:ready()
    local sync = rd.mustsync
    if #rd.entries > 0 then
        assert(n.storage:append(rd.entries, sync and not rd.hardstate) == raft.OK)
    end
    if rd.hardstate then n.storage:set_hardstate(rd.hardstate, sync) end
    local bytes, tos = rd:message_bytes()
    for i = 1, #bytes do
        net[#net + 1] = tos[i]
        net[#net + 1] = bytes[i]
    end
    local data, types = rd:committed_data()
    for i = 1, #data do
        if types[i] == pb.EntryConfChange then
            local cc = pb.confchange()
            assert(cc:parser(data[i]))
            n.node:apply_confchange(cc)
        elseif #data[i] > 0 then
            if string.unpack("<i8", data[i]) ~= n.applied then
                fail(("node %d applied a wrong entry at %d"):format(n.id, n.applied))
            end
            n.applied = n.applied + 1
        end
    end
    n.node:advance(rd)
    return true
end

local function pump(nodes, net)
    while true do
        local any = false
        for _, n in ipairs(nodes) do any = handle(n, net) or any end
        local i = 1
        while i <= #net do
            any = true
            nodes[net[i]].node:step(net[i + 1])
            i = i + 2
        end
        for k = #net, 1, -1 do net[k] = nil end
        if not any then return end
    end
end

local base = os.tmpname()
os.remove(base)
local calls = { FirstIndex = 0, LastIndex = 0, Term = 0, Entries = 0 }
local nodes, net = {}, {}
for id = 1, 3 do
    local storage = ldbstorage.new(base .. "-n" .. id)
    local cfg = raft.config()
    cfg.ID = id
    cfg.ElectionTick = 10
    cfg.HeartbeatTick = 1
    cfg.Storage = counted(storage, calls)
    local node = raft.rawnode()
    node:init(cfg, { 1, 2, 3 })
    nodes[id] = { id = id, node = node, storage = storage, applied = 0 }
end
pump(nodes, net)
nodes[1].node:campaign()
pump(nodes, net)
if nodes[1].node:status().raft_state ~= raft.StateLeader then fail("node 1 did not become leader") end
for k in pairs(calls) do calls[k] = 0 end
local start = now()
local seq = 0
for _ = 1, rounds do
    for _ = 1, BATCH do
        assert(nodes[1].node:propose(payload(seq)) == raft.OK)
        seq = seq + 1
    end
    pump(nodes, net)
    -- Followers learn the commit index with the next heartbeat.
    while nodes[2].applied < seq or nodes[3].applied < seq do
        nodes[1].node:tick()
        pump(nodes, net)
    end
end
local secs = now() - start
for _, n in ipairs(nodes) do
    if n.applied ~= seq then fail(("node %d applied %d of %d"):format(n.id, n.applied, seq)) end
    n.node:close()
    n.storage:delete_db()
end
local per = 3 * seq
print(("ldbstorage.lua, 3 voters, rounds of %d: %.0f entries/s; storage calls per entry and node: FirstIndex %.2f, LastIndex %.2f, Term %.2f, Entries %.2f"):format(
    BATCH, seq / secs, calls.FirstIndex / per, calls.LastIndex / per, calls.Term / per, calls.Entries / per))
