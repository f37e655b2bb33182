-- lua/ldbstorage.lua: the class beyond the common storage semantics.
local raft = require("lraft")
local pb = raft.pb
local ldbstorage = require("ldbstorage")
local helpers = require("helpers")
local ents = helpers.ents

describe("ldbstorage", function()
    local path, s
    before_each(function()
        path = helpers.tmpdir("ldbs")
    end)
    after_each(function()
        if s then s:close() end
        s = nil
        ldbstorage.delete_db(path)
    end)

    it("a new database has the dummy entry at 0 and a base", function()
        s = ldbstorage.new(path)
        assert.are.same({ 0, 1 }, { s.offset, s.count })
        assert.are.equal(0, s:getEntry(0).term)
        assert.is_nil(s:getEntry(1))
        assert.are.equal("userdata", type(s.base))
    end)

    it("a closed storage and its base can be garbage-collected", function()
        local weak = setmetatable({}, { __mode = "v" })
        do
            local st = ldbstorage.new(path)
            local node = raft.rawnode()
            local cfg = raft.config()
            cfg.ID = 1
            cfg.Storage = st.base
            node:init(cfg, { 1 })
            weak.table, weak.base, weak.node = st, st.base, node
            node:close()
            st:close()
            assert.is_nil(st.base)
        end
        collectgarbage("collect")
        collectgarbage("collect")
        assert.is_nil(weak.node)
        assert.is_nil(weak.base)
        assert.is_nil(weak.table)
    end)

    it("new(path, ents) makes ents[1] the dummy entry", function()
        s = ldbstorage.new(path, ents({ { 5, 2 }, { 6, 2, "a" }, { 7, 3, "b" } }))
        assert.are.same({ 5, 3 }, { s.offset, s.count })
        assert.are.equal("b", s:getEntry(7).data)
        assert.are.same({ { 6, 2 }, { 7, 3 } }, helpers.pairs_of(s:range(6, 100)))
        assert.are.same({ { 5, 2 } }, helpers.pairs_of(s:range(0, 6)))
        assert.are.same({}, s:range(8, 10))
        assert.are.same({ raft.OK, 6 }, { s:FirstIndex() })
    end)

    it("everything survives close and reopen", function()
        s = ldbstorage.new(path)
        s:append(ents({ { 1, 1, "x" }, { 2, 1, "y" }, { 3, 2, "z" } }), true)
        s:set_hardstate(pb.hardstate(2, 3, 1))
        assert.are.equal(raft.OK, (s:create_snapshot(2, { 1, 2 }, "snap")))
        assert.are.equal(raft.OK, s:compact(2))
        s:close()
        s = ldbstorage.new(path)
        assert.are.same({ 2, 2 }, { s.offset, s.count })
        assert.are.equal("z", s:getEntry(3).data)
        local hs, snap = s:InitialState()
        assert.are.same({ 2, 1, 3 }, { hs.term, hs.vote, hs.commit })
        assert.are.same({ 2, 1, "snap" }, { snap.metadata.index, snap.metadata.term, snap.data })
        assert.are.same({ 1, 2 }, snap.metadata.conf_state.voters)
        s:append(ents({ { 3, 3, "new" } }), true)
        s:close()
        s = ldbstorage.new(path)
        assert.are.same({ { 2, 1 }, { 3, 3 } }, helpers.pairs_of(s:range(0, 10)))
    end)

    it("terms and entries kept in memory always match the log (appends, overwrites, compactions, snapshots)", function()
        -- A model of the log (index -> {term, data}) follows every change;
        -- Term, getEntry and Entries must agree with it, before and after a
        -- reopen (which starts with nothing in memory).
        s = ldbstorage.new(path)
        local rng = 12345
        local function rand(n)
            rng = (rng * 1103515245 + 12345) % 2147483648
            return rng % n
        end
        local model, offset, term = { [0] = { 0 } }, 0, 1
        local function last()
            local l = offset
            while model[l + 1] do l = l + 1 end
            return l
        end
        local function check()
            local hi = last()
            assert.are.same({ offset, hi }, { s.offset, s:lastIndex() })
            for i = offset, hi do
                assert.are.same({ raft.OK, model[i][1] }, { s:Term(i) })
                assert.are.equal(model[i][2] or "", s:getEntry(i).data)
            end
            if hi > offset then
                local a = math.max(offset + 1, hi - rand(1500))
                local rc, got = s:Entries(a, hi + 1, math.maxinteger)
                assert.are.equal(raft.OK, rc)
                assert.are.equal(hi + 1 - a, #got)
                for k, e in ipairs(got) do
                    assert.are.same({ a + k - 1, model[a + k - 1][1], model[a + k - 1][2] }, { e.index, e.term, e.data })
                end
            end
        end
        for step = 1, 60 do
            local op, l = rand(10), last()
            if op < 6 then
                -- append; sometimes overwrite a suffix with a higher term
                local from = l + 1
                if op < 2 and l > offset then from = offset + 1 + rand(l - offset) end
                if from <= l then term = term + 1 end
                for i = from, l do model[i] = nil end
                local list = {}
                for i = from, from + rand(700) do
                    local d = ("v%d-%d"):format(i, term)
                    list[#list + 1] = { i, term, d }
                    model[i] = { term, d }
                end
                assert.are.equal(raft.OK, s:save(pb.hardstate(term, 1, offset), ents(list), step % 2 == 0))
            elseif op < 8 and l > offset + 1 then
                local i = offset + 1 + rand(l - offset - 1)
                assert.are.equal(raft.OK, s:compact(i))
                for j = offset, i - 1 do model[j] = nil end
                model[i] = { model[i][1] }
                offset = i
            elseif op == 8 then
                assert.are.equal(raft.OK, s:apply_snapshot(helpers.snapshot(l + 5, term, { 1 })))
                model, offset = { [l + 5] = { term } }, l + 5
            end
            check()
            if step % 15 == 0 then
                s:close()
                s = ldbstorage.new(path)
                check()
            end
        end
    end)

    it("save writes the hard state and the entries in one write", function()
        s = ldbstorage.new(path)
        assert.are.equal(raft.OK, s:save(pb.hardstate(3, 2, 0), ents({ { 1, 3, "a" }, { 2, 3, "b" } }), true))
        assert.are.equal(raft.OK, s:save(pb.hardstate(3, 2, 2), {}, false))
        -- an append that would leave a gap changes nothing, hard state included
        assert.are.equal(raft.ErrAppendOutOfData, s:save(pb.hardstate(4, 0, 2), ents({ { 9, 4 } }), true))
        s:close()
        s = ldbstorage.new(path)
        local hs = s:InitialState()
        assert.are.same({ 3, 2, 2 }, { hs.term, hs.vote, hs.commit })
        assert.are.same({ { 1, 3 }, { 2, 3 } }, helpers.pairs_of(s:range(1, 3)))
        assert.has_error(function() s:save("x", {}) end)
    end)

    it("appends entry list views (rd.entries, m.entries)", function()
        s = ldbstorage.new(path)
        local m = pb.message()
        m.entries = ents({ { 1, 1, "a" }, { 2, 1, "b" } })
        assert.are.equal(raft.OK, s:append(m.entries, true))
        assert.are.equal("b", s:getEntry(2).data)
    end)

    it("apply_snapshot replaces the log durably", function()
        s = ldbstorage.new(path)
        s:append(ents({ { 1, 1 }, { 2, 1 } }))
        assert.are.equal(raft.OK, s:apply_snapshot(helpers.snapshot(10, 3, { 1 })))
        s:close()
        s = ldbstorage.new(path)
        assert.are.same({ 10, 1 }, { s.offset, s.count })
        assert.are.equal(10, s:Snapshot().metadata.index)
    end)

    it("apply_snapshot raises the stored commit to the snapshot index in the same synced write", function()
        -- A node killed after storing a received snapshot, before its
        -- Ready's (unsynced) hard state reached the disk, must still start
        -- (found by tests/lincheck: "state.commit 10763 is out of range
        -- [11244, 11244]").
        s = ldbstorage.new(path)
        local hs = pb.hardstate()
        hs.term, hs.vote, hs.commit = 3, 2, 2
        s:set_hardstate(hs, true)
        s:append(ents({ { 1, 1 }, { 2, 3 } }), true)
        assert.are.equal(raft.OK, s:apply_snapshot(helpers.snapshot(10, 3, { 1, 2, 3 })))
        s:close()
        s = ldbstorage.new(path)
        assert.are.same({ 3, 2, 10 }, { s.hardstate.term, s.hardstate.vote, s.hardstate.commit })
        local node = raft.rawnode()
        local cfg = raft.config()
        cfg.ID = 1
        cfg.Storage = s.base
        node:init(cfg, nil)
        node:close()
        -- A commit already past the snapshot is left alone.
        s:close()
        ldbstorage.delete_db(path)
        s = ldbstorage.new(path)
        hs.commit = 20
        s:set_hardstate(hs, true)
        assert.are.equal(raft.OK, s:apply_snapshot(helpers.snapshot(10, 3, { 1 })))
        s:close()
        s = ldbstorage.new(path)
        assert.are.equal(20, s.hardstate.commit)
    end)

    it("delete_db removes the directory, as a function and as a method", function()
        s = ldbstorage.new(path)
        s:close()
        assert.is_true(ldbstorage.delete_db(path))
        assert.is_nil(io.open(path .. "/CURRENT"))
        s = ldbstorage.new(path)
        s:append(ents({ { 1, 1 } }), true)
        assert.is_true(s:delete_db())
        s = ldbstorage.new(path)
        assert.are.same({ 0, 1 }, { s.offset, s.count })
    end)

    it("raises on misuse with a clear message", function()
        s = ldbstorage.new(path)
        local function err_of(f, ...)
            local ok, msg = pcall(f, ...)
            assert.is_false(ok)
            return msg
        end
        assert.matches("path must be a string", err_of(ldbstorage.new, 5))
        assert.matches("expected a list of entries", err_of(s.append, s, 5))
        assert.matches("expected an entry", err_of(s.append, s, { 1 }))
        assert.matches("not contiguous", err_of(s.append, s, ents({ { 1, 1 }, { 3, 1 } })))
        assert.matches("expected an integer", err_of(s.compact, s, "x"))
        assert.matches("expected a hardstate", err_of(s.set_hardstate, s, {}))
        assert.matches("expected a snapshot", err_of(s.apply_snapshot, s, 3))
        assert.matches("data must be a string", err_of(s.create_snapshot, s, 0, nil, 5))
        assert.matches("without a storage object", err_of(s.Term, 1))
        assert.matches("out of bound", err_of(s.compact, s, 5))
        s:close()
        assert.matches("closed", err_of(s.append, s, {}))
        assert.matches("closed", err_of(s.Term, s, 0))
        assert.matches("closed", err_of(s.getEntry, s, 0))
        s = nil
    end)
end)
