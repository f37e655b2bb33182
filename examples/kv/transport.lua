-- transport: every socket of a node, driven by one socket.select loop.
--   * one outgoing connection per peer, used to send our raft messages;
--     dialled again with exponential backoff when it fails;
--   * incoming peer connections (raft messages from the peer that
--     authenticated on them) and client connections (requests);
--   * the handshake (auth.lua) on each, with a deadline.
-- Nothing here blocks: a peer that is down costs one failed connect per
-- backoff period, and messages for it are dropped (the caller reports it
-- unreachable to Raft).
local socket = require("socket")
local raft = require("lraft")
local wire = require("wire")
local pb = raft.pb

local T = wire.T
local transport = {}
transport.__index = transport

local PREAUTH_MAX = 4096        -- frame limit before a connection authenticates
local BACKOFF_MIN, BACKOFF_MAX = 0.1, 2.0
local PEER_BACKLOG_MAX = 64 * 1024 * 1024

--- opts: node_id, auth, peer_addr, client_addr, max_frame, handshake_timeout
--- (seconds a connection may take to authenticate), log(fmt, ...),
--- handlers = { raft(msg), request(client, list), member(role, id) -> code, text,
---              removed(reason), peer_down(id) (optional: an up connection to
---              peer `id` just failed) }
function transport.new(opts)
    local self = setmetatable({
        id = opts.node_id, auth = opts.auth, max_frame = opts.max_frame, log = opts.log,
        handshake_timeout = opts.handshake_timeout,
        h = opts.handlers, peers = {}, inbound = {}, by_sock = {},
    }, transport)
    local err
    self.peer_listener, err = wire.listen(opts.peer_addr)
    if not self.peer_listener then return nil, err end
    self.client_listener, err = wire.listen(opts.client_addr)
    if not self.client_listener then self.peer_listener:close(); return nil, err end
    self.by_sock[self.peer_listener] = { listener = "peer" }
    self.by_sock[self.client_listener] = { listener = "client" }
    return self
end

--- Adds or updates the address of peer `id`.
function transport:set_peer(id, addr)
    if id == self.id then return end
    local p = self.peers[id]
    if p and p.addr == addr then return end
    if p then self:peer_failed(p, "address changed") end
    self.peers[id] = { id = id, addr = addr, state = "idle", next_try = 0, backoff = BACKOFF_MIN }
end

--- Forgets peer `id` (removed from the cluster): closes its connections.
function transport:forget_peer(id)
    local p = self.peers[id]
    if p and p.conn then self:drop_sock(p.conn); p.conn:close() end
    self.peers[id] = nil
    for c in pairs(self.inbound[id] or {}) do self:close_accepted(c, nil) end
    self.inbound[id] = nil
end

--- Sends raft message bytes to `id`. `on_sent(ok)` (optional) hears when the
--- frame was written. Returns false when the peer's connection is not up
--- (the message is dropped).
function transport:send(id, bytes, on_sent)
    local p = self.peers[id]
    if not p or p.state ~= "ready" or p.conn:backlog() > PEER_BACKLOG_MAX then
        return false
    end
    p.conn:send(T.RAFT, bytes, on_sent)
    return true
end

--- True when peer `id`'s outgoing connection is authenticated.
function transport:peer_up(id)
    local p = self.peers[id]
    return p ~= nil and p.state == "ready"
end

function transport:drop_sock(conn)
    self.by_sock[conn.sock] = nil
end

-- Outgoing peer connections ----------------------------------------------

function transport:peer_failed(p, reason)
    if p.conn then self:drop_sock(p.conn); p.conn:close(); p.conn = nil end
    if p.up ~= false then
        self.log("peer %d down (%s): dropping its messages, retrying with backoff", p.id, reason)
    end
    local was_up = p.up == true
    p.up = false
    p.state = "idle"
    p.next_try = socket.gettime() + p.backoff * (0.75 + math.random() * 0.5)
    p.backoff = math.min(p.backoff * 2, BACKOFF_MAX)
    if was_up and self.h.peer_down then self.h.peer_down(p.id) end
end

function transport:dial(p, now)
    local sock, err = wire.dial(p.addr)
    if not sock then return self:peer_failed(p, err) end
    p.conn = wire.conn(sock, PREAUTH_MAX)
    p.state = "dialing"
    p.deadline = now + self.handshake_timeout
    self.by_sock[sock] = { peer = p }
end

