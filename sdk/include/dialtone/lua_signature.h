// The argument list of a LuaFunctionSpec, read as data: the Lua host (and the
// fake host in sdk/testing) parse `args` once at export time and check every
// call against it, so a plugin function never sees a wrong type.
//
// @code
//   auto params = dialtone::sdk::parse_lua_args("call_id: string, targets: table, timeout?: integer");
//   // params->size() == 3, (*params)[2].accepts(nil)
//   auto wrong = dialtone::sdk::check_lua_args("sip.dial", *params, {"c1", "sip/1001"});
//   // *wrong == "sip.dial: argument 2 (targets) must be a table, got a string"
// @endcode
//
// Grammar of `args`: comma-separated `name: type`, where `type` is one or more
// of nil, boolean, integer, number, string, table, any joined by `|`;
// `name?: type` also accepts nil (the argument may be left out); a last
// `...: type` takes any number of further arguments of that type. An empty
// string declares no argument. `integer` takes Lua integers and floats with
// an integral value; `number` takes both.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dialtone/lua.h"
#include "dialtone/result.h"

namespace dialtone::sdk {

enum LuaTypeBits : std::uint8_t {
  kLuaNil = 1u << 0,
  kLuaBoolean = 1u << 1,
  kLuaInteger = 1u << 2,
  kLuaNumber = 1u << 3,  // integer or float
  kLuaString = 1u << 4,
  kLuaTable = 1u << 5,
  kLuaAny = 0x3f,
};

struct LuaParam {
  std::string name;
  std::uint8_t types = kLuaAny;  // LuaTypeBits
  bool variadic = false;         // `...: type`
  bool accepts(const LuaValue& v) const;
  std::string expected() const;  // "a table", "a string or nil"
};

// Refuses an unknown type or a malformed list with a message naming the
// parameter; `function` names the function in it ("sip.dial").
Result<std::vector<LuaParam>> parse_lua_args(std::string_view args, std::string_view function = {});

// nullopt when `args` fit the parameters; otherwise one line naming the
// function, the argument (position and name) and the expected type.
std::optional<std::string> check_lua_args(std::string_view function, const std::vector<LuaParam>& params,
                                          const LuaValues& args);

// "nil", "a boolean", "an integer", "a number", "a string", "a table".
std::string describe_lua_value(const LuaValue& v);

}  // namespace dialtone::sdk
