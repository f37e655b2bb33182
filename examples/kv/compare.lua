-- compare: the same load against our 3-node kv cluster and against a
-- 3-member etcd 3.4 cluster (Debian's etcd-server, JSON gateway), both on
-- 127.0.0.1 with heartbeat 100 ms and election timeout 1 s. Prints ops/s for
-- puts and linearizable gets with 1 and 16 clients (128-byte values), and the
-- time from SIGKILL of the leader to the first acknowledged put.
--
--   lua5.4 examples/kv/compare.lua [--seconds S] [--rounds N] [--ours-only]
--                                  [--also-node PATH/node.lua]
-- Both clusters run at once and each load alternates between them, so
-- machine noise hits both; with --rounds N the table shows medians.
-- --also-node adds a third cluster running another checkout's node.lua
-- (e.g. the version before a change), measured in the same rotation.
-- Each line also shows the servers' CPU time per operation (all members,
-- user + system, from /proc).
-- (scripts/bench-compare.sh runs it after building.)
local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
package.path = here .. "/?.lua;" .. here .. "/../../lua/?.lua;" .. package.path
package.cpath = package.cpath .. ";" .. here .. "/../../target/lua/?.so"

local socket = require("socket")
local client = require("client")
local harness = require("harness")
local wire = require("wire")

local seconds, ours_only, rounds, also_node = 5, false, 1, nil
for i = 1, #arg do
    if arg[i] == "--seconds" then seconds = assert(tonumber(arg[i + 1]), "--seconds S")
    elseif arg[i] == "--also-node" then also_node = assert(arg[i + 1], "--also-node PATH")
    elseif arg[i] == "--rounds" then rounds = assert(math.tointeger(tonumber(arg[i + 1])), "--rounds N")
    elseif arg[i] == "--ours-only" then ours_only = true end
end

local VALUE = string.rep("v", 128)
local KEYS = 1000
local LOADS = { { "put", 1 }, { "put", 16 }, { "get", 1 }, { "get", 16 } }

