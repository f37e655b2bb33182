-- etcd's storage semantics (storage_test.go), against every storage.
local raft = require("lraft")
local helpers = require("helpers")
local storages = require("storages")
local ents = helpers.ents

-- {index, term} of every stored entry from the dummy on, read through the
-- storage callbacks only (so it works for any storage).
local function log_of(s)
    local err, first = s:FirstIndex()
    assert.are.equal(raft.OK, err)
    local err2, last = s:LastIndex()
    assert.are.equal(raft.OK, err2)
    local out = {}
    for i = first - 1, last do
        local e, t = s:Term(i)
        assert.are.equal(raft.OK, e)
        out[#out + 1] = { i, t }
    end
    return out
end

for _, st in ipairs(storages.list) do
    describe("storage semantics on " .. st.name, function()
        local cleanup
        local function make(list)
            local s, c = st.make(list and ents(list))
            cleanup = c
            return s
        end
        after_each(function()
            if cleanup then cleanup() end
            cleanup = nil
        end)

        it("Term", function()
            local s = make({ { 3, 3 }, { 4, 4 }, { 5, 5 } })
            local cases = { { 2, raft.ErrCompacted, 0 }, { 3, raft.OK, 3 }, { 4, raft.OK, 4 },
                { 5, raft.OK, 5 }, { 6, raft.ErrUnavailable, 0 } }
            for _, c in ipairs(cases) do
                local err, term = s:Term(c[1])
                assert.are.same({ c[2], c[3] }, { err, term }, "Term(" .. c[1] .. ")")
            end
        end)

        it("Entries with size limits", function()
            local list = { { 3, 3 }, { 4, 4 }, { 5, 5 }, { 6, 6 } }
            local s = make(list)
            local sz = ents(list)[2]:byte_size()
            local max = raft.noLimit
            local cases = {
                { 2, 6, max, raft.ErrCompacted, {} },
                { 3, 4, max, raft.ErrCompacted, {} },
                { 4, 5, max, raft.OK, { { 4, 4 } } },
                { 4, 6, max, raft.OK, { { 4, 4 }, { 5, 5 } } },
                { 4, 7, max, raft.OK, { { 4, 4 }, { 5, 5 }, { 6, 6 } } },
                { 4, 7, 0, raft.OK, { { 4, 4 } } },
                { 4, 7, 2 * sz, raft.OK, { { 4, 4 }, { 5, 5 } } },
                { 4, 7, 2 * sz + sz // 2, raft.OK, { { 4, 4 }, { 5, 5 } } },
                { 4, 7, 3 * sz - 1, raft.OK, { { 4, 4 }, { 5, 5 } } },
                { 4, 7, 3 * sz, raft.OK, { { 4, 4 }, { 5, 5 }, { 6, 6 } } },
                { 4, 7, 2 * sz + 0.9, raft.OK, { { 4, 4 }, { 5, 5 } } },
                { 4, 7, nil, raft.OK, { { 4, 4 }, { 5, 5 }, { 6, 6 } } },
                { 4, 8, max, raft.ErrUnavailable, {} },
            }
            for _, c in ipairs(cases) do
                local err, got = s:Entries(c[1], c[2], c[3])
                assert.are.equal(c[4], err)
                if err == raft.OK then
                    assert.are.same(c[5], helpers.pairs_of(got),
                        string.format("Entries(%d, %d, %s)", c[1], c[2], tostring(c[3])))
                end
            end
        end)

        it("LastIndex and FirstIndex", function()
            local s = make({ { 3, 3 }, { 4, 4 }, { 5, 5 } })
            assert.are.same({ raft.OK, 5 }, { s:LastIndex() })
            assert.are.same({ raft.OK, 4 }, { s:FirstIndex() })
            s:append(ents({ { 6, 5 } }))
            assert.are.same({ raft.OK, 6 }, { s:LastIndex() })
            assert.are.equal(raft.OK, s:compact(4))
            assert.are.same({ raft.OK, 5 }, { s:FirstIndex() })
        end)

        it("compact", function()
            local cases = {
                { 2, raft.ErrCompacted, 3, 3, 3 },
                { 3, raft.ErrCompacted, 3, 3, 3 },
                { 4, raft.OK, 4, 4, 2 },
                { 5, raft.OK, 5, 5, 1 },
            }
            for _, c in ipairs(cases) do
                local s = make({ { 3, 3 }, { 4, 4 }, { 5, 5 } })
                assert.are.equal(c[2], s:compact(c[1]))
                local log = log_of(s)
                assert.are.same({ c[3], c[4], c[5] }, { log[1][1], log[1][2], #log })
                cleanup()
                cleanup = nil
            end
            local s = make({ { 3, 3 }, { 4, 4 }, { 5, 5 } })
            assert.has_error(function() s:compact(6) end)
        end)

        it("create_snapshot", function()
            local s = make({ { 3, 3 }, { 4, 4 }, { 5, 5 } })
            local err, snap = s:create_snapshot(4, { 1, 2, 3 }, "data")
            assert.are.equal(raft.OK, err)
            assert.are.same({ 4, 4, "data" }, { snap.metadata.index, snap.metadata.term, snap.data })
            assert.are.same({ 1, 2, 3 }, snap.metadata.conf_state.voters)
            err, snap = s:create_snapshot(5, { voters = { 1 }, learners = { 2 } }, "d2")
            assert.are.equal(raft.OK, err)
            assert.are.same({ 5, 5 }, { snap.metadata.index, snap.metadata.term })
            assert.are.same({ 2 }, snap.metadata.conf_state.learners)
            err = s:create_snapshot(4, { 1 }, "old")
            assert.are.equal(raft.ErrSnapOutOfDate, err)
        end)

        it("append with truncation", function()
            local cases = {
                { { { 1, 1 }, { 2, 2 } }, raft.OK, { { 3, 3 }, { 4, 4 }, { 5, 5 } } },
                { { { 3, 3 }, { 4, 4 }, { 5, 5 } }, raft.OK, { { 3, 3 }, { 4, 4 }, { 5, 5 } } },
                { { { 3, 3 }, { 4, 6 }, { 5, 6 } }, raft.OK, { { 3, 3 }, { 4, 6 }, { 5, 6 } } },
                { { { 3, 3 }, { 4, 4 }, { 5, 5 }, { 6, 5 } }, raft.OK,
                    { { 3, 3 }, { 4, 4 }, { 5, 5 }, { 6, 5 } } },
                { { { 2, 3 }, { 3, 3 }, { 4, 5 } }, raft.OK, { { 3, 3 }, { 4, 5 } } },
                { { { 4, 5 } }, raft.OK, { { 3, 3 }, { 4, 5 } } },
                { { { 6, 5 } }, raft.OK, { { 3, 3 }, { 4, 4 }, { 5, 5 }, { 6, 5 } } },
                { { { 7, 5 } }, raft.ErrAppendOutOfData, { { 3, 3 }, { 4, 4 }, { 5, 5 } } },
            }
            for i, c in ipairs(cases) do
                local s = make({ { 3, 3 }, { 4, 4 }, { 5, 5 } })
                assert.are.equal(c[2], s:append(ents(c[1])), "case " .. i)
                assert.are.same(c[3], log_of(s), "case " .. i)
                cleanup()
                cleanup = nil
            end
        end)

        it("apply_snapshot", function()
            local s = make()
            assert.are.equal(raft.OK, s:apply_snapshot(helpers.snapshot(4, 4, { 1, 2, 3 }, "d")))
            assert.are.equal(raft.ErrSnapOutOfDate, s:apply_snapshot(helpers.snapshot(3, 3, { 1 })))
            assert.are.same({ { 4, 4 } }, log_of(s))
            assert.are.same({ raft.OK, 5 }, { s:FirstIndex() })
            local snap = s:Snapshot()
            assert.are.same({ 4, 4, "d" }, { snap.metadata.index, snap.metadata.term, snap.data })
        end)

        it("an empty storage has the dummy entry at index 0", function()
            local s = make()
            assert.are.same({ { 0, 0 } }, log_of(s))
            assert.are.equal(raft.ErrUnavailable, (s:Entries(1, 2)))
        end)

        it("hardstate is kept", function()
            local s = make()
            s:set_hardstate(raft.pb.hardstate(2, 1, 3))
            local hs = s.hardstate
            assert.are.same({ 2, 3, 1 }, { hs.term, hs.vote, hs.commit })
        end)
    end)
end
