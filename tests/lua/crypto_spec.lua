-- lraft.hmac_sha256, constant_time_eq and random_bytes (lraft/src/crypto.rs):
-- RFC 4231 test vectors and bad arguments.
local raft = require("lraft")

local function unhex(h)
    return (h:gsub("%s", ""):gsub("..", function(x) return string.char(tonumber(x, 16)) end))
end
local function hex(s)
    return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end))
end

describe("lraft.hmac_sha256", function()
    -- RFC 4231 section 4: test cases 1-4, 6 and 7 (case 5 is a truncated MAC).
    local cases = {
        { key = string.rep("\x0b", 20), data = "Hi There",
          mac = "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" },
        { key = "Jefe", data = "what do ya want for nothing?",
          mac = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" },
        { key = string.rep("\xaa", 20), data = string.rep("\xdd", 50),
          mac = "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe" },
        { key = unhex("0102030405060708090a0b0c0d0e0f10111213141516171819"),
          data = string.rep("\xcd", 50),
          mac = "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b" },
        { key = string.rep("\xaa", 131),
          data = "Test Using Larger Than Block-Size Key - Hash Key First",
          mac = "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54" },
        { key = string.rep("\xaa", 131),
          data = "This is a test using a larger than block-size key and a larger than block-size data."
              .. " The key needs to be hashed before being used by the HMAC algorithm.",
          mac = "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2" },
    }
    for i, c in ipairs(cases) do
        it("matches RFC 4231 vector " .. i, function()
            local mac = raft.hmac_sha256(c.key, c.data)
            assert.are.equal(32, #mac)
            assert.are.equal(c.mac, hex(mac))
        end)
    end

    it("is binary-safe and takes empty keys and data", function()
        assert.are_not.equal(raft.hmac_sha256("k", "a\0b"), raft.hmac_sha256("k", "a\0c"))
        assert.are.equal(32, #raft.hmac_sha256("", ""))
    end)

    it("raises a string-convertible error for wrong types", function()
        for _, args in ipairs({ { nil, "x" }, { "k", nil }, { 1, "x" }, { "k", {} } }) do
            local ok, err = pcall(raft.hmac_sha256, args[1], args[2])
            assert.is_false(ok)
            assert.matches("hmac_sha256", tostring(err))
        end
    end)
end)

describe("lraft.constant_time_eq", function()
    it("compares contents and lengths", function()
        assert.is_true(raft.constant_time_eq("abc", "abc"))
        assert.is_false(raft.constant_time_eq("abc", "abd"))
        assert.is_false(raft.constant_time_eq("abc", "ab"))
        assert.is_true(raft.constant_time_eq("", ""))
        assert.is_false(pcall(raft.constant_time_eq, "a", nil))
    end)
end)

describe("lraft.random_bytes", function()
    it("returns n bytes that differ between calls", function()
        assert.are.equal(0, #raft.random_bytes(0))
        local a, b = raft.random_bytes(32), raft.random_bytes(32)
        assert.are.equal(32, #a)
        assert.are_not.equal(a, b)
    end)

    it("refuses negative, huge, fractional and non-number counts", function()
        for _, n in ipairs({ -1, math.maxinteger, 2 ^ 63, 1.5, "8", nil }) do
            local ok, err = pcall(raft.random_bytes, n)
            assert.is_false(ok, tostring(n))
            assert.matches("random_bytes", tostring(err))
        end
    end)
end)
