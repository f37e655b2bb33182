-- Storage factories for specs that run against both storages.
local raft = require("lraft")
local ldbstorage = require("ldbstorage")
local helpers = require("helpers")

local storages = {}

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
}

-- Both storages must run: a missing one is a failure, never a silent skip.
assert(raft.memorystorage, "lraft.memorystorage is missing")

return storages
