-- proxy: a fault-injecting TCP proxy between kv nodes, and between clients
-- and nodes, one process.
--
--   lua5.4 proxy.lua CONTROL_ADDR ID=FRONT_ADDR=BACK_ADDR ... cID=FRONT=BACK ...
--
-- For each node ID it listens on FRONT_ADDR (the peer address the cluster
-- knows) and relays to BACK_ADDR (where the node listens, --peer-listen).
-- A cID spec does the same for node ID's client port: clients dial FRONT,
-- the node listens on BACK (its client address in --peers); a "redirect"
-- answer naming a BACK address is rewritten to name its FRONT, so
-- redirected clients stay behind the proxy.
-- A node sends its raft messages on the connection it dials, so the first
-- frame the dialler sends (HELLO, which names its node id in clear) tells
-- which directed link A -> B a connection carries. Frames from the dialler
-- are relayed one by one, which lets a link drop or delay whole frames
-- without breaking the framing; the acceptor's frames (handshake only) are
-- relayed as they come.
--
-- Commands, one line each on a TCP connection to CONTROL_ADDR, answered
-- with one line "ok ..." or "error ...":
--   cut A B        close A -> B connections and refuse new ones (one way)
--   drop A B P     drop each raft frame on A -> B with probability P
--   delay A B MS   hold each frame on A -> B for MS milliseconds
--   heal A B       back to a plain relay; "heal all" heals every link,
--                  client links too
--   ccut ID        close the client connections to node ID and refuse new
--                  ones (requests in flight lose their answers)
--   cdrop ID P     lose each answer of node ID with probability P: the
--                  answer is dropped and the client's connection closed
--                  (the request may have been applied)
--   cdelay ID MS   hold each frame between clients and node ID for MS ms
--   cheal ID       back to a plain relay for node ID's clients
--   stats          counters
-- The proxy exits when its first control connection closes, so it never
-- outlives the test that started it. It binds only the addresses given.
local root = (arg[0]:match("^(.*)/tests/lincheck/[^/]*$")) or "."
package.path = root .. "/examples/kv/?.lua;" .. package.path
local socket = require("socket")
local wire = require("wire")

local T = wire.T
local MAX_FRAME = 256 * 1024 * 1024

local control_addr = assert(arg[1], "usage: proxy.lua CONTROL_ADDR ID=FRONT=BACK ...")
local nodes = {}         -- id -> { front, back, listener }
local by_sock = {}       -- socket -> { kind = "listener"|"control"|"ctl"|"down"|"up", ... }
local links = {}         -- "A>B" -> { mode = "cut"|"drop"|"delay", p, ms }
local crules = {}        -- node id -> rule for its client connections (same shape)
local clients = {}       -- node id -> { front, back, listener }
local front_of = {}      -- client BACK address -> FRONT address
local pairs_ = {}        -- relayed connections
local stats = { accepted = 0, frames = 0, dropped = 0, delayed = 0, closed_by_cut = 0, client_accepted = 0,
    client_requests = 0, client_answers_lost = 0, client_delayed = 0, client_closed_by_cut = 0,
    client_refused = 0, redirects_rewritten = 0 }
math.randomseed(os.time(), math.floor(socket.gettime() * 1e6) % 1000003)

local function log(fmt, ...)
    io.stderr:write(("%.3f proxy: " .. fmt .. "\n"):format(socket.gettime(), ...))
end

for i = 2, #arg do
    local c, id, front, back = arg[i]:match("^(c?)(%d+)=([^=]+)=([^=]+)$")
    assert(id and wire.split_addr(front) and wire.split_addr(back), "bad node spec " .. arg[i])
    local l = assert(wire.listen(front))
    if c == "c" then
        clients[tonumber(id)] = { front = front, back = back, listener = l }
        front_of[back] = front
        by_sock[l] = { kind = "listener", to = tonumber(id), client = true }
    else
        nodes[tonumber(id)] = { front = front, back = back, listener = l }
        by_sock[l] = { kind = "listener", to = tonumber(id) }
    end
end
local control = assert(wire.listen(control_addr))
by_sock[control] = { kind = "control" }
local first_ctl  -- the proxy lives as long as this connection

local function link(a, b) return links[a .. ">" .. b] end

local function close_pair(p, why)
    if p.closed then return end
    p.closed = true
    for _, c in ipairs({ p.down, p.up }) do
        if c then by_sock[c.sock] = nil; c:close() end
    end
    for i, x in ipairs(pairs_) do
        if x == p then table.remove(pairs_, i); break end
    end
    if why then log("closed %s -> %s: %s", tostring(p.from), p.to, why) end
end

