-- The kv service under faults, checked for linearizability. Usage:
--   lua5.4 cases.lua SCRATCH_DIR LINCHECK_BINARY
-- Starts 3 nodes (examples/kv/node.lua) whose peer and client traffic goes
-- through the fault-injecting proxy (proxy.lua), runs concurrent clients (workload.lua)
-- while the nemesis (nemesis.lua) kills, restarts and cuts, records every
-- operation and checks the history with tools/lincheck. Every process it
-- starts is stopped at the end, also on failure. Environment:
-- LINCHECK_SECONDS (fault phase, default 30), LINCHECK_SEED (random choices;
-- timing still varies between runs), LINCHECK_CLIENTS (default 6),
-- LINCHECK_NODE_ARGS (more node options, e.g. --lease-reads).
-- Prints one line per case and "lincheck: N passed, N failed".
local root = (arg[0]:match("^(.*)/tests/lincheck/[^/]*$")) or "."
package.path = root .. "/tests/lincheck/?.lua;" .. root .. "/examples/kv/?.lua;" .. root .. "/lua/?.lua;"
    .. package.path

local socket = require("socket")
local client = require("client")
local harness = require("harness")
local workload = require("workload")
local nemesis = require("nemesis")

local scratch = assert(arg[1], "usage: cases.lua SCRATCH_DIR LINCHECK_BINARY")
local lincheck = assert(arg[2], "usage: cases.lua SCRATCH_DIR LINCHECK_BINARY")
local seconds = tonumber(os.getenv("LINCHECK_SECONDS") or "30")
local seed = math.tointeger(tonumber(os.getenv("LINCHECK_SEED") or "")) or (os.time() % 1000000)
local nclients = math.tointeger(tonumber(os.getenv("LINCHECK_CLIENTS") or "")) or 6
math.randomseed(seed)
local log = require("log").new("lincheck")
log("seed %d, %d s of faults, %d clients, node options %q (rerun: LINCHECK_SEED=%d LINCHECK_SECONDS=%d)",
    seed, seconds, nclients, os.getenv("LINCHECK_NODE_ARGS") or "", seed, seconds)

