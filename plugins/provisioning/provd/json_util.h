// Small RapidJSON helpers for provd's documents (raw configs, REST bodies).
#pragma once

#include <rapidjson/document.h>

#include <dialtone/json.h>
#include <dialtone/json_member.h>
#include <dialtone/text.h>

#include <string>

namespace dialtone::plugins::provisioning {

inline std::string to_json(const rapidjson::Value& v) { return sdk::json::to_text(v); }

// Copies `src` over `dst`: objects merge key by key, anything else replaces.
inline void deep_merge(rapidjson::Value& dst, const rapidjson::Value& src,
                       rapidjson::Document::AllocatorType& a) {
  if (!dst.IsObject() || !src.IsObject()) {
    dst.CopyFrom(src, a);
    return;
  }
  for (auto& m : src.GetObject()) {
    auto it = dst.FindMember(m.name);
    if (it != dst.MemberEnd() && it->value.IsObject() && m.value.IsObject()) {
      deep_merge(it->value, m.value, a);
    } else if (it != dst.MemberEnd()) {
      it->value.CopyFrom(m.value, a);
    } else {
      rapidjson::Value k(m.name, a), v(m.value, a);
      dst.AddMember(k, v, a);
    }
  }
}

// A member as text (sdk::json::text_member: numbers and booleans printed),
// or `fallback` when absent or null.
inline std::string str_of(const rapidjson::Value& obj, const char* key, std::string fallback = {}) {
  return sdk::json::text_member(obj, key).value_or(std::move(fallback));
}

inline bool bool_of(const rapidjson::Value& obj, const char* key, bool fallback = false) {
  auto t = sdk::json::text_member(obj, key);
  return t ? sdk::text::is_true(*t) : fallback;
}

}  // namespace dialtone::plugins::provisioning
