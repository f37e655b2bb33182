-- The lraft module table, config, logger and readstate objects.
local raft = require("lraft")

describe("lraft module", function()
    it("sets no globals and has the contract's constants", function()
        assert.is_nil(rawget(_G, "lraft"))
        assert.are.equal(math.maxinteger, raft.noLimit)
        assert.are.equal(0, raft.None)
        assert.are.same({ 0, 1, 2, 3 },
            { raft.StateFollower, raft.StateCandidate, raft.StateLeader, raft.StatePreCandidate })
        local codes = { "OK", "ErrCompacted", "ErrSnapOutOfDate", "ErrUnavailable",
            "ErrSnapshotTemporarilyUnavailable", "ErrSeriaFail", "ErrAppendOutOfData",
            "ErrProposalDropped", "ErrStepLocalMsg", "ErrStepPeerNotFound", "ErrFalse" }
        for i, name in ipairs(codes) do
            assert.are.equal(i - 1, raft[name], name)
        end
        local levels = { "LOG_ALL", "LOG_DEBUG", "LOG_INFO", "LOG_WARN", "LOG_ERROR", "LOG_FATAL",
            "LOG_OFF" }
        for i = 2, #levels do
            assert.is_true(raft[levels[i]] > raft[levels[i - 1]], levels[i])
        end
    end)

    it("IsLocalMsg", function()
        local pb = raft.pb
        for _, t in ipairs({ pb.MsgHup, pb.MsgBeat, pb.MsgUnreachable, pb.MsgSnapStatus,
            pb.MsgCheckQuorum }) do
            assert.is_true(raft.IsLocalMsg(t), pb.MessageType_Name(t))
        end
        for _, t in ipairs({ pb.MsgProp, pb.MsgApp, pb.MsgAppResp, pb.MsgVote, pb.MsgHeartbeat,
            pb.MsgReadIndex, pb.MsgPreVote }) do
            assert.is_false(raft.IsLocalMsg(t), pb.MessageType_Name(t))
        end
        assert.is_false(raft.IsLocalMsg(999))
        assert.has_error(function() raft.IsLocalMsg("x") end)
    end)

    it("IsEmptyHardState", function()
        assert.is_true(raft.IsEmptyHardState(nil))
        assert.is_true(raft.IsEmptyHardState(raft.pb.hardstate()))
        assert.is_true(raft.IsEmptyHardState(raft.pb.hardstate(0, 0, 0)))
        assert.is_false(raft.IsEmptyHardState(raft.pb.hardstate(1)))
        assert.is_false(raft.IsEmptyHardState(raft.pb.hardstate(0, 0, 2)))
        local ok, msg = pcall(raft.IsEmptyHardState, {})
        assert.is_false(ok)
        assert.matches("expected a hardstate", msg)
    end)

    it("default_logger level is readable and writable", function()
        local l = raft.default_logger()
        local old = l.level
        l.level = raft.LOG_OFF
        assert.are.equal(raft.LOG_OFF, raft.default_logger().level)
        l.level = raft.LOG_ALL
        assert.are.equal(raft.LOG_ALL, l.level)
        assert.has_error(function() l.level = 99 end)
        assert.has_error(function() return l.bogus end)
        l.level = old
    end)

    it("ldbstorage(tbl) raises unless given a table", function()
        local ok, msg = pcall(raft.ldbstorage, 5)
        assert.is_false(ok)
        assert.matches("expected a table", msg)
        assert.are.equal("userdata", type(raft.ldbstorage({})))
    end)

    it("readstate([index[, ctx]])", function()
        local r = raft.readstate(5, "c\0x")
        assert.are.same({ 5, "c\0x" }, { r.index, r.request_ctx })
        local e = raft.readstate()
        assert.are.same({ 0, "" }, { e.index, e.request_ctx })
        e.index = 9
        assert.are.equal(9, e.index)
        assert.has_error(function() return e.bogus end)
        assert.has_error(function() raft.readstate("x") end)
    end)
end)

describe("config", function()
    it("has the core's defaults and every field reads back", function()
        local c = raft.config()
        assert.are.same({ 0, 10, 1, 0 }, { c.ID, c.ElectionTick, c.HeartbeatTick, c.Applied })
        assert.are.same({}, c.peers)
        c.ID = 3
        c.peers = { 1, 2, 3 }
        c.learners = { 4 }
        c.ElectionTick = 20
        c.HeartbeatTick = 2
        c.Applied = 7
        c.MaxSizePerMsg = raft.noLimit
        c.MaxCommittedSizePerReady = 1000
        c.MaxUncommittedEntriesSize = 1 << 20
        c.MaxInflightMsgs = 16
        c.CheckQuorum = true
        c.PreVote = true
        c.ReadOnlyOption = 1
        c.DisableProposalForwarding = true
        assert.are.same({ 3, 20, 2, 7, raft.noLimit, 1000, 1 << 20, 16, true, true, 1, true },
            { c.ID, c.ElectionTick, c.HeartbeatTick, c.Applied, c.MaxSizePerMsg,
                c.MaxCommittedSizePerReady, c.MaxUncommittedEntriesSize, c.MaxInflightMsgs,
                c.CheckQuorum, c.PreVote, c.ReadOnlyOption, c.DisableProposalForwarding })
        assert.are.same({ 1, 2, 3 }, c.peers)
        assert.are.same({ 4 }, c.learners)
    end)

    it("raises on unknown fields, wrong types and bad storages", function()
        local c = raft.config()
        local function err_of(f)
            local ok, msg = pcall(f)
            assert.is_false(ok)
            return msg
        end
        assert.matches("config has no member 'Bogus'", err_of(function() return c.Bogus end))
        assert.matches("config has no member 'Bogus'", err_of(function() c.Bogus = 1 end))
        assert.matches("config.ID: expected an integer", err_of(function() c.ID = "x" end))
        assert.matches("config.CheckQuorum: expected a boolean", err_of(function() c.CheckQuorum = 1 end))
        assert.matches("config.peers", err_of(function() c.peers = { "a" } end))
        assert.matches("config.Storage", err_of(function() c.Storage = {} end))
        assert.matches("config.Storage", err_of(function() c.Storage = 5 end))
        assert.matches("config.ReadOnlyOption", err_of(function() c.ReadOnlyOption = 7 end))
        assert.matches("negative", err_of(function() c.MaxSizePerMsg = -1 end))
        local base = raft.ldbstorage({})
        c.Storage = base
        assert.are.equal("userdata", type(c.Storage))
    end)
end)
