-- kvctl: the command-line client of the key-value service
-- (lua5.4 kvctl.lua --help).
local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
package.path = here .. "/?.lua;" .. here .. "/../../lua/?.lua;" .. package.path
package.cpath = package.cpath .. ";" .. here .. "/../../target/lua/?.so"

local socket = require("socket")
local raft = require("lraft")
local client = require("client")
local auth = require("auth")

local USAGE = [[
usage: lua5.4 kvctl.lua --cluster HOST:PORT,... --cluster-id NAME --secret-file FILE COMMAND
       (or set KV_CLUSTER, KV_CLUSTER_ID, KV_SECRET_FILE)

commands:
  put KEY VALUE          write a value
  get KEY                read a value (linearizable)
  del KEY                delete a key
  cas KEY OLD NEW        set KEY to NEW if its value is OLD ("" = the key is absent)
  scan FROM TO [LIMIT]   keys in [FROM, TO) in order ("" as TO = no end; LIMIT <= 1000)
  add ID PEERADDR CLIENTADDR   add a node as a learner (start it with --join)
  promote ID             make a learner a voter
  remove ID              remove a node (it stops)
  status                 every node's role, leader, term, commit and applied index
  bench [--clients N] [--seconds S] [--keys K] [--mix put:get:cas]
                         load test; prints ops/s (default 16 clients, 10 s, 1000 keys, 50:40:10)
  (no command)           interactive mode: one command per line; "help", "quit"
]]

local function die(msg)
    io.stderr:write("kvctl: " .. msg .. "\n")
    os.exit(2)
end

local argv = { table.unpack(arg) }
local o = { cluster = os.getenv("KV_CLUSTER"), cluster_id = os.getenv("KV_CLUSTER_ID"),
    secret_file = os.getenv("KV_SECRET_FILE") }
local rest = {}
local i = 1
while i <= #argv do
    local a = argv[i]
    if a == "--help" or a == "-h" then io.stdout:write(USAGE); os.exit(0)
    elseif a == "--cluster" then o.cluster = argv[i + 1]; i = i + 1
    elseif a == "--cluster-id" then o.cluster_id = argv[i + 1]; i = i + 1
    elseif a == "--secret-file" then o.secret_file = argv[i + 1]; i = i + 1
    else
        for j = i, #argv do rest[#rest + 1] = argv[j] end
        break
    end
    i = i + 1
end
if not o.cluster or not o.cluster_id or not o.secret_file then
    die("--cluster, --cluster-id and --secret-file are required (try --help)")
