// Small RapidJSON helpers for provd's documents (raw configs, REST bodies).
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <optional>
#include <string>

namespace dialtone::plugins::provisioning {

inline std::string to_json(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return {buf.GetString(), buf.GetSize()};
}

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

// A member as text: strings as is, numbers and booleans printed; nullopt if absent/null.
inline std::optional<std::string> text_of(const rapidjson::Value& obj, const char* key) {
  if (!obj.IsObject()) return std::nullopt;
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || it->value.IsNull()) return std::nullopt;
  const auto& v = it->value;
  if (v.IsString()) return std::string(v.GetString(), v.GetStringLength());
  if (v.IsBool()) return std::string(v.GetBool() ? "true" : "false");
  if (v.IsInt64()) return std::to_string(v.GetInt64());
  if (v.IsNumber()) return std::to_string(v.GetDouble());
  return to_json(v);
}

inline std::string str_of(const rapidjson::Value& obj, const char* key, std::string fallback = {}) {
  return text_of(obj, key).value_or(std::move(fallback));
}

inline bool bool_of(const rapidjson::Value& obj, const char* key, bool fallback = false) {
  auto t = text_of(obj, key);
  if (!t) return fallback;
  return *t == "true" || *t == "1" || *t == "yes" || *t == "on";
}

}  // namespace dialtone::plugins::provisioning
