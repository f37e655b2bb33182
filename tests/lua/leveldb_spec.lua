-- lraft.leveldb: the LevelDB binding.
local leveldb = require("lraft.leveldb")
local raft = require("lraft")
local helpers = require("helpers")

describe("lraft.leveldb", function()
    local path, db
    before_each(function()
        path = helpers.tmpdir("ldb")
        db = assert(leveldb.open(path, { create_if_missing = true }))
    end)
    after_each(function()
        db:close()
        leveldb.destroy(path)
    end)

    it("is also reachable as lraft.leveldb", function()
        assert.are.equal("function", type(raft.leveldb.open))
    end)

    it("puts, gets and deletes binary keys and values", function()
        db:put("k\0a", "v\0\255", true)
        assert.are.equal("v\0\255", db:get("k\0a"))
        assert.is_nil(db:get("k"))
        db:delete("k\0a")
        assert.is_nil(db:get("k\0a"))
    end)

    it("iterates a key range in key order", function()
        for _, k in ipairs({ "c", "a", "e", "b", "d" }) do
            db:put(k, k:upper())
        end
        local got = {}
        for k, v in db:iter("b", "e") do
            got[#got + 1] = k .. v
        end
        assert.are.same({ "bB", "cC", "dD" }, got)
        got = {}
        for k in db:iter() do
            got[#got + 1] = k
        end
        assert.are.same({ "a", "b", "c", "d", "e" }, got)
    end)

    it("orders big-endian index keys like numbers", function()
        for _, i in ipairs({ 256, 1, 65536, 2, 255 }) do
            db:put(string.pack(">I8", i), tostring(i))
        end
        local got = {}
        for _, v in db:iter() do
            got[#got + 1] = tonumber(v)
        end
        assert.are.same({ 1, 2, 255, 256, 65536 }, got)
    end)

    it("write batches apply atomically and read their own writes", function()
        db:put("a", "1")
        local b = db:batch()
        b:put("b", "2")
        b:delete("a")
        assert.are.equal("2", b:get("b"))
        assert.is_nil(b:get("a"))
        assert.are.equal("1", db:get("a"))
        assert.is_nil(db:get("b"))
        assert.are.equal(2, b:count())
        db:write(b, true)
        assert.are.equal(0, b:count())
        assert.is_nil(db:get("a"))
        assert.are.equal("2", db:get("b"))
    end)

    it("close releases the lock so the path reopens at once, with the data", function()
        db:put("x", "1", true)
        local again, err = leveldb.open(path)
        assert.is_nil(again)
        assert.matches("lock", err:lower())
        db:close()
        db = assert(leveldb.open(path))
        assert.are.equal("1", db:get("x"))
    end)

    it("raises on use after close and on wrong argument types", function()
        db:close()
        local ok, msg = pcall(db.get, db, "x")
        assert.is_false(ok)
        assert.matches("closed", msg)
        ok, msg = pcall(db.put, db, "x", "y")
        assert.matches("closed", msg)
        db = assert(leveldb.open(path))
        ok, msg = pcall(db.put, db, 1, "y")
        assert.is_false(ok)
        assert.matches("key: expected a string", msg)
        ok, msg = pcall(db.put, db, "x", {})
        assert.matches("value: expected a string", msg)
        ok, msg = pcall(db.write, db, "batch")
        assert.matches("expected a batch", msg)
        ok, msg = pcall(leveldb.open, 5)
        assert.matches("path must be a string", msg)
        ok, msg = pcall(leveldb.open, path .. "-x", { bogus = true })
        assert.matches("unknown option 'bogus'", msg)
    end)

    it("destroy refuses directories that are not databases", function()
        local dir = helpers.tmpdir("notadb")
        os.execute("mkdir -p " .. dir .. " && touch " .. dir .. "/precious")
        local ok, msg = pcall(leveldb.destroy, dir)
        assert.is_false(ok)
        assert.matches("does not look like", msg)
        assert.is_not_nil(io.open(dir .. "/precious"))
        os.remove(dir .. "/precious")
        os.remove(dir)
    end)

    -- The files of the database with the given extension, largest first.
    local function files_with(ext)
        local out = {}
        local ls = io.popen("ls " .. path)
        for name in ls:lines() do
            if name:sub(-#ext - 1) == "." .. ext then
                local f = assert(io.open(path .. "/" .. name, "rb"))
                out[#out + 1] = { name = name, size = f:seek("end") }
                f:close()
            end
        end
        ls:close()
        table.sort(out, function(a, b) return a.size > b.size end)
        return out
    end

    -- Overwrites the bytes of a file from offset `at` (0-based).
    local function overwrite(name, at, bytes)
        local f = assert(io.open(path .. "/" .. name, "r+b"))
        f:seek("set", at)
        f:write(bytes)
        f:close()
    end

    it("refuses a log damaged before intact records, naming the file", function()
        for i = 1, 200 do db:put("k" .. i, string.rep("v", 50), true) end
        db:close()
        local log = files_with("log")[1]
        overwrite(log.name, log.size // 3, "garbage")
        local again, err = leveldb.open(path)
        assert.is_nil(again)
        assert.matches("corrupt", err)
        assert.matches(log.name, err, 1, true)
        -- A fresh database for after_each.
        leveldb.destroy(path)
        db = assert(leveldb.open(path, { create_if_missing = true }))
    end)

    it("refuses a damaged table with an error, never a crash", function()
        for i = 1, 200 do db:put("k" .. i, string.rep("v", 50), true) end
        db:close()
        -- Reopening writes the recovered log into a table.
        db = assert(leveldb.open(path))
        db:close()
        local tbl = assert(files_with("ldb")[1], "a table")
        overwrite(tbl.name, tbl.size - 48, string.rep("\0", 48))
        local ok, again, err = pcall(leveldb.open, path)
        assert.is_true(ok, again)
        assert.is_nil(again)
        assert.matches("corrupt LevelDB table", err)
        assert.matches(tbl.name, err, 1, true)
        -- A fresh database for after_each.
        leveldb.destroy(path)
        db = assert(leveldb.open(path, { create_if_missing = true }))
    end)

    it("a synced put survives SIGKILL of the writer", function()
        db:close()
        local lua = "lua5.4"
        local script = string.format([[
            local leveldb = require("lraft.leveldb")
            local db = assert(leveldb.open(%q))
            for i = 1, 50 do db:put("k" .. i, "v" .. i, true) end
            io.stdout:write("done\n"); io.stdout:flush()
            db:put("unsynced", "lost")
            local f = io.open("/proc/self/stat"); local pid = f:read("n"); f:close()
            os.execute("kill -9 " .. pid)
        ]], path)
        local file = os.tmpname()
        local f = assert(io.open(file, "w"))
        f:write(script)
        f:close()
        local p = io.popen(lua .. " " .. file)
        local out = p:read("a")
        p:close()
        os.remove(file)
        assert.matches("done", out)
        db = assert(leveldb.open(path))
        for i = 1, 50 do
            assert.are.equal("v" .. i, db:get("k" .. i))
        end
    end)
end)