-- CPU seconds (user + system) used so far by processes `pids`.
local function cpu_seconds(pids)
    local total = 0
    for _, pid in ipairs(pids) do
        local f = io.open("/proc/" .. pid .. "/stat")
        if f then
            local rest = (f:read("a") or ""):match("^%d+ %b() (.*)$") or ""
            f:close()
            local fields = {}
            for w in rest:gmatch("%S+") do fields[#fields + 1] = w end
            total = total + ((tonumber(fields[12]) or 0) + (tonumber(fields[13]) or 0)) / 100
        end
    end
    return total
end

-- Runs `nclients` tasks for `seconds`; each calls op(conn_state, key) ->
-- true on success. Returns successes per second and failures.
local function run_load(new_client, op, nclients)
    local ok, bad = 0, 0
    local stop_at = socket.gettime() + seconds
    local tasks = {}
    for c = 1, nclients do
        tasks[c] = function()
            local cl = new_client()
            while socket.gettime() < stop_at do
                local key = ("bench-%06d"):format(math.random(KEYS))
                if cl[op](cl, key) then ok = ok + 1 else bad = bad + 1 end
            end
            cl:close()
        end
    end
    local t0 = socket.gettime()
    client.run(tasks)
    return ok / (socket.gettime() - t0), bad
end

-- Ours -------------------------------------------------------------------------

local function ours(dir, node_script, name)
    local h = harness.new({ dir = dir, cluster_id = "compare", node_script = node_script })
    for id = 1, 3 do h:start(id, h:peers()) end
    assert(h:wait_leader({ 1, 2, 3 }, 15), "our cluster elected no leader")
    local function new_client()
        local s = h:session({ 1, 2, 3 }, { deadline = 10 })
        return {
            put = function(_, k) local r = s:request({ "put", k, VALUE }); return r ~= nil and r[1] == "ok" end,
            get = function(_, k) local r = s:request({ "get", k }); return r ~= nil and (r[1] == "ok" or r[1] == "notfound") end,
            close = function() s:close() end,
        }
    end
    local function kill_leader()
        local l = h:wait_leader({ 1, 2, 3 }, 5)
        local t = h:kill(l, "KILL")
        local rest = {}
        for id = 1, 3 do if id ~= l then rest[#rest + 1] = id end end
        return t, function()
            -- Like the etcd loop below: 0.5 s per attempt and no growing
            -- back-off between attempts (a 50 ms pause after "retry").
            local s = h:session(rest, { deadline = 30, timeout = 0.5, max_pause = 0.05 })
            return { put = function(_, k) local r = s:request({ "put", k, VALUE }); return r ~= nil and r[1] == "ok" end,
                close = function() s:close() end }
        end
    end
    local function pids()
        local l = {}
        for _, n in pairs(h.nodes) do if n.pid then l[#l + 1] = n.pid end end
        return l
    end
    return { name = name or "ours (lraft kv)", new_client = new_client, kill_leader = kill_leader, pids = pids,
        stop = function() h:stop_all("KILL") end }
end

-- etcd over its JSON gateway -----------------------------------------------------

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function b64(s)
    return ((s:gsub(".", function(x)
        local r, b = "", x:byte()
        for i = 8, 1, -1 do r = r .. (b % 2 ^ i - b % 2 ^ (i - 1) > 0 and "1" or "0") end
        return r
    end) .. "0000"):gsub("%d%d%d?%d?%d?%d?", function(x)
        if #x < 6 then return "" end
        local c = 0
        for i = 1, 6 do c = c + (x:sub(i, i) == "1" and 2 ^ (6 - i) or 0) end
        return B64:sub(c + 1, c + 1)
    end) .. ({ "", "==", "=" })[#s % 3 + 1])
end

-- One keep-alive HTTP/1.1 connection used from a task.
local Http = {}
Http.__index = Http

local function http_new(addrs)
    return setmetatable({ addrs = addrs, target = 1 }, Http)
end

function Http:close()
    if self.sock then self.sock:close(); self.sock = nil end
end

function Http:connect(deadline)
    local sock, err = wire.dial(self.addrs[self.target])
    if not sock then return nil, err end
    if not client.wait(sock, "w", deadline) or not wire.finish_dial(sock) then sock:close(); return nil, "connect" end
    self.sock, self.buf = sock, ""
    return true
end

function Http:fill(deadline)
    if not client.wait(self.sock, "r", deadline) then return nil, "timeout" end
    local data, err, partial = self.sock:receive(65536)
    data = data or partial
    if data and #data > 0 then self.buf = self.buf .. data; return true end
    if err == "timeout" then return true end
    return nil, err
end

-- POSTs `body` to `path`; returns the status code and body, or nil.
function Http:post(path, body, timeout)
    local deadline = socket.gettime() + (timeout or 5)
    if not self.sock then
        local ok = self:connect(deadline)
        if not ok then self.target = self.target % #self.addrs + 1; return nil end
    end
    local req = ("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s")
        :format(path, #body, body)
    local pos = 1
    while pos <= #req do
        local last, err, partial = self.sock:send(req, pos)
        last = last or partial
        if err and err ~= "timeout" then self:close(); return nil end
        pos = (last or pos - 1) + 1
        if pos <= #req and not client.wait(self.sock, "w", deadline) then self:close(); return nil end
    end
    while not self.buf:find("\r\n\r\n", 1, true) do
        if not self:fill(deadline) then self:close(); self.target = self.target % #self.addrs + 1; return nil end
    end
    local hend = self.buf:find("\r\n\r\n", 1, true)
    local head = self.buf:sub(1, hend - 1)
    self.buf = self.buf:sub(hend + 4)
    local status = tonumber(head:match("^HTTP/1%.1 (%d+)"))
    local len = tonumber(head:lower():match("content%-length: *(%d+)"))
    local out
    if len then
        while #self.buf < len do if not self:fill(deadline) then self:close(); return nil end end
        out = self.buf:sub(1, len)
        self.buf = self.buf:sub(len + 1)
    else -- chunked
        local parts = {}
        while true do
            local e = self.buf:find("\r\n", 1, true)
            while not e do
                if not self:fill(deadline) then self:close(); return nil end
                e = self.buf:find("\r\n", 1, true)
            end
            local n = tonumber(self.buf:sub(1, e - 1), 16)
            while #self.buf < e + 1 + n + 2 do if not self:fill(deadline) then self:close(); return nil end end
            parts[#parts + 1] = self.buf:sub(e + 2, e + 1 + n)
            self.buf = self.buf:sub(e + 2 + n + 2)
            if n == 0 then break end
        end
        out = table.concat(parts)
    end
    return status, out
end

local function etcd(dir)
    if os.execute("command -v etcd >/dev/null") ~= true then return nil, "etcd is not installed" end
    local m, initial = {}, {}
    for i = 1, 3 do
        m[i] = { name = "e" .. i, peer = harness.free_port(), client = harness.free_port(), data = dir .. "/etcd" .. i }
        initial[#initial + 1] = ("e%d=http://127.0.0.1:%d"):format(i, m[i].peer)
    end
    local pids = {}
    local function start(i)
        local x = m[i]
        local cmd = ("exec etcd --name %s --data-dir %s --listen-peer-urls http://127.0.0.1:%d --initial-advertise-peer-urls http://127.0.0.1:%d --listen-client-urls http://127.0.0.1:%d --advertise-client-urls http://127.0.0.1:%d --initial-cluster %s --initial-cluster-state new --initial-cluster-token compare --heartbeat-interval 100 --election-timeout 1000")
            :format(x.name, harness.sh_quote(x.data), x.peer, x.peer, x.client, x.client, table.concat(initial, ","))
        local pidf = dir .. "/etcd" .. i .. ".pid"
        assert(os.execute(("(%s) >%s/etcd%d.log 2>&1 & echo $! >%s"):format(cmd, harness.sh_quote(dir), i,
            harness.sh_quote(pidf))))
        local f = io.open(pidf); x.pid = math.tointeger(tonumber(f:read("l"))); f:close()
        pids[#pids + 1] = x.pid
    end
    os.execute("mkdir -p " .. harness.sh_quote(dir))
    for i = 1, 3 do start(i) end
    local function addrs(skip)
        local l = {}
        for i = 1, 3 do if i ~= skip then l[#l + 1] = "127.0.0.1:" .. m[i].client end end
        return l
    end
    local function status(i)
        return client.run_one(function()
            local h = http_new({ "127.0.0.1:" .. m[i].client })
            local code, body = h:post("/v3/maintenance/status", "{}", 1)
            h:close()
            if code ~= 200 then return nil end
            return body:match('"member_id":"(%d+)"'), body:match('"leader":"(%d+)"')
        end)
    end
    local function leader()
        for i = 1, 3 do
            local id, lead = status(i)
            if id and id == lead then return i end
        end
    end
    local t0 = socket.gettime()
    while not leader() do
        assert(socket.gettime() - t0 < 20, "etcd elected no leader")
        socket.sleep(0.1)
    end
    local function new_client_for(list, timeout)
        return function()
            local h = http_new(list)
            return {
                put = function(_, k)
                    local code = h:post("/v3/kv/put", ('{"key":"%s","value":"%s"}'):format(b64(k), b64(VALUE)),
                        timeout)
                    return code == 200
                end,
                get = function(_, k)
                    local code = h:post("/v3/kv/range", ('{"key":"%s"}'):format(b64(k)))
                    return code == 200
                end,
                close = function() h:close() end,
            }
        end
    end
    local function kill_leader()
        local l = leader()
        os.execute("kill -KILL " .. m[l].pid)
        -- Same per-attempt timeout as our client in the failover test.
        return socket.gettime(), new_client_for(addrs(l), 0.5)
    end
    return { name = "etcd 3.4", new_client = new_client_for(addrs()), kill_leader = kill_leader,
        pids = function() return pids end,
        stop = function() for _, p in ipairs(pids) do os.execute("kill -KILL " .. p .. " 2>/dev/null") end end }
end

-- Both ---------------------------------------------------------------------------
-- Both clusters run side by side; each load is measured on ours and then on
-- etcd (the order alternates per round) so that a noisy machine affects both
-- alike. The failovers come last, once per system.

local function failover(sys)
    local tkill, new_client = sys.kill_leader()
    local first
    client.run_one(function()
        local c = new_client()
        while not first and socket.gettime() - tkill < 30 do
            if c:put("failover") then first = socket.gettime() end
        end
        c:close()
    end)
    local t = first and (first - tkill) or math.huge
    print(("  %-16s first put after SIGKILL of the leader: %.2f s"):format(sys.name, t))
    return t
end

local function median(l)
    local c = {}
    for i, x in ipairs(l) do c[i] = x end
    table.sort(c)
    if #c == 0 then return 0 end
    if #c % 2 == 1 then return c[(#c + 1) // 2] end
    return (c[#c // 2] + c[#c // 2 + 1]) / 2
end

local dir = os.tmpname() .. "-compare"
os.remove(dir)
local makers = { ours }
if not ours_only then makers[2] = etcd end
if also_node then
    makers[#makers + 1] = function(d) return ours(d, also_node, "ours (--also-node)") end
end
local systems, results = {}, {}   -- results[s][load] = list of ops/s
local ok, err = pcall(function()
    for i, mk in ipairs(makers) do
        local sys, why = mk(dir .. "/" .. i)
        if not sys then print("  skipped: " .. why) else
            systems[#systems + 1] = sys
            results[#systems] = {}
        end
    end
    for round = 1, rounds do
        for li, l in ipairs(LOADS) do
            for k = 1, #systems do
                -- ours first in odd rounds, etcd first in even ones
                local si = (round % 2 == 1) and k or (#systems - k + 1)
                local sys = systems[si]
                local c0, t0 = cpu_seconds(sys.pids()), socket.gettime()
                local rate, bad = run_load(sys.new_client, l[1], l[2])
                local cpu = cpu_seconds(sys.pids()) - c0
                local ops = rate * (socket.gettime() - t0)
                local r = results[si]
                r[li] = r[li] or {}
                table.insert(r[li], rate)
                print(("  round %d %-16s %-4s x%-2d clients: %7.0f ops/s, server CPU %4.0f us/op%s"):format(round,
                    sys.name, l[1], l[2], rate, ops > 0 and cpu / ops * 1e6 or 0,
                    bad > 0 and (" (" .. bad .. " failed)") or ""))
            end
        end
    end
    for si, sys in ipairs(systems) do results[si][#LOADS + 1] = { failover(sys) } end
end)
for _, sys in ipairs(systems) do sys.stop() end
os.execute("rm -rf " .. harness.sh_quote(dir))
if not ok then print("FAILED: " .. tostring(err)); os.exit(1) end
for si = 3, #systems do
    print(("%s, median ops/s per load: %s"):format(systems[si].name, table.concat((function()
        local l = {}
        for li = 1, #LOADS do l[li] = ("%.0f"):format(median(results[si][li])) end
        l[#l + 1] = ("failover %.2f s"):format(results[si][#LOADS + 1][1])
        return l
    end)(), ", ")))
    local per = {}
    for li = 1, ours_only and 0 or #LOADS do
        local r = {}
        for k = 1, #results[si][li] do r[k] = ("%.2f"):format(results[si][li][k] / results[2][li][k]) end
        per[li] = table.concat(r, " ")
    end
    print("  its per-round ratios to etcd: " .. table.concat(per, " | "))
end
if not ours_only and #systems >= 2 then
    print(("%-26s %12s %12s %8s   (median of %d round%s; per-round ratios)"):format("load (128-byte values)",
        "ours", "etcd 3.4", "ratio", rounds, rounds > 1 and "s" or ""))
    local names = { "put, 1 client (ops/s)", "put, 16 clients (ops/s)", "get, 1 client (ops/s)",
        "get, 16 clients (ops/s)", "failover to first put (s)" }
    for i, n in ipairs(names) do
        local a, b = results[1][i], results[2][i]
        local per = {}
        for r = 1, #a do
            per[r] = ("%.2f"):format((i == 5) and (b[r] / a[r]) or (a[r] / b[r]))
        end
        local ma, mb = median(a), median(b)
        print(("%-26s %12.2f %12.2f %7.2fx   %s"):format(n, ma, mb, (i == 5) and (mb / ma) or (ma / mb),
            table.concat(per, " ")))
    end
    print("(ratio > 1 means ours is better: more ops/s, or a faster failover)")
end
