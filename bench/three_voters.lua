-- The side-by-side benchmark's 3-voter workload (64 proposals of 128 bytes
-- per round; BENCH_BATCH=1 for one per round) driven from Lua through
-- lraft, with messages as raftpb bytes as a real program sends them.
-- BENCH_API=views (default) proposes one entry per call, reads the Ready
-- through its list views and steps parsed message objects; BENCH_API=batch
-- uses rawnode:propose_many(list), memorystorage:persist(rd),
-- rd:message_bytes(), rd:committed_data() and rawnode:step(bytes). Every
-- node persists to its memorystorage, sends, applies and advances each
-- Ready; the clock runs from after the election until every node applied
-- every entry, and every node must have applied exactly the proposed
-- payloads in order (else it exits 1 without a number). Prints the median
-- entries/s of the runs.
--
-- BENCH_STORAGE=ldbstorage (the storage benchmark of issue 10) persists
-- through `ldbstorage.lua` instead (LevelDB under a temporary directory;
-- a Ready that must sync is one synced write of its entries and hard
-- state) and also prints how many storage callbacks the core made per
-- entry and node (FirstIndex, LastIndex, Term, Entries).
--
-- Usage: lua5.4 three_voters.lua [runs] [rounds] [warm-ups, default 1]
-- (scripts/bench-langs.sh sets LUA_CPATH and runs it; BENCH_STORAGE=
-- ldbstorage also needs LUA_PATH to find lua/ldbstorage.lua)
local raft = require("lraft")
local pb = raft.pb
local ok, socket = pcall(require, "socket")
local now = ok and socket.gettime or os.clock

local SIZE, BATCH = 128, tonumber(os.getenv("BENCH_BATCH") or "64")
local API = os.getenv("BENCH_API") or "views"
assert(API == "views" or API == "batch", "BENCH_API must be views or batch")
local STORAGE = os.getenv("BENCH_STORAGE") or "memorystorage"
assert(STORAGE == "memorystorage" or STORAGE == "ldbstorage",
    "BENCH_STORAGE must be memorystorage or ldbstorage")
local ldbstorage = STORAGE == "ldbstorage" and require("ldbstorage")
local runs = tonumber(arg[1] or "5")
local rounds = tonumber(arg[2] or "500")
-- Untimed runs first (as the C++ driver does): the Rust driver's runs find
-- a heap its earlier runs grew, a fresh process does not.
local warmups = tonumber(arg[3] or "1")

local filler = {}
for i = 8, SIZE - 1 do filler[#filler + 1] = string.char((i * 31 + 7) % 256) end
filler = table.concat(filler)

-- Proposal `seq`: its number (8 bytes, little endian) then a fixed filler,
-- made by one string.pack.
local PAYLOAD = "<i8c" .. (SIZE - 8)
local pack = string.pack
local function payload(seq) return pack(PAYLOAD, seq, filler) end

-- The payloads proposed so far, by sequence number (from 0): a node must
-- apply exactly these, in order. Comparing with the proposed string is a
-- length check and one memcmp, as the Rust driver's check is.
local proposed = {}

local function apply(n, data)
    if data ~= proposed[n.applied] then
        fail(("node %d applied a wrong entry at proposal %d"):format(n.id, n.applied))
    end
    n.applied = n.applied + 1
end

-- The storage callbacks the core makes, counted for ldbstorage.
local QUERIES = { FirstIndex = true, LastIndex = true, Term = true, Entries = true }
local calls = { FirstIndex = 0, LastIndex = 0, Term = 0, Entries = 0 }

-- `inner`'s storage base, counting the core's queries.
local function counted_base(inner)
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

-- Persists a Ready's entries and hard state (for ldbstorage, one synced
-- write when the Ready must sync: the hard state's synced write covers
-- the entries written just before it to the same log).
local function persist(n, rd)
    if STORAGE == "memorystorage" then
        n.storage:append(rd.entries)
        if rd.hardstate then n.storage:set_hardstate(rd.hardstate) end
        return
    end
    local sync = rd.mustsync
    if #rd.entries > 0 then
        assert(n.storage:append(rd.entries, sync and not rd.hardstate) == raft.OK)
    end
    if rd.hardstate then n.storage:set_hardstate(rd.hardstate, sync) end
