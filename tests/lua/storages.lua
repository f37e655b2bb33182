-- Storage factories for specs that run against both storages.
local raft = require("lraft")
local ldbstorage = require("ldbstorage")
local helpers = require("helpers")

local storages = {}

-- The store (and directory) behind each native store group.
local stores = setmetatable({}, { __mode = "k" })

--- Each factory: make(ents) -> storage, cleanup(). `ents` (optional) is a
--- list of entries whose first one is the dummy (compaction point).
--- base(s) is the value to assign to cfg.Storage; reopen(s) (ldbstorage
--- only) closes and reopens the database, returning the new storage.
storages.list = {
    {
        name = "memorystorage",
        make = function(ents)
            local s = raft.memorystorage()
            if ents and #ents > 0 then
                local first = ents[1]
                if first.index > 0 then
                    assert(s:apply_snapshot(helpers.snapshot(first.index, first.term)) == raft.OK)
                end
                local rest = {}
                for i = 2, #ents do
                    rest[#rest + 1] = ents[i]
                end
                s:append(rest)
            end
            return s, function() end
        end,
        base = function(s) return s end,
        reopen = function(s) return s end,
    },
    {
        name = "ldbstorage",
        make = function(ents)
            local path = helpers.tmpdir("stor")
            local s = ldbstorage.new(path, ents)
            local current = s
            return s, function()
                current:close()
                ldbstorage.delete_db(path)
            end, function(new) current = new end
        end,
        base = function(s) return s.base end,
        reopen = function(s)
            s:close()
            return ldbstorage.new(s.path)
        end,
    },
    {
        -- The native durable store (lraft.store): a group of a LevelDB
        -- store in Rust, used directly as cfg.Storage.
        name = "store",
        make = function(ents)
            local path = helpers.tmpdir("store")
            local st = assert(raft.store.open(path))
            local g = st:group(1)
            stores[g] = { store = st, path = path }
            if ents and #ents > 0 then
                local first = ents[1]
                if first.index > 0 then
                    assert(g:apply_snapshot(helpers.snapshot(first.index, first.term)) == raft.OK)
                end
                local rest = {}
                for i = 2, #ents do
                    rest[#rest + 1] = ents[i]
                end
                assert(g:append(rest) == raft.OK)
            end
            return g, function()
                stores[g].store:close()
                raft.leveldb.destroy(path)
            end
        end,
        base = function(s) return s end,
        reopen = function(g)
            local info = stores[g]
            info.store:close()
            info.store = assert(raft.store.open(info.path))
            local g2 = info.store:group(1)
            stores[g2] = info
            return g2
        end,
    },
}

-- Both storages must run: a missing one is a failure, never a silent skip.
assert(raft.memorystorage, "lraft.memorystorage is missing")

return storages