function transport:peer_frame(p, t, body)
    if t == T.REFUSED then
        local l = wire.decode_list(body) or {}
        self:peer_failed(p, ("refused by peer: %s %s"):format(tostring(l[1]), tostring(l[2])))
        if l[1] == "removed" and self.h.removed then self.h.removed("peer " .. p.id .. " says we were removed") end
        return
    end
    if p.state == "challenge" and t == T.CHALLENGE then
        local st, body2 = self.auth:hello(body, "peer")
        if not st then return self:peer_failed(p, st == nil and body2 or "bad challenge") end
        p.hs = st
        p.conn:send(T.HELLO, body2)
        p.state = "welcome"
    elseif p.state == "welcome" and t == T.WELCOME then
        local sid, err = self.auth:check_welcome(body, "peer", p.hs)
        if not sid then return self:peer_failed(p, err) end
        if sid ~= p.id then return self:peer_failed(p, ("answered as node %d, expected %d"):format(sid, p.id)) end
        p.state = "ready"
        p.conn.max_frame = self.max_frame
        p.backoff = BACKOFF_MIN
        if p.up ~= true then self.log("peer %d up (%s)", p.id, p.addr) end
        p.up = true
    else
        self:peer_failed(p, "unexpected frame type " .. tostring(wire.TNAME[t] or t))
    end
end

function transport:peer_io(p, readable, writable)
    if p.state == "dialing" then
        if not writable then return end
        local ok, err = wire.finish_dial(p.conn.sock)
        if not ok then return self:peer_failed(p, err) end
        p.state = "challenge"
    end
    if readable then
        local ok, err = p.conn:read()
        while true do
            local t, body = p.conn:next_frame()
            if t == nil then break end
            if t == false then return self:peer_failed(p, body) end
            self:peer_frame(p, t, body)
            if p.conn == nil then return end
        end
        if not ok then return self:peer_failed(p, "connection closed: " .. tostring(err)) end
    end
    if p.conn and p.conn:wants_write() then
        local ok, err = p.conn:flush()
        if not ok then return self:peer_failed(p, err) end
    end
end

-- Accepted connections ------------------------------------------------------

function transport:accept(kind, lsock, now)
    while true do
        local s = lsock:accept()
        if not s then return end
        local c = { kind = kind, conn = wire.conn(s, PREAUTH_MAX), state = "hello",
            deadline = now + self.handshake_timeout }
        local ip, port = s:getpeername()
        c.addr = tostring(ip) .. ":" .. tostring(port)
        local nonce, body = self.auth:challenge()
        c.nonce = nonce
        c.conn:send(T.CHALLENGE, body)
        c.conn:flush()
        self.by_sock[s] = { accepted = c }
    end
end

--- Closes an accepted connection, logging `reason` when given.
function transport:close_accepted(c, reason)
    if c.conn.closed then return end
    if reason then
        self.log("closed %s connection from %s%s: %s", c.kind, c.id and (c.kind == "peer" and "node " .. c.id .. " at " or "") or "",
            c.addr, reason)
    end
    if c.kind == "peer" and c.id and self.inbound[c.id] then self.inbound[c.id][c] = nil end
    self:drop_sock(c.conn)
    c.conn:close()
end

function transport:refuse(c, code, text)
    self.log("refused %s connection from %s: %s", c.kind, c.addr, text)
    c.conn:send(T.REFUSED, wire.encode_list({ code, text }))
    c.conn:flush()
    self:close_accepted(c, nil)
end

