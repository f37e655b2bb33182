-- The batch accessors of a Ready (rd:message_bytes(), rd:committed_data())
-- and rawnode:step with raftpb bytes: one call hands a whole list to Lua as
-- strings, and a received message is stepped without building an object.
-- They must agree exactly with the per-element views.
local raft = require("lraft")
local pb = raft.pb

-- A three-node cluster on memorystorages whose messages travel as bytes.
local function cluster()
    local c = { nodes = {}, wire = {} }
    for id = 1, 3 do
        local cfg = raft.config()
        cfg.ID = id
        cfg.ElectionTick = 10
        cfg.HeartbeatTick = 1
        cfg.Seed = id
        local storage = raft.memorystorage()
        cfg.Storage = storage
        local node = raft.rawnode()
        node:init(cfg, { 1, 2, 3 })
        c.nodes[id] = { node = node, storage = storage, data = {}, last = 0 }
    end
    return c
end

-- Handles one Ready of node `id` through the batch accessors, checking them
-- against the list views of the same Ready.
local function handle(c, id)
    local n = c.nodes[id]
    if not n.node:has_ready() then return false end
    local rd = n.node:ready()
    n.storage:append(rd.entries)
    if rd.hardstate then n.storage:set_hardstate(rd.hardstate) end
    local bytes, tos = rd:message_bytes()
    assert.are.equal(#rd.messages, #bytes)
    assert.are.equal(#rd.messages, #tos)
    for i, m in rd.messages:ipairs() do
        assert.are.equal(m:serialize(), bytes[i])
        assert.are.equal(m.to, tos[i])
        c.wire[#c.wire + 1] = { tos[i], bytes[i] }
    end
    local data, types, first = rd:committed_data()
    assert.are.equal(#rd.committed_entries, #data)
    assert.are.equal(#rd.committed_entries, #types)
    for i, e in rd.committed_entries:ipairs() do
        assert.are.equal(e.data, data[i])
        assert.are.equal(e.type, types[i])
        assert.are.equal(e.index, first + i - 1)
    end
    if #data == 0 then assert.is_nil(first) end
    for i = 1, #data do
        if types[i] == pb.EntryConfChange then
            local cc = pb.confchange()
            assert.is_true(cc:parser(data[i]))
            n.node:apply_confchange(cc)
        elseif #data[i] > 0 then
            n.data[#n.data + 1] = data[i]
        end
        n.last = first + i - 1
    end
    n.node:advance(rd)
    return true
end

local function settle(c)
    repeat
        local any = false
        for id = 1, 3 do any = handle(c, id) or any end
        local wire = c.wire
        c.wire = {}
        for _, w in ipairs(wire) do
            any = true
            assert.are.equal(raft.OK, c.nodes[w[1]].node:step(w[2]))
        end
    until not any
end

describe("batch accessors", function()
    it("replicate proposals with messages stepped as bytes", function()
        local c = cluster()
        settle(c)
        assert.are.equal(raft.OK, c.nodes[1].node:campaign())
        settle(c)
        assert.are.equal(raft.StateLeader, c.nodes[1].node:status().raft_state)
        local want = {}
        for i = 1, 20 do
            -- Binary-safe payloads, including a NUL.
            want[i] = "p\0" .. i
            assert.are.equal(raft.OK, c.nodes[1].node:propose(want[i]))
            if i % 5 == 0 then settle(c) end
        end
        settle(c)
        for id = 1, 3 do
            assert.are.same(want, c.nodes[id].data)
            assert.are.equal(c.nodes[1].last, c.nodes[id].last)
        end
    end)

    it("an empty Ready gives empty tables and no first index", function()
        local c = cluster()
        settle(c)
        local rd = c.nodes[1].node:ready()
        local bytes, tos = rd:message_bytes()
        assert.are.same({}, bytes)
        assert.are.same({}, tos)
        local data, types, first = rd:committed_data()
        assert.are.same({}, data)
        assert.are.same({}, types)
        assert.is_nil(first)
    end)

    it("step refuses malformed bytes with a string error and keeps working", function()
        local c = cluster()
        settle(c)
        local node = c.nodes[1].node
        local ok, e = pcall(node.step, node, "\255\255\255")
        assert.is_false(ok)
        assert.is_string(e)
        assert.truthy(e:find("malformed message bytes", 1, true))
        -- A message object still steps, and the node still campaigns.
        local ok2, e2 = pcall(node.step, node, 42)
        assert.is_false(ok2)
        assert.truthy(tostring(e2):find("expected a message", 1, true))
        assert.are.equal(raft.OK, node:campaign())
        settle(c)
        assert.are.equal(raft.StateLeader, node:status().raft_state)
    end)
end)
