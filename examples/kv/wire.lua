-- wire: the byte formats shared by nodes and clients (examples/kv/PROTOCOL.md).
--
--   frame  = u32 big-endian length L, then L bytes: 1 type byte and the body
--   list   = u32 count, then per item: u32 length and the bytes
--
-- A Conn wraps a non-blocking LuaSocket TCP socket: it buffers what was
-- read, cuts it into frames (refusing oversized or empty frames), and
-- queues what is to be written.
local socket = require("socket")

local wire = {}

wire.HEADER = 4
wire.T = { CHALLENGE = 1, HELLO = 2, WELCOME = 3, REFUSED = 4, RAFT = 5, REQUEST = 6, RESPONSE = 7 }
wire.TNAME = {}
for k, v in pairs(wire.T) do wire.TNAME[v] = k end

--- Encodes a list of strings (numbers are written as decimal strings).
function wire.encode_list(t)
    local parts = { string.pack(">I4", #t) }
    for i = 1, #t do
        local s = t[i]
        if type(s) == "number" then s = string.format("%d", s) end
        assert(type(s) == "string", "encode_list: item " .. i .. " is not a string")
        parts[#parts + 1] = string.pack(">s4", s)
    end
    return table.concat(parts)
end

--- Decodes a list of strings; nil and a reason on malformed bytes.
function wire.decode_list(s)
    if #s < 4 then return nil, "list shorter than its count" end
    local n, pos = string.unpack(">I4", s)
    if n > #s then return nil, "list count " .. n .. " larger than the body" end
    local out = {}
    for i = 1, n do
        if pos + 3 > #s then return nil, "list item " .. i .. " truncated" end
        local len = string.unpack(">I4", s, pos)
        if pos + 3 + len > #s then return nil, "list item " .. i .. " truncated" end
        out[i] = s:sub(pos + 4, pos + 3 + len)
        pos = pos + 4 + len
    end
    if pos ~= #s + 1 then return nil, "trailing bytes after the list" end
    return out
end

--- A frame's bytes.
function wire.frame(ftype, body)
    return string.pack(">I4B", #body + 1, ftype) .. body
end

--- Splits "host:port"; nil on a bad address.
function wire.split_addr(a)
    if type(a) ~= "string" then return nil end
    local h, p = a:match("^([^:]+):(%d+)$")
    p = tonumber(p)
    if not h or not p or p < 1 or p > 65535 then return nil end
    return h, p
end

local Conn = {}
Conn.__index = Conn
wire.Conn = Conn

--- Wraps a connected (or connecting) socket. `max_frame` bounds a frame's
--- length field.
function wire.conn(sock, max_frame)
    sock:settimeout(0)
    pcall(sock.setoption, sock, "tcp-nodelay", true)
    return setmetatable({
        sock = sock,
        inbuf = "",       -- bytes read and not yet cut into frames
        pending = {},     -- chunks read since, joined only when a frame is complete
        pending_len = 0,
        out = {},         -- pending strings
        outbuf = "",      -- the string being written
        outpos = 1,
        queued = 0,       -- bytes ever queued
        sent = 0,         -- bytes ever written
        waiters = {},     -- { at = queued-bytes mark, fn = callback(ok) }
        max_frame = max_frame,
        closed = false,
    }, Conn)
end

--- Reads what the socket has. Returns false and a reason when the peer
--- closed or the socket failed.
function Conn:read()
    while true do
        local data, err, partial = self.sock:receive(65536)
        data = data or partial
        if data and #data > 0 then
            self.pending[#self.pending + 1] = data
            self.pending_len = self.pending_len + #data
        end
        if err == "timeout" then return true end
        if err then return false, err end
        if not data or #data < 65536 then return true end
    end
end

--- The next complete frame: type, body; nil when none is complete;
--- false and a reason for a bad length field.
function Conn:merge()
    if self.pending_len > 0 then
        self.inbuf = self.inbuf .. table.concat(self.pending)
        self.pending, self.pending_len = {}, 0
    end
end

function Conn:next_frame()
    if #self.inbuf < 4 then self:merge() end
    local buf = self.inbuf
    if #buf < 4 then return nil end
    local len = string.unpack(">I4", buf)
    if len == 0 then return false, "empty frame (length 0)" end
    if len > self.max_frame then
        return false, ("frame length %d above the limit %d"):format(len, self.max_frame)
    end
    if #buf + self.pending_len < 4 + len then return nil end
    self:merge()
    buf = self.inbuf
    local t = buf:byte(5)
    local body = buf:sub(6, 4 + len)
    self.inbuf = buf:sub(5 + len)
    return t, body
end

--- Queues a frame; `fn(ok)` (optional) runs once it is written (true) or
--- the connection closed before that (false).
function Conn:send(ftype, body, fn)
    local f = wire.frame(ftype, body)
    self.out[#self.out + 1] = f
    self.queued = self.queued + #f
    if fn then self.waiters[#self.waiters + 1] = { at = self.queued, fn = fn } end
end

--- True when bytes wait to be written.
function Conn:wants_write()
    return self.outpos <= #self.outbuf or #self.out > 0
end

--- Bytes queued but not yet written.
function Conn:backlog()
    return self.queued - self.sent
end

--- Writes as much as the socket takes. Returns false and a reason on error.
function Conn:flush()
    while true do
        if self.outpos > #self.outbuf then
            if #self.out == 0 then break end
            self.outbuf = table.concat(self.out)
            self.out = {}
            self.outpos = 1
        end
        local last, err, partial = self.sock:send(self.outbuf, self.outpos)
        last = last or partial or (self.outpos - 1)
        self.sent = self.sent + (last - self.outpos + 1)
        self.outpos = last + 1
        if err == "timeout" then break end
        if err then return false, err end
    end
    while #self.waiters > 0 and self.waiters[1].at <= self.sent do
        table.remove(self.waiters, 1).fn(true)
    end
    return true
end

--- Closes the socket; pending callbacks learn the frames were not sent.
function Conn:close()
    if self.closed then return end
    self.closed = true
    self.sock:close()
    local w = self.waiters
    self.waiters = {}
    for _, x in ipairs(w) do x.fn(false) end
end

--- Opens a non-blocking connection to `addr`; returns the socket or nil, err.
function wire.dial(addr)
    local h, p = wire.split_addr(addr)
    if not h then return nil, "bad address " .. tostring(addr) end
    local s = socket.tcp4()
    s:settimeout(0)
    local ok, err = s:connect(h, p)
    if not ok and err ~= "timeout" and err ~= "Operation already in progress" then
        s:close()
        return nil, err
    end
    return s
end

--- After select reported a dialing socket writable: true when connected,
--- or false and the reason.
function wire.finish_dial(sock)
    if sock:getpeername() then return true end
    -- Not connected: read the pending socket error.
    local _, err = sock:receive(0)
    if err == "timeout" then
        return false, "connection failed"
    end
    return false, err or "connection failed"
end

--- Opens a listening socket on `addr`.
function wire.listen(addr)
    local h, p = wire.split_addr(addr)
    if not h then return nil, "bad address " .. tostring(addr) end
    local s = socket.tcp4()
    s:setoption("reuseaddr", true)
    local ok, err = s:bind(h, p)
    if not ok then s:close(); return nil, ("cannot listen on %s: %s"):format(addr, err) end
    s:listen(128)
    s:settimeout(0)
    return s
end

return wire
