-- Shared helpers for the lraft specs.
local raft = require("lraft")
local pb = raft.pb

local helpers = {}

local counter = 0
--- A fresh path for a database directory (not created).
function helpers.tmpdir(tag)
    counter = counter + 1
    local base = os.getenv("TMPDIR") or "/tmp"
    local name = string.format("%s/lraft-%s-%d-%d-%d", base, tag or "db", os.time(),
        math.random(1, 1 << 30), counter)
    return name
end

--- Entries from {index, term[, data]} triples, every field set (as the
--- node's entries are, so that sizes agree across storages).
function helpers.ents(list)
    local out = {}
    for i, p in ipairs(list) do
        out[i] = pb.entry(p[1], p[2], p[3], pb.EntryNormal)
    end
    return out
end

--- {index, term} pairs of a list of entries (Lua list or view).
function helpers.pairs_of(ents)
    local out = {}
    for i = 1, #ents do
        out[i] = { ents[i].index, ents[i].term }
    end
    return out
end

--- A snapshot object.
function helpers.snapshot(index, term, voters, data)
    local s = pb.snapshot()
    s.metadata.index = index
    s.metadata.term = term
    if voters then
        s.metadata.conf_state = voters
    end
    if data then
        s.data = data
    end
    return s
end

return helpers
