-- raft.pb: constructors, field presence, etcd wire bytes, list views.
local raft = require("lraft")
local pb = raft.pb

local function hex(s)
    return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

describe("pb enums", function()
    it("has etcd's numbering", function()
        assert.are.equal(0, pb.EntryNormal)
        assert.are.equal(1, pb.EntryConfChange)
        assert.are.equal(2, pb.EntryConfChangeV2)
        assert.are.equal(0, pb.MsgHup)
        assert.are.equal(3, pb.MsgApp)
        assert.are.equal(15, pb.MsgReadIndex)
        assert.are.equal(18, pb.MsgPreVoteResp)
        assert.are.equal(0, pb.MessageType_MIN)
        assert.is_true(pb.MessageType_MAX >= 18)
        assert.are.equal("MsgHup", pb.MessageType_Name(0))
        assert.are.equal("MsgPreVoteResp", pb.MessageType_Name(18))
        assert.is_nil(pb.MessageType_Name(1000))
        assert.are.equal(0, pb.ConfChangeAddNode)
        assert.are.equal(1, pb.ConfChangeRemoveNode)
        assert.are.equal(2, pb.ConfChangeUpdateNode)
        assert.are.equal(3, pb.ConfChangeAddLearnerNode)
    end)
end)

describe("pb.entry", function()
    it("takes index, term, data, type in that order", function()
        local e = pb.entry(5, 2, "x", pb.EntryConfChange)
        assert.are.same({ 5, 2, "x", 1 }, { e.index, e.term, e.data, e.type })
    end)
    it("reads 0 for unset numbers and writes them as etcd does", function()
        local e = pb.entry()
        assert.are.same({ 0, 0, 0 }, { e.index, e.term, e.type })
        -- gogoproto always writes Type, Term and Index; Data only when set.
        assert.are.equal("080010001800", hex(e:serialize()))
        assert.are.equal(6, e:byte_size())
        e.index = 1
        assert.are.equal(6, e:byte_size())
        assert.are.equal("080010001801", hex(e:serialize()))
        e.data = ""
        assert.are.equal("0800100018012200", hex(e:serialize()))
        assert.are.equal(8, e:byte_size())
    end)
    it("serializes like etcd when every field is set", function()
        local e = pb.entry(2, 1, "hi", pb.EntryNormal)
        -- etcd: Type(1)=0, Term(2)=1, Index(3)=2, Data(4)="hi"
        assert.are.equal("080010011802220268" .. "69", hex(e:serialize()))
        assert.are.equal(10, e:byte_size())
    end)
    it("keeps binary data (NUL bytes) intact", function()
        local data = "a\0b\0\255c"
        local e = pb.entry(1, 1, data)
        assert.are.equal(data, e.data)
        assert.are.equal(#data, e:payload_size())
        local e2 = pb.entry()
        assert.is_true(e2:parser(e:serialize()))
        assert.are.equal(data, e2.data)
        assert.are.equal(e:byte_size(), e2:byte_size())
    end)
    it("parser returns false on bad bytes and keeps its contents", function()
        local e = pb.entry(7, 3)
        assert.is_false(e:parser("\x18"))
        assert.is_false(e:parser("\x22\x05ab"))
        assert.are.equal(7, e.index)
    end)
    it("message parser refuses responses nested deeper than 8 levels", function()
        -- Field 14 (responses), wire type 2, around an empty message.
        local function varint(n)
            local out = ""
            while n >= 128 do
                out = out .. string.char(n % 128 + 128)
                n = n // 128
            end
            return out .. string.char(n)
        end
        local function nested(depth)
            local b = ""
            for _ = 1, depth do b = "\x72" .. varint(#b) .. b end
            return b
        end
        local m = pb.message()
        assert.is_true(m:parser(nested(8)))
        assert.is_false(m:parser(nested(9)))
        assert.is_false(m:parser(nested(100)))
    end)
    it("raises on unknown members and wrong types", function()
        local e = pb.entry()
        assert.has_error(function() return e.nope end, nil)
        local ok, msg = pcall(function() return e.nope end)
        assert.is_false(ok)
        assert.matches("entry has no member 'nope'", msg)
        ok, msg = pcall(function() e.nope = 1 end)
        assert.matches("entry has no member 'nope'", msg)
        ok, msg = pcall(function() e.index = "x" end)
        assert.matches("entry.index: expected an integer", msg)
        ok, msg = pcall(function() e.data = 5 end)
        assert.is_false(ok)
        assert.matches("entry.data: expected a string", msg)
        ok, msg = pcall(pb.entry, "x")
        assert.is_false(ok)
        assert.matches("index", msg)
        ok, msg = pcall(e.parser, e, {})
        assert.is_false(ok)
        assert.matches("expected a string", msg)
    end)
end)

describe("pb.message", function()
    it("reads nil for fields never set", function()
        local m = pb.message()
        for _, f in ipairs({ "type", "to", "from", "term", "logterm", "index", "commit",
            "rejecthint", "vote", "reject", "context", "snapshot" }) do
            assert.is_nil(m[f], f)
        end
        assert.are.equal(0, #m.entries)
        -- Every non-nullable field is written, zero or not.
        assert.are.equal("0800100018002000280030004000500058006800", hex(m:serialize()))
        assert.are.equal(20, m:byte_size())
        -- Reading stays nil for what the script never set.
        assert.is_nil(m.term)
    end)
    it("serializes whichever fields were set as etcd does, in field order", function()
        local m = pb.message()
        m.to = 2
        m.type = pb.MsgHeartbeat
        assert.are.equal("0808100218002000280030004000500058006800", hex(m:serialize()))
        assert.are.equal(#m:serialize(), m:byte_size())
    end)
    it("matches etcd's bytes for every message type", function()
        local function varint(n)
            local out = {}
            repeat
                local b = n & 0x7f
                n = n >> 7
                if n > 0 then b = b | 0x80 end
                out[#out + 1] = string.format("%02x", b)
            until n == 0
            return table.concat(out)
        end
        for t = pb.MessageType_MIN, pb.MessageType_MAX do
            local m = pb.message()
            m.type = t
            m.from = 1
            m.term = 300
            local want = "08" .. varint(t) .. "1000" .. "1801" .. "20ac02"
                .. "2800300040005000" .. "58006800"
            assert.are.equal(want, hex(m:serialize()), pb.MessageType_Name(t))
            assert.are.equal(#want // 2, m:byte_size())
            local back = pb.message()
            assert.is_true(back:parser(m:serialize()))
            assert.are.equal(m:serialize(), back:serialize())
        end
    end)
    it("is byte-identical to etcd with every field set", function()
        local m = pb.message()
        m.type = pb.MsgApp
        m.to = 2
        m.from = 1
        m.term = 3
        m.logterm = 2
        m.index = 4
        m.entries = { pb.entry(5, 3, "a", 0) }
        m.commit = 4
        m.reject = false
        m.rejecthint = 0
        m.vote = 0
        -- etcd gogoproto writes every non-nullable field:
        -- 08 03 | 10 02 | 18 01 | 20 03 | 28 02 | 30 04 | 3a 0a (08 00 10 03 18 05 22 01 61) | 40 04 | 50 00 | 58 00 | 68 00
        assert.are.equal("0803100218012003280230043a09080010031805220161400450005800" .. "6800",
            hex(m:serialize()))
        local m2 = pb.message()
        assert.is_true(m2:parser(m:serialize()))
        assert.are.same({ 3, 2, 1, 3, 2, 4, 4, false, 0, 0 },
            { m2.type, m2.to, m2.from, m2.term, m2.logterm, m2.index, m2.commit, m2.reject,
                m2.rejecthint, m2.vote })
        assert.are.equal("a", m2[1].data)
        assert.is_nil(m2[2])
        assert.are.equal(m:byte_size(), #m:serialize())
    end)
    it("copies with pb.message(m) and keeps context and snapshot", function()
        local m = pb.message()
        m.context = "c\0tx"
        local s = pb.snapshot()
        s.metadata.index = 9
        m.snapshot = s
        local c = pb.message(m)
        m.context = "other"
        assert.are.equal("c\0tx", c.context)
        assert.are.equal(9, c.snapshot.metadata.index)
        local back = pb.message()
        assert.is_true(back:parser(c:serialize()))
        assert.are.equal(9, back.snapshot.metadata.index)
        assert.are.equal("c\0tx", back.context)
    end)
    it("entries setter copies; m[i] is the i-th entry", function()
        local e = pb.entry(1, 1, "x")
        local m = pb.message()
        m.entries = { e, pb.entry(2, 1, "y") }
        e.data = "changed"
        assert.are.equal("x", m[1].data)
        assert.are.equal("y", m.entries[2].data)
        assert.are.equal(2, #m)
    end)
    it("rejects bad values and bad bytes", function()
        local m = pb.message()
        assert.is_false(m:parser("\x0a"))
        local ok, msg = pcall(function() m.reject = 1 end)
        assert.is_false(ok)
        assert.matches("message.reject: expected a boolean", msg)
        ok, msg = pcall(function() m.entries = { 1, 2 } end)
        assert.is_false(ok)
        assert.matches("expected an entry", msg)
        ok, msg = pcall(function() m.snapshot = "s" end)
        assert.matches("expected a snapshot", msg)
        ok, msg = pcall(function() return m.bogus end)
        assert.matches("message has no member 'bogus'", msg)
        ok, msg = pcall(pb.message, 5)
        assert.is_false(ok)
    end)
end)

describe("pb.hardstate", function()
    it("takes term, commit, vote in that order; nil when unset", function()
        local hs = pb.hardstate(3, 7)
        assert.are.same({ 3, 7 }, { hs.term, hs.commit })
        assert.is_nil(hs.vote)
        -- etcd writes the unset vote as 0.
        assert.are.equal("080310001807", hex(hs:serialize()))
        assert.are.equal(6, hs:byte_size())
        hs.vote = 2
        assert.are.equal("080310021807", hex(hs:serialize()))
        local e = pb.hardstate()
        assert.is_nil(e.term)
        assert.is_true(e:parser(hs:serialize()))
        assert.are.same({ 3, 2, 7 }, { e.term, e.vote, e.commit })
        assert.is_false(e:parser("\x08"))
    end)
end)

describe("pb.confchange", function()
    it("round-trips and serializes like etcd", function()
        local cc = pb.confchange()
        cc.id = 0
        cc.type = pb.ConfChangeRemoveNode
        cc.nodeid = 3
        cc.context = "ctx"
        assert.are.equal("08001001180322036374" .. "78", hex(cc:serialize()))
        local c2 = pb.confchange()
        assert.is_true(c2:parser(cc:serialize()))
        assert.are.same({ 0, 1, 3, "ctx" }, { c2.id, c2.type, c2.nodeid, c2.context })
    end)
    it("a confchange built in Lua equals the core's conf-change entries", function()
        -- Only type and nodeid set: etcd (and the core) still write the id.
        local cc = pb.confchange()
        cc.type = pb.ConfChangeAddNode
        cc.nodeid = 1
        assert.are.equal("080010001801", hex(cc:serialize()))
        assert.are.equal(6, cc:byte_size())
        -- The bootstrap entry the core creates for the same change.
        local s = raft.memorystorage()
        local cfg = raft.config()
        cfg.ID = 1
        cfg.Storage = s
        local n = raft.rawnode()
        n:init(cfg, { 1 })
        local rd = n:ready()
        assert.are.equal(pb.EntryConfChange, rd.entries[1].type)
        assert.are.equal(cc:serialize(), rd.entries[1].data)
        s:append(rd.entries)
        s:set_hardstate(rd.hardstate)
        n:apply_confchange(cc)
        n:advance(rd)
        -- The entry propose_confchange appends.
        n:campaign()
        while n:has_ready() do
            local r = n:ready()
            s:append(r.entries)
            n:advance(r)
        end
        local add = pb.confchange()
        add.type = pb.ConfChangeAddLearnerNode
        add.nodeid = 2
        assert.are.equal(raft.OK, n:propose_confchange(add))
        local r = n:ready()
        assert.are.equal(1, #r.entries)
        assert.are.equal(add:serialize(), r.entries[1].data)
        assert.are.equal("080010031802", hex(r.entries[1].data))
        n:advance(r)
        n:close()
    end)
    it("confchangev2 carries a list of changes", function()
        local cc = pb.confchangev2()
        cc.changes = { { type = pb.ConfChangeAddNode, nodeid = 2 },
            { type = pb.ConfChangeAddLearnerNode, nodeid = 3 } }
        local c2 = pb.confchangev2()
        assert.is_true(c2:parser(cc:serialize()))
        local ch = c2.changes
        assert.are.same({ 0, 2, 3, 3 }, { ch[1].type, ch[1].nodeid, ch[2].type, ch[2].nodeid })
        assert.has_error(function() cc.changes = 5 end)
    end)
end)

describe("pb.snapshot", function()
    it("metadata and conf_state write through", function()
        local s = pb.snapshot()
        s.data = "d"
        s.metadata.index = 4
        s.metadata.term = 2
        s.metadata.conf_state = { voters = { 1, 2 }, learners = { 3 } }
        local cs = s.metadata.conf_state
        assert.are.same({ 1, 2 }, cs.voters)
        assert.are.same({ 1, 2 }, cs.nodes)
        assert.are.same({ 3 }, cs.learners)
        cs.voters_outgoing = { 9 }
        assert.are.same({ 9 }, s.metadata.conf_state.voters_outgoing)
        local l = cs.voters
        l[1] = 100
        assert.are.same({ 1, 2 }, s.metadata.conf_state.voters)
        local s2 = pb.snapshot()
        assert.is_true(s2:parser(s:serialize()))
        assert.are.same({ 4, 2, "d" }, { s2.metadata.index, s2.metadata.term, s2.data })
        assert.are.same({ 1, 2 }, s2.metadata.conf_state.nodes)
        s.metadata.conf_state = { 5, 6 }
        assert.are.same({ 5, 6 }, s.metadata.conf_state.voters)
        assert.has_error(function() s.metadata.conf_state = "x" end)
        assert.has_error(function() return s.metadata.bogus end)
    end)
end)

describe("list views", function()
    it("support #, [i], size, empty, at, ipairs", function()
        local m = pb.message()
        m.entries = { pb.entry(1, 1, "a"), pb.entry(2, 1, "b") }
        local v = m.entries
        assert.are.equal(2, #v)
        assert.are.equal(2, v:size())
        assert.is_false(v:empty())
        assert.are.equal("b", v:at(2).data)
        assert.is_nil(v[3])
        assert.is_nil(v[0])
        local seen = {}
        for i, e in v:ipairs() do
            seen[i] = e.data
        end
        assert.are.same({ "a", "b" }, seen)
        assert.is_true(pb.message().entries:empty())
        assert.has_error(function() v[1] = 5 end)
    end)
    it("every element keeps its own identity", function()
        local m = pb.message()
        m.entries = { pb.entry(1, 1, "a"), pb.entry(2, 1, "b") }
        local v1 = m.entries
        local e1 = v1[1]
        local m2 = pb.message()
        m2.entries = { pb.entry(7, 7, "z") }
        local v2 = m2.entries
        local e2 = v2[1]
        -- creating other views/elements changes nothing already held
        assert.are.equal("a", e1.data)
        assert.are.equal(2, #v1)
        assert.are.equal("b", v1[2].data)
        assert.are.equal(7, e2.index)
        e1.data = "changed"
        assert.are.equal("a", v1[1].data)
        assert.are.equal("z", v2[1].data)
        assert.are_not.equal(v1[1], v1[1])
    end)
end)