end

local ENTRY_CONF_CHANGE = pb.EntryConfChange

local function handle_batch(n, net)
    if not n.node:has_ready() then return false end
    local rd = n.node:ready()
    if STORAGE == "memorystorage" then
        assert(n.storage:persist(rd) == raft.OK)
    else
        persist(n, rd)
    end
    local bytes, tos = rd:message_bytes()
    for i = 1, #bytes do
        net[#net + 1] = tos[i]
        net[#net + 1] = bytes[i]
    end
    -- The apply loop of `apply`, inlined: a Lua call per entry would cost
    -- more than the check itself.
    local data, types = rd:committed_data()
    local applied = n.applied
    for i = 1, #data do
        local d = data[i]
        if types[i] == ENTRY_CONF_CHANGE then
            local cc = pb.confchange()
            assert(cc:parser(d))
            n.node:apply_confchange(cc)
        elseif #d > 0 then
            if d ~= proposed[applied] then
                fail(("node %d applied a wrong entry at proposal %d"):format(n.id, applied))
            end
            applied = applied + 1
        end
    end
    n.applied = applied
    n.node:advance(rd)
    return true
end

local function handle(n, net)
    if API == "batch" then return handle_batch(n, net) end
    if not n.node:has_ready() then return false end
    local rd = n.node:ready()
    persist(n, rd)
    for _, m in rd.messages:ipairs() do net[#net + 1] = m:serialize() end
    for _, e in rd.committed_entries:ipairs() do
        if e.type == pb.EntryConfChange then
            local cc = pb.confchange()
            assert(cc:parser(e.data))
            n.node:apply_confchange(cc)
        else
            local data = e.data
            if #data > 0 then apply(n, data) end
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
            if API == "batch" then
                nodes[net[i]].node:step(net[i + 1])
                i = i + 2
            else
                local m = pb.message()
                assert(m:parser(net[i]))
                nodes[m.to].node:step(m)
                i = i + 1
            end
        end
        for k = #net, 1, -1 do net[k] = nil end
        if not any then return end
    end
end

local function run()
    local nodes, net = {}, {}
    local dir = os.tmpname()
    os.remove(dir)
    for id = 1, 3 do
        local storage, base
        if STORAGE == "memorystorage" then
            storage = raft.memorystorage()
            base = storage
        else
            storage = ldbstorage.new(dir .. "-n" .. id)
            base = counted_base(storage)
        end
        local cfg = raft.config()
        cfg.ID = id
        cfg.ElectionTick = 10
        cfg.HeartbeatTick = 1
        cfg.Seed = id
        cfg.Storage = base
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
        if API == "batch" then
            local batch = {}
            for i = 1, BATCH do
                local p = payload(seq + i - 1)
                proposed[seq + i - 1] = p
                batch[i] = p
            end
            assert(nodes[1].node:propose_many(batch) == raft.OK)
            seq = seq + BATCH
        else
            for _ = 1, BATCH do
                local p = payload(seq)
                proposed[seq] = p
                assert(nodes[1].node:propose(p) == raft.OK)
                seq = seq + 1
            end
        end
        pump(nodes, net)
    end
    local secs = now() - start
    proposed = {}
    for _, n in ipairs(nodes) do
        if n.applied ~= seq then fail(("node %d applied %d of %d"):format(n.id, n.applied, seq)) end
        n.node:close()
        if STORAGE == "ldbstorage" then n.storage:delete_db() end
    end
    return seq / secs, seq
end

local rates, entries = {}, 0
for _ = 1, warmups do run() end
for i = 1, runs do rates[i], entries = run() end
table.sort(rates)
print(("lua 3v api=%s batch=%d storage=%s entries=%d runs=%d median_entries_per_s=%.0f"):format(
    API, BATCH, STORAGE, entries, runs, rates[(runs + 1) // 2]))
if STORAGE == "ldbstorage" then
    -- Of the last run.
    local per = 3 * entries
    print(("storage callbacks per entry and node: FirstIndex %.2f, LastIndex %.2f, Term %.2f, Entries %.2f"):format(
        calls.FirstIndex / per, calls.LastIndex / per, calls.Term / per, calls.Entries / per))
end
