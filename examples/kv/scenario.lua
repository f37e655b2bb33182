-- scenario: the service demo (scripts/demo.sh) and its bounded-time test
-- (tests/kv). Starts 3 node processes on 127.0.0.1, writes keys, kills the
-- leader with SIGKILL, checks every acknowledged write, restarts the killed
-- node, adds a 4th node that catches up by snapshot, removes it, stops
-- everything. One line per step; exits 1 as soon as a check fails.
--
--   lua5.4 examples/kv/scenario.lua [--keys N] [--dir DIR] [--keep]
local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
package.path = here .. "/?.lua;" .. here .. "/../../lua/?.lua;" .. package.path
package.cpath = package.cpath .. ";" .. here .. "/../../target/lua/?.so"

local socket = require("socket")
local client = require("client")
local harness = require("harness")

local nkeys, dir, keep = 1000, nil, false
do
    local i = 1
    while i <= #arg do
        if arg[i] == "--keys" then nkeys = assert(math.tointeger(tonumber(arg[i + 1])), "--keys N"); i = i + 1
        elseif arg[i] == "--dir" then dir = arg[i + 1]; i = i + 1
        elseif arg[i] == "--keep" then keep = true
        else io.stderr:write("unknown argument " .. arg[i] .. "\n"); os.exit(2) end
        i = i + 1
    end
end
local owns_dir = dir == nil
dir = dir or (os.tmpname() .. "-kv-demo")
os.remove(dir)

local T0 = socket.gettime()
local tty = os.execute("test -t 1") == true
local function step(fmt, ...)
    io.stdout:write(("[%5.1fs] "):format(socket.gettime() - T0) .. fmt:format(...) .. "\n")
    io.stdout:flush()
end
local function check(cond, fmt, ...)
    if not cond then error({ failed = fmt:format(...) }) end
end

local h = harness.new({ dir = dir, cluster_id = "demo",
    node_args = { "--snapshot-entries", "400", "--catchup-entries", "100" } })
local acked = {}      -- key -> value acknowledged by the cluster
local summary = {}

-- Writes keys prefix..i for i in [from, to] with `nclients` concurrent
-- sessions over nodes `ids`; shows a progress line. Returns the count of
-- acknowledged writes and the time of the first one.
local function write_keys(prefix, from, to, ids, nclients, progress)
    local nextk, done, failed, first = from, 0, 0, nil
    local total = to - from + 1
    local last_print = 0
    local tasks = {}
    for c = 1, nclients do
        tasks[c] = function()
            local s = h:session(ids, { deadline = 30 })
            while nextk <= to do
                local k = nextk
                nextk = nextk + 1
                local key, value = ("%s%05d"):format(prefix, k), ("value-%d-%s"):format(k, prefix)
                local res = s:request({ "put", key, value })
                if res and res[1] == "ok" then
                    acked[key] = value
                    done = done + 1
                    first = first or socket.gettime()
                else
                    failed = failed + 1
                end
                if progress and tty and (socket.gettime() - last_print > 0.1 or done + failed == total) then
                    last_print = socket.gettime()
                    io.stdout:write(("\r[%5.1fs] writing %d keys: %d/%d acknowledged"):format(
                        socket.gettime() - T0, total, done, total))
                    io.stdout:flush()
                end
            end
            s:close()
        end
    end
    client.run(tasks)
    if progress and tty then io.stdout:write("\n") end
    return done, failed, first
end