function transport:accepted_frame(c, t, body)
    if c.state == "hello" then
        if t ~= T.HELLO then
            return self:close_accepted(c, "expected a hello, got frame type " .. tostring(wire.TNAME[t] or t))
        end
        local h, code, text = self.auth:check_hello(c.nonce, body, function(role, id)
            if role ~= c.kind then return "protocol", role .. " connected to the " .. c.kind .. " port" end
            return self.h.member(role, id)
        end)
        if not h then return self:refuse(c, code, text) end
        c.id = h.id
        c.state = "ready"
        c.conn.max_frame = self.max_frame
        c.conn:send(T.WELCOME, self.auth:welcome(h, c.nonce))
        if c.kind == "peer" then
            -- Every connection a peer authenticated stays usable (an old
            -- one may still carry messages); each closes on its own error.
            self.inbound[h.id] = self.inbound[h.id] or {}
            self.inbound[h.id][c] = true
        end
        return
    end
    if c.kind == "peer" then
        if t ~= T.RAFT then
            return self:close_accepted(c, "unexpected frame type " .. tostring(wire.TNAME[t] or t))
        end
        local m = pb.message()
        if not m:parser(body) then
            return self:close_accepted(c, ("garbage raft message (%d bytes)"):format(#body))
        end
        if m.from ~= c.id then
            self.log("dropped a %s from the connection of node %d claiming to be from node %s",
                pb.MessageType_Name(m.type or 0) or "message", c.id, tostring(m.from))
            return
        end
        if m.to ~= self.id or raft.IsLocalMsg(m.type or 0) then
            self.log("dropped a %s from node %d addressed to %s", pb.MessageType_Name(m.type or 0) or "message",
                c.id, tostring(m.to))
            return
        end
        self.h.raft(m)
    else
        if t ~= T.REQUEST then
            return self:close_accepted(c, "unexpected frame type " .. tostring(wire.TNAME[t] or t))
        end
        local l, err = wire.decode_list(body)
        if not l then return self:close_accepted(c, "malformed request: " .. err) end
        self.h.request(c, l)
    end
end

--- Replies to a client connection (ignored when it closed meanwhile).
function transport:reply(c, list)
    if c.conn.closed then return end
    c.conn:send(T.RESPONSE, wire.encode_list(list))
end

function transport:accepted_io(c, readable)
    if readable then
        local ok, err = c.conn:read()
        while not c.conn.closed do
            local t, body = c.conn:next_frame()
            if t == nil then break end
            if t == false then return self:close_accepted(c, body) end
            self:accepted_frame(c, t, body)
        end
        if not ok and not c.conn.closed then
            if c.state == "hello" and err ~= "closed" then
                return self:close_accepted(c, "connection failed during the handshake: " .. tostring(err))
            end
            return self:close_accepted(c, nil)
        end
    end
end

-- The loop ---------------------------------------------------------------

--- Waits up to `timeout` seconds for socket events and handles them; the
--- caller then runs flush_all (after its own sends), which writes what
--- they queued and enforces handshake deadlines.
function transport:poll(timeout)
    local now = socket.gettime()
    for _, p in pairs(self.peers) do
        if p.state == "idle" and now >= p.next_try then self:dial(p, now) end
    end
    local rset, wset = {}, {}
    for sock, o in pairs(self.by_sock) do
        if o.peer then
            if o.peer.state == "dialing" then
                wset[#wset + 1] = sock
            else
                rset[#rset + 1] = sock
                if o.peer.conn:wants_write() then wset[#wset + 1] = sock end
            end
        else
            rset[#rset + 1] = sock
            if o.accepted and o.accepted.conn:wants_write() then wset[#wset + 1] = sock end
        end
    end
    local r, w = socket.select(rset, wset, math.max(0, timeout))
    now = socket.gettime()
    local touched = {}
    for _, sock in ipairs(r) do touched[sock] = true end
    for _, sock in ipairs(w) do touched[sock] = true end
    for sock in pairs(touched) do
        local o = self.by_sock[sock]
        if o then
            if o.listener then
                self:accept(o.listener, sock, now)
            elseif o.peer then
                if o.peer.conn and o.peer.conn.sock == sock then self:peer_io(o.peer, r[sock], w[sock]) end
            else
                self:accepted_io(o.accepted, r[sock])
            end
        end
    end
end

--- Writes what is queued and enforces handshake deadlines.
function transport:flush_all(now)
    now = now or socket.gettime()
    for sock, o in pairs(self.by_sock) do
        if o.peer then
            local p = o.peer
            if p.state ~= "ready" and p.state ~= "idle" and now > p.deadline then
                self:peer_failed(p, "handshake timed out")
            elseif p.conn and p.state ~= "dialing" and p.conn:wants_write() then
                local ok, err = p.conn:flush()
                if not ok then self:peer_failed(p, err) end
            end
        elseif o.accepted then
            local c = o.accepted
            if c.state == "hello" and now > c.deadline then
                self:close_accepted(c, "handshake timed out")
            elseif c.conn:wants_write() then
                local ok, err = c.conn:flush()
                if not ok then self:close_accepted(c, nil) end
            end
        end
    end
end

--- Closes every socket.
function transport:close()
    for sock, o in pairs(self.by_sock) do
        if o.peer and o.peer.conn then o.peer.conn:close()
        elseif o.accepted then o.accepted.conn:close()
        else sock:close() end
    end
    self.by_sock = {}
end

return transport
