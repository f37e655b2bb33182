-- Errors are Lua strings (as the original binding's luaL_error gave): short,
-- without "runtime error:" or a traceback, usable with :match, .. and
-- string.find; numbers for ids, terms, indexes, ticks and sizes must be
-- exact integers in range.
local raft = require("lraft")
local pb = raft.pb
local leveldb = require("lraft.leveldb")
local helpers = require("helpers")

local function raised(f, ...)
    local ok, e = pcall(f, ...)
    assert.is_false(ok, "expected an error")
    return e
end

-- Checks the contract's form of a raised error and returns it.
local function string_error(f, ...)
    local e = raised(f, ...)
    assert.are.equal("string", type(e), "error is a " .. type(e))
    assert.is_nil(e:find("runtime error", 1, true), e)
    assert.is_nil(e:find("stack traceback", 1, true), e)
    assert.is_truthy(#e > 0 and #e < 400, e)
    -- What old scripts do with it.
    assert.are.equal("string", type("x" .. e))
    assert.is_truthy(string.find(e, e:sub(1, 3), 1, true))
    return e
end

local function live_node()
    local s = raft.memorystorage()
    local cfg = raft.config()
    cfg.ID = 1
    cfg.Storage = s
    local n = raft.rawnode()
    n:init(cfg, { 1 })
    return n, s
end

describe("errors are strings", function()
    it("from every rawnode method", function()
        local n = live_node()
        local calls = {
            function() n:init(5) end,
            function() n:step("x") end,
            function() n:propose(5) end,
            function() n:propose_confchange(5) end,
            function() n:apply_confchange("x") end,
            function() n:readindex({}) end,
            function() n:transfer_leader("x") end,
            function() n:report_unreachable({}) end,
            function() n:report_snapshot(2, 1) end,
            function() n:advance(5) end,
            function() n.step_func = 5 end,
            function() n.id = 2 end,
            function() return n.nope end,
            function() n.nope = 1 end,
            function() n.read_states = 5 end,
            function() return raft.rawnode():ready() end,
        }
        for i, f in ipairs(calls) do
            local ok, e = pcall(string_error, f)
            assert.is_true(ok, "call " .. i .. ": " .. tostring(e))
        end
        n:close()
        string_error(function() n:tick() end)
        string_error(function() n:has_ready() end)
        string_error(function() n:status() end)
    end)

    it("from the module functions, config, storage and pb objects", function()
        local cfg = raft.config()
        local s = raft.memorystorage()
        local calls = {
            function() raft.ldbstorage(5) end,
            function() raft.readstate("x") end,
            function() raft.IsLocalMsg("x") end,
            function() raft.IsEmptyHardState(5) end,
            function() cfg.ElectionTick = "x" end,
            function() cfg.Storage = 5 end,
            function() cfg.bogus = 1 end,
            function() return cfg.bogus end,
            function() s:append(5) end,
            function() s:Term("x") end,
            function() s:Entries("a", 2) end,
            function() s:compact(100) end,
            function() s.hardstate = 5 end,
            function() raft.default_logger().level = 99 end,
            function() pb.entry("x") end,
            function() pb.message(5) end,
            function() pb.hardstate("x") end,
            function() pb.entry().index = "x" end,
            function() pb.message().reject = 1 end,
            function() pb.message().entries = { 1 } end,
            function() pb.confchange().nodeid = {} end,
            function() pb.confchangev2().changes = 5 end,
            function() pb.snapshot().metadata.conf_state = "x" end,
            function() return pb.snapshot().metadata.bogus end,
            function() pb.snapshot().data = 5 end,
            function() pb.entry():parser({}) end,
            function() return pb.message().entries[1].index end,
            function() raft.readstate().index = "x" end,
            function() pb.conf_state("x") end,
        }
        for i, f in ipairs(calls) do
            local ok, e = pcall(string_error, f)
            assert.is_true(ok, "call " .. i .. ": " .. tostring(e))
        end
    end)

    it("from lists, Readys and the LevelDB binding", function()
        local n = live_node()
        local rd = n:ready()
        local calls = {
            function() return rd.entries.nope end,
            function() return rd.entries["x"] end,
            function() rd.entries[1] = 5 end,
            function() rd.mustsync = true end,
            function() return rd.nope end,
            function() leveldb.open(5) end,
            function() leveldb.batch():put(5) end,
            function() leveldb.destroy(5) end,
        }
        for i, f in ipairs(calls) do
            local ok, e = pcall(string_error, f)
            assert.is_true(ok, "call " .. i .. ": " .. tostring(e))
        end
        local dir = helpers.tmpdir()
        local db = assert(leveldb.open(dir, { create_if_missing = true }))
        db:close()
        string_error(function() db:get("k") end)
        leveldb.destroy(dir)
    end)

    it("from the native store and its groups", function()
        local dir = helpers.tmpdir("store")
        local st = assert(raft.store.open(dir))
        local g = st:group(1)
        local calls = {
            function() st:group("x") end,
            function() st:drop_group({}) end,
            function() g:append(5) end,
            function() g:Term("x") end,
            function() g:Entries("a", 1) end,
            function() return g.nope end,
            function() raft.store.open(5) end,
        }
        for i, f in ipairs(calls) do
            local ok, e = pcall(string_error, f)
            assert.is_true(ok, "call " .. i .. ": " .. tostring(e))
        end
        st:close()
        leveldb.destroy(dir)
    end)

    it("keeps a storage callback's own text, without a traceback", function()
        local tbl = {
            FirstIndex = function() return raft.OK, 1 end,
            LastIndex = function() return raft.OK, 0 end,
            InitialState = function() error("disk on fire") end,
        }
        local cfg = raft.config()
        cfg.ID = 1
        cfg.Storage = raft.ldbstorage(tbl)
        local e = string_error(function() raft.rawnode():init(cfg, {}) end)
        assert.is_truthy(e:find("InitialState", 1, true), e)
        assert.is_truthy(e:find("disk on fire", 1, true), e)
    end)

    it("leaves the caller free to add a traceback with xpcall", function()
        local ok, tb = xpcall(function() pb.entry().index = "x" end, debug.traceback)
        assert.is_false(ok)
        assert.are.equal("string", type(tb))
        assert.is_truthy(tb:find("entry.index: expected an integer", 1, true))
        assert.is_truthy(tb:find("stack traceback", 1, true))
    end)
end)

describe("numbers must be exact integers in range", function()
    local bad = { 1.5, 2 ^ 63, 2 ^ 64, -2 ^ 64, 0 / 0, math.huge, -math.huge }
    it("for ids, terms and indexes", function()
        for _, v in ipairs(bad) do
            local e = string_error(function() pb.entry().index = v end)
            assert.is_truthy(e:find("expected an integer", 1, true), e)
            string_error(function() pb.message().term = v end)
            string_error(function() pb.hardstate().commit = v end)
            string_error(function() raft.config().ID = v end)
            string_error(function() raft.config().Applied = v end)
            string_error(function() pb.confchange().nodeid = v end)
            string_error(function() live_node():transfer_leader(v) end)
        end
        -- Exact floats are integers.
        local e = pb.entry()
        e.index = 2.0 ^ 52
        assert.are.equal(math.tointeger(2.0 ^ 52), e.index)
        assert.are.equal("integer", math.type(e.index))
        -- Integers keep their 64 bits (ids above math.maxinteger read
        -- back as negative integers and round-trip).
        e.term = math.mininteger
        assert.are.equal(math.mininteger, e.term)
    end)
    it("for ticks and sizes, which are also not negative", function()
        for _, v in ipairs(bad) do
            string_error(function() raft.config().ElectionTick = v end)
            string_error(function() raft.config().MaxSizePerMsg = v end)
            string_error(function() raft.config().MaxInflightMsgs = v end)
        end
        for _, v in ipairs({ -1, -1.0, math.mininteger }) do
            local e = string_error(function() raft.config().ElectionTick = v end)
            assert.is_truthy(e:find("negative", 1, true), e)
            string_error(function() raft.config().MaxUncommittedEntriesSize = v end)
        end
        local cfg = raft.config()
        cfg.MaxSizePerMsg = raft.noLimit
        assert.are.equal(raft.noLimit, cfg.MaxSizePerMsg)
        cfg.ElectionTick = 20.0
        assert.are.equal(20, cfg.ElectionTick)
    end)
end)
