#include "plugins/backend/sip/endpoint_options.h"

#include <dialtone/option_check.h>

#include <rapidjson/document.h>

namespace dialtone::plugins::backend::sip {

std::optional<std::string> endpoint_option(const std::string& options_json, const std::string& key) {
  rapidjson::Document doc;
  doc.Parse(options_json.c_str());
  if (doc.HasParseError()) return std::nullopt;
  auto text = [](const rapidjson::Value& v) -> std::optional<std::string> {
    if (v.IsString()) return std::string(v.GetString());
    if (v.IsBool()) return std::string(v.GetBool() ? "yes" : "no");
    if (v.IsInt64()) return std::to_string(v.GetInt64());
    return std::nullopt;
  };
  if (doc.IsObject()) {
    auto it = doc.FindMember(key.c_str());
    if (it == doc.MemberEnd()) return std::nullopt;
    return text(it->value);
  }
  if (doc.IsArray())
    for (auto& item : doc.GetArray())
      if (item.IsArray() && item.Size() == 2 && item[0].IsString() && key == item[0].GetString())
        return text(item[1]);
  return std::nullopt;
}

std::optional<bool> endpoint_flag(const std::string& options_json, const std::string& key) {
  auto v = endpoint_option(options_json, key);
  if (!v) return std::nullopt;
  return sdk::parse_boolean(*v);
}

bool t38_option(const std::string& options_json) {
  for (const char* key : {"t38pt_udptl", "t38_udptl"})
    if (auto v = endpoint_flag(options_json, key)) return *v;
  return false;
}

}  // namespace dialtone::plugins::backend::sip
