-- log: one readable line per event, "HH:MM:SS.mmm <who>: <message>", on
-- standard output (flushed at once, so a killed process loses no line).
local socket = require("socket")

local log = {}

--- A logging function that prefixes `who`.
function log.new(who)
    return function(fmt, ...)
        local t = socket.gettime()
        local line = ("%s.%03d %s: %s\n"):format(os.date("!%H:%M:%S", math.floor(t)),
            math.floor((t % 1) * 1000), who, fmt:format(...))
        io.stdout:write(line)
        io.stdout:flush()
    end
end

return log
