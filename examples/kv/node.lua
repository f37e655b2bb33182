-- node: one member of the replicated key-value service (lua5.4 node.lua --help).
--
-- A single-threaded event loop: socket.select waits for the network or the
-- next tick; then the Raft Ready is handled the usual way (persist hard
-- state and entries with one fsync, send messages, apply committed entries
-- to the key-value state, advance). Raft log and hard state live in
-- <data>/raft (ldbstorage.lua), the key-value state in <data>/kv
-- (statemachine.lua).
local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
package.path = here .. "/?.lua;" .. here .. "/../../lua/?.lua;" .. package.path
package.cpath = package.cpath .. ";" .. here .. "/../../target/lua/?.so"

local socket = require("socket")
local raft = require("lraft")
local ldbstorage = require("ldbstorage")
local pb = raft.pb
local wire = require("wire")
local auth = require("auth")
local transport = require("transport")
local statemachine = require("statemachine")
local service = require("service")

local USAGE = [[
usage: lua5.4 node.lua --id N --cluster-id NAME --secret-file FILE --data DIR
                       --peers ID=PEERADDR/CLIENTADDR,... [options]

  --id N                 this node's id (an integer >= 1)
  --cluster-id NAME      the cluster's name; peers and clients must present it
  --secret-file FILE     the cluster's shared secret (at least 16 bytes)
  --data DIR             data directory (<DIR>/raft: Raft log, <DIR>/kv: state)
  --peers LIST           every known member: ID=HOST:PORT/HOST:PORT (peer address,
                         client address), comma-separated; must include this node.
                         Nodes bind to what their own entry says (use 127.0.0.1).
  --join                 start as a new node that an existing cluster adds
                         (kvctl add); does not bootstrap a configuration
  --tick-ms MS           Raft tick interval (default 100)
  --election-ticks N     election timeout in ticks (default 10)
  --heartbeat-ticks N    heartbeat interval in ticks (default 1)
  --snapshot-entries N   snapshot and compact after N applied entries (default 10000)
  --catchup-entries N    entries kept in the log after compaction (default 500)
  --lease-reads          serve reads with the lease-based ReadIndex
  --session-expiry N     forget a client's last result (exactly-once) after N
                         applied entries without a write from it (default 1000000)
  --max-sessions N       keep at most N clients' last results, dropping the
                         oldest (default 100000). Both are replicated: the
                         leader proposes its values when they differ
  --max-frame BYTES      largest frame accepted from a peer or client (default 67108864)
  --handshake-timeout-ms MS
                         a connection that has not authenticated after MS is
                         closed (default 5000)
  --peer-listen ADDR     bind the peer port here instead of this node's --peers entry
                         (tests put a fault-injecting proxy at the advertised address)
  --help                 this text
]]

local function die(fmt, ...)
    io.stderr:write("node: " .. fmt:format(...) .. "\n")
    os.exit(2)
end

local function parse_args(argv)
    local o = { tick_ms = 100, election_ticks = 10, heartbeat_ticks = 1, snapshot_entries = 10000,
        catchup_entries = 500, max_frame = 64 * 1024 * 1024, handshake_timeout_ms = 5000,
        session_expiry = statemachine.DEFAULT_SESSION_EXPIRY, max_sessions = statemachine.DEFAULT_MAX_SESSIONS }
    local ints = { ["--id"] = "id", ["--tick-ms"] = "tick_ms", ["--election-ticks"] = "election_ticks",
        ["--heartbeat-ticks"] = "heartbeat_ticks", ["--snapshot-entries"] = "snapshot_entries",
        ["--catchup-entries"] = "catchup_entries", ["--max-frame"] = "max_frame",
        ["--handshake-timeout-ms"] = "handshake_timeout_ms", ["--session-expiry"] = "session_expiry",
        ["--max-sessions"] = "max_sessions" }
    local strs = { ["--cluster-id"] = "cluster_id", ["--secret-file"] = "secret_file", ["--data"] = "data",
        ["--peers"] = "peers", ["--peer-listen"] = "peer_listen" }
    local i = 1
    while i <= #argv do
        local a = argv[i]
        if a == "--help" or a == "-h" then io.stdout:write(USAGE); os.exit(0)
        elseif a == "--join" then o.join = true
        elseif a == "--lease-reads" then o.lease_reads = true
        elseif ints[a] or strs[a] then
            local v = argv[i + 1]
            if v == nil then die("%s needs a value", a) end
            if ints[a] then
                local n = math.tointeger(tonumber(v))
                if not n or n < 1 or tostring(n) ~= v then die("%s: %q is not a positive integer", a, v) end
                o[ints[a]] = n
            else
                o[strs[a]] = v
            end
            i = i + 1
        else
            die("unknown argument %q (try --help)", a)
        end
        i = i + 1
    end
    for _, k in ipairs({ "id", "cluster_id", "secret_file", "data", "peers" }) do
        if not o[k] then die("--%s is required (try --help)", k:gsub("_", "-")) end
    end
    o.members = {}
    for item in o.peers:gmatch("[^,]+") do
        local id, pa, ca = item:match("^(%d+)=([^/]+)/(.+)$")
        id = math.tointeger(tonumber(id))
        if not id or not wire.split_addr(pa) or not wire.split_addr(ca) then
            die("--peers: bad entry %q (want ID=HOST:PORT/HOST:PORT)", item)
        end
        o.members[id] = { role = "voter", peer = pa, client = ca }
    end
    if not o.members[o.id] then die("--peers has no entry for this node (%d)", o.id) end
    if o.peer_listen and not wire.split_addr(o.peer_listen) then
        die("--peer-listen: bad address %q (want HOST:PORT)", o.peer_listen)
    end
    return o
