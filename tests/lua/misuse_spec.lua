-- Misuse never crashes: wrong argument types, calls before init and after
-- close, the Ready protocol, failing Lua storage callbacks, re-entrancy.
local raft = require("lraft")
local pb = raft.pb
local ldbstorage = require("ldbstorage")
local helpers = require("helpers")

local function err_of(f, ...)
    local ok, msg = pcall(f, ...)
    assert.is_false(ok, "expected an error")
    return tostring(msg)
end

local function has(msg, text)
    assert.is_truthy(msg:find(text, 1, true), "'" .. text .. "' not in: " .. msg)
end

local function config(id, storage)
    local cfg = raft.config()
    cfg.ID = id
    cfg.Storage = storage
    return cfg
end

local function live_node()
    local s = raft.memorystorage()
    local n = raft.rawnode()
    n:init(config(1, s), { 1 })
    return n, s
end

-- Persists and advances every pending Ready of a node on a memorystorage.
local function pump(n, s)
    while n:has_ready() do
        local rd = n:ready()
        if rd.hardstate then s:set_hardstate(rd.hardstate) end
        s:append(rd.entries)
        n:advance(rd)
    end
end

-- Every method with valid arguments (for the init/close checks).
local function all_calls(n)
    local rd_ok = live_node():ready()
    return {
        ready = function() return n:ready() end,
        has_ready = function() return n:has_ready() end,
        step = function() return n:step(pb.message()) end,
        advance = function() return n:advance(rd_ok) end,
        tick = function() return n:tick() end,
        campaign = function() return n:campaign() end,
        propose = function() return n:propose("x") end,
        propose_confchange = function() return n:propose_confchange(pb.confchange()) end,
        apply_confchange = function() return n:apply_confchange(pb.confchange()) end,
        readindex = function() return n:readindex("c") end,
        transfer_leader = function() return n:transfer_leader(2) end,
        report_unreachable = function() return n:report_unreachable(2) end,
        report_snapshot = function() return n:report_snapshot(2, true) end,
        status = function() return n:status() end,
        id = function() return n.id end,
        uncommitted_size = function() return n.uncommitted_size end,
        read_states = function() return n.read_states end,
        set_read_states = function() n.read_states = {} end,
        step_func = function() n.step_func = function() end end,
    }
end

