-- Cinnabar's Lua sandbox, run once per Lua state before any user code (chunk name @cinnabar_sandbox).
--
-- Redis 7.0 patches its Lua with read-only tables; stock Lua 5.1 has none, so every table a script can
-- reach from the globals is replaced by an empty proxy whose metatable reads through to the real table
-- and refuses writes with Redis's error. The globals table itself becomes a proxy, so scripts cannot
-- create globals either. The few builtins that bypass metatables (rawset, rawget, next, pairs, ipairs,
-- setmetatable, getmetatable) are wrapped to see through or refuse proxies; loadstring/load refuse
-- binary chunks. Everything this chunk needs later is kept in locals (upvalues), never in globals.
--
-- Arguments: G (the real globals), api (C# functions), mode ("eval" or "function").
-- Returns: the globals proxy, its metatable (whose __index the functions engine switches while loading
-- a library), the library-load globals (functions engine only), the proxy -> table map, the metatables
-- getmetatable shows for _G and strings, and the raw next / ipairs iterator.

local G, api, mode = ...

local type, error, select, tostring = type, error, select, tostring
local raw_rawget, raw_rawset, raw_next, raw_pairs, raw_ipairs = rawget, rawset, next, pairs, ipairs
local raw_setmetatable, raw_getmetatable, raw_loadstring, raw_pcall = setmetatable, getmetatable, loadstring, pcall
local strsub, tconcat = string.sub, table.concat

local RO = 'Attempt to modify a readonly table'
local real = raw_setmetatable({}, { __mode = 'k' })   -- proxy -> the table it protects

local function ro_newindex() error(RO, 2) end

local function protect(t)
  local p = {}
  real[p] = t
  raw_setmetatable(p, { __index = t, __newindex = ro_newindex })
  return p
end

local function nonexistent(t, k)
  local tk = type(k)
  if tk ~= 'string' and tk ~= 'number' then
    error('Second argument to luaProtectedTableError must be a string or number', 2)
  end
  error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
end

-- Type name as luaL_typename reports it for argument n of a vararg list ("no value" when absent).
local function argtype(n, ...)
  if select('#', ...) < n then return 'no value' end
  return type((select(n, ...)))
end

-- ---- the redis table (C# functions: they raise errors like Redis's C functions do) ----
local R = {}
R.call = api.call
R.pcall = api.pcall
R.sha1hex = api.sha1hex
R.error_reply = api.error_reply
R.status_reply = api.status_reply
R.log = api.log
R.setresp = api.setresp
R.set_repl = api.set_repl
R.acl_check_cmd = api.acl_check_cmd
if mode == 'eval' then
  -- Only the EVAL engine has these (scriptingInit adds them; the functions engine does not).
  R.replicate_commands = function() return true end
  R.breakpoint = function() return false end
  R.debug = function() end
end
R.LOG_DEBUG, R.LOG_VERBOSE, R.LOG_NOTICE, R.LOG_WARNING = 0, 1, 2, 3
R.REPL_NONE, R.REPL_AOF, R.REPL_SLAVE, R.REPL_REPLICA, R.REPL_ALL = 0, 1, 2, 2, 3
R.REDIS_VERSION, R.REDIS_VERSION_NUM = api.version, api.version_num
G.redis = R

-- ---- libraries written in C# (struct, cmsgpack) and Redis's math.random ----
G.struct = { pack = api.struct_pack, unpack = api.struct_unpack, size = api.struct_size }
G.cmsgpack = {
  pack = api.msgpack_pack, unpack = api.msgpack_unpack,
  unpack_one = api.msgpack_unpack_one, unpack_limit = api.msgpack_unpack_limit,
  _NAME = 'cmsgpack', _VERSION = 'lua-cmsgpack 0.4.0',
  _COPYRIGHT = 'Copyright (C) 2012, Salvatore Sanfilippo',
  _DESCRIPTION = 'MessagePack C implementation for Lua',
}
G.math.random = api.math_random
G.math.randomseed = api.math_randomseed

-- ---- builtins that would see through or around the proxies ----
-- rawset, rawget, next, pairs, ipairs, unpack, setmetatable, getmetatable, loadstring and load are
-- replaced from C# after this chunk (C functions keep the script's frame for error positions).

do
  -- Redis 7 overrides pcall so an error raised as a table {err=...} (redis.call) is caught as its text.
  local function fix(ok, ...)
    if ok then return ok, ... end
    local e = ...
    if type(e) == 'table' then
      local m = e.err
      local tm = type(m)
      if tm == 'string' or tm == 'number' then return false, m end
    end
    return false, e
  end
  local pcall = raw_pcall
  G.pcall = function(...) return fix(pcall(...)) end
end

G.__redis__err__handler = api.error_handler

-- What Redis 7.0 removes from the globals.
G.dofile, G.loadfile, G.print, G.getfenv, G.setfenv, G.newproxy, G.module, G.require, G.package, G.debug, G.os, G.io =
  nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil

-- ---- lock everything down ----
for _, name in raw_ipairs({ 'string', 'math', 'table', 'coroutine', 'cjson', 'bit', 'struct', 'cmsgpack', 'redis' }) do
  local t = raw_rawget(G, name)
  if t ~= nil then raw_rawset(G, name, protect(t)) end
end

local P_string = raw_rawget(G, 'string')
local strmeta = raw_getmetatable('')
strmeta.__index = P_string
local P_strmeta = protect(strmeta)

local P_G = {}
local MG = { __index = G, __newindex = ro_newindex }
raw_setmetatable(P_G, MG)
real[P_G] = G
raw_setmetatable(G, { __index = nonexistent })
raw_rawset(G, '_G', P_G)
local P_GM = protect({ __index = nonexistent })

-- The globals a library sees while FUNCTION LOAD runs it: only redis.register_function, redis.log and
-- the version fields (with the same error for anything else).
local LIBG = nil
if mode == 'function' then
  local LR = {
    register_function = api.register_function,
    log = R.log,
    LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
    REDIS_VERSION = api.version, REDIS_VERSION_NUM = api.version_num,
  }
  raw_setmetatable(LR, { __index = nonexistent })
  LIBG = { redis = protect(LR) }
  raw_setmetatable(LIBG, { __index = nonexistent })
end

local ipairsaux = raw_ipairs({})
return P_G, MG, LIBG, real, P_GM, P_strmeta, raw_next, ipairsaux
