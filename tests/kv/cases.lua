-- The kv service tests: node processes on 127.0.0.1 ports the harness
-- picks, every one stopped at the end. Usage: lua5.4 cases.lua SCRATCH_DIR
-- [NAME_PATTERN]. Prints one line per case and "kv: N passed, N failed".
local root = (arg[0]:match("^(.*)/tests/kv/[^/]*$")) or "."
package.path = root .. "/examples/kv/?.lua;" .. root .. "/lua/?.lua;" .. package.path

local socket = require("socket")
local raft = require("lraft")
local wire = require("wire")
local auth = require("auth")
local client = require("client")
local harness = require("harness")
local statemachine = require("statemachine")
local T = wire.T

local scratch = assert(arg[1], "usage: cases.lua SCRATCH_DIR [PATTERN]")
local only = arg[2]

local passed, failed = 0, 0
local cases = {}
local function case(name, fn) cases[#cases + 1] = { name = name, fn = fn } end

local function eq(want, got, what)
    if want ~= got then
        error(("%s: expected %s, got %s"):format(what or "value", tostring(want), tostring(got)), 2)
    end
end

-- Blocking raw connections (for talking to a node byte by byte) ------------

local function raw(addr)
    local h, p = wire.split_addr(addr)
    local s = assert(socket.tcp4())
    s:settimeout(3)
    assert(s:connect(h, p))
    return s
end

-- Reads one frame; nil and "closed"/"timeout" when none comes.
local function read_frame(s)
    local hdr, err = s:receive(4)
    if not hdr then return nil, err end
    local len = string.unpack(">I4", hdr)
    local body, err2 = s:receive(len)
    if not body then return nil, err2 end
    return body:byte(1), body:sub(2)
end

-- True when the node closed the connection (reads until EOF).
local function closed_by_node(s)
    for _ = 1, 100 do
        local _, err = s:receive(1)
        if err == "closed" then return true end
        if err == "timeout" then return false end
    end
    return false
end

-- Handshakes on a raw socket; returns "ok" or the REFUSED code and text.
local function handshake(s, cluster_id, secret, role, id)
    local t, body = read_frame(s)
    assert(t == T.CHALLENGE, "no challenge")
    local a = auth.new(cluster_id, secret, id)
    local st, hello = a:hello(body, role)
    assert(s:send(wire.frame(T.HELLO, hello)))
    t, body = read_frame(s)
    if t == T.REFUSED then
        local l = wire.decode_list(body)
        return l[1], l[2]
    end
    assert(t == T.WELCOME, "expected welcome, got " .. tostring(t))
    assert(a:check_welcome(body, role, st), "bad welcome mac")
    return "ok"
end

local function request(s, list)
    assert(s:send(wire.frame(T.REQUEST, wire.encode_list(list))))
    local t, body = read_frame(s)
    if not t then return nil, body end
    eq(T.RESPONSE, t, "frame type")
    return assert(wire.decode_list(body))
end

local function log_has(h, id, pattern)
    local f = io.open(h.nodes[id].log)
    if not f then return false end
    local s = f:read("a")
    f:close()
    return s:find(pattern) ~= nil
end

local function wait_log(h, id, pattern, timeout)
    local t0 = socket.gettime()
    while socket.gettime() - t0 < (timeout or 3) do
        if log_has(h, id, pattern) then return true end
        socket.sleep(0.05)
    end
    error(("node %d's log has no line matching %q"):format(id, pattern), 2)
end

local function session_do(h, ids, cmd, o)
    return client.run_one(function()
        local s = h:session(ids, o)
        local r, err = s:request(cmd)
        s:close()
        return r, err
    end)
end

-- One shared 3-node cluster for the cases that do not need their own.
local H
local function cluster()
    if H then return H end
    H = harness.new({ dir = scratch .. "/shared", cluster_id = "kv-test",
        node_args = { "--snapshot-entries", "200", "--catchup-entries", "20", "--handshake-timeout-ms", "1000" } })
    local peers = H:peers()
    for id = 1, 3 do H:start(id, peers) end
    assert(H:wait_leader({ 1, 2, 3 }, 15), "no leader")
    return H
end

local function leader_of(h, ids)
    local l = h:wait_leader(ids or { 1, 2, 3 }, 15)
    assert(l, "no leader")
    return l
end

-- Cases ------------------------------------------------------------------

case("wire: list codec and frame cutting (split reads, limits, malformed lists)", function()
    local l = { "", "a", "\0\255", string.rep("x", 70000) }
    local enc = wire.encode_list(l)
    local d = assert(wire.decode_list(enc))
    eq(4, #d); eq(l[3], d[3]); eq(l[4], d[4])
    for _, bad in ipairs({ "", "\0\0", "\0\0\0\1", "\0\0\0\1\0\0\0\9ab", "\255\255\255\255",
        enc .. "x", enc:sub(1, -2) }) do
        assert(wire.decode_list(bad) == nil, "accepted a malformed list")
    end
    -- A fake socket that hands out the bytes in small pieces.
    local frames = wire.frame(T.REQUEST, enc) .. wire.frame(T.RESPONSE, "r")
    local pos = 0
    local sock = { settimeout = function() end, setoption = function() end,
        receive = function(_, _)
            if pos >= #frames then return nil, "timeout", "" end
            local piece = frames:sub(pos + 1, pos + 7)
            pos = pos + #piece
            return nil, "timeout", piece
        end }
    local c = wire.conn(sock, 1 << 20)
    local got = {}
    while #got < 2 do
        assert(c:read())
        local t, body = c:next_frame()
        if t then got[#got + 1] = { t, body } end
    end
    eq(T.REQUEST, got[1][1]); eq(enc, got[1][2]); eq(T.RESPONSE, got[2][1]); eq("r", got[2][2])
    local small = wire.conn({ settimeout = function() end, setoption = function() end }, 10)
    small.inbuf = string.pack(">I4", 11) .. "x"
    local t, why = small:next_frame()
    eq(false, t); assert(why:find("above the limit 10"), why)
    small.inbuf = string.pack(">I4", 0)
    t, why = small:next_frame()
    eq(false, t); assert(why:find("empty frame"), why)
end)

case("the demo scenario: leader kill, no acknowledged write lost, restarted and new nodes converge", function()
    local cmd = ("timeout 150 lua5.4 %s/examples/kv/scenario.lua --keys 300 --dir %s >%s/scenario.out 2>&1")
        :format(harness.sh_quote(root), harness.sh_quote(scratch .. "/scenario"), harness.sh_quote(scratch))
    local ok = os.execute(cmd)
    local f = io.open(scratch .. "/scenario.out")
    local out = f and f:read("a") or ""
    if f then f:close() end
    assert(ok == true, "scenario failed:\n" .. out)
    assert(out:find("all 400 acknowledged writes are readable"), out)
    assert(out:find("caught up by snapshot"), out)
    assert(out:find("stopped by itself %[log: node 4: stopping: [^]]*removed"), out)
    assert(out:find("%[log: node 4: snapshot at index %d+ applied"), out)
end)

case("basic commands: put, get, del, cas, scan", function()
    local h = cluster()
    local ids = { 1, 2, 3 }
    eq("ok", session_do(h, ids, { "put", "b-1", "one" })[1])
    eq("one", session_do(h, ids, { "get", "b-1" })[2])
    eq("notfound", session_do(h, ids, { "get", "b-none" })[1])
    local r = session_do(h, ids, { "cas", "b-1", "wrong", "x" })
    eq("mismatch", r[1]); eq("one", r[2], "current value")
    eq("ok", session_do(h, ids, { "cas", "b-1", "one", "two" })[1])
    eq("ok", session_do(h, ids, { "cas", "b-new", "", "created" })[1])
    eq("ok", session_do(h, ids, { "put", "b-2", "zwei" })[1])
    r = session_do(h, ids, { "scan", "b-", "b-z" })
    eq(7, #r, "scan length")
    eq("b-1", r[2]); eq("two", r[3]); eq("b-2", r[4]); eq("b-new", r[6])
    r = session_do(h, ids, { "scan", "b-", "", "1" })
    eq(3, #r, "limited scan length")
    eq("1", session_do(h, ids, { "del", "b-2" })[2])
    eq("0", session_do(h, ids, { "del", "b-2" })[2])
    eq("notfound", session_do(h, ids, { "get", "b-2" })[1])
    -- Binary-safe keys and values.
    eq("ok", session_do(h, ids, { "put", "b-\0\255", "v\0\n" })[1])
    eq("v\0\n", session_do(h, ids, { "get", "b-\0\255" })[2])
end)

case("followers redirect to the leader", function()
    local h = cluster()
    local l = leader_of(h)
    local f = l % 3 + 1
    local s = raw(h.nodes[f].client)
    eq("ok", handshake(s, h.cluster_id, h.secret, "client", 0))
    local r = request(s, { "get", "x" })
    eq("redirect", r[1]); eq(tostring(l), r[2], "leader id"); eq(h.nodes[l].client, r[3], "leader address")
    s:close()
end)

case("exactly once: a retried write returns its first result and is not applied again", function()
    local h = cluster()
    local l = leader_of(h)
    local s = raw(h.nodes[l].client)
    eq("ok", handshake(s, h.cluster_id, h.secret, "client", 0))
    local cid = "test-client-eo"
    -- cas from absent: applied twice, the second would answer "mismatch".
    eq("ok", request(s, { "cas", cid, "1", "eo-k", "", "first" })[1])
    eq("ok", request(s, { "cas", cid, "1", "eo-k", "", "first" })[1], "retry of seq 1")
    eq("ok", request(s, { "put", cid, "2", "eo-k", "second" })[1])
    -- A retry of seq 2 carrying other data still answers seq 2's result and changes nothing.
    eq("ok", request(s, { "put", cid, "2", "eo-k", "third" })[1])
    eq("second", request(s, { "get", "eo-k" })[2])
    local r = request(s, { "put", cid, "1", "eo-k", "old" })
    eq("error", r[1], "older sequence number")
    assert(r[2]:find("older"), r[2])
    eq("second", request(s, { "get", "eo-k" })[2])
    s:close()
    -- Sent, connection dropped before the answer, then retried elsewhere.
    local s2 = raw(h.nodes[l].client)
    eq("ok", handshake(s2, h.cluster_id, h.secret, "client", 0))
    assert(s2:send(wire.frame(T.REQUEST, wire.encode_list({ "cas", cid, "3", "eo-k", "second", "fourth" }))))
    s2:close()
    local s3 = raw(h.nodes[l].client)
    eq("ok", handshake(s3, h.cluster_id, h.secret, "client", 0))
    local deadline = socket.gettime() + 5
    repeat
        r = request(s3, { "cas", cid, "3", "eo-k", "second", "fourth" })
    until r[1] ~= "retry" or socket.gettime() > deadline
    eq("ok", r[1], "retried cas after a dropped connection")
    eq("fourth", request(s3, { "get", "eo-k" })[2])
    s3:close()
end)

case("exactly once across a leader kill (same client id and sequence number)", function()
    local h = cluster()
    local l = leader_of(h)
    local cid = "test-client-kill"
    local s = raw(h.nodes[l].client)
    eq("ok", handshake(s, h.cluster_id, h.secret, "client", 0))
    eq("ok", request(s, { "put", cid, "1", "k-kill", "start" })[1])
    -- Send a non-idempotent write and kill the leader without reading the answer.
    assert(s:send(wire.frame(T.REQUEST, wire.encode_list({ "cas", cid, "2", "k-kill", "start", "moved" }))))
    socket.sleep(0.005)
    h:kill(l, "KILL")
    s:close()
    local rest = {}
    for id = 1, 3 do if id ~= l then rest[#rest + 1] = id end end
    local sess = h:session(rest, { client_id = cid, deadline = 20 })
    local r, err = client.run_one(function()
        return sess:send_with_retries({ "cas", cid, "2", "k-kill", "start", "moved" })
    end)
    sess:close()
    assert(r, err)
    eq("ok", r[1], "the retried cas (applied once, whether or not the first try committed)")
    eq("moved", session_do(h, rest, { "get", "k-kill" })[2])
    h:start(l, h:peers())
end)

case("reads after a leader change are not stale (old leader paused, then resumed)", function()
    local h = cluster()
    local ids = { 1, 2, 3 }
    local old = leader_of(h)
    eq("ok", session_do(h, ids, { "put", "stale-k", "v1" })[1])
    local s = raw(h.nodes[old].client)
    eq("ok", handshake(s, h.cluster_id, h.secret, "client", 0))
    os.execute("kill -STOP " .. h.nodes[old].pid)
    local ok, e = pcall(function()
        local rest = {}
        for id = 1, 3 do if id ~= old then rest[#rest + 1] = id end end
        local new = h:wait_leader(rest, 15)
        assert(new, "no new leader while the old one is paused")
        eq("ok", session_do(h, rest, { "put", "stale-k", "v2" })[1])
        eq("v2", session_do(h, rest, { "get", "stale-k" })[2])
    end)
    os.execute("kill -CONT " .. h.nodes[old].pid)
    assert(ok, e)
    -- The old leader still believes it leads when it wakes up: it must not answer v1.
    local r = request(s, { "get", "stale-k" })
    assert(r, "no answer from the old leader")
    assert(not (r[1] == "ok" and r[2] == "v1"), "stale read: the old leader answered v1")
    s:close()
    eq("v2", session_do(h, ids, { "get", "stale-k" })[2])
end)

case("malformed client commands get error replies and the connection stays usable", function()
    local h = cluster()
    local l = leader_of(h)
    local s = raw(h.nodes[l].client)
    eq("ok", handshake(s, h.cluster_id, h.secret, "client", 0))
    for _, req in ipairs({ { "frobnicate" }, {}, { "get" }, { "get", "a", "b" }, { "put", "k", "v" },
        { "put", "c", "x", "k", "v" }, { "put", "c", "0", "k", "v" }, { "put", "c", "1.5", "k", "v" },
        { "put", "", "1", "k", "v" }, { "cas", "c", "1", "k", "v" }, { "scan", "a", "z", "0" },
        { "scan", "a", "z", "99999" }, { "add", "c", "1", "x", "a", "b" }, { "add", "c", "1", "9", "nope", "b" },
        { "remove", "c", "1", "77" }, { "promote", "c", "1", "1" }, { "put", "c", "1", string.rep("k", 5000), "v" } }) do
        local r = request(s, req)
        assert(r, "no answer to " .. table.concat(req, " "))
        eq("error", r[1], table.concat(req, " "):sub(1, 40))
    end
    eq("notfound", request(s, { "get", "never-written" })[1])
    s:close()
end)

case("garbage, oversized, truncated and unknown frames close the connection with a logged reason", function()
    local h = cluster()
    local l = leader_of(h)
    local n = h.nodes[l]
    local function probe(addr, bytes, authed_as, pattern)
        local s = raw(addr)
        if authed_as then
            eq("ok", handshake(s, h.cluster_id, h.secret, authed_as.role, authed_as.id))
        else
            read_frame(s) -- the challenge
        end
        s:send(bytes)
        assert(closed_by_node(s), "connection not closed for " .. pattern)
        s:close()
        wait_log(h, l, pattern)
    end
    probe(n.client, string.pack(">I4", 0), nil, "empty frame")
    probe(n.client, string.pack(">I4B", 0xFFFFFFFF, 6), nil, "above the limit 4096")
    probe(n.client, wire.frame(99, "x"), nil, "expected a hello, got frame type 99")
    probe(n.peer, wire.frame(T.HELLO, "\0\0\0\9garbage"), nil, "malformed hello")
    probe(n.client, string.pack(">I4B", 0x7FFFFFFF, 6), { role = "client", id = 0 }, "above the limit 67108864")
    probe(n.client, wire.frame(T.RAFT, "x"), { role = "client", id = 0 }, "unexpected frame type RAFT")
    probe(n.client, wire.frame(T.REQUEST, "\0\0\0\5ab"), { role = "client", id = 0 }, "malformed request")
    local other = l % 3 + 1
    probe(n.peer, wire.frame(T.RAFT, "\255\255\255garbage"), { role = "peer", id = other }, "garbage raft message")
    probe(n.peer, wire.frame(T.REQUEST, wire.encode_list({ "get", "x" })), { role = "peer", id = other },
        "unexpected frame type REQUEST")
    -- Truncated: half a frame, then the client goes away; the node stays up.
    local s = raw(n.client)
    read_frame(s)
    s:send(string.sub(wire.frame(T.HELLO, string.rep("z", 100)), 1, 50))
    s:close()
    assert(h:status(l), "the node stopped answering")
    eq("ok", session_do(h, { 1, 2, 3 }, { "put", "after-garbage", "fine" })[1])
end)

case("handshake refusals: wrong secret, other cluster id, unknown node id, wrong role", function()
    local h = cluster()
    local n = h.nodes[1]
    local function refused(addr, cluster_id, secret, role, id, code, pattern)
        local s = raw(addr)
        local got, text = handshake(s, cluster_id, secret, role, id)
        eq(code, got, "refusal code for " .. pattern)
        assert(closed_by_node(s), "connection kept open after refusal")
        s:close()
        wait_log(h, 1, pattern)
        return text
    end
    refused(n.client, h.cluster_id, "not-the-secret-0123456789", "client", 0, "bad-mac", "client 0 failed the secret check")
    refused(n.peer, h.cluster_id, "not-the-secret-0123456789", "peer", 2, "bad-mac", "peer 2 failed the secret check")
    refused(n.client, "another-cluster", h.secret, "client", 0, "cluster-id", 'cluster id "another%-cluster"')
    refused(n.peer, h.cluster_id, h.secret, "peer", 42, "unknown-node", "node id 42 is not a member")
    refused(n.peer, h.cluster_id, h.secret, "peer", 1, "unknown-node", "node id 1 is not a member")
    refused(n.peer, h.cluster_id, h.secret, "client", 0, "protocol", "client connected to the peer port")
    refused(n.client, h.cluster_id, h.secret, "client", 5, "protocol", "a client connects with node id 0")
    -- kvctl-style clients hear the refusal and give up at once.
    local a = auth.new(h.cluster_id, "not-the-secret-0123456789", 0)
    local conn, err = client.run_one(function() return client.connect(n.client, a, socket.gettime() + 2) end)
    assert(not conn and err:find("failed the secret check"), tostring(err))
    eq("ok", session_do(h, { 1, 2, 3 }, { "put", "after-refusals", "fine" })[1])
end)

case("a connection that never completes the handshake is closed after --handshake-timeout-ms", function()
    local h = cluster() -- its nodes run with --handshake-timeout-ms 1000
    local l = leader_of(h)
    local n = h.nodes[l]
    local t0 = socket.gettime()
    local silent = raw(n.client)       -- reads the challenge, never answers
    read_frame(silent)
    local mute = raw(n.peer)           -- sends nothing at all
    local half = raw(n.client)         -- half a hello, then nothing
    read_frame(half)
    half:send(string.sub(wire.frame(T.HELLO, string.rep("z", 100)), 1, 30))
    -- The node keeps serving while they hang.
    eq("ok", session_do(h, { 1, 2, 3 }, { "put", "hs-timeout", "served" })[1])
    for _, s in ipairs({ silent, mute, half }) do
        s:settimeout(6)
        assert(closed_by_node(s), "a connection that never authenticated was not closed")
        s:close()
    end
    local waited = socket.gettime() - t0
    assert(waited >= 0.9, ("closed after %.2f s, before the 1 s timeout"):format(waited))
    wait_log(h, l, "closed client connection from [%d.:]+: handshake timed out")
    wait_log(h, l, "closed peer connection from [%d.:]+: handshake timed out")
    eq("served", session_do(h, { 1, 2, 3 }, { "get", "hs-timeout" })[2])
    -- A peer that accepts our connection but never sends its challenge: the
    -- dialling node gives up on it after the same timeout and retries.
    local h2 = harness.new({ dir = scratch .. "/hs-dial", cluster_id = "hs-dial", n = 2,
        node_args = { "--handshake-timeout-ms", "1000" } })
    local host, port = wire.split_addr(h2.nodes[2].peer)
    local lsock = assert(socket.bind(host, port))
    local ok, e = pcall(function()
        h2:start(1, h2:peers())
        lsock:settimeout(10)
        local c = assert(lsock:accept(), "node 1 never dialled its peer")
        local ta = socket.gettime()
        c:settimeout(6)
        assert(closed_by_node(c), "the dialling node kept a silent peer connection")
        assert(socket.gettime() - ta >= 0.9, "gave up before the timeout")
        c:close()
        wait_log(h2, 1, "peer 2 down %(handshake timed out%)")
        assert(h2:status(1), "node 1 stopped answering")
    end)
    lsock:close()
    h2:stop_all("KILL")
    assert(ok, e)
end)

case("a peer cannot speak for another: messages with a spoofed from are dropped and logged", function()
    local h = cluster()
    local s = raw(h.nodes[1].peer)
    eq("ok", handshake(s, h.cluster_id, h.secret, "peer", 2))
    local m = raft.pb.message()
    m.type = raft.pb.MsgHeartbeat
    m.to = 1
    m.from = 3
    m.term = 1000
    assert(s:send(wire.frame(T.RAFT, m:serialize())))
    wait_log(h, 1, "claiming to be from node 3")
    m.from = 2
    m.to = 7
    assert(s:send(wire.frame(T.RAFT, m:serialize())))
    wait_log(h, 1, "addressed to 7")
    -- A snapshot whose data would not restore is dropped before Raft sees it.
    m = raft.pb.message()
    m.type = raft.pb.MsgSnap
    m.to = 1
    m.from = 2
    m.term = 1000
    local snap = raft.pb.snapshot()
    snap.data = "\0\0\0\5garbage"
    snap.metadata.index = 999999
    snap.metadata.term = 1000
    m.snapshot = snap
    assert(s:send(wire.frame(T.RAFT, m:serialize())))
    wait_log(h, 1, "dropped a snapshot from node 2: malformed snapshot data")
    s:close()
    -- Had the spoofed heartbeat at term 1000 been stepped, node 1's term would be 1000.
    local st = h:status(1)
    assert(tonumber(st.term) < 1000, "the spoofed message reached Raft (term " .. st.term .. ")")
end)

case("a node refuses a data directory of another cluster or node id", function()
    local h = cluster()
    local n = h.nodes[2]
    local function try(id, cluster_id)
        local cmd = ("lua5.4 %s/examples/kv/node.lua --id %d --cluster-id %s --secret-file %s --data %s --peers %s >%s 2>&1")
            :format(harness.sh_quote(root), id, cluster_id, harness.sh_quote(h.secret_file),
                harness.sh_quote(n.data), harness.sh_quote(("%d=127.0.0.1:1/127.0.0.1:2"):format(id)),
                harness.sh_quote(scratch .. "/refuse.out"))
        local ok, _, code = os.execute(cmd)
        local f = io.open(scratch .. "/refuse.out")
        local out = f:read("a")
        f:close()
        assert(not ok and code == 2, "node started with a foreign data directory: " .. out)
        assert(out:find("refusing to start: data directory belongs to cluster \"kv%-test\" node 2"), out)
    end
    h:kill(2, "TERM")
    local ok, e = pcall(function()
        try(7, "kv-test")
        try(2, "other")
    end)
    h:start(2, h:peers())
    assert(ok, e)
end)

case("a restart never re-applies: the applied index is stored with the state it produced", function()
    local dir = scratch .. "/sm"
    os.execute("mkdir -p " .. harness.sh_quote(dir))
    local pb = raft.pb
    local sm = assert(statemachine.open(dir .. "/kv", "c", 1))
    local function ent(i, list) return pb.entry(i, 1, wire.encode_list(list)) end
    local ents = { ent(1, { "x", "1", "cas", "k", "", "a" }), ent(2, { "y", "1", "cas", "k", "a", "b" }) }
    local view = setmetatable(ents, { __index = { ipairs = function(t) return ipairs(t) end } })
    local results = {}
    local hooks = { result = function(cid, seq, r) results[#results + 1] = cid .. seq .. r[1] end,
        confchange = function() error("no conf change expected") end }
    sm:apply(view, hooks)
    eq("x1ok,y1ok", table.concat(results, ","))
    sm:close()
    sm = assert(statemachine.open(dir .. "/kv", "c", 1))
    eq(2, sm.applied, "applied index after reopening")
    results = {}
    local more = { ents[1], ents[2], ent(3, { "z", "1", "put", "k2", "v" }) }
    sm:apply(setmetatable(more, getmetatable(view)), hooks)
    eq("z1ok", table.concat(results, ","), "only the new entry is applied")
    eq("b", sm:get("k"))
    sm:close()
    local refused, err = statemachine.open(dir .. "/kv", "c", 2)
    assert(not refused and err:find("not cluster"), tostring(err))
end)

case("the exactly-once table is trimmed by applied entries alone: same on every replica, kept in snapshots", function()
    local dir = scratch .. "/sessions"
    os.execute("mkdir -p " .. harness.sh_quote(dir))
    local pb = raft.pb
    local list_mt = { __index = { ipairs = function(t) return ipairs(t) end } }
    local function ent(i, list) return pb.entry(i, 1, wire.encode_list(list)) end
    -- Entry 1 sets the limits (expiry 10 entries, at most 4 sessions); then
    -- client "a" writes once and 20 other clients write once each.
    local ents = { ent(1, { "", "0", "sessions", "10", "4" }), ent(2, { "a", "1", "cas", "k", "", "first" }) }
    for i = 3, 22 do ents[#ents + 1] = ent(i, { "c" .. i, "1", "put", "x" .. i, "v" }) end
    local function open(name)
        return assert(statemachine.open(dir .. "/" .. name, "c", 1))
    end
    local hooks = { result = function() end, confchange = function() error("no conf change expected") end }
    -- Replica 1 applies in one batch, replica 2 one entry at a time.
    local r1, r2 = open("r1"), open("r2")
    eq(statemachine.DEFAULT_MAX_SESSIONS, r1.max_sessions, "default limit")
    r1:apply(setmetatable({ table.unpack(ents) }, list_mt), hooks)
    for _, e in ipairs(ents) do r2:apply(setmetatable({ e }, list_mt), hooks) end
    eq(4, r1:session_count(), "sessions kept (at most 4)")
    eq(r1:sessions_digest(), r2:sessions_digest(), "replicas with other batch boundaries")
    eq(10, r2.session_expiry, "replicated expiry")
    -- Within the window a retry answers its first result; "a" was trimmed
    -- (oldest, and idle for more than 10 entries), so its retry is applied
    -- again: the cas from absent now meets "first" and fails.
    local got = {}
    local rh = { result = function(cid, seq, r) got[cid .. "/" .. seq] = r[1] end, confchange = hooks.confchange }
    r1:apply(setmetatable({ ent(23, { "c22", "1", "put", "x22", "again" }), ent(24, { "a", "1", "cas", "k", "", "first" }) },
        list_mt), rh)
    eq("ok", got["c22/1"], "retry within the window")
    eq("v", r1:get("x22"), "the retried put was not applied again")
    eq("mismatch", got["a/1"], "retry after the session was dropped is applied again")
    -- A snapshot carries the table and the limits; a restored replica and a
    -- reopened one trim exactly like the original from then on.
    local r3 = open("r3")
    assert(r3:restore(r1:snapshot_data(), r1.applied, r1.applied_term))
    eq(r1:sessions_digest(), r3:sessions_digest(), "restored table")
    eq(10, r3.session_expiry, "restored expiry")
    r1:close(); r1 = open("r1")
    local more = {}
    for i = 25, 40 do more[#more + 1] = ent(i, { "n" .. (i % 7), tostring(i), "put", "y", "v" .. i }) end
    for _, r in ipairs({ r1, r3 }) do r:apply(setmetatable({ table.unpack(more) }, list_mt), hooks) end
    eq(r1:sessions_digest(), r3:sessions_digest(), "reopened and restored replicas after more entries")
    assert(r1:session_count() <= 4, "more than 4 sessions")
    -- Expiry alone (room for 100 sessions): "old" is dropped once 5 later
    -- entries passed without a write from it, "busy" stays.
    local tail = { ent(41, { "", "0", "sessions", "5", "100" }), ent(42, { "old", "1", "put", "o", "1" }) }
    for i = 43, 48 do tail[#tail + 1] = ent(i, { "busy", tostring(i), "put", "b", "1" }) end
    local counts = {}
    for _, e in ipairs(tail) do
        r3:apply(setmetatable({ e }, list_mt), hooks)
        counts[#counts + 1] = r3:session_count()
    end
    -- (the four n* clients of entries 37-40 expire one per entry from 43 on)
    eq("4,5,5,4,3,2,2,1", table.concat(counts, ","), "sessions after each entry")
    got = {}
    r3:apply(setmetatable({ ent(49, { "old", "1", "put", "o", "2" }), ent(50, { "busy", "48", "put", "b", "2" }) },
        list_mt), rh)
    eq("2", r3:get("o"), "the expired client's retry was applied again")
    eq("1", r3:get("b"), "the live client's retry was not")
    r1:close(); r2:close(); r3:close()
end)

case("a follower killed with SIGKILL restarts from its own state and converges", function()
    local h = cluster()
    local l = leader_of(h)
    local f = l % 3 + 1
    for i = 1, 30 do eq("ok", session_do(h, { l }, { "put", "rk-" .. i, "v" .. i })[1]) end
    -- The state is synced at most once a second: the next write after a
    -- pause is synced on every node.
    socket.sleep(1.2)
    eq("ok", session_do(h, { l }, { "put", "rk-0", "v0" })[1])
    socket.sleep(0.5)
    h:kill(f, "KILL")
    for i = 31, 60 do eq("ok", session_do(h, { 1, 2, 3 }, { "put", "rk-" .. i, "v" .. i })[1]) end
    h:start(f, h:peers())
    wait_log(h, f, "started: .*applied index [1-9]", 5)
    local target = tonumber(h:status(leader_of(h)).commit)
    assert(h:wait_applied(f, target, 15), "restarted follower did not catch up")
    local t0 = socket.gettime()
    while true do
        local a1, d1 = h:digest(l)
        local a2, d2 = h:digest(f)
        if a1 == a2 and d1 == d2 then break end
        assert(socket.gettime() - t0 < 10, "digests differ")
        socket.sleep(0.1)
    end
end)

case("a node whose state fell behind the compacted log restores the stored snapshot at start-up, then catches up", function()
    -- Small snapshots and session limits: nodes snapshot every 40 entries
    -- and keep 5 behind; the leader proposes the limits; every session_do
    -- is a new client.
    local h = harness.new({ dir = scratch .. "/restore", cluster_id = "restore", node_args = {
        "--snapshot-entries", "40", "--catchup-entries", "5", "--session-expiry", "30", "--max-sessions", "6" } })
    local ok, e = pcall(function()
        for id = 1, 3 do h:start(id, h:peers()) end
        local l = leader_of(h)
        local f = l % 3 + 1
        for i = 1, 10 do eq("ok", session_do(h, { l }, { "put", "r-" .. i, "v" .. i })[1]) end
        -- Copy the follower's key-value state while it is frozen (a state
        -- that lost its later writes, as an unsynced tail would).
        local target = tonumber(h:status(l).commit)
        assert(h:wait_applied(f, target, 10), "follower did not apply the first writes")
        local fd = h.nodes[f].data
        os.execute(("kill -STOP %d"):format(h.nodes[f].pid))
        os.execute(("cp -r %s %s"):format(harness.sh_quote(fd .. "/kv"), harness.sh_quote(fd .. "/kv-old")))
        os.execute(("kill -CONT %d"):format(h.nodes[f].pid))
        local old_applied = target
        for i = 11, 120 do eq("ok", session_do(h, { 1, 2, 3 }, { "put", "r-" .. i, "v" .. i })[1]) end
        target = tonumber(h:status(leader_of(h)).commit)
        assert(h:wait_applied(f, target, 10), "follower did not apply the later writes")
        wait_log(h, f, "snapshot at index %d+ %(%d+ bytes%); log compacted")
        h:kill(f, "KILL")
        os.execute(("rm -rf %s && mv %s %s"):format(harness.sh_quote(fd .. "/kv"), harness.sh_quote(fd .. "/kv-old"),
            harness.sh_quote(fd .. "/kv")))
        h:start(f, h:peers())
        wait_log(h, f, "state restored from the stored snapshot at index", 5)
        local line = h:log_line(f, "started: data")
        local first = tonumber(line:match("log %[(%d+),"))
        assert(first and first > old_applied + 1, "the log still holds what the old state needs: " .. line)
        for i = 121, 130 do eq("ok", session_do(h, { 1, 2, 3 }, { "put", "r-" .. i, "v" .. i })[1]) end
        l = leader_of(h)
        local t0 = socket.gettime()
        while true do
            local a1, d1, s1 = h:digest(l)
            local a2, d2, s2 = h:digest(f)
            if a1 and a1 == a2 and d1 == d2 and s1 == s2 then break end
            assert(socket.gettime() - t0 < 10, "the restarted node did not converge")
            socket.sleep(0.1)
        end
        eq("v130", session_do(h, { 1, 2, 3 }, { "get", "r-130" })[2])
        -- The session limits were proposed and are the same everywhere.
        assert(log_has(h, l, "proposing session limits") or log_has(h, l % 3 + 1, "proposing session limits")
            or log_has(h, (l + 1) % 3 + 1, "proposing session limits"), "no node proposed the session limits")
        for id = 1, 3 do
            local st = h:status(id)
            assert(tonumber(st.sessions) <= 6, ("node %d keeps %s sessions"):format(id, st.sessions))
        end
    end)
    h:stop_all("KILL")
    assert(ok, e)
end)

case("membership: add a learner, promote it to voter, remove it (it stops)", function()
    local h = cluster()
    local n5 = h:define(5)
    local ids = { 1, 2, 3 }
    eq("ok", session_do(h, ids, { "add", "5", n5.peer, n5.client })[1])
    eq("error", session_do(h, ids, { "add", "5", n5.peer, n5.client })[1], "adding a member twice")
    h:start(5, h:peers(), { "--join" })
    local l = leader_of(h)
    assert(h:wait_applied(5, tonumber(h:status(l).commit), 15), "node 5 did not catch up")
    local st = h:status(l)
    assert(st.members:find("5=learner@"), st.members)
    eq("ok", session_do(h, ids, { "promote", "5" })[1])
    st = h:status(leader_of(h))
    assert(st.members:find("5=voter@"), st.members)
    eq("error", session_do(h, ids, { "promote", "5" })[1], "promoting a voter")
    eq("ok", session_do(h, ids, { "put", "with-5", "yes" })[1])
    eq("ok", session_do(h, ids, { "remove", "5" })[1])
    local t0 = socket.gettime()
    while h:alive(5) and socket.gettime() - t0 < 10 do socket.sleep(0.05) end
    assert(not h:alive(5), "removed node 5 still runs")
    h.nodes[5].pid = nil
    st = h:status(leader_of(h))
    assert(st.members:find("5=removed@"), st.members)
    eq("yes", session_do(h, ids, { "get", "with-5" })[2])
    -- A removed node is refused when it connects again.
    local s = raw(h.nodes[1].peer)
    eq("removed", handshake(s, h.cluster_id, h.secret, "peer", 5))
    s:close()
    h.nodes[5] = nil
end)

case("lease-based reads (--lease-reads) serve current values", function()
    local h2 = harness.new({ dir = scratch .. "/lease", cluster_id = "lease", node_args = { "--lease-reads" } })
    local ok, e = pcall(function()
        for id = 1, 3 do h2:start(id, h2:peers()) end
        assert(h2:wait_leader({ 1, 2, 3 }, 15), "no leader")
        for i = 1, 10 do
            eq("ok", session_do(h2, { 1, 2, 3 }, { "put", "lease", "v" .. i })[1])
            eq("v" .. i, session_do(h2, { 1, 2, 3 }, { "get", "lease" })[2])
        end
    end)
    h2:stop_all("KILL")
    assert(ok, e)
end)

case("followers that lose the leader's connection campaign without waiting out the timeout", function()
    local h3 = harness.new({ dir = scratch .. "/fastfail", cluster_id = "fastfail" })
    local ok, e = pcall(function()
        local peers = h3:peers()
        for id = 1, 3 do h3:start(id, peers) end
        local l = h3:wait_leader({ 1, 2, 3 }, 15)
        assert(l, "no leader")
        eq("ok", session_do(h3, { 1, 2, 3 }, { "put", "ff-k", "before" })[1])
        h3:kill(l, "KILL")
        local rest = {}
        for id = 1, 3 do if id ~= l then rest[#rest + 1] = id end end
        local new = h3:wait_leader(rest, 15)
        assert(new, "no new leader")
        -- The survivors saw the connection drop and forgot the leader; the
        -- new leader won the campaign that started then, not one started by
        -- its election timer (at least 0.9 s later; this one fires within
        -- 0.3 s of the drop).
        local saw = 0
        for _, id in ipairs(rest) do
            if h3:log_line(id, "lost the connection to leader " .. l .. ":") then saw = saw + 1 end
        end
        assert(saw >= 1, "no survivor logged the lost leader connection")
        assert(h3:log_line(new, "campaigning: the leader's connection was lost"),
            "the new leader did not campaign on the lost connection")
        eq("ok", session_do(h3, rest, { "put", "ff-k", "after" })[1])
        eq("after", session_do(h3, rest, { "get", "ff-k" })[2])
    end)
    h3:stop_all("KILL")
    assert(ok, e)
end)

case("a single-node cluster commits, survives SIGKILL and keeps its data", function()
    local h1 = harness.new({ dir = scratch .. "/single", cluster_id = "solo", n = 1 })
    local ok, e = pcall(function()
        h1:start(1, h1:peers())
        assert(h1:wait_leader({ 1 }, 15), "no leader")
        for i = 1, 20 do eq("ok", session_do(h1, { 1 }, { "put", "s-" .. i, "v" .. i })[1]) end
        h1:kill(1, "KILL")
        h1:start(1, h1:peers())
        assert(h1:wait_leader({ 1 }, 15), "no leader after restart")
        for i = 1, 20 do eq("v" .. i, session_do(h1, { 1 }, { "get", "s-" .. i })[2]) end
    end)
    h1:stop_all("KILL")
    assert(ok, e)
end)

case("kvctl: commands, errors and interactive mode", function()
    local h = cluster()
    local base = ("lua5.4 %s/examples/kv/kvctl.lua --cluster %s --cluster-id %s --secret-file %s ")
        :format(harness.sh_quote(root), table.concat(h:client_addrs({ 1, 2, 3 }), ","), h.cluster_id,
            harness.sh_quote(h.secret_file))
    local function run(args, input)
        local out = scratch .. "/kvctl.out"
        local cmd = base .. args .. " >" .. out .. " 2>&1"
        if input then
            local inf = scratch .. "/kvctl.in"
            local f = io.open(inf, "w"); f:write(input); f:close()
            cmd = cmd .. " <" .. inf
        end
        local ok = os.execute(cmd)
        local f = io.open(out); local s = f:read("a"); f:close()
        return ok == true, s
    end
    local ok, out = run("put ctl-k hello")
    assert(ok and out == "OK\n", out)
    ok, out = run("get ctl-k")
    assert(ok and out == "hello\n", out)
    ok, out = run("cas ctl-k nope x")
    assert(not ok and out:find("mismatch: current value is hello"), out)
    ok, out = run("frob")
    assert(not ok and out:find("unknown command"), out)
    ok, out = run("put onlykey")
    assert(not ok and out:find("put takes 2 arguments"), out)
    ok, out = run("status")
    assert(ok and select(2, out:gsub("node %d", "")) >= 3 and out:find("leader"), out)
    ok, out = run("", 'put "two words" "a b"\nget "two words"\nscan ctl- ctl-z\nbogus\nquit\n')
    assert(ok and out:find("OK\na b\nctl%-k = hello\n%(1 keys%)\nerror: unknown command"), out)
    ok, out = run("bench --clients 4 --seconds 1 --keys 50")
    assert(ok and out:find("ops/s") and out:find(", 0 failed"), out)
end)

-- Runner -------------------------------------------------------------------

local t0 = socket.gettime()
for _, c in ipairs(cases) do
    if not only or c.name:find(only, 1, true) then
        local tc = socket.gettime()
        local ok, err = xpcall(c.fn, debug.traceback)
        if ok then
            passed = passed + 1
            print(("ok    %-90s %.1f s"):format(c.name, socket.gettime() - tc))
        else
            failed = failed + 1
            print(("FAIL  %s\n      %s"):format(c.name, tostring(err):gsub("\n", "\n      ")))
        end
    end
end
if H then
    if failed > 0 then print("node logs: " .. H.dir) end
    H:stop_all("KILL")
end
print(("kv: %d passed, %d failed (%.0f s)"):format(passed, failed, socket.gettime() - t0))
os.exit(failed == 0 and 0 or 1)
