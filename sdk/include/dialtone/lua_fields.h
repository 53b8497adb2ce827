// Readers for the tables Lua passes to exported functions: an option table
// (`call:dial{ "sip/1001", timeout = 20 }`) and the call table every
// `call:` method gets first.
//
// @code
//   [](const dialtone::sdk::LuaValues& args) -> dialtone::sdk::LuaReply {
//     auto channel = dialtone::sdk::call_channel(args);        // call:record{...}
//     const auto& t = *args[1].as_table();
//     auto file = dialtone::sdk::text_field(t, "file");
//     auto seconds = dialtone::sdk::int_field(t, "max_seconds").value_or(3600);
//     ...
//   }
// @endcode
//
// A missing field, or one of another type, reads as nothing ("", nullopt,
// an empty list): the declared argument types are checked before the
// function runs, a table's fields are the function's to read.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "dialtone/lua.h"

namespace dialtone::sdk {

inline const LuaValue* lua_field(const LuaTable& t, const std::string& key) {
  auto it = t.fields.find(key);
  return it == t.fields.end() ? nullptr : &it->second;
}

// A string, or a number as text.
inline std::string text_field(const LuaTable& t, const std::string& key) {
  const LuaValue* v = lua_field(t, key);
  if (!v) return {};
  if (auto* s = v->as_string()) return *s;
  if (auto i = v->as_int()) return std::to_string(*i);
  return {};
}

// A number (a float is truncated).
inline std::optional<std::int64_t> int_field(const LuaTable& t, const std::string& key) {
  const LuaValue* v = lua_field(t, key);
  return v ? v->as_int() : std::nullopt;
}

inline std::optional<bool> bool_field(const LuaTable& t, const std::string& key) {
  const LuaValue* v = lua_field(t, key);
  auto* b = v ? std::get_if<bool>(&v->v) : nullptr;
  return b ? std::optional<bool>(*b) : std::nullopt;
}

// One string or a list of them (`prompt = "a"`, `prompt = {"a", "b"}`).
inline std::vector<std::string> strings_field(const LuaTable& t, const std::string& key) {
  std::vector<std::string> out;
  const LuaValue* v = lua_field(t, key);
  if (!v) return out;
  if (auto* s = v->as_string()) out.push_back(*s);
  if (auto* list = v->as_table())
    for (auto& e : list->array)
      if (auto* s = e.as_string()) out.push_back(*s);
  return out;
}

// The channel of the call table at args[i] (its `channel` field), or a
// channel id given as a string; "" when there is none.
inline std::string call_channel(const LuaValues& args, std::size_t i = 0) {
  if (i >= args.size()) return {};
  if (auto* s = args[i].as_string()) return *s;
  if (auto* t = args[i].as_table()) return text_field(*t, "channel");
  return {};
}

}  // namespace dialtone::sdk