local function accept(to, listener, client)
    local s = listener:accept()
    if not s then return end
    if client then
        local rule = crules[to]
        if rule and rule.mode == "cut" then
            stats.client_refused = stats.client_refused + 1
            return s:close()
        end
        stats.client_accepted = stats.client_accepted + 1
    else
        stats.accepted = stats.accepted + 1
    end
    local up_sock, err = wire.dial((client and clients or nodes)[to].back)
    if not up_sock then s:close(); return log("cannot dial node %d: %s", to, err) end
    local p = { to = to, down = wire.conn(s, MAX_FRAME), up = wire.conn(up_sock, MAX_FRAME),
        dialing = true, held = {}, held_down = {}, client = client }
    by_sock[s] = { kind = "down", pair = p }
    by_sock[up_sock] = { kind = "up", pair = p }
    pairs_[#pairs_ + 1] = p
end

-- A frame from the dialler: identify the link on HELLO, then apply its rule.
local function from_dialler(p, t, body)
    if not p.from then
        local l = t == T.HELLO and wire.decode_list(body)
        p.from = l and l[2] == "peer" and tonumber(l[3]) or 0
    end
    local rule = link(p.from, p.to)
    if rule and rule.mode == "cut" then
        stats.closed_by_cut = stats.closed_by_cut + 1
        return close_pair(p, nil)
    end
    stats.frames = stats.frames + 1
    if t == T.RAFT and rule and rule.mode == "drop" and math.random() < rule.p then
        stats.dropped = stats.dropped + 1
        return
    end
    if (rule and rule.mode == "delay") or #p.held > 0 then
        local ms = (rule and rule.mode == "delay") and rule.ms or 0
        p.held[#p.held + 1] = { at = socket.gettime() + ms / 1000, t = t, body = body }
        stats.delayed = stats.delayed + 1
        return
    end
    p.up:send(t, body)
end

local function release_held(p, now)
    while #p.held > 0 and p.held[1].at <= now do
        local h = table.remove(p.held, 1)
        p.up:send(h.t, h.body)
    end
    while #p.held_down > 0 and p.held_down[1].at <= now do
        local h = table.remove(p.held_down, 1)
        p.down:send(h.t, h.body)
    end
end

-- A frame on a client connection: from the node to the client when
-- `to_client`, else from the client to the node.
local function client_frame(p, to_client, t, body)
    local rule = crules[p.to]
    if rule and rule.mode == "cut" then
        stats.client_closed_by_cut = stats.client_closed_by_cut + 1
        return close_pair(p, nil)
    end
    if to_client and t == T.RESPONSE then
        local l = wire.decode_list(body)
        if l and l[1] == "redirect" and front_of[l[3]] then
            l[3] = front_of[l[3]]
            body = wire.encode_list(l)
            stats.redirects_rewritten = stats.redirects_rewritten + 1
        end
        if rule and rule.mode == "drop" and math.random() < rule.p then
            stats.client_answers_lost = stats.client_answers_lost + 1
            return close_pair(p, nil)
        end
    elseif t == T.REQUEST then
        stats.client_requests = stats.client_requests + 1
    end
    local queue = to_client and p.held_down or p.held
    if (rule and rule.mode == "delay") or #queue > 0 then
        local ms = (rule and rule.mode == "delay") and rule.ms or 0
        queue[#queue + 1] = { at = socket.gettime() + ms / 1000, t = t, body = body }
        stats.client_delayed = stats.client_delayed + 1
        return
    end
    if to_client then p.down:send(t, body) else p.up:send(t, body) end
end

-- Sets the rule of node `id`'s client connections (nil: plain relay).
local function apply_client_rule(id, rule)
    crules[id] = rule
    if rule and rule.mode == "cut" then
        for i = #pairs_, 1, -1 do
            local p = pairs_[i]
            if p.client and p.to == id then
                stats.client_closed_by_cut = stats.client_closed_by_cut + 1
                close_pair(p, nil)
            end
        end
    end
end

local function apply_rule(a, b, rule)
    links[a .. ">" .. b] = rule
    if rule and rule.mode == "cut" then
        for i = #pairs_, 1, -1 do
            local p = pairs_[i]
            if p.from == a and p.to == b then
                stats.closed_by_cut = stats.closed_by_cut + 1
                close_pair(p, nil)
            end
        end
    end
end

local function command(line)
    local w = {}
    for x in line:gmatch("%S+") do w[#w + 1] = x end
    local a, b = tonumber(w[2]), tonumber(w[3])
    if w[1] == "stats" then
        return ("ok accepted=%d frames=%d dropped=%d delayed=%d closed_by_cut=%d open=%d client_accepted=%d "
            .. "client_requests=%d client_answers_lost=%d client_delayed=%d client_closed_by_cut=%d "
            .. "client_refused=%d redirects_rewritten=%d"):format(
            stats.accepted, stats.frames, stats.dropped, stats.delayed, stats.closed_by_cut, #pairs_,
            stats.client_accepted, stats.client_requests, stats.client_answers_lost, stats.client_delayed,
            stats.client_closed_by_cut, stats.client_refused, stats.redirects_rewritten)
    elseif w[1] == "heal" and w[2] == "all" then
        links = {}
        crules = {}
        return "ok"
    elseif w[1] == "ccut" or w[1] == "cdrop" or w[1] == "cdelay" or w[1] == "cheal" then
        if not (a and clients[a]) then return "error: bad client node in " .. line end
        local x = tonumber(w[3])
        if w[1] == "ccut" then apply_client_rule(a, { mode = "cut" })
        elseif w[1] == "cheal" then apply_client_rule(a, nil)
        elseif w[1] == "cdrop" and x and x >= 0 and x <= 1 then apply_client_rule(a, { mode = "drop", p = x })
        elseif w[1] == "cdelay" and x and x >= 0 then apply_client_rule(a, { mode = "delay", ms = x })
        else return "error: bad command " .. line end
        log("%s", line)
        return "ok"
    end
    if not (a and b and nodes[a] and nodes[b] and a ~= b) then return "error: bad link in " .. line end
    if w[1] == "cut" then apply_rule(a, b, { mode = "cut" })
    elseif w[1] == "heal" then apply_rule(a, b, nil)
    elseif w[1] == "drop" and tonumber(w[4]) and tonumber(w[4]) >= 0 and tonumber(w[4]) <= 1 then
        apply_rule(a, b, { mode = "drop", p = tonumber(w[4]) })
    elseif w[1] == "delay" and tonumber(w[4]) and tonumber(w[4]) >= 0 then
        apply_rule(a, b, { mode = "delay", ms = tonumber(w[4]) })
    else
        return "error: unknown command " .. line
    end
    log("%s", line)
    return "ok"
end

local running = true
while running do
    local r, w = {}, {}
    local soonest = 0.05
    local now = socket.gettime()
    for s, x in pairs(by_sock) do
        if x.kind == "up" and x.pair.dialing then w[#w + 1] = s else r[#r + 1] = s end
    end
    for _, p in ipairs(pairs_) do
        if not p.dialing and p.up:wants_write() then w[#w + 1] = p.up.sock end
        if p.down:wants_write() then w[#w + 1] = p.down.sock end
        for _, q in ipairs({ p.held, p.held_down }) do
            if q[1] then soonest = math.min(soonest, math.max(0, q[1].at - now)) end
        end
    end
    local rr, ww = socket.select(r, w, soonest)
    for _, s in ipairs(ww) do
        local x = by_sock[s]
        if x and x.kind == "up" and x.pair.dialing then
            local ok, err = wire.finish_dial(s)
            if ok then x.pair.dialing = false else close_pair(x.pair, "dial failed: " .. tostring(err)) end
        end
    end
    for _, s in ipairs(rr) do
        local x = by_sock[s]
        if not x then -- closed earlier in this round
        elseif x.kind == "listener" then accept(x.to, s, x.client)
        elseif x.kind == "control" then
            local c = s:accept()
            if c then
                c:settimeout(0)
                by_sock[c] = { kind = "ctl", buf = "" }
                first_ctl = first_ctl or c
            end
        elseif x.kind == "ctl" then
            local data, err, partial = s:receive(4096)
            x.buf = x.buf .. (data or partial or "")
            for line in x.buf:gmatch("([^\n]*)\n") do s:send(command(line) .. "\n") end
            x.buf = x.buf:match("([^\n]*)$")
            if err == "closed" then
                by_sock[s] = nil
                s:close()
                if s == first_ctl then running = false end
            end
        else
            local p = x.pair
            local c = x.kind == "down" and p.down or p.up
            local ok, err = c:read()
            while not p.closed do
                local t, body = c:next_frame()
                if not t then
                    if t == false then close_pair(p, body) end
                    break
                end
                if p.client then client_frame(p, x.kind == "up", t, body)
                elseif x.kind == "down" then from_dialler(p, t, body)
                else p.down:send(t, body) end
            end
            if not ok and not p.closed then close_pair(p, nil) end
        end
    end
    now = socket.gettime()
    for i = #pairs_, 1, -1 do
        local p = pairs_[i]
        if p and not p.closed then
            release_held(p, now)
            local ok1 = p.down:flush()
            local ok2 = p.dialing or p.up:flush()
            if not (ok1 and ok2) then close_pair(p, nil) end
        end
    end
end
for i = #pairs_, 1, -1 do close_pair(pairs_[i], nil) end
log("control connection closed; exiting (%s)", command("stats"))
