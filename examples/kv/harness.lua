-- harness: starts, kills and watches node processes on 127.0.0.1 ports it
-- picks; used by scenario.lua (the demo) and the tests in tests/kv. Every
-- process it starts is recorded, and stop_all() ends them all.
local socket = require("socket")
local client = require("client")
local auth = require("auth")

local harness = {}
harness.__index = harness

local here = (debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$")) or "."

local function sh_quote(s)
    return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
harness.sh_quote = sh_quote

-- Ports handed out by this process: the kernel may offer a port again once
-- its probe socket is closed, and two nodes must never get the same one.
local handed_out = {}

--- A free TCP port on 127.0.0.1 (the OS picks it), never one this process
--- was already given.
function harness.free_port()
    for _ = 1, 100 do
        local s = assert(socket.tcp4())
        assert(s:setoption("reuseaddr", true))
        assert(s:bind("127.0.0.1", 0))
        local _, port = s:getsockname()
        s:close()
        port = math.tointeger(tonumber(port))
        if not handed_out[port] then
            handed_out[port] = true
            return port
        end
    end
    error("harness.free_port: no unused port found in 100 tries")
end

--- o: dir (scratch directory, created), cluster_id, n (initial nodes),
--- node_args (extra command-line arguments for every node), node_script
--- (the node.lua to run; default the one beside this file).
function harness.new(o)
    local self = setmetatable({ dir = o.dir, cluster_id = o.cluster_id or "kv-test", nodes = {},
        node_args = o.node_args or {}, pids = {}, node_script = o.node_script or (here .. "/node.lua") }, harness)
    assert(os.execute("mkdir -p " .. sh_quote(self.dir)))
    self.secret_file = self.dir .. "/secret"
    local f = assert(io.open(self.secret_file, "wb"))
    local raft = require("lraft")
    f:write((raft.random_bytes(24):gsub(".", function(c) return ("%02x"):format(c:byte()) end)), "\n")
    f:close()
    self.secret = assert(auth.read_secret(self.secret_file))
    self.auth = auth.new(self.cluster_id, self.secret, 0)
    for id = 1, o.n or 3 do self:define(id) end
    return self
end

--- Reserves ports for node `id`.
function harness:define(id)
    self.nodes[id] = { id = id, peer = "127.0.0.1:" .. harness.free_port(),
        client = "127.0.0.1:" .. harness.free_port(), data = self.dir .. "/node" .. id,
        log = self.dir .. "/node" .. id .. ".log" }
    return self.nodes[id]
end

--- The --peers value naming nodes `ids` (all defined nodes when nil).
function harness:peers(ids)
    local l = {}
    for id, n in pairs(self.nodes) do
        if not ids or ids[id] then l[#l + 1] = ("%d=%s/%s"):format(id, n.peer, n.client) end
    end
    table.sort(l)
    return table.concat(l, ",")
end

--- Client addresses of nodes `ids` (a list), comma-separated.
function harness:client_addrs(ids)
    local l = {}
    for _, id in ipairs(ids) do l[#l + 1] = self.nodes[id].client end
    return l
end

--- The node command line (a shell string) for node `id`.
function harness:command(id, extra)
    local n = self.nodes[id]
    local parts = { "exec lua5.4", sh_quote(self.node_script), "--id", id, "--cluster-id",
        sh_quote(self.cluster_id), "--secret-file", sh_quote(self.secret_file), "--data", sh_quote(n.data) }
    for _, a in ipairs(self.node_args) do parts[#parts + 1] = sh_quote(a) end
    for _, a in ipairs(extra or {}) do parts[#parts + 1] = sh_quote(a) end
    return table.concat(parts, " ")
end

--- Starts node `id` in the background (log appended to its log file).
--- `peers` is the --peers value (see harness:peers), `extra` more arguments.
function harness:start(id, peers, extra)
    local n = self.nodes[id]
    local args = { "--peers", peers }
    for _, a in ipairs(extra or {}) do args[#args + 1] = a end
    local pidfile = self.dir .. "/node" .. id .. ".pid"
    local cmd = ("(%s) >>%s 2>&1 & echo $! >%s"):format(self:command(id, args), sh_quote(n.log),
        sh_quote(pidfile))
    assert(os.execute(cmd), "cannot start node " .. id)
    local f = assert(io.open(pidfile))
    n.pid = math.tointeger(tonumber(f:read("l")))
    f:close()
    self.pids[#self.pids + 1] = n.pid
    return n.pid
end

--- True while node `id`'s process runs.
function harness:alive(id)
    local pid = self.nodes[id].pid
    if not pid then return false end
    -- A killed process stays a zombie until init reaps it: read its state.
    local f = io.open("/proc/" .. pid .. "/stat")
    if not f then return false end
    local stat = f:read("a") or ""
    f:close()
    return stat:match("^%d+ %b() (%a)") ~= "Z"
end

--- Sends `sig` (default KILL) to node `id` and waits until it is gone;
--- returns the time the signal was sent.
function harness:kill(id, sig)
    local n = self.nodes[id]
    if not n.pid then return end
    os.execute(("kill -%s %d 2>/dev/null"):format(sig or "KILL", n.pid))
    local t = socket.gettime()
    local until_ = socket.gettime() + 10
    while self:alive(id) and socket.gettime() < until_ do socket.sleep(0.02) end
    assert(not self:alive(id), "node " .. id .. " did not stop")
    n.pid = nil
    return t
end

--- Stops every process this harness started.
function harness:stop_all(sig)
    for _, pid in ipairs(self.pids) do os.execute(("kill -%s %d 2>/dev/null"):format(sig or "TERM", pid)) end
    for id, n in pairs(self.nodes) do
        if n.pid then
            local until_ = socket.gettime() + 5
            while self:alive(id) and socket.gettime() < until_ do socket.sleep(0.02) end
            if self:alive(id) then os.execute("kill -KILL " .. n.pid .. " 2>/dev/null") end
            n.pid = nil
        end
    end
    for _, pid in ipairs(self.pids) do os.execute(("kill -KILL %d 2>/dev/null"):format(pid)) end
    self.pids = {}
end

--- The last line of node `id`'s log matching `pattern` (without the
--- timestamp), or nil.
function harness:log_line(id, pattern)
    local f = io.open(self.nodes[id].log)
    if not f then return nil end
    local found
    for line in f:lines() do
        if line:find(pattern) then found = line end
    end
    f:close()
    return found and (found:match("^[%d:.]+ (.*)$") or found)
end

--- Status of node `id` (a table) or nil, err. Runs inside or outside a task.
function harness:status(id)
    local addr = self.nodes[id].client
    if coroutine.isyieldable() then return client.status(addr, self.auth, 1) end
    return client.run_one(function() return client.status(addr, self.auth, 1) end)
end

--- A diagnostic answer of node `id` (the node-local "digest" command):
--- applied index, digest of the user data, digest of the session table.
function harness:digest(id)
    return client.run_one(function()
        local deadline = socket.gettime() + 2
        local conn, err = client.connect(self.nodes[id].client, self.auth, deadline)
        if not conn then return nil, err end
        local l, rerr = client.roundtrip(conn, { "digest" }, deadline)
        conn:close()
        if not l then return nil, rerr end
        return l[2], l[3], l[4]
    end)
end

--- Waits until one of `ids` is leader; returns its id and the time waited.
function harness:wait_leader(ids, timeout)
    local t0 = socket.gettime()
    while socket.gettime() - t0 < (timeout or 15) do
        for _, id in ipairs(ids) do
            local st = self:status(id)
            if st and st.state == "leader" then return math.tointeger(tonumber(st.id)), socket.gettime() - t0 end
        end
        socket.sleep(0.05)
    end
    return nil, socket.gettime() - t0
end

--- Waits until node `id` applied at least `index`; returns its status or
--- nil on timeout.
function harness:wait_applied(id, index, timeout)
    local t0 = socket.gettime()
    while socket.gettime() - t0 < (timeout or 15) do
        local st = self:status(id)
        if st and tonumber(st.applied) >= index then return st end
        socket.sleep(0.05)
    end
end

--- A client session over nodes `ids`.
function harness:session(ids, o)
    o = o or {}
    return client.session({ addrs = self:client_addrs(ids), cluster_id = self.cluster_id, secret = self.secret,
        timeout = o.timeout, deadline = o.deadline, client_id = o.client_id, max_pause = o.max_pause })
end

return harness
