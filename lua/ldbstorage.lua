-- ldbstorage: a Raft log storage written in Lua over LevelDB (lraft.leveldb).
--
-- Layout (all keys in one database, so a write batch changes them atomically):
--   "e" .. 8-byte big-endian index -> serialized entry   (log order == key order)
--   "m:bounds"                     -> offset, count        (two big-endian u64)
--   "m:hardstate"                  -> serialized hard state
--   "m:snapshot"                   -> serialized snapshot
-- The entry at `offset` is the dummy entry: index and term of the last
-- compacted entry. `count` includes it.
--
-- Raft asks for terms and recent entries many times per message; the
-- newest entries are kept in memory (their term, and the serialized entry
-- for the last ENTRY_CACHE), always equal to what the database holds:
-- every write that changes the log updates or drops them (entries past
-- the last index may stay cached: they are never read, and an append
-- that reaches them again overwrites them).
--
-- Usage:
--   local ldbstorage = require("ldbstorage")
--   local s = ldbstorage.new(path)
--   cfg.Storage = s.base
--   s:append(rd.entries, true)     -- durable when it returns
--   s:close()

local raft = require("lraft")
local leveldb = require("lraft.leveldb")
local pb = raft.pb

local ldbstorage = {}
ldbstorage.__index = ldbstorage

local OK = raft.OK
local BOUNDS = "m:bounds"
local HARDSTATE = "m:hardstate"
local SNAPSHOT = "m:snapshot"

local TERM_CACHE = 8192   -- newest indices whose term is kept in memory
local ENTRY_CACHE = 1024  -- newest entries kept serialized in memory

local function ekey(i)
    return "e" .. string.pack(">I8", i)
end

local function fail(fmt, ...)
    error("ldbstorage: " .. string.format(fmt, ...), 3)
end

local function check_int(v, what)
    if math.type(v) ~= "integer" then
        if type(v) == "number" and v == math.floor(v) then
            return math.tointeger(v)
        end
        fail("%s: expected an integer, got %s", what, type(v))
    end
    return v
end

local function check_open(self, what)
    if getmetatable(self) ~= ldbstorage then
        error("ldbstorage:" .. what .. ": called without a storage object (use s:" .. what .. "(...))", 3)
    end
    if self.db == nil then
        fail("%s: the storage is closed", what)
    end
end

local function parse_entry(bytes)
    local e = pb.entry()
    if not e:parser(bytes) then
        error("ldbstorage: corrupt entry in the database", 3)
    end
    return e
end

local function copy_snapshot(snap)
    local c = pb.snapshot()
    assert(c:parser(snap:serialize()))
    return c
end

local function copy_hardstate(hs)
    local c = pb.hardstate()
    assert(c:parser(hs:serialize()))
    return c
end

local function check_entry_list(ents, what)
    local t = type(ents)
    if t ~= "table" and t ~= "userdata" then
        fail("%s: expected a list of entries, got %s", what, t)
    end
end

local function put_bounds(b, offset, count)
    b:put(BOUNDS, string.pack(">I8I8", offset, count))
end

-- Forgets every cached term and entry.
function ldbstorage:_cache_reset()
    self.terms, self.ents = {}, {}
    self.tlo, self.elo = math.maxinteger, math.maxinteger -- lowest cached index
end

-- Drops cached indices below `lo` from the cache table `t` whose lowest
-- index is self[field]; the walk is bounded by the cache's size.
function ldbstorage:_cache_trim(t, field, lo, size)
    local from = self[field]
    if from >= lo then return end
    if lo - from > size then
        for i in pairs(t) do if i < lo then t[i] = nil end end
    else
        for i = from, lo - 1 do t[i] = nil end
    end
    self[field] = lo
end

-- Loads offset/count, hard state and snapshot from the database.
function ldbstorage:_load()
    self:_cache_reset()
    local bounds = self.db:get(BOUNDS)
    if bounds == nil then
        self.offset, self.count = 0, 1
        local b = self.db:batch()
        b:put(ekey(0), pb.entry(0, 0):serialize())
        put_bounds(b, 0, 1)
        self.db:write(b, true)
    else
        self.offset, self.count = string.unpack(">I8I8", bounds)
    end
    self.hardstate = pb.hardstate()
    local hs = self.db:get(HARDSTATE)
    if hs ~= nil and not self.hardstate:parser(hs) then
        fail("corrupt hard state in %s", self.path)
    end
    self.snap = pb.snapshot()
    local snap = self.db:get(SNAPSHOT)
    if snap ~= nil and not self.snap:parser(snap) then
        fail("corrupt snapshot in %s", self.path)
    end
