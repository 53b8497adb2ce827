// Members of a parsed RapidJSON object read without a check at every call:
// a missing member, or one of another type, reads as the fallback.
//
// @code
//   rapidjson::Document d;
//   d.Parse(event.body.c_str(), event.body.size());
//   auto id = dialtone::sdk::json::string_member(d, "id");              // "" when absent
//   auto at = dialtone::sdk::json::int_member(d, "created_at_ms", -1);   // -1 when absent
//   auto port = dialtone::sdk::json::text_member(d, "http_port");        // "8667" from 8667 or "8667"
// @endcode
#pragma once

#include <rapidjson/document.h>

#include <dialtone/json.h>

#include <cstdint>
#include <optional>
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

// The boolean member `key` of `v`; `fallback` when `v` is not an object or
// the member is absent or not a boolean.
inline bool bool_member(const rapidjson::Value& v, const char* key, bool fallback = false) {
  if (!v.IsObject()) return fallback;
  auto it = v.FindMember(key);
  return it != v.MemberEnd() && it->value.IsBool() ? it->value.GetBool() : fallback;
}

// The member `key` of `v` as text, for documents that carry a value either
// way (a port as 8667 or "8667"): a string as is, a boolean as true/false, a
// number printed, an object or array as JSON; nullopt when `v` is not an
// object or the member is absent or null.
inline std::optional<std::string> text_member(const rapidjson::Value& v, const char* key) {
  if (!v.IsObject()) return std::nullopt;
  auto it = v.FindMember(key);
  if (it == v.MemberEnd() || it->value.IsNull()) return std::nullopt;
  const auto& m = it->value;
  if (m.IsString()) return std::string(m.GetString(), m.GetStringLength());
  if (m.IsBool()) return std::string(m.GetBool() ? "true" : "false");
  if (m.IsInt64()) return std::to_string(m.GetInt64());
  if (m.IsNumber()) return std::to_string(m.GetDouble());
  return to_text(m);
}

}  // namespace dialtone::sdk::json
