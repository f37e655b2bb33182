-- Child process of crash_spec.lua: appends to an ldbstorage with flush=true
-- forever, printing "ack <last index>" after each flushed append returns and
-- "hs <commit>" after each flushed set_hardstate returns, until killed.
local ldbstorage = require("ldbstorage")
local pb = require("lraft").pb

local path, seed = arg[1], tonumber(arg[2])
math.randomseed(seed)
local s = ldbstorage.new(path)
local f = assert(io.open("/proc/self/stat"))
local pid = f:read("n")
f:close()
io.stdout:write("pid ", pid, "\n")
io.stdout:flush()

local function payload(i)
    return string.format("payload-%d-", i) .. string.rep("x", i % 97)
end

local next_index = s:lastIndex() + 1
while true do
    local n = math.random(1, 6)
    local es = {}
    for k = 0, n - 1 do
        es[#es + 1] = pb.entry(next_index + k, 1, payload(next_index + k))
    end
    assert(s:append(es, true) == 0)
    next_index = next_index + n
    io.stdout:write("ack ", next_index - 1, "\n")
    io.stdout:flush()
    local r = math.random()
    if r < 0.2 then
        s:set_hardstate(pb.hardstate(1, next_index - 1, 0), true)
        io.stdout:write("hs ", next_index - 1, "\n")
        io.stdout:flush()
    elseif r < 0.25 and next_index - s.offset > 60 then
        s:compact(next_index - 30)
    end
end