describe("rawnode misuse", function()
    it("raises for wrong argument types on every method", function()
        local n = live_node()
        local cases = {
            { "step", function() return n:step(5) end, "rawnode:step: expected a message" },
            { "step", function() return n:step({}) end, "expected a message" },
            { "propose", function() return n:propose({}) end, "rawnode:propose: data" },
            { "propose", function() return n:propose() end, "rawnode:propose: data" },
            { "propose_confchange", function() return n:propose_confchange("x") end,
                "expected a confchange" },
            { "apply_confchange", function() return n:apply_confchange(5) end, "expected a confchange" },
            { "readindex", function() return n:readindex({}) end, "rawnode:readindex: ctx" },
            { "transfer_leader", function() return n:transfer_leader("x") end,
                "rawnode:transfer_leader: id" },
            { "report_unreachable", function() return n:report_unreachable({}) end,
                "rawnode:report_unreachable: id" },
            { "report_snapshot", function() return n:report_snapshot(2, "yes") end,
                "rawnode:report_snapshot: ok" },
            { "report_snapshot", function() return n:report_snapshot(nil, true) end, "id" },
            { "advance", function() return n:advance("x") end, "expected the ready" },
            { "advance", function() return n:advance() end, "expected the ready" },
            { "step_func", function() n.step_func = 5 end, "expected a function or nil" },
            { "read_states", function() n.read_states = 5 end, "rawnode.read_states" },
            { "read_states", function() n.read_states = { 5 } end, "expected a readstate" },
            { "id", function() n.id = 3 end, "rawnode.id is read-only" },
            { "uncommitted_size", function() n.uncommitted_size = 3 end, "read-only" },
            { "bogus", function() return n.bogus end, "rawnode has no member 'bogus'" },
            { "bogus", function() n.bogus = 1 end, "rawnode has no member 'bogus'" },
            { "dot call", function() return n.tick() end, "" },
            { "init", function() return n:init(config(1, raft.memorystorage())) end, "already initialised" },
        }
        for _, c in ipairs(cases) do
            has(err_of(c[2]), c[3])
        end
        -- The node still works.
        assert.is_true(n:has_ready())
        n:advance(n:ready())
    end)

    it("init checks its arguments and the config", function()
        has(err_of(function() raft.rawnode():init("cfg") end), "expected a config")
        has(err_of(function() raft.rawnode():init(config(1, raft.memorystorage()), "x") end),
            "rawnode:init: peers")
        has(err_of(function() raft.rawnode():init(config(1, raft.memorystorage()), { "a" }) end),
            "peers[1]")
        has(err_of(function() raft.rawnode():init(config(1, nil)) end), "config.Storage is not set")
        has(err_of(function() raft.rawnode():init(config(0, raft.memorystorage())) end), "invalid config")
        local bad = config(1, raft.memorystorage())
        bad.ElectionTick = 1
        bad.HeartbeatTick = 1
        has(err_of(function() raft.rawnode():init(bad) end), "invalid config")
        has(err_of(function() raft.rawnode():init(config(1, raft.memorystorage()), { 0 }) end),
            "rawnode:init")
        -- A failed init leaves the node uninitialised; it can be retried.
        local n = raft.rawnode()
        has(err_of(function() n:init(config(0, raft.memorystorage())) end), "invalid config")
        n:init(config(1, raft.memorystorage()), { 1 })
        assert.are.equal(1, n.id)
    end)

    it("every method raises before init and after close", function()
        local n = raft.rawnode()
        for name, f in pairs(all_calls(n)) do
            has(err_of(f), "not initialised")
            assert.is_string(name)
        end
        n:init(config(1, raft.memorystorage()), { 1 })
        n:close()
        for _, f in pairs(all_calls(n)) do
            has(err_of(f), "closed")
        end
        has(err_of(function() n:init(config(1, raft.memorystorage())) end), "closed")
        n:close()
        assert.matches("closed", tostring(n))
    end)

    it("enforces the Ready protocol", function()
        local n = live_node()
        has(err_of(function() n:advance(nil) end), "expected the ready")
        local rd = n:ready()
        has(err_of(function() n:ready() end), "awaits advance")
        local other = live_node()
        local ord = other:ready()
        has(err_of(function() n:advance(ord) end), "not a pending Ready")
        n:advance(rd)
        has(err_of(function() n:advance(rd) end), "no pending Ready")
        assert.is_false(n:has_ready())
        -- An empty Ready can still be fetched and advanced.
        local empty = n:ready()
        assert.are.equal(0, #empty.entries)
        n:advance(empty)
        has(err_of(function() n:advance(empty) end), "no pending Ready")
        other:advance(ord)
        has(err_of(function() rd.entries = {} end), "read-only")
        has(err_of(function() return rd.bogus end), "ready has no member 'bogus'")
    end)
end)

-- A Lua storage over an ldbstorage whose callback `name` misbehaves once
-- armed: "raise", "garbage" (wrong result types) or "missing".
local function faulty(inner, name, mode)
    local armed = false
    local w = {}
    setmetatable(w, {
        __index = function(_, k)
            if armed and k == name then
                if mode == "missing" then return nil end
                if mode == "raise" then
                    return function() error("disk on fire") end
                end
                return function() return "garbage", { 5 } end
            end
            local v = inner[k]
            if type(v) == "function" then
                return function(_, ...) return v(inner, ...) end
            end
            return v
        end,
    })
    return w, raft.ldbstorage(w), function() armed = true end
end

-- A storage with a committed log 1..6 at term 2 for voters {1, 2}, a
-- snapshot at 4 and compaction at 4; hard state commit 6.
local function prepared(path)
    local s = ldbstorage.new(path)
    local ents = {}
    for i = 1, 6 do ents[i] = pb.entry(i, i <= 2 and 1 or 2, "d" .. i) end
    assert(s:append(ents, true) == raft.OK)
    s:set_hardstate(pb.hardstate(2, 6, 1))
    assert(s:create_snapshot(4, { 1, 2 }, "snap") == raft.OK)
    assert(s:compact(4) == raft.OK)
    return s
end

-- Drives a node through calls that use every storage callback; returns the
-- first error (nil when everything succeeded) and the node.
local function workload(base, arm)
    local n = raft.rawnode()
    local cfg = config(1, base)
    cfg.Seed = 3
    arm()
    local steps = {
        function() n:init(cfg) end,
        function() n:advance(n:ready()) end,
        function() n:campaign() end,
        function()
            local m = pb.message()
            m.type, m.from, m.to, m.term, m.reject = pb.MsgVoteResp, 2, 1, n:status().term, false
            n:step(m)
        end,
        function() n:advance(n:ready()) end,
        function()
            local m = pb.message()
            m.type, m.from, m.to, m.term = pb.MsgAppResp, 2, 1, n:status().term
            m.index, m.reject, m.rejecthint = n:status().progress[2].next - 1, true, 0
            n:step(m)
        end,
        function()
            local rd = n:ready()
            local snap = false
            for _, m in rd.messages:ipairs() do
                if m.type == pb.MsgSnap then snap = true end
            end
            assert(snap, "no snapshot sent")
            n:advance(rd)
        end,
    }
    for _, f in ipairs(steps) do
        local ok, e = pcall(f)
        if not ok then return tostring(e), n end
    end
    return nil, n
end

describe("Lua storage callbacks that fail", function()
    local path, s
    before_each(function()
        path = helpers.tmpdir("faulty")
        s = prepared(path)
    end)
    after_each(function()
        s:close()
        ldbstorage.delete_db(path)
    end)

    it("the workload uses every callback and succeeds on a sound storage", function()
        local used = {}
        local w = setmetatable({}, {
            __index = function(_, k)
                local v = s[k]
                if type(v) == "function" then
                    return function(_, ...)
                        used[k] = true
                        return v(s, ...)
                    end
                end
                return v
            end,
        })
        local e, n = workload(raft.ldbstorage(w), function() end)
        assert.is_nil(e)
        assert.are.equal(raft.StateLeader, n:status().raft_state)
        for _, name in ipairs({ "InitialState", "Entries", "Term", "LastIndex", "FirstIndex", "Snapshot" }) do
            assert.is_true(used[name], name .. " was not used")
        end
    end)

    for _, name in ipairs({ "InitialState", "Entries", "Term", "LastIndex", "FirstIndex", "Snapshot" }) do
        it(name .. " raising, returning garbage or missing is a Lua error naming it", function()
            for _, mode in ipairs({ "raise", "garbage", "missing" }) do
                local _, base, arm = faulty(s, name, mode)
                local e, n = workload(base, arm)
                assert.is_string(e, name .. " " .. mode .. " did not surface")
                has(e, "storage callback " .. name)
                if mode == "raise" then has(e, "disk on fire") end
                if mode == "missing" then has(e, "is missing") end
                -- The node refuses further work (or was never created) and
                -- never crashes.
                local e2 = err_of(function() return n:has_ready() end)
                assert.is_truthy(e2:find("failed", 1, true) or e2:find("not initialised", 1, true), e2)
                err_of(function() return n:propose("x") end)
                n:close()
            end
        end)
    end

    it("a closed ldbstorage surfaces as an error naming the callback", function()
        local n = raft.rawnode()
        n:init(config(1, s.base))
        n:advance(n:ready())
        s:close()
        local e = err_of(function() for _ = 1, 50 do n:tick() end end)
        has(e, "storage callback")
        has(e, "the storage is closed")
        s = ldbstorage.new(path)
    end)
end)

describe("re-entrancy", function()
    it("a storage callback calling back into its node gets a busy error", function()
        local path = helpers.tmpdir("reent")
        local inner = ldbstorage.new(path)
        local n = raft.rawnode()
        local other = live_node()
        local armed = false
        local w = setmetatable({}, {
            __index = function(_, k)
                local v = inner[k]
                -- Whichever query the core makes first (it reads the
                -- bounds and terms only when it needs them).
                if k == "LastIndex" or k == "FirstIndex" or k == "Term" or k == "Entries" then
                    return function(_, ...)
                        -- Another node is fine.
                        assert(other:status().id == 1)
                        if armed then n:has_ready() end
                        return v(inner, ...)
                    end
                end
                if type(v) == "function" then return function(_, ...) return v(inner, ...) end end
                return v
            end,
        })
        -- Two voters: campaigning reads the last term for the vote request.
        n:init(config(1, raft.ldbstorage(w)), { 1, 2 })
        armed = true
        local e
        for _ = 1, 10 do
            local ok, msg = pcall(function()
                local rd = n:ready()
                inner:append(rd.entries)
                n:advance(rd)
                n:campaign()
            end)
            if not ok then e = tostring(msg); break end
        end
        assert.is_string(e)
        has(e, "storage callback ")
        has(e, "busy")
        n:close()
        inner:close()
        ldbstorage.delete_db(path)
    end)

    it("step_func runs inside step: re-entering raises busy, the node stays usable", function()
        local n, s = live_node()
        pump(n, s)
        n:campaign()
        pump(n, s)
        local other = live_node()
        n.step_func = function(m)
            -- Another node may be driven from inside.
            assert(other:has_ready())
            return n.id
        end
        local e = err_of(function() return n:readindex("x") end)
        has(e, "step_func raised")
        has(e, "busy")
        n.step_func = function() n.step_func = nil end
        has(err_of(function() return n:readindex("x") end), "busy")
        n.step_func = function() error("hook failed") end
        has(err_of(function() return n:propose("p") end), "hook failed")
        n.step_func = function() return "nope" end
        has(err_of(function() return n:propose("p") end), "expected an error code")
        n.step_func = function() n:close() end
        has(err_of(function() return n:propose("p") end), "busy")
        n.step_func = nil
        assert.are.equal(raft.OK, n:propose("p"))
        local rd = n:ready()
        assert.are.equal("p", rd.committed_entries[1].data)
        n:advance(rd)
    end)
end)

describe("memorystorage misuse", function()
    it("raises for wrong argument types and reports expected outcomes as codes", function()
        local s = raft.memorystorage()
        has(err_of(function() s:append(5) end), "memorystorage:append")
        has(err_of(function() s:append({ 5 }) end), "expected an entry")
        has(err_of(function() s:append({ pb.entry(1, 1), pb.entry(3, 1) }) end), "not contiguous")
        assert.are.equal(raft.ErrAppendOutOfData, s:append({ pb.entry(5, 1) }))
        has(err_of(function() s:Term("x") end), "memorystorage:Term")
        has(err_of(function() s:Entries(1) end), "hi")
        has(err_of(function() s:apply_snapshot({}) end), "expected a snapshot")
        has(err_of(function() s:set_hardstate(1) end), "expected a hardstate")
        has(err_of(function() s.hardstate = 1 end), "expected a hardstate")
        has(err_of(function() s:create_snapshot(1, 5) end), "conf state")
        has(err_of(function() s:create_snapshot(9) end), "out of bound")
        has(err_of(function() return s.bogus end), "memorystorage has no member 'bogus'")
        has(err_of(function() s.FirstIndex() end), "")
        assert.are.same({ raft.OK, 1 }, { s:FirstIndex() })
    end)

    it("hardstate reads and writes; InitialState and Snapshot", function()
        local s = raft.memorystorage()
        s.hardstate = pb.hardstate(3, 2, 1)
        assert.are.same({ 3, 1, 2 }, { s.hardstate.term, s.hardstate.vote, s.hardstate.commit })
        s:append({ pb.entry(1, 1), pb.entry(2, 3, "x") })
        local err, snap = s:create_snapshot(2, { voters = { 1, 2 } }, "app")
        assert.are.equal(raft.OK, err)
        local hs, snap2 = s:InitialState()
        assert.are.equal(3, hs.term)
        assert.are.same({ 1, 2 }, snap2.metadata.conf_state.voters)
        local cur = s:Snapshot()
        assert.are.same({ 2, 3, "app" }, { cur.metadata.index, cur.metadata.term, cur.data })
        assert.are.same({ 2, 3 }, { snap.metadata.index, snap.metadata.term })
        assert.are.equal(raft.OK, s:compact(2))
        assert.are.equal(raft.ErrCompacted, s:compact(2))
        assert.are.same({ raft.ErrCompacted, 0 }, { s:Term(1) })
        local cfg = raft.config()
        cfg.Storage = s
        assert.matches("memorystorage", tostring(cfg.Storage))
    end)
end)

describe("loud misuse", function()
    local function heartbeat(to)
        local m = pb.message()
        m.type = pb.MsgHeartbeat
        m.from = 3
        m.to = to
        m.term = 9
        return m
    end

    it("step raises for a message addressed to another node and accepts it for this one", function()
        local n, s = live_node()
        pump(n, s)
        local term = n:status().term
        has(err_of(function() n:step(heartbeat(2)) end), "addressed to node 2")
        assert.are.equal(term, n:status().term)
        assert.are.equal(raft.OK, n:step(heartbeat(1)))
        assert.are.equal(9, n:status().term)
        assert.are.equal(raft.OK, n:step(heartbeat(0)))
    end)

    it("tick warns on stderr when a Ready waits for advance for two election timeouts", function()
        -- The process logger writes to stderr: run the node in a child.
        local child = [[
            local raft = require("lraft")
            local cfg = raft.config()
            cfg.ID = 1
            cfg.ElectionTick = 10
            cfg.HeartbeatTick = 1
            cfg.Storage = raft.memorystorage()
            local n = raft.rawnode()
            n:init(cfg, { 1, 2, 3 })
            local rd = n:ready()
            for _ = 1, tonumber(arg[1]) do n:tick() end
            if arg[2] == "advance" then n:advance(rd) end
            io.stderr:write("ticked\n")
        ]]
        local script = os.tmpname()
        local f = assert(io.open(script, "w"))
        f:write(child)
        f:close()
        local function stderr_of(ticks)
            local p = assert(io.popen(string.format("lua5.4 %s %d 2>&1", script, ticks)))
            local out = p:read("a")
            p:close()
            has(out, "ticked")
            return out
        end
        assert.is_falsy(stderr_of(19):find("advance has not been called", 1, true))
        has(stderr_of(20), "advance has not been called")
        os.remove(script)
    end)
end)
