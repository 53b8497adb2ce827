// Members of a parsed RapidJSON object read without a check at every call:
// a missing member, or one of another type, reads as the fallback.
//
// @code
//   rapidjson::Document d;
//   d.Parse(event.body.c_str(), event.body.size());
//   auto id = dialtone::sdk::json::string_member(d, "id");              // "" when absent
//   auto at = dialtone::sdk::json::int_member(d, "created_at_ms", -1);   // -1 when absent
// @endcode
#pragma once

#include <rapidjson/document.h>

#include <cstdint>
#include <string>

namespace dialtone::sdk::json {

// The string member `key` of `v`; empty when `v` is not an object or the
// member is absent or not a string.
inline std::string string_member(const rapidjson::Value& v, const char* key) {
  if (!v.IsObject()) return {};
  auto it = v.FindMember(key);
  if (it == v.MemberEnd() || !it->value.IsString()) return {};
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

// The integer member `key` of `v`; `fallback` when `v` is not an object or
// the member is absent or not a 64-bit integer.
inline std::int64_t int_member(const rapidjson::Value& v, const char* key, std::int64_t fallback = 0) {
  if (!v.IsObject()) return fallback;
  auto it = v.FindMember(key);
  return it != v.MemberEnd() && it->value.IsInt64() ? it->value.GetInt64() : fallback;
}

}  // namespace dialtone::sdk::json