end

--- Opens (creating if missing) the storage at `path`. With `ents`, the log
--- is replaced by them: `ents[1]` is the dummy entry, the rest the log.
function ldbstorage.new(path, ents)
    if type(path) ~= "string" then
        fail("new: path must be a string, got %s", type(path))
    end
    if ents ~= nil then
        check_entry_list(ents, "new")
    end
    local db, msg = leveldb.open(path, { create_if_missing = true })
    if db == nil then
        fail("new: cannot open %s: %s", path, tostring(msg))
    end
    local self = setmetatable({ db = db, path = path }, ldbstorage)
    self:_load()
    if ents ~= nil and #ents > 0 then
        if pb.typename(ents[1]) ~= "entry" then
            db:close()
            fail("new: expected a list of entries")
        end
        local b = db:batch()
        for i = self.offset, self.offset + self.count - 1 do
            b:delete(ekey(i))
        end
        local first = ents[1].index
        for k = 1, #ents do
            local e = ents[k]
            if pb.typename(e) ~= "entry" or e.index ~= first + k - 1 then
                db:close()
                fail("new: entries are not contiguous at position %d", k)
            end
            b:put(ekey(e.index), e:serialize())
        end
        put_bounds(b, first, #ents)
        db:write(b, true)
        self.offset, self.count = first, #ents
        self:_cache_reset()
    end
    self.base = raft.ldbstorage(self)
    return self
end

--- Removes the database directory at `path` (it must not be open).
function ldbstorage.delete_db(path)
    if getmetatable(path) == ldbstorage then
        local self = path
        if self.db ~= nil then
            self:close()
        end
        return leveldb.destroy(self.path)
    end
    if type(path) ~= "string" then
        fail("delete_db: path must be a string, got %s", type(path))
    end
    return leveldb.destroy(path)
end

--- Flushes and closes the database; the path can be reopened at once.
--- Also drops `base`: the Rust side holds this table through the registry,
--- so the table and `base` would otherwise keep each other alive forever.
function ldbstorage:close()
    if getmetatable(self) ~= ldbstorage then
        error("ldbstorage:close: called without a storage object", 2)
    end
    if self.db ~= nil then
        local db = self.db
        self.db = nil
        self.base = nil
        db:flush()
        db:close()
    end
end

function ldbstorage:lastIndex()
    return self.offset + self.count - 1
end

--- The entry at index `i`, or nil when it is not stored.
function ldbstorage:getEntry(i)
    check_open(self, "getEntry")
    i = check_int(i, "getEntry")
    if i < self.offset or i > self:lastIndex() then
        return nil
    end
    local v = self.ents[i] or self.db:get(ekey(i))
    if v == nil then
        fail("getEntry: entry %d is missing from the database", i)
    end
    return parse_entry(v)
end

--- The stored entries in [lo, hi), clamped to what is stored.
function ldbstorage:range(lo, hi)
    check_open(self, "range")
    lo = math.max(check_int(lo, "range: lo"), self.offset)
    hi = math.min(check_int(hi, "range: hi"), self:lastIndex() + 1)
    local out = {}
    if lo >= hi then
        return out
    end
    for _, v in self.db:iter(ekey(lo), ekey(hi)) do
        out[#out + 1] = parse_entry(v)
    end
    if #out ~= hi - lo then
        fail("range: entries [%d, %d) are incomplete in the database", lo, hi)
    end
    return out
end

-- Adds `ents` (etcd MemoryStorage.Append semantics) to batch `b`. Returns
-- an error code and, when the log changes, a function that updates the
-- in-memory state once the batch is written.
function ldbstorage:_append_to(b, ents)
    check_entry_list(ents, "append")
    local n = #ents
    if n == 0 then
        return raft.OK
    end
    for k = 1, n do
        if pb.typename(ents[k]) ~= "entry" then
            fail("append: expected an entry at position %d, got %s", k, type(ents[k]))
        end
    end
    local start = ents[1].index
    for k = 2, n do
        if ents[k].index ~= start + k - 1 then
            fail("append: entries are not contiguous at position %d (index %d after %d)", k,
                ents[k].index, ents[k - 1].index)
        end
    end
    local first = self.offset + 1
    local last = start + n - 1
    if last < first then
        return raft.OK
    end
    local skip = 0
    if first > start then
        skip = first - start
    end
    local from = start + skip
    local oldlast = self:lastIndex()
    if from > oldlast + 1 then
        return raft.ErrAppendOutOfData
    end
    for i = last + 1, oldlast do
        b:delete(ekey(i))
    end
    local written = {}
    for k = 1 + skip, n do
        local e = ents[k]
        local bytes = e:serialize()
        written[#written + 1] = { e.index, e.term, bytes }
        b:put(ekey(e.index), bytes)
    end
    local count = last - self.offset + 1
    put_bounds(b, self.offset, count)
    return raft.OK, function()
        self.count = count
        for _, w in ipairs(written) do
            local i = w[1]
            self.terms[i], self.ents[i] = w[2], w[3]
        end
        if from < self.tlo then self.tlo = from end
        if from < self.elo then self.elo = from end
        self:_cache_trim(self.terms, "tlo", last - TERM_CACHE + 1, TERM_CACHE)
        self:_cache_trim(self.ents, "elo", last - ENTRY_CACHE + 1, ENTRY_CACHE)
    end
end

--- etcd MemoryStorage.Append semantics. Durable when it returns if `flush`.
function ldbstorage:append(ents, flush)
    check_open(self, "append")
    return self:save(nil, ents, flush)
end

--- Persists a Ready's hard state (may be nil) and entries in one LevelDB
--- write, so one fsync covers both; durable when it returns if `flush`.
--- Returns an error code as `append` does (nothing is written on error).
function ldbstorage:save(hs, ents, flush)
    check_open(self, "save")
    if hs ~= nil and pb.typename(hs) ~= "hardstate" then
        fail("save: expected a hardstate, got %s", type(hs))
    end
    local b = self.db:batch()
    local rc, done = self:_append_to(b, ents)
    if rc ~= raft.OK then
        return rc
    end
    if hs ~= nil then
        b:put(HARDSTATE, hs:serialize())
    elseif not done then
        return raft.OK
    end
    self.db:write(b, flush and true or false)
    if hs ~= nil then self.hardstate = copy_hardstate(hs) end
    if done then done() end
    return raft.OK
end

--- Drops the entries before `i`; entry `i` becomes the dummy entry.
function ldbstorage:compact(i)
    check_open(self, "compact")
    i = check_int(i, "compact")
    if i <= self.offset then
        return raft.ErrCompacted
    end
    local last = self:lastIndex()
    if i > last then
        fail("compact: %d is out of bound lastindex(%d)", i, last)
    end
    local e = self:getEntry(i)
    local b = self.db:batch()
    for j = self.offset, i - 1 do
        b:delete(ekey(j))
    end
    b:put(ekey(i), pb.entry(i, e.term):serialize())
    local count = self.count - (i - self.offset)
    put_bounds(b, i, count)
    self.db:write(b, true)
    self.offset, self.count = i, count
    -- Entry i is now the dummy (same index and term, no data): its cached
    -- entry goes, its term stays.
    self:_cache_trim(self.terms, "tlo", i, TERM_CACHE)
    self:_cache_trim(self.ents, "elo", i + 1, ENTRY_CACHE)
    return raft.OK
end

--- Makes and stores a snapshot at index `i`. Returns err, snapshot.
function ldbstorage:create_snapshot(i, cs, data)
    check_open(self, "create_snapshot")
    i = check_int(i, "create_snapshot")
    if data ~= nil and type(data) ~= "string" then
        fail("create_snapshot: data must be a string, got %s", type(data))
    end
    if i <= self.snap.metadata.index then
        return raft.ErrSnapOutOfDate, pb.snapshot()
    end
    local last = self:lastIndex()
    if i > last or i < self.offset then
        fail("create_snapshot: %d is out of bound [%d, %d]", i, self.offset, last)
    end
    local snap = pb.snapshot()
    snap.metadata.index = i
    snap.metadata.term = self:getEntry(i).term
    if cs ~= nil then
        snap.metadata.conf_state = cs
    end
    if data ~= nil then
        snap.data = data
    end
    self.db:put(SNAPSHOT, snap:serialize(), true)
    self.snap = snap
    return raft.OK, copy_snapshot(snap)
end

--- Replaces the log with the snapshot. Returns an error code.
function ldbstorage:apply_snapshot(snap)
    check_open(self, "apply_snapshot")
    if pb.typename(snap) ~= "snapshot" then
        fail("apply_snapshot: expected a snapshot, got %s", type(snap))
    end
    local si, st = snap.metadata.index, snap.metadata.term
    if self.snap.metadata.index >= si then
        return raft.ErrSnapOutOfDate
    end
    local b = self.db:batch()
    for j = self.offset, self:lastIndex() do
        b:delete(ekey(j))
    end
    b:put(ekey(si), pb.entry(si, st):serialize())
    put_bounds(b, si, 1)
    b:put(SNAPSHOT, snap:serialize())
    -- The snapshot's entries are committed, and the stored commit must not
    -- stay below them: the caller writes the Ready's hard state afterwards,
    -- synced only when raft's MustSync says so (a commit change alone does
    -- not), and a crash in between would leave a state that RawNode refuses
    -- to start from ("state.commit N is out of range").
    local hs
    if (self.hardstate.commit or 0) < si then
        hs = copy_hardstate(self.hardstate)
        hs.commit = si
        b:put(HARDSTATE, hs:serialize())
    end
    self.db:write(b, true)
    if hs then self.hardstate = hs end
    self.snap = copy_snapshot(snap)
    self.offset, self.count = si, 1
    self:_cache_reset()
    return raft.OK
end

--- Persists the hard state (durably unless `flush` is false).
function ldbstorage:set_hardstate(hs, flush)
    check_open(self, "set_hardstate")
    if pb.typename(hs) ~= "hardstate" then
        fail("set_hardstate: expected a hardstate, got %s", type(hs))
    end
    self.db:put(HARDSTATE, hs:serialize(), flush ~= false)
    self.hardstate = copy_hardstate(hs)
end

-- Storage callbacks (contract section 4).

function ldbstorage:InitialState()
    check_open(self, "InitialState")
    return copy_hardstate(self.hardstate), copy_snapshot(self.snap)
end

function ldbstorage:Entries(lo, hi, max_size)
    check_open(self, "Entries")
    lo = check_int(lo, "Entries: lo")
    hi = check_int(hi, "Entries: hi")
    local limit = math.maxinteger
    if max_size ~= nil then
        if type(max_size) ~= "number" then
            fail("Entries: max_size must be a number, got %s", type(max_size))
        end
        if math.type(max_size) == "float" then
            if max_size >= 2 ^ 63 then
                limit = math.maxinteger
            else
                limit = math.tointeger(max_size >= 0 and math.floor(max_size) or math.ceil(max_size))
            end
        else
            limit = max_size
        end
    end
    if lo <= self.offset then
        return raft.ErrCompacted, {}
    end
    if hi > self:lastIndex() + 1 then
        return raft.ErrUnavailable, {}
    end
    if self.count == 1 then
        return raft.ErrUnavailable, {}
    end
    local out = {}
    if lo >= hi then
        return raft.OK, out
    end
    local size = 0
    local function add(v)
        local e = parse_entry(v)
        size = size + e:byte_size()
        if #out > 0 and size > limit then
            return false
        end
        out[#out + 1] = e
        return true
    end
    if lo >= self.elo then
        for i = lo, hi - 1 do
            local v = self.ents[i]
            if v == nil then
                fail("Entries: entry %d is missing from the cache", i)
            end
            if not add(v) then break end
        end
        return raft.OK, out
    end
    for _, v in self.db:iter(ekey(lo), ekey(hi)) do
        if not add(v) then break end
    end
    return raft.OK, out
end

function ldbstorage:Term(i)
    check_open(self, "Term")
    i = check_int(i, "Term")
    if i < self.offset then
        return raft.ErrCompacted, 0
    end
    if i > self:lastIndex() then
        return raft.ErrUnavailable, 0
    end
    local t = self.terms[i]
    if t ~= nil then
        return raft.OK, t
    end
    return raft.OK, self:getEntry(i).term
end

-- Raft asks for these two many times per message: kept to a field read
-- when the storage is open.
function ldbstorage:LastIndex()
    if self.db == nil or getmetatable(self) ~= ldbstorage then check_open(self, "LastIndex") end
    return OK, self.offset + self.count - 1
end

function ldbstorage:FirstIndex()
    if self.db == nil or getmetatable(self) ~= ldbstorage then check_open(self, "FirstIndex") end
    return OK, self.offset + 1
end

function ldbstorage:Snapshot()
    check_open(self, "Snapshot")
    return copy_snapshot(self.snap), raft.OK
end

return ldbstorage
