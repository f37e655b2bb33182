-- lraft.errors: wraps the module's functions and the methods, field
-- accessors and metamethods of its userdata types so that an error they
-- raise reaches the caller as a plain string (see errors.rs).
--
-- mlua builds each userdata metatable once per type. Where a type has
-- methods or fields, its `__index`/`__newindex` is a Lua closure that mlua
-- generated, with upvalues `methods`, `field_getters`, `field_setters` and
-- the type's own `__index`/`__newindex`: those are wrapped in place, so a
-- method lookup stays one table read. Other metamethods are replaced by
-- their wrapped version. `wrappers` (kept in the registry) makes this
-- idempotent when both `lraft` and `lraft.leveldb` are loaded.
local errmsg, getmetatable_raw, getupvalue, setupvalue, wrappers, tables, samples = ...
local error, pairs, pcall, type = error, pairs, pcall, type

local function rethrow(ok, ...)
    if ok then return ... end
    error(errmsg((...)), 0)
end

local function wrap(f)
    if wrappers[f] then return f end
    local w = function(...) return rethrow(pcall(f, ...)) end
    wrappers[w] = true
    return w
end

local function wrap_entries(t)
    for k, v in pairs(t) do
        if type(v) == "function" then t[k] = wrap(v) end
    end
end

-- name -> {index, value} for every upvalue of f.
local function upvalues(f)
    local out, i = {}, 1
    while true do
        local name, v = getupvalue(f, i)
        if name == nil then return out end
        out[name] = { i, v }
        i = i + 1
    end
end

-- The replacement of a `__index`/`__newindex` function.
local function patch_dispatch(f)
    if wrappers[f] then return f end
    local ups = upvalues(f)
    if not (ups.methods or ups.field_getters or ups.field_setters) then
        return wrap(f) -- a metamethod of the type itself
    end
    for _, name in pairs({ "methods", "field_getters", "field_setters" }) do
        local u = ups[name]
        if u and type(u[2]) == "table" then wrap_entries(u[2]) end
    end
    for _, name in pairs({ "__index", "__newindex" }) do
        local u = ups[name]
        if u and type(u[2]) == "function" then
            setupvalue(f, u[1], wrap(u[2]))
        elseif u and type(u[2]) == "table" then
            wrap_entries(u[2])
        end
    end
    wrappers[f] = true
    return f
end

local keep = { __gc = true, __name = true, __metatable = true, __type = true, __mode = true }

local function patch_metatable(mt)
    if wrappers[mt] then return end
    wrappers[mt] = true
    for k, v in pairs(mt) do
        if k == "__index" or k == "__newindex" then
            if type(v) == "function" then
                mt[k] = patch_dispatch(v)
            elseif type(v) == "table" then
                wrap_entries(v)
            end
        elseif type(v) == "function" and not keep[k] then
            mt[k] = wrap(v)
        end
    end
end

local function patch_table(t, seen)
    if seen[t] then return end
    seen[t] = true
    for k, v in pairs(t) do
        if type(v) == "function" then
            t[k] = wrap(v)
        elseif type(v) == "table" then
            patch_table(v, seen)
        end
    end
end

local function patch_object(ud)
    local mt = getmetatable_raw(ud)
    if type(mt) == "table" then patch_metatable(mt) end
end

local seen = {}
for _, t in pairs(tables) do patch_table(t, seen) end
for _, ud in pairs(samples) do patch_object(ud) end
-- For types that cannot be sampled at load (an open store): their
-- constructors hand each new object here (a no-op once its type is done).
return patch_object