end
local secret, serr = auth.read_secret(o.secret_file)
if not secret then die(serr) end
local addrs = {}
for x in o.cluster:gmatch("[^,]+") do addrs[#addrs + 1] = x end

local function new_session()
    local copy = {}
    for k, v in ipairs(addrs) do copy[k] = v end
    return client.session({ addrs = copy, cluster_id = o.cluster_id, secret = secret })
end

local ARGC = { put = 2, get = 1, del = 1, cas = 3, scan = { 2, 3 }, add = 3, promote = 1, remove = 1 }

-- Prints a result; returns true when the command succeeded.
local function show(cmd, res, err)
    if not res then print("error: " .. tostring(err)); return false end
    local r = res[1]
    if r == "error" then print("error: " .. tostring(res[2])); return false end
    if cmd == "get" then
        if r == "notfound" then print("(not found)") else print(res[2]) end
    elseif cmd == "del" then
        print(res[2] == "1" and "deleted" or "(not found)")
    elseif cmd == "cas" then
        if r == "ok" then print("OK")
        elseif res[2] then print("mismatch: current value is " .. res[2]); return false
        else print("mismatch: the key is absent"); return false end
    elseif cmd == "scan" then
        for k = 2, #res, 2 do print(res[k] .. " = " .. res[k + 1]) end
        print(("(%d keys)"):format((#res - 1) // 2))
    else
        print(r == "ok" and "OK" or table.concat(res, " "))
    end
    return true
end

local function status()
    local ok = true
    local a = auth.new(o.cluster_id, secret, 0)
    local seen, list = {}, {}
    for _, x in ipairs(addrs) do seen[x] = true; list[#list + 1] = x end
    local k = 1
    local members
    client.run_one(function()
        while k <= #list do
            local addr = list[k]
            local st, err = client.status(addr, a)
            if not st then
                print(("%-21s unreachable (%s)"):format(addr, err)); ok = false
            else
                print(("node %-3s %-13s leader %-3s term %-4s commit %-7s applied %-7s snapshot %-7s at %s")
                    :format(st.id, st.state, st.leader, st.term, st.commit, st.applied, st.snapshot, addr))
                for m in (st.members or ""):gmatch("%S+") do
                    local role, caddr = m:match("^%d+=(%a+)@(.*)$")
                    if role ~= "removed" and caddr and caddr ~= "" and not seen[caddr] then
                        seen[caddr] = true; list[#list + 1] = caddr
                    end
                end
                if st.state == "leader" or not members then members = st.members end
            end
            k = k + 1
        end
    end)
    if members then print("members (id=role@client address): " .. members) end
    return ok
end

local function bench(args)
    local b = { clients = 16, seconds = 10, keys = 1000, mix = "50:40:10" }
    local j = 1
    while j <= #args do
        local name = args[j]:match("^%-%-(%a+)$")
        if not name or b[name] == nil or args[j + 1] == nil then die("bench: bad argument " .. args[j]) end
        b[name] = (name == "mix") and args[j + 1] or math.tointeger(tonumber(args[j + 1]))
        if not b[name] or (name ~= "mix" and b[name] < 1) then die("bench: bad value for --" .. name) end
        j = j + 2
    end
    local wp, wg, wc = b.mix:match("^(%d+):(%d+):(%d+)$")
    wp, wg, wc = tonumber(wp), tonumber(wg), tonumber(wc)
    if not wp or wp + wg + wc == 0 then die("bench: --mix wants PUT:GET:CAS weights") end
    local value = string.rep("v", 128)
    local counts = { put = 0, get = 0, cas = 0, failed = 0 }
    local lat = {}
    local stop_at
    local tasks = {}
    for c = 1, b.clients do
        tasks[c] = function()
            local s = new_session()
            while socket.gettime() < stop_at do
                local r = math.random() * (wp + wg + wc)
                local key = ("bench-%06d"):format(math.random(b.keys))
                local cmd
                if r < wp then cmd = { "put", key, value }
                elseif r < wp + wg then cmd = { "get", key }
                else cmd = { "cas", key, value, value } end
                local t0 = socket.gettime()
                local res = s:request(cmd)
                if res and res[1] ~= "error" then
                    counts[cmd[1]] = counts[cmd[1]] + 1
                    lat[#lat + 1] = socket.gettime() - t0
                else
                    counts.failed = counts.failed + 1
                end
            end
            s:close()
        end
    end
    local t0 = socket.gettime()
    stop_at = t0 + b.seconds
    client.run(tasks)
    local el = socket.gettime() - t0
    table.sort(lat)
    local total = counts.put + counts.get + counts.cas
    local function pct(p) return lat[math.max(1, math.ceil(#lat * p))] or 0 end
    print(("bench: %d clients, %.1f s, keys %d, mix put:get:cas %s, 128-byte values"):format(b.clients, el,
        b.keys, b.mix))
    print(("  total %d ops, %.0f ops/s (put %.0f/s, get %.0f/s, cas %.0f/s), %d failed"):format(total,
        total / el, counts.put / el, counts.get / el, counts.cas / el, counts.failed))
    print(("  latency p50 %.1f ms, p99 %.1f ms"):format(pct(0.5) * 1000, pct(0.99) * 1000))
    return counts.failed == 0
end

local session
local function run(words)
    local cmd = words[1]
    if cmd == "status" then return status() end
    if cmd == "bench" then return bench({ table.unpack(words, 2) }) end
    local want = ARGC[cmd]
    if not want then print(("error: unknown command %q (try --help)"):format(tostring(cmd))); return false end
    local n = #words - 1
    if (type(want) == "number" and n ~= want) or (type(want) == "table" and n ~= want[1] and n ~= want[2]) then
        print(("error: %s takes %s arguments, got %d"):format(cmd,
            type(want) == "table" and (want[1] .. " or " .. want[2]) or want, n))
        return false
    end
    session = session or new_session()
    local res, err = client.run_one(function() return session:request(words) end)
    return show(cmd, res, err)
end

-- Splits an interactive line into words; "double quotes" group words.
local function split(line)
    local words = {}
    local pos = 1
    while true do
        local s = line:match("^%s*()", pos)
        if s > #line then break end
        if line:sub(s, s) == '"' then
            local e = line:find('"', s + 1, true)
            if not e then return nil, "unterminated quote" end
            words[#words + 1] = line:sub(s + 1, e - 1)
            pos = e + 1
        else
            local w, nxt = line:match("^(%S+)()", s)
            words[#words + 1] = w
            pos = nxt
        end
    end
    return words
end

if #rest == 0 then
    local tty = os.execute("test -t 0") == true
    while true do
        if tty then io.stdout:write("kv> "); io.stdout:flush() end
        local line = io.stdin:read("l")
        if not line then break end
        local words, err = split(line)
        if not words then print("error: " .. err)
        elseif #words > 0 then
            if words[1] == "quit" or words[1] == "exit" then break end
            if words[1] == "help" then io.stdout:write(USAGE) else run(words) end
        end
    end
    os.exit(0)
end
os.exit(run(rest) and 0 or 1)