end

collectgarbage("generational")
local opts = parse_args(arg)
local log = require("log").new("node " .. opts.id)
local secret, serr = auth.read_secret(opts.secret_file)
if not secret then die("%s", serr) end

-- Storage: identity check first, so a wrong directory is never modified.
-- (LevelDB creates the directories.)
local sm, err = statemachine.open(opts.data .. "/kv", opts.cluster_id, opts.id)
if not sm then die("refusing to start: %s", err) end
if sm.fresh then
    local m = {}
    for id, x in pairs(opts.members) do m[id] = { role = opts.join and "unknown" or "voter", peer = x.peer, client = x.client } end
    sm:set_members(m)
end
local store = ldbstorage.new(opts.data .. "/raft")
local snapmeta = store.snap.metadata
if sm.applied < snapmeta.index then
    assert(sm:restore(store.snap.data, snapmeta.index, snapmeta.term))
    log("state restored from the stored snapshot at index %d", snapmeta.index)
end

local cfg = raft.config()
cfg.ID = opts.id
cfg.ElectionTick = opts.election_ticks
cfg.HeartbeatTick = opts.heartbeat_ticks
cfg.PreVote = true
cfg.CheckQuorum = true
cfg.MaxSizePerMsg = 1024 * 1024
cfg.MaxInflightMsgs = 256
cfg.MaxCommittedSizePerReady = 8 * 1024 * 1024
cfg.ReadOnlyOption = opts.lease_reads and 1 or 0
cfg.Applied = snapmeta.index
cfg.Storage = store.base
local node = raft.rawnode()
local fresh_log = store:lastIndex() == 0 and raft.IsEmptyHardState(store.hardstate)
local boot = nil
if fresh_log and not opts.join then
    boot = {}
    for id in pairs(opts.members) do boot[#boot + 1] = id end
    table.sort(boot)
end
node:init(cfg, boot)
log("started: data %s, applied index %d, log [%d, %d]%s", opts.data, sm.applied, store.offset + 1,
    store:lastIndex(), boot and (", bootstrapping members " .. table.concat(boot, ",")) or "")

local me = sm.members[opts.id] or opts.members[opts.id]
local a = auth.new(opts.cluster_id, secret, opts.id)
local svc
local tr, terr = transport.new({
    node_id = opts.id, auth = a, peer_addr = opts.peer_listen or me.peer, client_addr = me.client,
    max_frame = opts.max_frame, handshake_timeout = opts.handshake_timeout_ms / 1000, log = log,
    handlers = {
        raft = function(m) svc:on_message(m) end,
        request = function(c, l) svc:on_request(c, l) end,
        member = function(role, id) return svc:check_member(role, id) end,
        removed = function(reason) svc:stop("removed from the cluster (" .. reason .. ")") end,
        peer_down = function(id) svc:on_peer_down(id) end,
    },
})
if not tr then die("%s", terr) end
svc = service.new({ id = opts.id, node = node, store = store, sm = sm, transport = tr, log = log,
    opts = opts })
log("serving peers on %s and clients on %s (cluster %q, tick %d ms)", opts.peer_listen or me.peer, me.client, opts.cluster_id,
    opts.tick_ms)

local tick = opts.tick_ms / 1000
local next_tick = socket.gettime() + tick
while not svc.stopped do
    tr:poll(math.min(next_tick, svc.campaign_at or math.huge) - socket.gettime())
    local now = socket.gettime()
    svc:maybe_campaign(now)
    if now >= next_tick then
        node:tick()
        next_tick = next_tick + tick
        if next_tick < now then next_tick = now + tick end
        svc:on_tick(now)
    end
    svc:handle_ready()
    tr:flush_all(now)
end
tr:flush_all()
tr:close()
node:close()
store:close()
sm:close()
log("stopped: %s", svc.stop_reason)
os.exit(svc.exit_code or 0)
