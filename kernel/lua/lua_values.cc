#include "kernel/lua/lua_values.h"

#include <memory>
#include <utility>

namespace dialtone::kernel {

namespace {

bool push_value(lua_State* L, const sdk::LuaValue& value, std::string& error, int depth) {
  if (depth > kLuaMaxDepth) {
    error = "table nests deeper than " + std::to_string(kLuaMaxDepth) + " levels";
    return false;
  }
  if (!lua_checkstack(L, 3)) {
    error = "Lua stack cannot grow";
    return false;
  }
  switch (value.v.index()) {
    case 0: lua_pushnil(L); return true;
    case 1: lua_pushboolean(L, std::get<bool>(value.v)); return true;
    case 2: lua_pushinteger(L, static_cast<lua_Integer>(std::get<std::int64_t>(value.v))); return true;
    case 3: lua_pushnumber(L, std::get<double>(value.v)); return true;
    case 4: {
      const auto& s = std::get<std::string>(value.v);
      lua_pushlstring(L, s.data(), s.size());
      return true;
    }
    default: break;
  }
  const sdk::LuaTable* t = value.as_table();
  if (t == nullptr) {
    lua_pushnil(L);
    return true;
  }
  lua_createtable(L, static_cast<int>(t->array.size()), static_cast<int>(t->fields.size()));
  lua_Integer i = 1;
  for (const auto& item : t->array) {
    if (!push_value(L, item, error, depth + 1)) {
      lua_pop(L, 1);
      return false;
    }
    lua_rawseti(L, -2, i++);
  }
  for (const auto& [key, item] : t->fields) {
    lua_pushlstring(L, key.data(), key.size());
    if (!push_value(L, item, error, depth + 1)) {
      lua_pop(L, 2);
      return false;
    }
    lua_rawset(L, -3);
  }
  return true;
}

}  // namespace

bool read_lua_value(lua_State* L, int index, sdk::LuaValue& out, std::string& error, int depth) {
  index = lua_absindex(L, index);
  switch (lua_type(L, index)) {
    case LUA_TNIL:
    case LUA_TNONE: out = sdk::LuaValue(); return true;
    case LUA_TBOOLEAN: out = sdk::LuaValue(lua_toboolean(L, index) != 0); return true;
    case LUA_TNUMBER:
      if (lua_isinteger(L, index)) {
        out = sdk::LuaValue(static_cast<std::int64_t>(lua_tointeger(L, index)));
      } else {
        out = sdk::LuaValue(static_cast<double>(lua_tonumber(L, index)));
      }
      return true;
    case LUA_TSTRING: {
      std::size_t len = 0;
      const char* s = lua_tolstring(L, index, &len);
      out = sdk::LuaValue(std::string(s, len));
      return true;
    }
    case LUA_TTABLE: break;
    default:
      error = std::string("cannot pass a ") + luaL_typename(L, index) +
              " to the host (use nil, boolean, number, string or table)";
      return false;
  }
  if (depth >= kLuaMaxDepth) {
    error = "table nests deeper than " + std::to_string(kLuaMaxDepth) + " levels";
    return false;
  }
  if (!lua_checkstack(L, 4)) {
    error = "Lua stack cannot grow";
    return false;
  }
  auto table = std::make_shared<sdk::LuaTable>();
  const lua_Unsigned n = lua_rawlen(L, index);
  table->array.reserve(n);
  for (lua_Unsigned i = 1; i <= n; ++i) {
    lua_rawgeti(L, index, static_cast<lua_Integer>(i));
    sdk::LuaValue item;
    const bool ok = read_lua_value(L, -1, item, error, depth + 1);
    lua_pop(L, 1);
    if (!ok) return false;
    table->array.push_back(std::move(item));
  }
  lua_pushnil(L);
  while (lua_next(L, index) != 0) {
    // Only string keys are read: lua_tolstring on a number key would convert
    // it in place and break lua_next.
    if (lua_type(L, -2) == LUA_TSTRING) {
      std::size_t len = 0;
      const char* k = lua_tolstring(L, -2, &len);
      sdk::LuaValue item;
      if (!read_lua_value(L, -1, item, error, depth + 1)) {
        lua_pop(L, 2);
        return false;
      }
      table->fields.emplace(std::string(k, len), std::move(item));
    }
    lua_pop(L, 1);
  }
  out = sdk::LuaValue(std::move(table));
  return true;
}

bool read_lua_values(lua_State* L, int from, int to, sdk::LuaValues& out, std::string& error) {
  out.clear();
  for (int i = from; i <= to; ++i) {
    sdk::LuaValue v;
    if (!read_lua_value(L, i, v, error)) {
      error = "value #" + std::to_string(i - from + 1) + ": " + error;
      return false;
    }
    out.push_back(std::move(v));
  }
  return true;
}

bool push_lua_values(lua_State* L, const sdk::LuaValues& values, std::string& error) {
  const int top = lua_gettop(L);
  if (!lua_checkstack(L, static_cast<int>(values.size()) + 1)) {
    error = "Lua stack cannot grow";
    return false;
  }
  for (const auto& v : values) {
    if (!push_value(L, v, error, 0)) {
      lua_settop(L, top);
      return false;
    }
  }
  return true;
}

}  // namespace dialtone::kernel
