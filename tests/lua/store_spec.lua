-- lraft.store: the native durable store. Storage semantics, clusters and
-- rawnode behaviours run on it through storages.lua; this spec covers what
-- is its own: persisting whole Readys, restarting a node from disk, the
-- directory lock, damaged files, and bad arguments.
local raft = require("lraft")
local pb = raft.pb
local helpers = require("helpers")

local function one_node(g, peers)
    local cfg = raft.config()
    cfg.ID = 1
    cfg.ElectionTick = 10
    cfg.HeartbeatTick = 1
    cfg.Storage = g
    local n = raft.rawnode()
    n:init(cfg, peers)
    return n
end

-- Runs the Ready loop, persisting each Ready with g:persist.
local function drain(n, g, applied)
    while n:has_ready() do
        local rd = n:ready()
        g:persist(rd)
        for _, e in rd.committed_entries:ipairs() do
            if e.type == pb.EntryConfChange then
                local cc = pb.confchange()
                assert(cc:parser(e.data))
                n:apply_confchange(cc)
            elseif #e.data > 0 then
                applied[#applied + 1] = e.data
            end
        end
        n:advance(rd)
    end
end

describe("lraft.store", function()
    local path
    before_each(function() path = helpers.tmpdir("native") end)
    after_each(function() raft.leveldb.destroy(path) end)

    it("persists whole Readys and restarts a node from disk", function()
        local st = assert(raft.store.open(path))
        local g = st:group(7)
        local n = one_node(g, { 1 })
        local applied = {}
        drain(n, g, applied)
        n:campaign()
        drain(n, g, applied)
        for i = 1, 20 do
            assert.are.equal(raft.OK, n:propose("v" .. i))
            drain(n, g, applied)
        end
        assert.are.equal(20, #applied)
        local _, last = g:LastIndex()
        local hs = g.hardstate
        n:close()
        st:close()
        -- Another process would now open it; here: a fresh store object.
        local st2 = assert(raft.store.open(path))
        local g2 = st2:group(7)
        assert.are.same({ raft.OK, last }, { g2:LastIndex() })
        assert.are.equal(hs.term, g2.hardstate.term)
        assert.are.equal(hs.commit, g2.hardstate.commit)
        local n2 = one_node(g2)
        local replayed = {}
        drain(n2, g2, replayed)
        assert.are.same(applied, replayed)
        n2:campaign()
        drain(n2, g2, replayed)
        assert.are.equal(raft.OK, n2:propose("after restart"))
        drain(n2, g2, replayed)
        assert.are.equal("after restart", replayed[#replayed])
        -- Another group of the same store is empty and separate.
        assert.are.same({ raft.OK, 0 }, { st2:group(8):LastIndex() })
        st2:drop_group(7)
        n2:close()
        st2:close()
    end)

    it("refuses a second open of a directory in use, naming it", function()
        local st = assert(raft.store.open(path))
        local again, msg = raft.store.open(path)
        assert.is_nil(again)
        assert.is_truthy(msg:find("locked", 1, true), msg)
        assert.is_truthy(msg:find(path, 1, true), msg)
        st:close()
        local st3 = assert(raft.store.open(path))
        st3:close()
    end)

    it("refuses a damaged snapshot file with a message naming it", function()
        local st = assert(raft.store.open(path))
        local g = st:group(1)
        assert.are.equal(raft.OK, g:append(helpers.ents({ { 1, 1 }, { 2, 1 }, { 3, 1 } })))
        local code = g:create_snapshot(2, nil, "application state")
        assert.are.equal(raft.OK, code)
        st:close()
        local p = io.popen("ls " .. path .. "/snapshots/*.snap")
        local file = p:read("l")
        p:close()
        local f = assert(io.open(file, "r+b"))
        f:seek("set", 3)
        f:write("X")
        f:close()
        local st2 = assert(raft.store.open(path))
        local ok, e = pcall(st2.group, st2, 1)
        assert.is_false(ok)
        assert.is_truthy(tostring(e):find(file, 1, true), tostring(e))
        st2:close()
    end)

    it("raises clear errors on bad arguments and after close", function()
        local bad = {
            function() raft.store.open(42) end,
            function() raft.store.open("") end,
            function() raft.store.open(path, "sync") end,
            function() raft.store.open(path, { sync = "yes" }) end,
            function() raft.store.open(path, { colour = 1 }) end,
            function() raft.store.open(path, { cache_bytes = -1 }) end,
        }
        for i, f in ipairs(bad) do
            local ok, e = pcall(f)
            assert.is_false(ok, "case " .. i)
            assert.is_truthy(tostring(e):find("store.open", 1, true), tostring(e))
        end
        local st = assert(raft.store.open(path, { sync = false, cache_bytes = 0 }))
        local g = st:group(1)
        for _, f in ipairs({
            function() st:group("x") end,
            function() st:group(1.5) end,
            function() g:persist(42) end,
            function() g:persist(g) end,
            function() g:append(42) end,
            function() g:Term("x") end,
            function() g:compact({}) end,
            function() return g.nosuchfield end,
        }) do
            assert.is_false(pcall(f))
        end
        -- Ids are unsigned 64-bit: -1 is 2^64-1, a valid group.
        assert.are.same({ raft.OK, 0 }, { st:group(-1):LastIndex() })
        assert.are.equal(raft.ErrCompacted, g:compact(0))
        assert.are.equal(raft.ErrUnavailable, (g:Term(5)))
        st:close()
        local ok, e = pcall(g.LastIndex, g)
        assert.is_false(ok)
        assert.is_truthy(tostring(e):find("closed", 1, true), tostring(e))
        ok = pcall(st.group, st, 1)
        assert.is_false(ok)
    end)
end)
