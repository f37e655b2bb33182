-- rawnode behaviours. Every behaviour runs on memorystorage and on
-- ldbstorage, and both runs must leave the same log in their storage.
local raft = require("lraft")
local pb = raft.pb
local storages = require("storages")
local nodes = require("nodes")

-- Builds a vote response from `from` to node 1 at the node's current term.
local function vote_resp(nd, from)
    local m = pb.message()
    m.type = pb.MsgVoteResp
    m.from = from
    m.to = nd.id
    m.term = nd.node:status().term
    m.reject = false
    return m
end

local function app_resp(nd, from, index)
    local m = pb.message()
    m.type = pb.MsgAppResp
    m.from = from
    m.to = nd.id
    m.term = nd.node:status().term
    m.index = index
    return m
end

local function types_of(list)
    local out = {}
    for i = 1, #list do out[i] = pb.MessageType_Name(list[i].type) end
    return out
end

local behaviours = {}
local function behaviour(name, f) behaviours[#behaviours + 1] = { name = name, f = f } end

behaviour("bootstrap: the first Ready carries the peers' conf changes, committed", function(st)
    local nd = nodes.new(st, 1, { peers = { 1, 2, 3 } })
    assert.is_true(nd.node:has_ready())
    local rd = nd.node:ready()
    assert.is_nil(rd.softstate)
    local hs = rd.hardstate
    assert.are.same({ 1, 0, 3 }, { hs.term, hs.vote, hs.commit })
    assert.is_true(rd.mustsync)
    assert.are.equal(3, #rd.entries)
    assert.are.equal(3, #rd.committed_entries)
    for i = 1, 3 do
        local e = rd.entries[i]
        assert.are.same({ i, 1, pb.EntryConfChange }, { e.index, e.term, e.type })
        local cc = pb.confchange()
        assert.is_true(cc:parser(e.data))
        assert.are.same({ pb.ConfChangeAddNode, i }, { cc.type, cc.nodeid })
        assert.are.equal(e.data, rd.committed_entries[i].data)
    end
    assert.is_true(rd.snapshot:empty())
    assert.are.equal(0, #rd.messages)
    nd:handle(rd)
    assert.is_false(nd.node:has_ready())
    assert.are.same({ 1, 2, 3 }, nd.node:status().voters)
    assert.are.equal(1, nd.node.id)
    return nd
end)

behaviour("single voter: campaign leads at once; a proposal commits in its first Ready", function(st)
    local nd = nodes.new(st, 1, { peers = { 1 } })
    nd:drain()
    assert.are.equal(raft.OK, nd.node:campaign())
    assert.are.equal(raft.StateLeader, nd:state())
    local rd = nd.node:ready()
    assert.are.same({ Lead = 1, RaftState = raft.StateLeader }, rd.softstate)
    assert.are.same({ 2, 1, 2 }, { rd.hardstate.term, rd.hardstate.vote, rd.hardstate.commit })
    assert.are.equal(1, #rd.entries)
    assert.are.equal(1, #rd.committed_entries)
    assert.are.same({ 2, 2, "" }, { rd.entries[1].index, rd.entries[1].term, rd.entries[1].data })
    nd:handle(rd)
    assert.are.equal(raft.OK, nd.node:propose("a\0b"))
    rd = nd.node:ready()
    assert.is_nil(rd.softstate)
    assert.are.equal(3, rd.hardstate.commit)
    assert.are.equal(1, #rd.entries)
    assert.are.same({ 3, "a\0b" }, { rd.entries[1].index, rd.entries[1].data })
    assert.are.same({ 3, "a\0b" }, { rd.committed_entries[1].index, rd.committed_entries[1].data })
    nd:handle(rd)
    assert.are.same({ "a\0b" }, nd.applied)
    assert.are.equal(3, nd.node:status().applied)
    return nd
end)

behaviour("propose without a leader is dropped", function(st)
    local nd = nodes.new(st, 1, { peers = { 1, 2 } })
    nd:drain()
    assert.are.equal(raft.ErrProposalDropped, nd.node:propose("x"))
    local cc = pb.confchange()
    cc.type = pb.ConfChangeAddNode
    cc.nodeid = 3
    assert.are.equal(raft.ErrProposalDropped, nd.node:propose_confchange(cc))
    assert.is_false(nd.node:has_ready())
    return nd
end)

behaviour("two voters: the leader waits for the follower's ack; uncommitted_size", function(st)
    local nd = nodes.new(st, 1, { peers = { 1, 2 }, cfg = function(c) c.MaxUncommittedEntriesSize = 8 end })
    nd:drain()
    assert.are.equal(raft.OK, nd.node:campaign())
    assert.are.equal(raft.StateCandidate, nd:state())
    nd:drain()
    assert.are.same({ "MsgVote" }, types_of(nd:take()))
    assert.are.equal(raft.OK, nd.node:step(vote_resp(nd, 2)))
    assert.are.equal(raft.StateLeader, nd:state())
    nd:drain()
    assert.are.same({ "MsgApp" }, types_of(nd:take()))
    assert.are.equal("StateProbe", nd.node:status().progress[2].state)
    -- The follower acks the leader's empty entry (index 3).
    assert.are.equal(raft.OK, nd.node:step(app_resp(nd, 2, 3)))
    nd:drain()
    nd:take()
    assert.are.equal(3, nd.node:status().commit)
    assert.are.equal(0, nd.node.uncommitted_size)
    assert.are.equal(raft.OK, nd.node:propose("12345"))
    assert.are.equal(5, nd.node.uncommitted_size)
    assert.are.equal(raft.ErrProposalDropped, nd.node:propose("6789"))
    assert.are.equal(5, nd.node.uncommitted_size)
    local rd = nd.node:ready()
    assert.are.equal(1, #rd.entries)
    assert.are.equal(0, #rd.committed_entries)
    assert.are.same({ "MsgApp" }, types_of(rd.messages))
    nd:handle(rd)
    nd:take()
    assert.are.equal("StateReplicate", nd.node:status().progress[2].state)
    assert.are.equal(raft.OK, nd.node:step(app_resp(nd, 2, 4)))
    nd:drain()
    assert.are.equal(0, nd.node.uncommitted_size)
    assert.are.same({ "12345" }, nd.applied)
    local st2 = nd.node:status()
    assert.are.same({ 4, 4, "StateReplicate" }, { st2.commit, st2.progress[2].match, st2.progress[2].state })
    return nd
end)

behaviour("readindex: read_states readable, writable and handed out by the Ready", function(st)
    local nd = nodes.new(st, 1, { peers = { 1 } })
    nd:drain()
    nd.node:campaign()
    nd:drain()
    assert.are.equal(raft.OK, nd.node:readindex("ctx\0"))
    local rs = nd.node.read_states
    assert.are.equal(1, #rs)
    assert.are.same({ 2, "ctx\0" }, { rs[1].index, rs[1].request_ctx })
    assert.is_true(nd.node:has_ready())
    nd.node.read_states = { raft.readstate(7, "a"), raft.readstate(8, "b") }
    assert.are.equal(2, nd.node.read_states:size())
    local rd = nd.node:ready()
    assert.are.same({ { 7, "a" }, { 8, "b" } },
        { { rd.readstates[1].index, rd.readstates[1].request_ctx },
            { rd.readstates[2].index, rd.readstates[2].request_ctx } })
    nd:handle(rd)
    assert.is_true(nd.node.read_states:empty())
    nd.node.read_states = { raft.readstate(9, "c") }
    assert.is_true(nd.node:has_ready())
    nd.node.read_states = {}
    assert.is_false(nd.node:has_ready())
    return nd
end)

behaviour("step_func receives the messages of the role step and its code is returned", function(st)
    local nd = nodes.new(st, 1, { peers = { 1 } })
    nd:drain()
    nd.node:campaign()
    nd:drain()
    local seen = {}
    local result = raft.OK
    nd.node.step_func = function(m)
        seen[#seen + 1] = pb.message(m)
        return result
    end
    assert.are.equal(raft.OK, nd.node:readindex("rctx"))
    assert.are.equal(1, #seen)
    assert.are.equal(pb.MsgReadIndex, seen[1].type)
    assert.are.equal("rctx", seen[1].entries[1].data)
    -- The hook replaced the leader's step: no read state was produced.
    assert.are.equal(0, #nd.node.read_states)
    result = raft.ErrProposalDropped
    assert.are.equal(raft.ErrProposalDropped, nd.node:propose("p"))
    assert.are.equal(pb.MsgProp, seen[2].type)
    assert.are.equal("p", seen[2].entries[1].data)
    assert.is_false(nd.node:has_ready())
    local ok, msg = pcall(function() return nd.node.step_func end)
    assert.is_false(ok)
    assert.matches("rawnode.step_func is write-only", tostring(msg), 1, true)
    nd.node.step_func = nil
    assert.are.equal(raft.OK, nd.node:propose("q"))
    nd:drain()
    assert.are.same({ "q" }, nd.applied)
    return nd
end)

behaviour("step returns codes and never raises for any message type", function(st)
    local nd = nodes.new(st, 1, { peers = { 1, 2, 3 } })
    nd:drain()
    local local_msg = pb.message()
    local_msg.type = pb.MsgHup
    local_msg.from = 1
    assert.are.equal(raft.ErrStepLocalMsg, nd.node:step(local_msg))
    local resp = pb.message()
    resp.type = pb.MsgAppResp
    resp.from = 9
    resp.to = 1
    resp.term = 1
    assert.are.equal(raft.ErrStepPeerNotFound, nd.node:step(resp))
    for t = pb.MessageType_MIN, pb.MessageType_MAX do
        for _, from in ipairs({ 0, 2, 9 }) do
            for _, term in ipairs({ 0, 1, 5 }) do
                local m = pb.message()
                m.type = t
                m.from = from
                m.to = 1
                m.term = term
                m.index = 3
                m.logterm = 1
                m.commit = 2
                local code = nd.node:step(m)
                assert.are.equal("integer", math.type(code), pb.MessageType_Name(t))
            end
        end
        nd:drain()
        nd:take()
    end
    return nd
end)

behaviour("restart from storage ignores peers and keeps the term", function(st)
    local nd = nodes.new(st, 1, { peers = { 1 } })
    nd:drain()
    nd.node:campaign()
    nd:drain()
    nd.node:propose("before")
    nd:drain()
    local before = nd.node:status()
    -- The application keeps its membership in a snapshot of what it applied.
    local err = nd.s:create_snapshot(before.applied, before.voters, "state")
    assert.are.equal(raft.OK, err)
    nd.applied_index = before.applied
    nd:restart({ 1, 2, 3 })
    local after = nd.node:status()
    assert.are.same({ before.term, before.vote, before.commit }, { after.term, after.vote, after.commit })
    assert.are.same({ 1 }, after.voters)
    assert.are.equal(raft.StateFollower, after.raft_state)
    -- Applied was given: nothing is handed out twice.
    assert.is_false(nd.node:has_ready())
    nd.node:campaign()
    nd:drain()
    assert.are.equal(before.term + 1, nd.node:status().term)
    nd.node:propose("after")
    nd:drain()
    assert.are.same({ "before", "after" }, nd.applied)
    return nd
end)

behaviour("restart without Applied re-applies the committed entries from storage", function(st)
    local nd = nodes.new(st, 1, { peers = { 1 } })
    nd:drain()
    nd.node:campaign()
    nd:drain()
    nd.node:propose("one")
    nd.node:propose("two")
    nd:drain()
    nd:restart(nil)
    nd.applied = {}
    local rd = nd.node:ready()
    assert.are.equal(0, #rd.entries)
    assert.are.equal(4, #rd.committed_entries)
    nd:handle(rd)
    assert.are.same({ "one", "two" }, nd.applied)
    return nd
end)

behaviour("apply_confchange returns the ConfState; removed voters leave the config", function(st)
    local nd = nodes.new(st, 1, { peers = { 1 } })
    nd:drain()
    nd.node:campaign()
    nd:drain()
    local cc = pb.confchange()
    cc.type = pb.ConfChangeAddNode
    cc.nodeid = 2
    assert.are.equal(raft.OK, nd.node:propose_confchange(cc))
    local rd = nd.node:ready()
    assert.are.equal(pb.EntryConfChange, rd.committed_entries[1].type)
    nd:handle(rd)
    assert.are.same({ 1, 2 }, nd.node:status().voters)
    local v2 = pb.confchangev2()
    v2.changes = { { type = pb.ConfChangeAddLearnerNode, nodeid = 3 } }
    local cs = nd.node:apply_confchange(v2)
    assert.are.same({ 1, 2 }, cs.voters)
    assert.are.same({ 3 }, cs.learners)
    assert.are.same({ 3 }, nd.node:status().learners)
    return nd
end)

behaviour("config peers set the membership without log entries", function(st)
    local nd = nodes.new(st, 1, { cfg = function(c) c.peers = { 1, 2, 3 }; c.learners = { 4 } end })
    local s = nd.node:status()
    assert.are.same({ 1, 2, 3 }, s.voters)
    assert.are.same({ 4 }, s.learners)
    assert.is_false(nd.node:has_ready())
    nd.node:campaign()
    nd:drain()
    local out = nd:take()
    assert.are.same({ "MsgVote", "MsgVote" }, types_of(out))
    assert.are.same({ 0, 0 }, { out[1].index, out[1].logterm })
    return nd
end)

behaviour("transfer_leader, report_unreachable, report_snapshot, forget_leader, tick", function(st)
    local nd = nodes.new(st, 1, { peers = { 1, 2 } })
    nd:drain()
    for _ = 1, 30 do nd.node:tick() end
    assert.are.equal(raft.StateCandidate, nd:state())
    nd:drain()
    nd:take()
    nd.node:step(vote_resp(nd, 2))
    nd:drain()
    nd:take()
    assert.are.equal(raft.OK, nd.node:report_unreachable(2))
    assert.are.equal(raft.OK, nd.node:report_snapshot(2, false))
    assert.are.equal(raft.OK, nd.node:transfer_leader(2))
    assert.are.equal(2, nd.node:status().lead_transferee)
    assert.are.equal(raft.ErrProposalDropped, nd.node:propose("during transfer"))
    assert.are.equal(raft.OK, nd.node:forget_leader())
    nd:drain()
    return nd
end)

for _, b in ipairs(behaviours) do
    describe("rawnode: " .. b.name, function()
        local logs = {}
        for _, st in ipairs(storages.list) do
            it("on " .. st.name, function()
                local ok, nd = pcall(b.f, st)
                if ok then
                    local ok2, log = pcall(nd.log, nd)
                    nd:cleanup()
                    assert(ok2, log)
                    logs[st.name] = log
                else
                    error(nd, 0)
                end
            end)
        end
        it("leaves the same log on every storage", function()
            assert.is_not_nil(logs.memorystorage, "memorystorage run failed")
            assert.is_not_nil(logs.ldbstorage, "ldbstorage run failed")
            assert.is_not_nil(logs.store, "store run failed")
            assert.is_true(#logs.memorystorage > 0)
            assert.are.same(logs.memorystorage, logs.ldbstorage)
            assert.are.same(logs.memorystorage, logs.store)
        end)
    end)
end
