-- Storage factories for specs that run against both storages.
local raft = require("lraft")
local ldbstorage = require("ldbstorage")
local helpers = require("helpers")

local storages = {}

--- Each factory: make(ents) -> storage, cleanup(). `ents` (optional) is a
--- list of entries whose first one is the dummy (compaction point).
storages.list = {
    {
        name = "ldbstorage",
        make = function(ents)
            local path = helpers.tmpdir("stor")
            local s = ldbstorage.new(path, ents)
            return s, function()
                s:close()
                ldbstorage.delete_db(path)
            end
        end,
    },
}

if raft.memorystorage then
    table.insert(storages.list, 1, {
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
    })
end

return storages
