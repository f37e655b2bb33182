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
    if c.persist then
        assert.are.equal(raft.OK, n.storage:persist(rd))
    else
        n.storage:append(rd.entries)
        if rd.hardstate then n.storage:set_hardstate(rd.hardstate) end
    end
    if not rd.snapshot:empty() then n.snapshots = (n.snapshots or 0) + 1 end
    local bytes, tos = rd:message_bytes()
    assert.are.equal(#rd.messages, #bytes)
    assert.are.equal(#rd.messages, #tos)
    for i, m in rd.messages:ipairs() do
        assert.are.equal(m:serialize(), bytes[i])
        assert.are.equal(m.to, tos[i])
        c.wire[#c.wire + 1] = { tos[i], bytes[i], id }
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
    local rounds = 0
    repeat
        rounds = rounds + 1
        assert(rounds < 1000, "the cluster did not settle")
        local any = false
        for id = 1, 3 do any = handle(c, id) or any end
        local wire = c.wire
        c.wire = {}
        for _, w in ipairs(wire) do
            any = true
            -- A node in c.down neither receives nor sends.
            if not (c.down and (c.down[w[1]] or c.down[w[3]])) then
                assert.are.equal(raft.OK, c.nodes[w[1]].node:step(w[2]))
            end
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

describe("rawnode:propose_many and memorystorage:persist", function()
    -- The index a storage's FirstIndex or LastIndex gives (`err, index`).
    local function index(err, i)
        assert.are.equal(raft.OK, err)
        return i
    end
    local function leader_cluster()
        local c = cluster()
        c.persist = true
        settle(c)
        assert.are.equal(raft.OK, c.nodes[1].node:campaign())
        settle(c)
        assert.are.equal(raft.StateLeader, c.nodes[1].node:status().raft_state)
        return c
    end

    it("propose a list in order, persist whole Readys, and catch a node up by snapshot", function()
        local c = leader_cluster()
        c.down = { [3] = true }
        local want = {}
        for round = 1, 3 do
            local batch = {}
            for i = 1, 10 do batch[i] = ("r%d\0e%d"):format(round, i) end
            local rc, n = c.nodes[1].node:propose_many(batch)
            assert.are.equal(raft.OK, rc)
            assert.are.equal(10, n)
            table.move(batch, 1, 10, #want + 1, want)
            settle(c)
        end
        assert.are.same(want, c.nodes[1].data)
        assert.are.same(want, c.nodes[2].data)
        assert.are.same({}, c.nodes[3].data)
        -- The leader snapshots what it applied and compacts its log, so the
        -- node that was down can only catch up from the snapshot.
        local st = c.nodes[1].node:status()
        local s1 = c.nodes[1].storage
        assert.are.equal(raft.OK, s1:create_snapshot(st.applied, st.voters, "state"))
        assert.are.equal(raft.OK, s1:compact(st.applied))
        c.down = nil
        local after = { "after" }
        assert.are.equal(raft.OK, (c.nodes[1].node:propose_many(after)))
        for _ = 1, 3 do
            c.nodes[1].node:tick()
            settle(c)
        end
        local n3 = c.nodes[3]
        assert.are.equal(1, n3.snapshots)
        assert.are.equal(st.applied, n3.storage:Snapshot().metadata.index)
        assert.are.equal(st.applied + 1, index(n3.storage:FirstIndex()))
        assert.are.equal(index(c.nodes[1].storage:LastIndex()), index(n3.storage:LastIndex()))
        -- Persisted hard states agree with the nodes.
        for id = 1, 3 do
            local hs = c.nodes[id].storage:InitialState()
            local status = c.nodes[id].node:status()
            assert.are.same({ status.term, status.commit }, { hs.term, hs.commit })
        end
        assert.are.same({ "after" }, n3.data)
    end)

    it("an empty list proposes nothing", function()
        local c = leader_cluster()
        local last = index(c.nodes[1].storage:LastIndex())
        local rc, n = c.nodes[1].node:propose_many({})
        assert.are.equal(raft.OK, rc)
        assert.are.equal(0, n)
        settle(c)
        assert.are.equal(last, index(c.nodes[1].storage:LastIndex()))
    end)

    it("a dropped batch returns the code and how many went in before it", function()
        local c = cluster()
        settle(c)
        -- No leader yet: the first proposal is dropped, the rest are not tried.
        local rc, n = c.nodes[1].node:propose_many({ "a", "b" })
        assert.are.equal(raft.ErrProposalDropped, rc)
        assert.are.equal(0, n)
    end)

    it("wrong arguments raise a string error and propose nothing", function()
        local c = leader_cluster()
        local node = c.nodes[1].node
        local last = index(c.nodes[1].storage:LastIndex())
        for _, bad in ipairs({ 42, "x", true }) do
            local ok, e = pcall(node.propose_many, node, bad)
            assert.is_false(ok)
            assert.truthy(tostring(e):find("rawnode:propose_many", 1, true))
            assert.truthy(tostring(e):find("list of strings", 1, true))
        end
        -- A non-string element, numbers included (not converted), names its
        -- position; the elements before it are not proposed either.
        for _, bad in ipairs({ { "a", 7 }, { "a", {} }, { "a", "b", false } }) do
            local ok, e = pcall(node.propose_many, node, bad)
            assert.is_false(ok)
            assert.truthy(tostring(e):find("rawnode:propose_many: data[" .. #bad .. "]", 1, true))
        end
        settle(c)
        assert.are.equal(last, index(c.nodes[1].storage:LastIndex()))
        -- The node still takes a good list.
        assert.are.equal(raft.OK, (node:propose_many({ "ok" })))
        settle(c)
        assert.are.same({ "ok" }, c.nodes[2].data)
    end)

    it("persist refuses what is not a ready", function()
        local s = raft.memorystorage()
        for _, bad in ipairs({ 42, "x", {}, s }) do
            local ok, e = pcall(s.persist, s, bad)
            assert.is_false(ok)
            assert.truthy(tostring(e):find("memorystorage:persist", 1, true))
            assert.truthy(tostring(e):find("a ready", 1, true))
        end
    end)
end)
