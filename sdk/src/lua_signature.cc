// Parsing and checking LuaFunctionSpec::args (dialtone/lua_signature.h),
// shared by the kernel's Lua host and the fake host.
#include "dialtone/lua_signature.h"

#include "dialtone/text.h"

#include <cctype>
#include <cmath>
#include <utility>

namespace dialtone::sdk {
namespace {

using text::trim_view;

bool identifier(std::string_view s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  return true;
}

constexpr std::pair<std::string_view, std::uint8_t> kTypes[] = {
    {"nil", kLuaNil},       {"boolean", kLuaBoolean}, {"integer", kLuaInteger},
    {"number", kLuaNumber}, {"string", kLuaString},   {"table", kLuaTable},
    {"any", kLuaAny}};

std::uint8_t bits_of(const LuaValue& v) {
  switch (v.v.index()) {
    case 0: return kLuaNil;
    case 1: return kLuaBoolean;
    case 2: return kLuaInteger | kLuaNumber;
    case 3: {
      const double d = std::get<double>(v.v);
      return std::isfinite(d) && std::floor(d) == d ? (kLuaInteger | kLuaNumber) : kLuaNumber;
    }
    case 4: return kLuaString;
    default: return kLuaTable;
  }
}

std::string with_article(std::string_view type) {
  if (type == "nil") return "nil";
  if (type == "any") return "any value";
  const bool vowel = type[0] == 'a' || type[0] == 'e' || type[0] == 'i' || type[0] == 'o' || type[0] == 'u';
  return std::string(vowel ? "an " : "a ") + std::string(type);
}

}  // namespace

bool LuaParam::accepts(const LuaValue& v) const { return (bits_of(v) & types) != 0; }

std::string LuaParam::expected() const {
  if (types == kLuaAny) return "any value";
  std::vector<std::string_view> names;
  for (auto& [name, bit] : kTypes) {
    if (bit == kLuaAny || bit == kLuaNil || (types & bit) == 0) continue;
    if (bit == kLuaInteger && (types & kLuaNumber)) continue;  // "a number" covers it
    names.push_back(name);
  }
  if (types & kLuaNil) names.push_back("nil");  // "a string or nil"
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i) out += i + 1 == names.size() ? " or " : ", ";
    out += with_article(names[i]);
  }
  return out;
}

std::string describe_lua_value(const LuaValue& v) {
  switch (v.v.index()) {
    case 0: return "nil";
    case 1: return "a boolean";
    case 2: return "an integer";
    case 3: return bits_of(v) & kLuaInteger ? "an integer" : "a number";
    case 4: return "a string";
    default: return "a table";
  }
}

Result<std::vector<LuaParam>> parse_lua_args(std::string_view args, std::string_view function) {
  std::vector<LuaParam> out;
  const std::string who = function.empty() ? std::string("lua") : std::string(function);
  args = trim_view(args);
  if (args.empty()) return out;
  std::vector<std::string_view> items, types;
  text::split_into(args, ',', items);
  for (auto raw : items) {
    const std::string_view item = trim_view(raw);
    const auto colon = item.find(':');
    if (colon == std::string_view::npos)
      return Error::invalid(who + ": argument '" + std::string(item) + "' has no type (write `name: type`)");
    std::string_view name = trim_view(item.substr(0, colon));
    LuaParam p;
    bool optional = false;
    if (name == "...") {
      p.variadic = true;
    } else {
      if (!name.empty() && name.back() == '?') {
        optional = true;
        name.remove_suffix(1);
      }
      if (!identifier(name))
        return Error::invalid(who + ": argument name '" + std::string(name) + "' is not a Lua identifier");
    }
    if (!out.empty() && out.back().variadic)
      return Error::invalid(who + ": `...` must be the last argument");
    p.name = std::string(name);
    p.types = 0;
    text::split_into(trim_view(item.substr(colon + 1)), '|', types);
    for (auto raw_type : types) {
      const std::string_view t = trim_view(raw_type);
      std::uint8_t bit = 0;
      for (auto& [tn, tb] : kTypes)
        if (t == tn) bit = tb;
      if (bit == 0)
        return Error::invalid(who + ": argument '" + p.name + "' has unknown type '" + std::string(t) +
                              "' (use nil, boolean, integer, number, string, table or any)");
      p.types |= bit;
    }
    if (p.types == 0)
      return Error::invalid(who + ": argument '" + p.name + "' has no type (write `name: type`)");
    if (p.types & kLuaNumber) p.types |= kLuaInteger;
    if (optional) p.types |= kLuaNil;
    out.push_back(std::move(p));
  }
  return out;
}

std::optional<std::string> check_lua_args(std::string_view function, const std::vector<LuaParam>& params,
                                          const LuaValues& args) {
  const bool variadic = !params.empty() && params.back().variadic;
  const std::size_t fixed = variadic ? params.size() - 1 : params.size();
  for (std::size_t i = 0; i < args.size() || i < fixed; ++i) {
    const LuaParam* p = i < fixed ? &params[i] : (variadic ? &params.back() : nullptr);
    const LuaValue nothing;
    const LuaValue& v = i < args.size() ? args[i] : nothing;
    if (p == nullptr) {
      if (v.is_nil()) continue;  // trailing nils are what Lua passes for f(a, nil)
      return std::string(function) + ": takes " + std::to_string(fixed) + " argument" +
             (fixed == 1 ? "" : "s") + ", got " + std::to_string(args.size());
    }
    if (p->accepts(v)) continue;
    const std::string label = p->variadic ? "..." : p->name;
    return std::string(function) + ": argument " + std::to_string(i + 1) + " (" + label + ") must be " +
           p->expected() + ", got " + (i < args.size() ? describe_lua_value(v) : std::string("no value"));
  }
  return std::nullopt;
}

}  // namespace dialtone::sdk
