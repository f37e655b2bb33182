-- auth: the challenge-response handshake every peer and client connection
-- starts with (PROTOCOL.md, "Handshake"). Both sides prove they know the
-- cluster's shared secret with HMAC-SHA-256 over fresh nonces; the secret
-- itself never travels.
local raft = require("lraft")
local wire = require("wire")

local auth = {}
auth.__index = auth

auth.VERSION = "kv1"
auth.NONCE = 32

--- `cluster_id` and `secret` are strings; `node_id` is this side's id (0
--- for a client).
function auth.new(cluster_id, secret, node_id)
    assert(type(secret) == "string" and #secret > 0, "auth: empty secret")
    return setmetatable({ cluster_id = cluster_id, secret = secret, node_id = node_id }, auth)
end

--- Reads a secret file (trailing newline ignored); nil, err when unusable.
function auth.read_secret(path)
    local f, err = io.open(path, "rb")
    if not f then return nil, "cannot read the secret file: " .. tostring(err) end
    local s = f:read("a"); f:close()
    s = s:gsub("[\r\n]+$", "")
    if #s < 16 then return nil, "the secret in " .. path .. " is shorter than 16 bytes" end
    return s
end

function auth:mac(...)
    return raft.hmac_sha256(self.secret, wire.encode_list({ ... }))
end

--- Acceptor, first frame: returns the nonce and the CHALLENGE body.
function auth:challenge()
    local nonce = raft.random_bytes(auth.NONCE)
    return nonce, wire.encode_list({ auth.VERSION, nonce })
end

--- Connector: answers a CHALLENGE body. Returns our nonce and the HELLO body,
--- or nil and a reason.
function auth:hello(challenge_body, role)
    local l, err = wire.decode_list(challenge_body)
    if not l then return nil, "bad challenge: " .. err end
    if l[1] ~= auth.VERSION or #l ~= 2 or #l[2] ~= auth.NONCE then
        return nil, "bad challenge (protocol version " .. tostring(l[1]) .. ")"
    end
    local server_nonce = l[2]
    local nonce = raft.random_bytes(auth.NONCE)
    local id = tostring(self.node_id)
    local mac = self:mac("hello", self.cluster_id, role, id, server_nonce, nonce)
    return { nonce = nonce, server_nonce = server_nonce },
        wire.encode_list({ self.cluster_id, role, id, nonce, mac })
end

--- Acceptor: checks a HELLO body against our nonce. `member(role, id)`
--- returns nil when the id may connect, else a refusal code and text.
--- Returns { role, id, nonce } or nil, code, text.
function auth:check_hello(server_nonce, body, member)
    local l, err = wire.decode_list(body)
    if not l or #l ~= 5 then return nil, "protocol", "malformed hello: " .. (err or "wrong item count") end
    local cluster, role, idstr, nonce, mac = l[1], l[2], l[3], l[4], l[5]
    if cluster ~= self.cluster_id then
        return nil, "cluster-id", ("cluster id %q is not ours (%q)"):format(cluster, self.cluster_id)
    end
    local id = math.tointeger(tonumber(idstr))
    if (role ~= "peer" and role ~= "client") or not id or #nonce ~= auth.NONCE
        or idstr ~= tostring(id) then
        return nil, "protocol", "malformed hello"
    end
    local want = self:mac("hello", cluster, role, idstr, server_nonce, nonce)
    if not raft.constant_time_eq(want, mac) then
        return nil, "bad-mac", ("%s %d failed the secret check"):format(role, id)
    end
    local code, text = member(role, id)
    if code then return nil, code, text end
    return { role = role, id = id, nonce = nonce }
end

--- Acceptor: the WELCOME body for an accepted hello.
function auth:welcome(h, server_nonce)
    local me = tostring(self.node_id)
    local mac = self:mac("welcome", self.cluster_id, me, h.role, tostring(h.id), h.nonce, server_nonce)
    return wire.encode_list({ me, mac })
end

--- Connector: checks a WELCOME body; returns the acceptor's node id, or nil
--- and a reason.
function auth:check_welcome(body, role, st)
    local l, err = wire.decode_list(body)
    if not l or #l ~= 2 then return nil, "malformed welcome: " .. (err or "wrong item count") end
    local want = self:mac("welcome", self.cluster_id, l[1], role, tostring(self.node_id), st.nonce,
        st.server_nonce)
    if not raft.constant_time_eq(want, l[2]) then
        return nil, "the server failed the secret check"
    end
    return math.tointeger(tonumber(l[1]))
end

return auth