-- Reads every acknowledged key through nodes `ids`; returns mismatches.
local function verify(ids)
    local keys = {}
    for k in pairs(acked) do keys[#keys + 1] = k end
    table.sort(keys)
    local bad, i = {}, 0
    local tasks = {}
    for c = 1, 16 do
        tasks[c] = function()
            local s = h:session(ids, { deadline = 20 })
            while i < #keys do
                i = i + 1
                local k = keys[i]
                local res, err = s:request({ "get", k })
                if not res or res[1] ~= "ok" or res[2] ~= acked[k] then
                    bad[#bad + 1] = k .. " -> " .. tostring(res and (res[1] .. " " .. tostring(res[2])) or err)
                end
            end
            s:close()
        end
    end
    client.run(tasks)
    return bad, #keys
end

local function run()
    -- 1. Start.
    local initial = { [1] = true, [2] = true, [3] = true }
    local peers = h:peers(initial)
    for id = 1, 3 do h:start(id, peers) end
    local leader, t = h:wait_leader({ 1, 2, 3 }, 15)
    check(leader, "no leader elected within 15 s")
    step("started 3 nodes (clients on %s, %s, %s); node %d elected leader after %.1f s",
        h.nodes[1].client, h.nodes[2].client, h.nodes[3].client, leader, t)

    -- 2. Write keys.
    local t1 = socket.gettime()
    local n, failed = write_keys("key-", 1, nkeys, { 1, 2, 3 }, 16, true)
    check(failed == 0, "%d writes failed", failed)
    step("wrote %d keys in %.1f s (%.0f writes/s, 16 concurrent clients)", n, socket.gettime() - t1,
        n / (socket.gettime() - t1))

    -- 3. Read some back.
    local sample = {}
    client.run_one(function()
        local s = h:session({ 1, 2, 3 })
        for _, k in ipairs({ 1, nkeys // 3, nkeys // 2, nkeys }) do
            local key = ("key-%05d"):format(k)
            local res = s:request({ "get", key })
            check(res and res[2] == acked[key], "read of %s returned %s", key, tostring(res and res[2]))
            sample[#sample + 1] = key .. "=" .. res[2]
        end
        s:close()
    end)
    step("read back %s", table.concat(sample, ", "))

    -- 4. Kill the leader.
    local killed = leader
    local st = h:status(killed)
    local tkill = h:kill(killed, "KILL")
    step("killed the leader, node %d (term %s, applied %s), with SIGKILL", killed, st.term, st.applied)

    -- 5. New leader; writes go on.
    local rest = {}
    for id = 1, 3 do if id ~= killed then rest[#rest + 1] = id end end
    local done, f2, first = write_keys("after-kill-", 1, 100, rest, 4, false)
    local leader2 = h:wait_leader(rest, 15)
    check(leader2, "no new leader")
    local st2 = h:status(leader2)
    check(done == 100 and f2 == 0, "only %d of 100 writes after the kill succeeded", done)
    local failover = first - tkill
    step("node %d is the new leader (term %s); first write acknowledged %.2f s after the SIGKILL [log: %s]",
        leader2, st2.term, failover, tostring(h:log_line(leader2, "elected leader")))
    summary.failover = failover

    -- 6. Every acknowledged write is readable.
    local bad, total = verify(rest)
    check(#bad == 0, "%d acknowledged writes are wrong or missing, e.g. %s", #bad, tostring(bad[1]))
    step("all %d acknowledged writes are readable with their values", total)

    -- 7. Restart the killed node.
    local target = tonumber(h:status(leader2).commit)
    local tr = socket.gettime()
    h:start(killed, peers)
    local st3 = h:wait_applied(killed, target, 20)
    check(st3, "restarted node %d did not catch up to index %d", killed, target)
    step("restarted node %d: caught up from applied index %s to %s in %.1f s", killed, st.applied, st3.applied,
        socket.gettime() - tr)

    -- 8. Add a 4th node: it joins as a learner and catches up by snapshot.
    local n4 = h:define(4)
    local ta = socket.gettime()
    local res = client.run_one(function()
        local s = h:session({ 1, 2, 3 })
        local r, err = s:request({ "add", "4", n4.peer, n4.client })
        s:close()
        return r or { "error", err }
    end)
    check(res[1] == "ok", "add 4 failed: %s", tostring(res[2]))
    h:start(4, h:peers(), { "--join" })
    local lst = h:status(leader2)
    local st4 = h:wait_applied(4, tonumber(lst.commit), 20)
    check(st4, "node 4 did not catch up")
    check(tonumber(st4.snapshot) > 0, "node 4 caught up without a snapshot (snapshot index %s)", st4.snapshot)
    -- Same applied index everywhere, then the same data.
    local digests = {}
    local tconv = socket.gettime()
    while true do
        digests = {}
        local idx, same = nil, true
        for id = 1, 4 do
            local applied, d = h:digest(id)
            digests[id] = d
            idx = idx or applied
            if applied ~= idx or d ~= digests[1] then same = false end
        end
        if same then break end
        check(socket.gettime() - tconv < 10, "nodes did not converge to the same state")
        socket.sleep(0.1)
    end
    step("added node 4 as a learner: caught up by snapshot in %.1f s; all 4 nodes hold the same data (digest %s) [log: %s]",
        socket.gettime() - ta, digests[1]:sub(1, 12), tostring(h:log_line(4, "snapshot at index %d+ applied")))

    -- 9. Remove it: it stops by itself.
    res = client.run_one(function()
        local s = h:session({ 1, 2, 3 })
        local r, err = s:request({ "remove", "4" })
        s:close()
        return r or { "error", err }
    end)
    check(res[1] == "ok", "remove 4 failed: %s", tostring(res[2]))
    local tw = socket.gettime()
    while h:alive(4) and socket.gettime() - tw < 10 do socket.sleep(0.05) end
    check(not h:alive(4), "node 4 is still running after its removal")
    h.nodes[4].pid = nil
    step("removed node 4: it stopped by itself [log: %s]", tostring(h:log_line(4, "stopping")))

    -- 10. Stop.
    h:stop_all("TERM")
    step("stopped all nodes; summary: %d keys written, 0 acknowledged writes lost, first write %.2f s after the leader's SIGKILL, restarted and new nodes converged; total %.1f s",
        nkeys + 100, summary.failover, socket.gettime() - T0)
end

local ok, err = xpcall(run, function(e)
    if type(e) == "table" then return e end
    return debug.traceback(tostring(e), 2)
end)
h:stop_all("KILL")
if not ok then
    io.stdout:write("\n")
    step("FAILED: %s", type(err) == "table" and err.failed or tostring(err))
    step("node logs are in %s", dir)
    os.exit(1)
end
if owns_dir and not keep then os.execute("rm -rf " .. harness.sh_quote(dir)) end
if keep or not owns_dir then step("node logs are in %s", dir) end
os.exit(0)
