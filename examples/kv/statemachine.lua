-- statemachine: the replicated key-value state, kept in its own LevelDB
-- database (lraft.leveldb). Each batch of committed entries is applied in
-- one write batch together with the applied index, so after a crash the
-- state and the index agree and no entry is ever applied twice.
--
-- Keys:
--   "d" .. key        -> value                      (the user's data)
--   "s" .. client id  -> list{"@" .. index, seq, result...}
--                        (last result per client: exactly once; index is the
--                        entry that wrote it; older data has no "@" item)
--   "m:members"       -> list{id, role, peer addr, client addr, ...}
--   "m:sessions"      -> list{expiry, max}          (session limits, replicated)
--   "m:applied"       -> u64 index, u64 term        (big-endian)
--   "m:identity"      -> list{cluster id, node id}  (never in snapshots)
-- A snapshot's data is every "d", "s", "m:members" and "m:sessions" pair,
-- each written as u32 length + key, u32 length + value.
--
-- The session table is bounded, the same way on every replica because it
-- is decided by applied entries only: after each entry, sessions whose last
-- write is more than `expiry` entries old are dropped, and the oldest ones
-- while there are more than `max`. A retry that arrives after its session
-- was dropped is applied again. The limits come from a replicated entry
-- (the leader proposes its --session-expiry/--max-sessions when they differ
-- from the state's), so replicas never disagree on them.
local socket = require("socket")
local raft = require("lraft")
local leveldb = require("lraft.leveldb")
local wire = require("wire")
local pb = raft.pb

local sm = {}
sm.__index = sm

local MEMBERS, APPLIED, IDENTITY, SESSIONS = "m:members", "m:applied", "m:identity", "m:sessions"
--- Session limits before any replicated setting: entries a session may stay
--- idle, and the most sessions kept.
sm.DEFAULT_SESSION_EXPIRY, sm.DEFAULT_MAX_SESSIONS = 1000000, 100000
local SYNC_INTERVAL = 1 -- seconds between synced state writes

--- Opens (or creates) the state at `path` for node `node_id` of cluster
--- `cluster_id`. A database made for another cluster or node is refused:
--- returns nil and a message.
function sm.open(path, cluster_id, node_id)
    local db, err = leveldb.open(path, { create_if_missing = true })
    if not db then return nil, err end
    local self = setmetatable({ db = db, path = path, members = {}, applied = 0, applied_term = 0 }, sm)
    local idv = db:get(IDENTITY)
    if idv == nil then
        for _ in db:iter(nil, nil) do
            db:close()
            return nil, ("%s holds data but no identity: not a data directory of this service"):format(path)
        end
        db:put(IDENTITY, wire.encode_list({ cluster_id, node_id }), true)
        self.fresh = true
    else
        local l = wire.decode_list(idv) or {}
        if l[1] ~= cluster_id or l[2] ~= tostring(node_id) then
            db:close()
            return nil, ("data directory belongs to cluster %q node %s, not cluster %q node %d")
                :format(tostring(l[1]), tostring(l[2]), cluster_id, node_id)
        end
    end
    local a = db:get(APPLIED)
    if a then self.applied, self.applied_term = string.unpack(">I8I8", a) end
    local m = db:get(MEMBERS)
    if m then self.members = sm.decode_members(m) end
    self:load_sessions()
    return self
end

local function decode_int(s)
    local n = math.tointeger(tonumber(s))
    if not n or tostring(n) ~= s then return nil end
    return n
end

-- Session bookkeeping in memory (rebuilt from the database on open and
-- restore): last[cid] = index of the client's last write, n = number of
-- sessions, and a queue (qi, qc from qh to qt) of (index, cid) in index
-- order, where an item is stale once the client wrote again.
function sm:load_sessions()
    local cfg = self.db:get(SESSIONS)
    local l = cfg and wire.decode_list(cfg)
    self.session_expiry = l and decode_int(l[1] or "") or sm.DEFAULT_SESSION_EXPIRY
    self.max_sessions = l and decode_int(l[2] or "") or sm.DEFAULT_MAX_SESSIONS
    local items = {}
    for k, v in self.db:iter("s", "t") do
        local x = wire.decode_list(v)
        local idx = x and x[1] and x[1]:match("^@(%d+)$")
        items[#items + 1] = { math.tointeger(tonumber(idx or "0")) or 0, k:sub(2) }
    end
    self:rebuild_queue(items)
end

-- Sets the session queue from a list of {index, cid}.
function sm:rebuild_queue(items)
    table.sort(items, function(a, b) return a[1] < b[1] or (a[1] == b[1] and a[2] < b[2]) end)
    self.last, self.qi, self.qc, self.qh, self.qt, self.nsessions = {}, {}, {}, 1, #items, #items
    for i, x in ipairs(items) do
        self.last[x[2]] = x[1]
        self.qi[i], self.qc[i] = x[1], x[2]
    end
end

--- The number of sessions (clients with a remembered result).
function sm:session_count()
    return self.nsessions
end

function sm:close()
    if self.db then self.db:flush(); self.db:close(); self.db = nil end
end

function sm.encode_members(members)
    local l = {}
    local ids = {}
    for id in pairs(members) do ids[#ids + 1] = id end
    table.sort(ids)
    for _, id in ipairs(ids) do
        local m = members[id]
        for _, x in ipairs({ id, m.role, m.peer or "", m.client or "" }) do l[#l + 1] = x end
    end
    return wire.encode_list(l)
end

function sm.decode_members(s)
    local l = assert(wire.decode_list(s), "corrupt member table")
    local out = {}
    for i = 1, #l, 4 do
        out[math.tointeger(tonumber(l[i]))] = { role = l[i + 1], peer = l[i + 2], client = l[i + 3] }
    end
    return out
end

--- Sets the member table before the first start (addresses from the
--- command line); written at once.
function sm:set_members(members)
    self.members = members
    self.db:put(MEMBERS, sm.encode_members(members), true)
end

--- The ConfState the member table describes.
function sm:conf_state()
    local v, l = {}, {}
    for id, m in pairs(self.members) do
        if m.role == "voter" then v[#v + 1] = id elseif m.role == "learner" then l[#l + 1] = id end
    end
    table.sort(v); table.sort(l)
    return { voters = v, learners = l }
end

function sm:get(k)
    return self.db:get("d" .. k)
end

--- Ordered pairs with from <= key < to (to == "" means no upper bound),
--- at most `limit`; returns a flat list k1, v1, k2, v2, ...
function sm:scan(from, to, limit)
    local out = {}
    local hi = (to ~= "" and ("d" .. to)) or "e"
    for k, v in self.db:iter("d" .. from, hi) do
        if #out >= 2 * limit then break end
        out[#out + 1] = k:sub(2)
        out[#out + 1] = v
    end
    return out
end

-- Runs one command on the batch. Returns the result list.
local function execute(b, cmd, args)
    if cmd == "put" and #args == 2 then
        b:put("d" .. args[1], args[2])
        return { "ok" }
    elseif cmd == "del" and #args == 1 then
        local had = b:get("d" .. args[1]) ~= nil
        if had then b:delete("d" .. args[1]) end
        return { "ok", had and "1" or "0" }
    elseif cmd == "cas" and #args == 3 then
        local cur = b:get("d" .. args[1])
        -- An empty expected value stands for "the key is absent".
        if (args[2] == "" and cur == nil) or (cur ~= nil and cur == args[2]) then
            b:put("d" .. args[1], args[3])
            return { "ok" }
        end
        if cur == nil then return { "mismatch" } end
        return { "mismatch", cur }
    end
    return { "error", "bad command " .. tostring(cmd) }
end

-- Checks the session table. Returns the stored result for a retry, or an
-- error for an older sequence number, or nil when the request is new.
local function dedup(b, cid, seq)
    local s = b:get("s" .. cid)
    if not s then return nil end
    local l = wire.decode_list(s)
    if l[1] and l[1]:sub(1, 1) == "@" then table.remove(l, 1) end
    local last = decode_int(l[1])
    if seq == last then
        table.remove(l, 1)
        return l
    elseif seq < last then
        return { "error", ("sequence number %d is older than the last one applied (%d)"):format(seq, last) }
    end
end

-- Stores request (cid, seq)'s result, written by entry `index`.
function sm:remember(b, cid, seq, res, index)
    local l = { "@" .. index, tostring(seq) }
    for i = 1, #res do l[i + 2] = res[i] end
    b:put("s" .. cid, wire.encode_list(l))
    if self.last[cid] == nil then self.nsessions = self.nsessions + 1 end
    self.last[cid] = index
    self.qt = self.qt + 1
    self.qi[self.qt], self.qc[self.qt] = index, cid
end

-- After entry `index`: drops sessions idle for more than session_expiry
-- entries, then the oldest while there are more than max_sessions.
function sm:expire_sessions(b, index)
    local last, qi, qc = self.last, self.qi, self.qc
    while self.qh <= self.qt do
        local h = self.qh
        local cid, at = qc[h], qi[h]
        if last[cid] == at and index - at <= self.session_expiry and self.nsessions <= self.max_sessions then
            break
        end
        if last[cid] == at then
            last[cid] = nil
            self.nsessions = self.nsessions - 1
            b:delete("s" .. cid)
        end
        qi[h], qc[h] = nil, nil
        self.qh = h + 1
    end
    -- Stale items pile up behind a long-lived session: rebuild the queue
    -- from the live sessions when they outnumber them.
    if self.qt - self.qh + 1 > 2 * self.nsessions + 1024 then
        local items = {}
        for c, i in pairs(last) do items[#items + 1] = { i, c } end
        self:rebuild_queue(items)
    end
end

--- The stored result of request (cid, seq) if it was already applied.
function sm:dedup(cid, seq)
    return dedup(self.db, cid, seq)
end

--- Applies committed entries in one batch. `hooks.confchange(cc)` applies a
--- conf change to Raft and returns the resulting ConfState;
--- `hooks.result(cid, seq, result)` hears each request's result.
function sm:apply(ents, hooks)
    if #ents == 0 then return end
    local b = self.db:batch()
    local members_changed = false
    local last, last_term = self.applied, self.applied_term
    for _, e in ents:ipairs() do
        if e.index <= self.applied then
            -- Already in the state (the member table included), but Raft
            -- restarts from its snapshot's configuration and must see every
            -- later conf change again.
            if e.type == pb.EntryConfChange then
                local cc = pb.confchange()
                assert(cc:parser(e.data), "corrupt conf change entry")
                hooks.confchange(cc)
            end
            goto continue
        end
        if e.type == pb.EntryConfChange then
            local cc = pb.confchange()
            assert(cc:parser(e.data), "corrupt conf change entry")
            -- Raft refuses some changes (every node the same way): then
            -- the member table stays as it is and the client hears why.
            local ok, cs = pcall(hooks.confchange, cc)
            local ctx = (cc.context and #cc.context > 0) and wire.decode_list(cc.context) or {}
            local id = cc.nodeid
            local res = { "ok" }
            if ok then
                local m = self.members[id] or {}
                if ctx[3] then m.peer, m.client = ctx[3], ctx[4] end
                self.members[id] = m
                local roles = {}
                for _, v in ipairs(cs.voters) do roles[v] = "voter" end
                for _, v in ipairs(cs.learners) do roles[v] = "learner" end
                for mid, mm in pairs(self.members) do mm.role = roles[mid] or "removed" end
                members_changed = true
            else
                res = { "error", "membership change refused: " .. tostring(cs) }
            end
            local cid, seq = ctx[1], decode_int(ctx[2] or "")
            if cid and seq then
                local done = dedup(b, cid, seq)
                if not done then self:remember(b, cid, seq, res, e.index) end
                res = done or res
                hooks.result(cid, seq, res)
            end
            if ok and hooks.member then hooks.member(cc.type, id, self.members[id]) end
        elseif #e.data > 0 then
            local l = wire.decode_list(e.data)
            local seq = l and decode_int(l[2] or "")
            if l and seq and l[1] == "" and l[3] == "sessions" then
                -- The session limits (service:propose_session_limits).
                local expiry, max = decode_int(l[4] or ""), decode_int(l[5] or "")
                if expiry and max and expiry >= 1 and max >= 1 then
                    self.session_expiry, self.max_sessions = expiry, max
                    b:put(SESSIONS, wire.encode_list({ expiry, max }))
                end
            elseif l and seq then
                local cid, cmd = l[1], l[3]
                local res = dedup(b, cid, seq)
                if not res then
                    res = execute(b, cmd, { table.unpack(l, 4) })
                    self:remember(b, cid, seq, res, e.index)
                end
                hooks.result(cid, seq, res)
            end
        end
        self:expire_sessions(b, e.index)
        last, last_term = e.index, e.term
        ::continue::
    end
    if members_changed then b:put(MEMBERS, sm.encode_members(self.members)) end
    b:put(APPLIED, string.pack(">I8I8", last, last_term))
    -- Not synced on every batch: the Raft log is durable, and what a crash
    -- loses here (the state and its applied index together) is applied
    -- again from the log on restart. Syncing once a second bounds that
    -- (rusty-leveldb keeps unsynced log writes in a buffer inside the
    -- process, so without it even a killed process would replay); it costs
    -- one fsync a second, well under 1% of a loaded leader's time.
    local now = socket.gettime()
    local sync = now - (self.synced_at or 0) >= SYNC_INTERVAL
    self.db:write(b, sync)
    if sync then self.synced_at = now end
    self.applied, self.applied_term = last, last_term
end

--- A hex digest of the user data (keys and values, in order): nodes at the
--- same applied index must agree on it.
function sm:digest()
    local h, buf, n = "", {}, 0
    for k, v in self.db:iter("d", "e") do
        buf[#buf + 1] = string.pack(">s4s4", k, v)
        n = n + #k + #v
        if n > 65536 then h = raft.hmac_sha256(h, table.concat(buf)); buf, n = {}, 0 end
    end
    h = raft.hmac_sha256(h, table.concat(buf))
    return (h:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
end

--- A hex digest of the session table (client ids, sequence numbers,
--- results and the entries that wrote them).
function sm:sessions_digest()
    local buf = {}
    for k, v in self.db:iter("s", "t") do buf[#buf + 1] = string.pack(">s4s4", k, v) end
    local h = raft.hmac_sha256("", table.concat(buf))
    return (h:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
end

--- The snapshot data of the current state.
function sm:snapshot_data()
    local parts = {}
    for k, v in self.db:iter(nil, nil) do
        local c = k:sub(1, 1)
        if c == "d" or c == "s" or k == MEMBERS or k == SESSIONS then
            parts[#parts + 1] = string.pack(">s4s4", k, v)
        end
    end
    return table.concat(parts)
end

--- Replaces the state with a snapshot's data at (index, term). Returns
--- true, or nil and a reason for malformed data (nothing changed then).
--- Decodes snapshot data into a list of {key, value}; nil and a reason
--- when it is malformed.
function sm.parse_snapshot(data)
    local out = {}
    local pos = 1
    while pos <= #data do
        local ok, k, v, nxt = pcall(string.unpack, ">s4s4", data, pos)
        if not ok then return nil, "malformed snapshot data" end
        local c = k:sub(1, 1)
        if not (c == "d" or c == "s" or k == MEMBERS or k == SESSIONS) then
            return nil, "unexpected key in snapshot data"
        end
        if k == MEMBERS and not pcall(sm.decode_members, v) then
            return nil, "malformed member table in snapshot data"
        end
        out[#out + 1] = { k, v }
        pos = nxt
    end
    return out
end

function sm:restore(data, index, term)
    local pairs_, err = sm.parse_snapshot(data)
    if not pairs_ then return nil, err end
    local b = self.db:batch()
    for k in self.db:iter(nil, nil) do
        if k ~= IDENTITY then b:delete(k) end
    end
    local members = {}
    for _, kv in ipairs(pairs_) do
        b:put(kv[1], kv[2])
        if kv[1] == MEMBERS then members = sm.decode_members(kv[2]) end
    end
    b:put(APPLIED, string.pack(">I8I8", index, term))
    self.db:write(b, true)
    self.members = members
    self.applied, self.applied_term = index, term
    self:load_sessions()
    return true
end

return sm
