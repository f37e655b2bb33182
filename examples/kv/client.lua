-- client: talks to the key-value cluster (PROTOCOL.md, "Client protocol").
-- A Session finds the leader, follows redirects, retries after timeouts and
-- "retry" answers with the same (client id, sequence number), so a write
-- is applied once however often it is sent. Sessions run as coroutines
-- under one socket.select scheduler (client.run), so many can be in flight
-- in one process (kvctl bench).
local socket = require("socket")
local raft = require("lraft")
local wire = require("wire")
local auth = require("auth")

local T = wire.T
local client = {}

-- Scheduler ------------------------------------------------------------------

local waiting = {}  -- coroutine -> { sock, mode, deadline }

--- Inside a task: waits until `sock` is readable ("r") or writable ("w"),
--- or until `deadline`. Returns true when the socket is ready.
function client.wait(sock, mode, deadline)
    return coroutine.yield(sock, mode, deadline)
end

--- Inside a task: sleeps `s` seconds.
function client.sleep(s)
    client.wait(nil, nil, socket.gettime() + s)
end

--- Runs functions as tasks until all return. Errors propagate.
function client.run(fns)
    local tasks = {}
    local function resume(co, ...)
        local ok, sock, mode, deadline = coroutine.resume(co, ...)
        if not ok then error(sock, 0) end
        if coroutine.status(co) == "dead" then waiting[co] = nil; return end
        waiting[co] = { sock = sock, mode = mode, deadline = deadline or math.huge }
    end
    for _, f in ipairs(fns) do
        local co = coroutine.create(f)
        tasks[#tasks + 1] = co
        resume(co)
    end
    while next(waiting) do
        local r, w, soonest = {}, {}, math.huge
        for _, x in pairs(waiting) do
            if x.sock then
                if x.mode == "r" then r[#r + 1] = x.sock else w[#w + 1] = x.sock end
            end
            soonest = math.min(soonest, x.deadline)
        end
        local now = socket.gettime()
        local rr, ww = socket.select(r, w, soonest == math.huge and 1 or math.max(0, soonest - now))
        now = socket.gettime()
        local due = {}
        for co, x in pairs(waiting) do
            if x.sock and ((x.mode == "r" and rr[x.sock]) or (x.mode == "w" and ww[x.sock])) then
                due[#due + 1] = { co, true }
            elseif now >= x.deadline then
                due[#due + 1] = { co, false }
            end
        end
        for _, d in ipairs(due) do resume(d[1], d[2]) end
    end
end

-- Connections ----------------------------------------------------------------

--- Inside a task: the next frame on `conn` by `deadline`: type, body, or
--- nil and a reason.
local function recv_frame(conn, deadline)
    while true do
        local t, body = conn:next_frame()
        if t then return t, body end
        if t == false then return nil, body end
        if not client.wait(conn.sock, "r", deadline) then return nil, "timeout" end
        local ok, err = conn:read()
        if not ok then
            local t2, body2 = conn:next_frame()
            if t2 then return t2, body2 end
            return nil, "connection " .. tostring(err)
        end
    end
end

local function flush(conn, deadline)
    while conn:wants_write() do
        local ok, err = conn:flush()
        if not ok then return nil, err end
        if conn:wants_write() and not client.wait(conn.sock, "w", deadline) then return nil, "timeout" end
    end
    return true
end

--- Inside a task: connects to a node's client address and completes the
--- handshake. Returns a Conn and the node's id, or nil and a reason.
function client.connect(addr, a, deadline, max_frame)
    local sock, err = wire.dial(addr)
    if not sock then return nil, err end
    if not client.wait(sock, "w", deadline) then sock:close(); return nil, "connect timeout" end
    local ok, ferr = wire.finish_dial(sock)
    if not ok then sock:close(); return nil, ferr end
    local conn = wire.conn(sock, max_frame or 64 * 1024 * 1024)
    local t, body = recv_frame(conn, deadline)
    if t ~= T.CHALLENGE then
        conn:close()
        if t == T.REFUSED then
            local l = wire.decode_list(body) or {}
            return nil, "refused: " .. tostring(l[2])
        end
        return nil, "handshake failed: " .. tostring(t and ("frame " .. t) or body)
    end
    local st, hello = a:hello(body, "client")
    if not st then conn:close(); return nil, hello end
    conn:send(T.HELLO, hello)
    local fok, fe = flush(conn, deadline)
    if not fok then conn:close(); return nil, fe end
    t, body = recv_frame(conn, deadline)
    if t == T.REFUSED then
        conn:close()
        local l = wire.decode_list(body) or {}
        return nil, ("refused by %s: %s"):format(addr, tostring(l[2]))
    elseif t ~= T.WELCOME then
        conn:close()
        return nil, "handshake failed: " .. tostring(t and ("frame " .. t) or body)
    end
    local sid, werr = a:check_welcome(body, "client", st)
    if not sid then conn:close(); return nil, werr end
    return conn, sid
end

--- Inside a task: sends one request on `conn` and waits for its response
--- list, or nil and a reason.
function client.roundtrip(conn, req, deadline)
    conn:send(T.REQUEST, wire.encode_list(req))
    local ok, err = flush(conn, deadline)
    if not ok then return nil, err end
    local t, body = recv_frame(conn, deadline)
    if not t then return nil, body end
    if t ~= T.RESPONSE then return nil, "unexpected frame type " .. tostring(t) end
    local l, derr = wire.decode_list(body)
    if not l then return nil, "malformed response: " .. derr end
    return l
end

-- Sessions -------------------------------------------------------------------

local Session = {}
Session.__index = Session

local WRITES = { put = true, del = true, cas = true, add = true, remove = true, promote = true }

local function hex(s)
    return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
end

--- o: addrs (list of client addresses), cluster_id, secret, timeout
--- (seconds per attempt, default 2), deadline (seconds per request, default
--- 20), client_id (default random), max_pause (longest wait between
--- retries while no leader is known or no node answers; default 0.5 s, the
--- pause doubles from 0.05 s up to it).
function client.session(o)
    return setmetatable({
        addrs = o.addrs, auth = auth.new(o.cluster_id, o.secret, 0),
        timeout = o.timeout or 2, total = o.deadline or 20,
        cid = o.client_id or hex(raft.random_bytes(8)), seq = 0, target = 1,
        redirects = 0, retries = 0, max_pause = o.max_pause or 0.5,
    }, Session)
end

function Session:close()
    if self.conn then self.conn:close(); self.conn = nil end
end

function Session:next_target(addr)
    self:close()
    if addr then
        for i, a in ipairs(self.addrs) do if a == addr then self.target = i; return end end
        self.addrs[#self.addrs + 1] = addr
        self.target = #self.addrs
    else
        self.target = self.target % #self.addrs + 1
    end
end

--- Inside a task: runs one command (a list such as {"put", k, v}) and
--- returns the cluster's answer list ({"ok", ...}, {"notfound"},
--- {"mismatch", ...}, {"error", msg}), or nil and a reason when the cluster
--- did not answer in time. Writes get the next sequence number, and every
--- retry of them reuses it.
function Session:request(cmd)
    local req = cmd
    if WRITES[cmd[1]] then
        self.seq = self.seq + 1
        req = { cmd[1], self.cid, tostring(self.seq), table.unpack(cmd, 2) }
    end
    return self:send_with_retries(req)
end

--- Sends `req` exactly as given (tests use it to replay a sequence number).
function Session:send_with_retries(req)
    local give_up = socket.gettime() + self.total
    local last = "no node answered"
    local pause = math.min(0.05, self.max_pause)
    while socket.gettime() < give_up do
        local deadline = math.min(give_up, socket.gettime() + self.timeout)
        if not self.conn then
            local conn, err = client.connect(self.addrs[self.target], self.auth, deadline)
            if not conn then
                last = ("%s: %s"):format(self.addrs[self.target], err)
                if err and err:match("refused by") then return nil, last end
                self:next_target()
                client.sleep(pause); pause = math.min(pause * 2, self.max_pause)
                goto continue
            end
            self.conn = conn
        end
        do
            local res, err = client.roundtrip(self.conn, req, deadline)
            if not res then
                last = ("%s: %s"):format(self.addrs[self.target], err)
                self:next_target()
                self.retries = self.retries + 1
            elseif res[1] == "redirect" then
                self.redirects = self.redirects + 1
                self:next_target(res[3])
            elseif res[1] == "retry" then
                last = "retry: " .. tostring(res[2])
                self.retries = self.retries + 1
                client.sleep(pause); pause = math.min(pause * 2, self.max_pause)
            else
                return res
            end
        end
        ::continue::
    end
    return nil, "gave up: " .. last
end

--- Inside a task: asks the node at `addr` for its status; returns a table
--- of its fields or nil and a reason.
function client.status(addr, a, timeout)
    local deadline = socket.gettime() + (timeout or 2)
    local conn, err = client.connect(addr, a, deadline)
    if not conn then return nil, err end
    local l, rerr = client.roundtrip(conn, { "status" }, deadline)
    conn:close()
    if not l then return nil, rerr end
    if l[1] ~= "ok" then return nil, tostring(l[2]) end
    local t = {}
    for i = 2, #l, 2 do t[l[i]] = l[i + 1] end
    return t
end

--- Runs `fn` as the only task and returns its results.
function client.run_one(fn)
    local out
    client.run({ function() out = table.pack(fn()) end })
    return table.unpack(out, 1, out.n)
end

return client
