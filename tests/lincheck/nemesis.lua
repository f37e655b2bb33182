-- nemesis: the fault schedule of the linearizability test. A task (for
-- client.run) that, until its stop time, repeatedly picks a fault, holds it
-- for a while and repairs it: SIGKILL and restart of one node (often the
-- leader) or of two at once (quorum lost), isolating a node (often the
-- leader) in both directions, cutting one direction of one link, dropping
-- or delaying raft messages on every link, freezing a node (SIGSTOP, often
-- while cut off) and letting it resume (SIGCONT), and on client links:
-- cutting a node's client connections (requests in flight lose their
-- answers), losing answers (the connection closed after the node answered)
-- and delaying requests and answers past the clients' timeouts; and
-- membership changes: a spare node added as a learner, caught up and
-- promoted, then a voter (often the leader) removed, so the cluster keeps
-- three voters whose ids change over the run. Links are
-- cut through the proxy (proxy.lua) on its control connection. The first
-- faults go through every kind once, in random order; later ones are
-- picked at random. Every fault is counted and logged.
local socket = require("socket")
local client = require("client")

local nemesis = {}
nemesis.__index = nemesis

--- o: h (harness), ids (the members: a list this nemesis updates),
--- ctl (a connected blocking socket to the proxy's control port),
--- start(id) (starts node id: restarts it, or a spare's first start with
--- --join), spares (ids of nodes the proxy knows that may be added),
--- on_members() (called when `ids` changed), log(fmt, ...).
function nemesis.new(o)
    return setmetatable({ h = o.h, ids = o.ids, ctl = o.ctl, start = o.start, log = o.log, counts = {},
        total = 0, spares = o.spares or {}, on_members = o.on_members or function() end }, nemesis)
end

--- Inside a task: one membership request through a fresh session; true or
--- false and the reason.
function nemesis:admin(cmd)
    local s = self.h:session(self.ids, { timeout = 2, deadline = 30 })
    local r, err = s:request(cmd)
    s:close()
    if r and r[1] == "ok" then return true end
    return false, r and table.concat(r, " ") or err
end

--- Inside a task: waits until node `n` applied the leader's commit index
--- (at most `timeout` seconds); returns whether it did.
function nemesis:caught_up(n, timeout)
    local give_up = socket.gettime() + timeout
    while socket.gettime() < give_up do
        local l = self:leader()
        local lst = l and self.h:status(l)
        local st = self.h:status(n)
        if lst and st and tonumber(st.applied) >= tonumber(lst.commit) then return true end
        client.sleep(0.1)
    end
    return false
end

--- Sends one command to the proxy; errors unless it says ok.
function nemesis:proxy(line)
    assert(self.ctl:send(line .. "\n"))
    local answer, err = self.ctl:receive("*l")
    assert(answer and answer:match("^ok"), ("proxy: %s -> %s"):format(line, tostring(answer or err)))
    return answer
end

local function pick(l) return l[math.random(#l)] end

local function others(ids, x)
    local o = {}
    for _, id in ipairs(ids) do if id ~= x then o[#o + 1] = id end end
    return o
end

--- The current leader among live nodes (asked inside a task), or nil.
function nemesis:leader()
    for _, id in ipairs(self.ids) do
        if self.h:alive(id) then
            local st = self.h:status(id)
            if st and st.state == "leader" then return id end
        end
    end
end

function nemesis:victim()
    local l = math.random() < 0.6 and self:leader()
    return l or pick(self.ids)
end

function nemesis:count(kind, fmt, ...)
    self.counts[kind] = (self.counts[kind] or 0) + 1
    self.total = self.total + 1
    self.log("fault %d: " .. fmt, self.total, ...)
end

--- Sends signal `sig` to node `v`'s process (when it runs).
function nemesis:signal(v, sig)
    local pid = self.h.nodes[v].pid
    if pid then os.execute(("kill -%s %d 2>/dev/null"):format(sig, pid)) end
end

--- Cuts every link of node `v`, both ways.
function nemesis:isolate_links(v)
    for _, o in ipairs(others(self.ids, v)) do
        self:proxy(("cut %d %d"):format(v, o))
        self:proxy(("cut %d %d"):format(o, v))
    end
end

local function hold(lo, hi) client.sleep(lo + math.random() * (hi - lo)) end

local faults = {
    kill = function(self)
        local v = self:victim()
        self:count("kill", "SIGKILL node %d", v)
        self.h:kill(v, "KILL")
        hold(0.2, 3)
        self.start(v)
    end,
    kill_two = function(self)
        local a = self:victim()
        local b = pick(others(self.ids, a))
        self:count("kill_two", "SIGKILL nodes %d and %d (no quorum)", a, b)
        self.h:kill(a, "KILL")
        self.h:kill(b, "KILL")
        hold(0.2, 2)
        self.start(a)
        hold(0, 1)
        self.start(b)
    end,
    pause = function(self)
        -- A frozen process (a long GC or VM pause): its peers see silence,
        -- then it resumes with stale beliefs, here still cut off for a
        -- moment, which is when a leader that answers reads on its own
        -- authority would serve old values.
        local v = self:leader() or self:victim()
        local cut = math.random() < 0.7
        self:count("pause", "SIGSTOP node %d%s", v, cut and ", cut off both ways" or "")
        if cut then self:isolate_links(v) end
        self:signal(v, "STOP")
        hold(2, 4)
        self:signal(v, "CONT")
        if cut then hold(0.5, 2) end
        self:proxy("heal all")
    end,
    isolate = function(self)
        local v = self:victim()
        self:count("isolate", "node %d cut off both ways", v)
        self:isolate_links(v)
        hold(1, 4)
        self:proxy("heal all")
    end,
    one_way = function(self)
        local a = self:victim()
        local b = pick(others(self.ids, a))
        if math.random() < 0.5 then a, b = b, a end
        self:count("one_way", "link %d -> %d cut", a, b)
        self:proxy(("cut %d %d"):format(a, b))
        hold(1, 4)
        self:proxy("heal all")
    end,
    lossy = function(self)
        local p = 0.2 + math.random() * 0.4
        self:count("lossy", "every link drops %.0f%% of raft messages", p * 100)
        for _, a in ipairs(self.ids) do
            for _, b in ipairs(others(self.ids, a)) do self:proxy(("drop %d %d %.2f"):format(a, b, p)) end
        end
        hold(2, 5)
        self:proxy("heal all")
    end,
    membership = function(self)
        local n = table.remove(self.spares, 1)
        if not n then return end
        local old = self:victim()
        self:count("membership", "node %d added as a learner, promoted; node %d removed", n, old)
        local h = self.h
        local ok, err = self:admin({ "add", tostring(n), h.nodes[n].peer, h.nodes[n].client })
        if not ok then
            -- It may have been added all the same: a learner that never
            -- starts does not count for any quorum.
            self.log("membership: adding node %d failed (%s); no more membership changes", n, tostring(err))
            self.spares = {}
            return
        end
        self.ids[#self.ids + 1] = n
        self.on_members()
        self.start(n)
        local caught = self:caught_up(n, 20)
        self.log("membership: node %d %s", n, caught and "caught up" or "did not catch up in 20 s")
        ok, err = self:admin({ "promote", tostring(n) })
        if not ok then
            self.log("membership: promoting node %d failed (%s); no more membership changes", n, tostring(err))
            self.spares = {}
            return
        end
        ok, err = self:admin({ "remove", tostring(old) })
        if not ok then
            self.log("membership: removing node %d failed (%s); no more membership changes", old, tostring(err))
            self.spares = {}
            return
        end
        for i, id in ipairs(self.ids) do
            if id == old then table.remove(self.ids, i); break end
        end
        self.on_members()
        -- A removed node stops by itself.
        local give_up = socket.gettime() + 10
        while h:alive(old) and socket.gettime() < give_up do client.sleep(0.1) end
        if h:alive(old) then
            self.log("membership: removed node %d still runs after 10 s; killing it", old)
            h:kill(old, "KILL")
        end
        h.nodes[old].pid = nil
    end,
    client_cut = function(self)
        -- Most clients talk to the leader.
        local v = self:leader() or self:victim()
        self:count("client_cut", "client connections to node %d cut", v)
        self:proxy(("ccut %d"):format(v))
        hold(0.5, 3)
        self:proxy(("cheal %d"):format(v))
    end,
    client_lossy = function(self)
        local p = 0.1 + math.random() * 0.4
        self:count("client_lossy", "%.0f%% of the answers to clients lost (connection closed)", p * 100)
        for _, id in ipairs(self.ids) do self:proxy(("cdrop %d %.2f"):format(id, p)) end
        hold(2, 5)
        self:proxy("heal all")
    end,
    client_slow = function(self)
        local ms = math.random(100, 1500)
        self:count("client_slow", "client requests and answers delayed by %d ms", ms)
        for _, id in ipairs(self.ids) do self:proxy(("cdelay %d %d"):format(id, ms)) end
        hold(2, 5)
        self:proxy("heal all")
    end,
    slow = function(self)
        local ms = math.random(20, 300)
        self:count("slow", "every link delays raft messages by %d ms", ms)
        for _, a in ipairs(self.ids) do
            for _, b in ipairs(others(self.ids, a)) do self:proxy(("delay %d %d %d"):format(a, b, ms)) end
        end
        hold(2, 5)
        self:proxy("heal all")
    end,
}
local kinds = { "kill", "kill", "kill", "kill_two", "isolate", "isolate", "one_way", "lossy", "slow", "pause",
    "pause", "client_cut", "client_lossy", "client_slow", "membership" }

--- A task: faults until `stop_at`; then every link healed and every node
--- running.
function nemesis:task(stop_at)
    -- Every kind once first, in random order.
    local first = {}
    for k in pairs(faults) do first[#first + 1] = k end
    table.sort(first)
    for i = #first, 2, -1 do
        local j = math.random(i)
        first[i], first[j] = first[j], first[i]
    end
    return function()
        local n = 0
        while socket.gettime() < stop_at - 1 do
            hold(0.3, 1.5)
            if socket.gettime() >= stop_at - 1 then break end
            n = n + 1
            faults[first[n] or pick(kinds)](self)
        end
        self:proxy("heal all")
        for _, id in ipairs(self.ids) do
            if not self.h:alive(id) then self.start(id) end
        end
    end
end

return nemesis
