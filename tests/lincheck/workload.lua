-- workload: concurrent kv clients (coroutines under client.run) doing put,
-- get and cas on a few keys with values no one else writes, each operation
-- recorded with its invocation time, completion time and answer, in the
-- history format of tools/lincheck (src/history.rs).
--
-- An operation without an answer (the session gave up: timeouts, broken
-- connections, no leader) is recorded as "unknown" with an open end: it may
-- have been applied, at any time after its call, or never. The client then
-- starts a new session under a new name, as a crashed client would. Within
-- a session a write is retried with its sequence number (after a timeout, a
-- closed connection or a lost answer), so it must take effect once.
local socket = require("socket")
local client = require("client")

local workload = {}
workload.__index = workload

--- o: h (harness), ids (node ids), keys (list), t0 (time origin),
--- op_deadline (seconds a session keeps retrying one operation), addrs
--- (the client addresses to use instead of the nodes' own, e.g. a proxy's).
function workload.new(o)
    return setmetatable({ h = o.h, ids = o.ids, keys = o.keys, t0 = o.t0, op_deadline = o.op_deadline or 10,
        addrs = o.addrs, lines = {},
        counts = { put = 0, get = 0, cas = 0, unknown = 0, errors = 0, answered = 0, retries = 0 } }, workload)
end

--- A client session (o: timeout, deadline) over `addrs` or the nodes.
function workload:session(o)
    if not self.addrs then return self.h:session(self.ids, o) end
    local copy = {}
    for i, a in ipairs(self.addrs) do copy[i] = a end
    return client.session({ addrs = copy, cluster_id = self.h.cluster_id, secret = self.h.secret,
        timeout = o.timeout, deadline = o.deadline })
end

--- Closes session `s`, counting its retries.
function workload:close(s)
    self.counts.retries = self.counts.retries + s.retries
    s:close()
end

local function us(self, t)
    return math.floor((t - self.t0) * 1e6)
end

--- Records one operation; `ret` nil for an unknown outcome.
function workload:record(who, key, call, ret, op, a, b, res)
    self.lines[#self.lines + 1] = ("%s %s %d %s %s %s %s %s"):format(who, key, us(self, call),
        ret and tostring(us(self, ret)) or "inf", op, a, b, res)
    self.counts[op] = self.counts[op] + 1
    if ret then self.counts.answered = self.counts.answered + 1 else self.counts.unknown = self.counts.unknown + 1 end
end

local function tok(v)
    if v == nil or v == "" then return "~" end
    return v
end

--- Runs one operation through session `s` and records it. Returns the value
--- the key is known to hold afterwards (for the next cas), or nil, and
--- whether the outcome was unknown.
function workload:op(s, who, key, kind, value, old)
    local cmd
    if kind == "get" then cmd = { "get", key }
    elseif kind == "put" then cmd = { "put", key, value }
    else cmd = { "cas", key, old or "", value } end
    local call = socket.gettime()
    local res, err = s:request(cmd)
    local ret = socket.gettime()
    local a = kind == "get" and "-" or (kind == "put" and value or tok(old))
    local b = kind == "cas" and value or "-"
    if res and res[1] == "error" then
        -- An answer this workload never provokes; count it and keep the
        -- operation open-ended, which constrains nothing.
        self.counts.errors = self.counts.errors + 1
        io.stderr:write(("lincheck: %s %s %s answered error: %s\n"):format(who, kind, key, tostring(res[2])))
        res = nil
    end
    if not res then
        self:record(who, key, call, nil, kind, a, b, "unknown")
        return nil, true, err
    end
    local r
    if kind == "get" then
        r = res[1] == "ok" and "value:" .. tok(res[2]) or (res[1] == "notfound" and "value:~")
    elseif kind == "put" then
        r = res[1] == "ok" and "ok"
    else
        r = res[1] == "ok" and "ok" or (res[1] == "mismatch" and "mismatch:" .. tok(res[2]))
    end
    assert(r, ("unexpected answer to %s: %s"):format(kind, table.concat(res, " ")))
    self:record(who, key, call, ret, kind, a, b, r)
    if kind == "get" then return res[2] end
    if r == "ok" then return value end
    return res[2]
end

--- A task (for client.run): client number `c` runs operations until
--- `stop_at`. Odd clients give up on a node after 1 s, even ones wait 5 s
--- (so some are still connected when a frozen node resumes), and each
--- keeps retrying one operation for op_deadline seconds, twice that for
--- the patient ones. Every third client only reads (so some client keeps
--- reading from whichever node it is connected to, e.g. a deposed leader).
function workload:client(c, stop_at)
    local reader = c % 3 == 0
    local o = { timeout = c % 2 == 0 and 5 or 1, deadline = self.op_deadline * (c % 2 == 0 and 2 or 1) }
    return function()
        local gen, n = 1, 0
        local who = ("c%dg%d"):format(c, gen)
        local s = self:session(o)
        local known = {}
        while socket.gettime() < stop_at do
            local key = self.keys[math.random(#self.keys)]
            local r = math.random()
            n = n + 1
            local value = ("%sn%d"):format(who, n)
            local kind = (reader or r < 0.4) and "get" or (r < 0.7 and "put" or "cas")
            local after, unknown = self:op(s, who, key, kind, value, known[key])
            known[key] = after
            if unknown then
                self:close(s)
                gen = gen + 1
                who = ("c%dg%d"):format(c, gen)
                s = self:session(o)
                known = {}
            end
        end
        self:close(s)
    end
end

--- A task: reads every key once more (after the faults are healed), with a
--- long deadline, so a write lost at the end shows.
function workload:final_reads()
    return function()
        local s = self:session({ timeout = 2, deadline = 30 })
        for _, key in ipairs(self.keys) do self:op(s, "final", key, "get") end
        self:close(s)
    end
end

--- Writes the history to `path`.
function workload:write(path)
    local f = assert(io.open(path, "w"))
    f:write("# client key call_us ret_us op arg1 arg2 result\n", table.concat(self.lines, "\n"), "\n")
    f:close()
end

return workload