-- The members (the nemesis replaces voters by spares) and the spares,
-- which the proxy knows from the start.
local IDS = { 1, 2, 3 }
local SPARES = {}
for id = 4, 3 + math.max(1, seconds // 20) do SPARES[#SPARES + 1] = id end
local ALL = {}
for _, id in ipairs(IDS) do ALL[#ALL + 1] = id end
for _, id in ipairs(SPARES) do ALL[#ALL + 1] = id end
local KEYS = { "k1", "k2", "k3" }
local passed, failed = 0, 0

-- The cluster: nodes listen for peers on private ports; the addresses the
-- cluster knows (harness node.peer) are the proxy's.
local node_args = { "--snapshot-entries", "300", "--catchup-entries", "50" }
for a in (os.getenv("LINCHECK_NODE_ARGS") or ""):gmatch("%S+") do node_args[#node_args + 1] = a end
local h = harness.new({ dir = scratch, cluster_id = "lin", n = #IDS, node_args = node_args })
for _, id in ipairs(SPARES) do h:define(id) end
local back = {}
local cfront = {}  -- the proxy's client port of each node
local control
-- harness.free_port closes the port it found, so two calls can return the
-- same one (a node then cannot listen and the run would go on with two):
-- pick again until every address is distinct.
for _ = 1, 20 do
    for _, id in ipairs(ALL) do
        back[id] = "127.0.0.1:" .. harness.free_port()
        cfront[id] = "127.0.0.1:" .. harness.free_port()
    end
    control = "127.0.0.1:" .. harness.free_port()
    local seen, clash = { [control] = true }, false
    for _, id in ipairs(ALL) do
        for _, a in ipairs({ h.nodes[id].peer, h.nodes[id].client, back[id], cfront[id] }) do
            clash = clash or seen[a]
            seen[a] = true
        end
    end
    if not clash then break end
    log("two picked ports were the same; picking again")
    for _, id in ipairs(ALL) do h:define(id) end
end
local specs = {}
for _, id in ipairs(ALL) do
    specs[#specs + 1] = ("%d=%s=%s"):format(id, h.nodes[id].peer, back[id])
    specs[#specs + 1] = ("c%d=%s=%s"):format(id, cfront[id], h.nodes[id].client)
end
-- The proxy's client ports of the members (sessions copy it when created).
local client_fronts = {}
local function members_changed()
    for i = #client_fronts, 1, -1 do client_fronts[i] = nil end
    for _, id in ipairs(IDS) do client_fronts[#client_fronts + 1] = cfront[id] end
end
members_changed()
-- A node's command line: the first three bootstrap the cluster; a spare
-- joins it, knowing the members of the time and itself.
local node_peers, node_extra = {}, {}
for _, id in ipairs(IDS) do
    node_peers[id] = h:peers({ [1] = true, [2] = true, [3] = true })
    node_extra[id] = { "--peer-listen", back[id] }
end
local function start(id)
    if not node_peers[id] then
        local set = { [id] = true }
        for _, m in ipairs(IDS) do set[m] = true end
        node_peers[id] = h:peers(set)
        node_extra[id] = { "--peer-listen", back[id], "--join" }
    end
    h:start(id, node_peers[id], node_extra[id])
end

local proxy_pid
local ctl

local function start_proxy()
    local cmd = ("(exec lua5.4 %s %s %s) >>%s 2>&1 & echo $! >%s"):format(
        harness.sh_quote(root .. "/tests/lincheck/proxy.lua"), control, table.concat(specs, " "),
        harness.sh_quote(scratch .. "/proxy.log"), harness.sh_quote(scratch .. "/proxy.pid"))
    assert(os.execute(cmd), "cannot start the proxy")
    local f = assert(io.open(scratch .. "/proxy.pid"))
    proxy_pid = math.tointeger(tonumber(f:read("l")))
    f:close()
    local host, port = control:match("^(.*):(%d+)$")
    for _ = 1, 100 do
        ctl = socket.tcp4()
        ctl:settimeout(5)
        if ctl:connect(host, tonumber(port)) then return end
        ctl:close()
        ctl = nil
        socket.sleep(0.05)
    end
    error("the proxy does not answer on " .. control)
end

local function stop_everything()
    h:stop_all("KILL")
    if ctl then ctl:close() end -- the proxy exits when this closes
    if proxy_pid then os.execute(("kill -KILL %d 2>/dev/null"):format(proxy_pid)) end
end

local function case(name, fn)
    local t0 = socket.gettime()
    local ok, err = xpcall(fn, debug.traceback)
    if ok then
        passed = passed + 1
        print(("ok    %s (%.1f s)"):format(name, socket.gettime() - t0))
    else
        failed = failed + 1
        print(("FAIL  %s: %s"):format(name, tostring(err)))
    end
    io.stdout:flush()
    return ok
end

local function run_checker(path)
    local p = assert(io.popen(("%s %s 2>&1; echo \"exit=$?\""):format(harness.sh_quote(lincheck),
        harness.sh_quote(path))))
    local out = p:read("a")
    p:close()
    return tonumber(out:match("exit=(%d+)%s*$")), out:gsub("exit=%d+%s*$", "")
end

local nem = nemesis.new({ h = h, ids = IDS, log = log, start = start, spares = SPARES,
    on_members = members_changed })
local history = scratch .. "/history.txt"
local W

local setup_ok, setup_err = xpcall(function()
    start_proxy()
    nem.ctl = ctl
    for _, id in ipairs(IDS) do start(id) end
    for _, id in ipairs(IDS) do
        local t0 = socket.gettime()
        while not h:status(id) do
            assert(h:alive(id) and socket.gettime() - t0 < 15, ("node %d did not start; its log %s ends: %s")
                :format(id, h.nodes[id].log, tostring(h:log_line(id, "."))))
            socket.sleep(0.05)
        end
    end
    assert(h:wait_leader(IDS, 20), "no leader")

    case("proxy: an isolated leader is replaced and catches up once healed", function()
        local l = assert(h:wait_leader(IDS, 20), "no leader")
        nem:isolate_links(l)
        local rest = {}
        for _, o in ipairs(IDS) do if o ~= l then rest[#rest + 1] = o end end
        local nl = h:wait_leader(rest, 20)
        assert(nl, "the others elected no leader while node " .. l .. " was cut off")
        local st = assert(h:status(nl))
        nem:proxy("heal all")
        assert(h:wait_applied(l, tonumber(st.commit), 20), "node " .. l .. " did not catch up after the heal")
        local stats = nem:proxy("stats")
        assert(tonumber(stats:match("closed_by_cut=(%d+)")) > 0, stats)
    end)

    case(("faults: %d clients, %d s of kills, restarts, cut links, client link faults and membership changes; "
        .. "the history is linearizable")
        :format(nclients, seconds), function()
        local t0 = socket.gettime()
        local stop_at = t0 + seconds
        -- Clients reach the nodes through the proxy too (client link faults).
        W = workload.new({ h = h, ids = IDS, keys = KEYS, t0 = t0, op_deadline = 5, addrs = client_fronts })
        local tasks = { nem:task(stop_at) }
        for c = 1, nclients do tasks[#tasks + 1] = W:client(c, stop_at) end
        client.run(tasks)
        client.run({ W:final_reads() })
        W:write(history)
        local parts = {}
        local kinds = {}
        for k in pairs(nem.counts) do kinds[#kinds + 1] = k end
        table.sort(kinds)
        for _, k in ipairs(kinds) do parts[#parts + 1] = ("%s %d"):format(k, nem.counts[k]) end
        local c = W.counts
        log("%d operations (%d put, %d get, %d cas; %d answered, %d unknown outcome, %d error answers; "
            .. "%d retries within sessions); %d faults (%s); members at the end: %s; %s", #W.lines, c.put, c.get,
            c.cas, c.answered, c.unknown, c.errors, c.retries, nem.total, table.concat(parts, ", "),
            table.concat(IDS, " "), nem:proxy("stats"))
        local code, out = run_checker(history)
        io.stdout:write(out)
        assert(code == 0, ("the checker says %s (exit %s); history kept at %s"):format(
            code == 1 and "NOT LINEARIZABLE" or "undecided or error", tostring(code), history))
        assert(c.answered >= 50, "too few answered operations to mean anything: " .. c.answered)
        assert(nem.total >= math.min(3, seconds // 10), "too few faults injected")
    end)

    case("after the faults the members converge to one state", function()
        local t0 = socket.gettime()
        while true do
            local d, same = {}, true
            for i, id in ipairs(IDS) do
                d[i] = { h:digest(id) }
                same = same and d[i][1] ~= nil and d[i][1] == d[1][1]
            end
            if same then
                for i = 2, #d do
                    assert(d[i][2] == d[1][2], ("nodes %d and %d at applied index %s disagree: %s %s"):format(
                        IDS[1], IDS[i], d[1][1], d[1][2], d[i][2]))
                end
                return
            end
            assert(socket.gettime() - t0 < 30, "members " .. table.concat(IDS, " ")
                .. " did not reach one applied index")
            socket.sleep(0.2)
        end
    end)

    -- The recorded history with one answer made wrong must be refused: the
    -- pipeline (recording, format, checker) can fail.
    local function tampered(name, extra)
        case(name, function()
            assert(W, "no recorded history")
            local f = assert(io.open(history))
            local text = f:read("a")
            f:close()
            local line = extra(text)
            assert(line, "the history has nothing to tamper with")
            local path = scratch .. "/tampered.txt"
            f = assert(io.open(path, "w"))
            f:write(text, line, "\n")
            f:close()
            local code, out = run_checker(path)
            assert(code == 1, "the checker accepted a tampered history (exit " .. tostring(code) .. "):\n" .. out)
        end)
    end
    local function last_time(text)
        local t = 0
        for call, ret in text:gmatch("\n%S+ %S+ (%d+) (%S+)") do
            t = math.max(t, tonumber(call), tonumber(ret) or 0)
        end
        return t
    end
    tampered("a stale read appended to the recorded history is refused", function(text)
        -- Two acknowledged puts on one key, one after the other: reading the
        -- first after everything is a stale read (values are never reused).
        local puts = {}
        for key, call, ret, v in text:gmatch("\n%S+ (%S+) (%d+) (%d+) put (%S+) %- ok") do
            local p = puts[key]
            if p and p.ret < tonumber(call) then
                local t = last_time(text) + 10
                return ("stale %s %d %d get - - value:%s"):format(key, t, t + 5, p.v)
            end
            if not p then puts[key] = { ret = tonumber(ret), v = v } end
        end
    end)
    tampered("a lost write appended to the recorded history is refused", function(text)
        -- Keys are never deleted: after an acknowledged put, absent is wrong.
        local key = text:match("\n%S+ (%S+) %d+ %d+ put %S+ %- ok")
        local t = last_time(text) + 10
        return key and ("lost %s %d %d get - - value:~"):format(key, t, t + 5)
    end)
end, debug.traceback)
stop_everything()
if not setup_ok then
    failed = failed + 1
    print("FAIL  setup: " .. tostring(setup_err))
end
print(("lincheck: %d passed, %d failed"):format(passed, failed))
os.exit(failed == 0 and 0 or 1)
