-- A 3-node cluster in one Lua process, driven by tick(): election,
-- replication, losing the leader from the message flow, re-election and
-- catch-up. Runs on both storages; the final logs must be identical.
local raft = require("lraft")
local storages = require("storages")
local nodes = require("nodes")

local function applied_everywhere(c, list)
    return function()
        for _, nd in ipairs(c.nodes) do
            if #nd.applied < #list then return false end
        end
        return true
    end
end

local logs = {}

describe("3-node cluster", function()
    for _, st in ipairs(storages.list) do
        for _, variant in ipairs({ "plain", "prevote+checkquorum" }) do
            it(variant .. " on " .. st.name, function()
                local opts = {}
                if variant ~= "plain" then
                    opts.cfg = function(cfg) cfg.PreVote = true; cfg.CheckQuorum = true end
                end
                local c = nodes.cluster(st, 3, opts)
                local ok, e = xpcall(function()
                    -- Election.
                    c:tick_until(function() return #c:leaders() == 1 end, 100)
                    local lead = c:leaders()[1]
                    c:tick()
                    for _, nd in ipairs(c.nodes) do
                        assert.are.equal(lead, nd.node:status().lead)
                    end
                    local term1 = c.nodes[lead].node:status().term
                    -- Replication.
                    local want = { "a", "b\0c", string.rep("x", 3000) }
                    for _, d in ipairs(want) do
                        assert.are.equal(raft.OK, c.nodes[lead].node:propose(d))
                    end
                    c:tick_until(applied_everywhere(c, want), 20)
                    for _, nd in ipairs(c.nodes) do
                        assert.are.same(want, nd.applied)
                    end
                    -- The leader drops out of the message flow.
                    c:isolate(lead, true)
                    c:tick_until(function()
                        local l = c:leaders(true)
                        return #l == 1 and l[1] ~= lead
                    end, 100)
                    local lead2 = c:leaders(true)[1]
                    assert.is_true(c.nodes[lead2].node:status().term > term1)
                    want[#want + 1] = "after re-election"
                    assert.are.equal(raft.OK, c.nodes[lead2].node:propose(want[#want]))
                    c:tick_until(function()
                        for i, nd in ipairs(c.nodes) do
                            if i ~= lead and #nd.applied < #want then return false end
                        end
                        return true
                    end, 20)
                    assert.are.equal(3, #c.nodes[lead].applied)
                    -- It comes back, steps down and catches up.
                    c:isolate(lead, false)
                    c:tick_until(function()
                        return #c.nodes[lead].applied == #want
                            and c.nodes[lead]:state() == raft.StateFollower
                    end, 50)
                    assert.are.same({ lead2 }, c:leaders())
                    for _, nd in ipairs(c.nodes) do
                        assert.are.same(want, nd.applied)
                        assert.are.same(c.nodes[1]:log(), nd:log())
                    end
                    logs[variant .. st.name] = c.nodes[1]:log()
                    assert.is_true(c.delivered > 0)
                end, debug.traceback)
                c:cleanup()
                assert(ok, e)
            end)
        end
    end
    for _, variant in ipairs({ "plain", "prevote+checkquorum" }) do
        it(variant .. ": both storages end with the same log", function()
            assert.is_not_nil(logs[variant .. "memorystorage"])
            assert.is_not_nil(logs[variant .. "ldbstorage"])
            assert.are.same(logs[variant .. "memorystorage"], logs[variant .. "ldbstorage"])
        end)
    end
end)
