// Conversion between sdk::LuaValue and the Lua stack. Tables carry their
// array part (1..n) and their string keys; other keys are dropped. Nesting is
// bounded so a table that contains itself is refused instead of recursing.
#pragma once

#include <string>

#include <lua.hpp>

#include <dialtone/lua.h>

namespace dialtone::kernel {

inline constexpr int kLuaMaxDepth = 32;

// Reads stack slots [from, to]. False with `error` set for a value the host
// cannot take (function, userdata, thread, too deep).
bool read_lua_values(lua_State* L, int from, int to, sdk::LuaValues& out, std::string& error);
bool read_lua_value(lua_State* L, int index, sdk::LuaValue& out, std::string& error, int depth = 0);

// Pushes every value. False with `error` set (and the stack as before) when a
// table nests deeper than kLuaMaxDepth or the stack cannot grow. May raise a
// Lua memory error: call it in protected mode.
bool push_lua_values(lua_State* L, const sdk::LuaValues& values, std::string& error);

}  // namespace dialtone::kernel
