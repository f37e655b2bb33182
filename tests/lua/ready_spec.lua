-- Ready before advance, as the original lraft binding and etcd's RawNode
-- (acceptReady) allow: a Ready may be taken again while the Readys handed
-- out await no acknowledgement; each hands out only what is new; while one
-- awaits advance, ready() raises and changes nothing.
local raft = require("lraft")
local pb = raft.pb
local nodes = require("nodes")
local storages = require("storages")

local mem = storages.list[1]
assert(mem.name == "memorystorage")

-- Records everything a node's Readys hand out.
local function recorder(nd)
    local seen = { entries = {}, committed = {}, types = {} }
    local handle = nd.handle
    nd.handle = function(self, rd)
        for _, e in rd.entries:ipairs() do seen.entries[#seen.entries + 1] = e.index end
        for _, e in rd.committed_entries:ipairs() do
            seen.committed[#seen.committed + 1] = e.index
        end
        for _, m in rd.messages:ipairs() do seen.types[#seen.types + 1] = m.type end
        return handle(self, rd)
    end
    return seen
end

local function count(list, v)
    local n = 0
    for _, x in ipairs(list) do if x == v then n = n + 1 end end
    return n
end

local function strictly_increasing(list)
    for i = 2, #list do
        if list[i] <= list[i - 1] then return false end
    end
    return true
end

describe("rawnode:ready before advance", function()
    it("an empty Ready taken to look is not advanced; the loop goes on", function()
        local c = nodes.cluster(mem, 3)
        c:settle()
        local n1 = c.nodes[1]
        local seen = recorder(n1)
        assert.is_false(n1.node:has_ready())
        local look = n1.node:ready()
        assert.are.equal(0, #look.entries)
        assert.are.equal(0, #look.messages)
        assert.is_nil(look.hardstate)
        assert.is_nil(look.softstate)

        assert.are.equal(raft.OK, n1.node:campaign())
        c:settle()
        assert.are.same({ 1 }, c:leaders())
        for i = 1, 5 do
            assert.are.equal(raft.OK, n1.node:propose("v" .. i))
        end
        c:settle()

        -- Every node applied each proposal exactly once, in order.
        for _, nd in ipairs(c.nodes) do
            assert.are.same({ "v1", "v2", "v3", "v4", "v5" }, nd.applied)
        end
        -- The leader handed out each new entry once, and each committed
        -- index once, in order; the votes went out once per peer.
        assert.is_true(strictly_increasing(seen.entries))
        assert.is_true(strictly_increasing(seen.committed))
        assert.are.equal(seen.entries[#seen.entries], seen.committed[#seen.committed])
        assert.are.equal(2, count(seen.types, pb.MsgVote))
        c:cleanup()
    end)

    it("raises while a Ready awaits advance, changing nothing", function()
        local c = nodes.cluster(mem, 3)
        c:settle()
        local n1 = c.nodes[1]
        n1.node:campaign()
        c:settle()
        assert.are.equal(raft.OK, n1.node:propose("x"))
        local rd = n1.node:ready()
        assert.are.equal(1, #rd.entries)
        local before = n1.node:has_ready()
        local ok, err = pcall(n1.node.ready, n1.node)
        assert.is_false(ok)
        assert.truthy(tostring(err):find("awaits advance", 1, true), tostring(err))
        assert.are.equal(before, n1.node:has_ready())
        -- The refused call took nothing: after advance the loop delivers
        -- the entry to everyone exactly once.
        n1:handle(rd)
        c:settle()
        for _, nd in ipairs(c.nodes) do
            assert.are.same({ "x" }, nd.applied)
        end
        c:cleanup()
    end)

    it("hands out a read state once, with a look in between", function()
        local c = nodes.cluster(mem, 3)
        c:settle()
        local n1 = c.nodes[1]
        n1.node:campaign()
        c:settle()
        assert.are.equal(raft.OK, n1.node:readindex("ctx"))
        -- The heartbeat Ready needs no acknowledgement: look again before
        -- advancing it.
        local hb = n1.node:ready()
        local beats = 0
        for _, m in hb.messages:ipairs() do
            if m.type == pb.MsgHeartbeat then
                beats = beats + 1
                n1.out[#n1.out + 1] = m
            end
        end
        assert.are.equal(2, beats)
        local again = n1.node:ready()
        assert.are.equal(0, #again.messages)
        n1.node:advance(again)
        local states = {}
        local handle = n1.handle
        n1.handle = function(self, rd)
            for _, r in rd.readstates:ipairs() do states[#states + 1] = r.request_ctx end
            return handle(self, rd)
        end
        c:settle()
        assert.are.same({ "ctx" }, states)
        c:cleanup()
    end)

    it("advance needs a Ready handed out since the last advance", function()
        local c = nodes.cluster(mem, 1)
        c:settle()
        local n = c.nodes[1].node
        local ok, err = pcall(n.advance, n, n:ready())
        assert.is_true(ok, err)
        local stale = n:ready()
        n:advance(stale)
        ok, err = pcall(n.advance, n, stale)
        assert.is_false(ok)
        assert.truthy(tostring(err):find("no pending Ready", 1, true))
        c:cleanup()
    end)
end)

describe("rawnode as a to-be-closed variable", function()
    it("is closed when its scope ends", function()
        local kept
        do
            local n <close> = raft.rawnode()
            local cfg = raft.config()
            cfg.ID = 1
            cfg.Storage = raft.memorystorage()
            n:init(cfg, { 1 })
            kept = n
            assert.matches("rawnode{id=1}", tostring(n), 1, true)
        end
        assert.matches("closed", tostring(kept))
        local ok, err = pcall(kept.tick, kept)
        assert.is_false(ok)
        assert.truthy(err:find("closed", 1, true))
    end)
end)
