-- Crash durability of ldbstorage: a child appends with flush=true and is
-- killed with SIGKILL at random moments; everything it acknowledged must be
-- there after reopening, and the log must be consistent.
local ldbstorage = require("ldbstorage")
local helpers = require("helpers")

local ROUNDS = tonumber(os.getenv("LRAFT_CRASH_ROUNDS") or "25")

local function payload(i)
    return string.format("payload-%d-", i) .. string.rep("x", i % 97)
end

local function sleep(sec)
    os.execute(string.format("sleep %.3f", sec))
end

describe("ldbstorage crash durability", function()
    it(string.format("keeps every flushed append across %d SIGKILLs", ROUNDS), function()
        local path = helpers.tmpdir("crash")
        local dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "tests/lua"
        local acked, hs_acked, total_acks = 0, 0, 0
        for round = 1, ROUNDS do
            local p = assert(io.popen(string.format("exec lua5.4 %s/crash_child.lua %s %d",
                dir, path, round * 7919)))
            local first = p:read("l")
            assert.is_not_nil(first, "child did not start")
            local pid = assert(tonumber(first:match("^pid (%d+)$")), first)
            local function take(line)
                local a = line:match("^ack (%d+)$")
                if a then
                    acked = math.max(acked, tonumber(a))
                    total_acks = total_acks + 1
                end
                local h = line:match("^hs (%d+)$")
                if h then
                    hs_acked = math.max(hs_acked, tonumber(h))
                end
            end
            for _ = 1, math.random(1, 60) do
                local line = p:read("l")
                if not line then break end
                take(line)
            end
            sleep(math.random() * 0.02)
            os.execute("kill -9 " .. pid)
            for line in p:lines() do
                take(line)
            end
            p:close()

            local s = ldbstorage.new(path)
            local last = s:lastIndex()
            assert.is_true(last >= acked,
                string.format("round %d: last index %d < acknowledged %d", round, last, acked))
            local ents = s:range(s.offset, last + 1)
            assert.are.equal(s.count, #ents)
            for k, e in ipairs(ents) do
                assert.are.equal(s.offset + k - 1, e.index)
                if k > 1 then
                    assert.are.equal(payload(e.index), e.data)
                end
            end
            assert.is_true((s.hardstate.commit or 0) >= hs_acked,
                string.format("round %d: hard state commit %s < acknowledged %d", round,
                    tostring(s.hardstate.commit), hs_acked))
            s:close()
            acked = last
        end
        assert.is_true(total_acks >= ROUNDS)
        ldbstorage.delete_db(path)
    end)
end)
