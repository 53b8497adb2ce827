#include "plugins/api/confd/user_features.h"

namespace dialtone::plugins::api::confd {

const std::vector<std::string> kForwardKinds = {"busy", "noanswer", "unconditional"};
const std::vector<std::string> kServiceNames = {"dnd", "incallfilter"};

std::string service_column(const std::string& name) {
  return name == "callrecord" ? "call_record_enabled" : "service_" + name + "_enabled";
}

void forward_sets(const rapidjson::Value& v, const std::string& f, sdk::Params& ps, std::string& sets) {
  if (!v.IsObject()) throw ApiError{400, {"Input Error - field '" + f + "': Must be an object {enabled, destination}."}};
  for (auto m = v.MemberBegin(); m != v.MemberEnd(); ++m) {
    std::string k = m->name.GetString();
    if (k == "enabled") {
      if (!m->value.IsBool()) throw ApiError{400, {"Input Error - field 'enabled': Not a valid boolean."}};
      ps.push_back(m->value.GetBool() ? "true" : "false");
    } else if (k == "destination") {
      if (m->value.IsNull()) {
        ps.push_back(std::nullopt);
      } else if (m->value.IsString() && m->value.GetStringLength() <= 128) {
        ps.push_back(std::string(m->value.GetString()));
      } else {
        throw ApiError{400, {"Input Error - field 'destination': Not a valid string (max 128 characters)."}};
      }
    } else {
      throw ApiError{400, {"Input Error - field '" + k + "': Unknown field."}};
    }
    sets += (sets.empty() ? "" : ",") + ("forward_" + f + "_" + k + " = $" + std::to_string(ps.size()));
  }
}

void service_sets(const rapidjson::Value& v, const std::string& s, sdk::Params& ps, std::string& sets) {
  if (!v.IsObject() || !v.HasMember("enabled") || !v["enabled"].IsBool() || v.MemberCount() != 1)
    throw ApiError{400, {"Input Error - field '" + s + "': Must be {\"enabled\": true|false}."}};
  ps.push_back(v["enabled"].GetBool() ? "true" : "false");
  sets += (sets.empty() ? "" : ",") + (service_column(s) + " = $" + std::to_string(ps.size()));
}

void save_user_features(Engine& engine, sdk::Transaction& tx, long uid, const std::string& sets, sdk::Params ps) {
  auto u = run(tx, "SELECT uuid FROM confd_users WHERE id = $1 FOR UPDATE", {std::to_string(uid)});
  if (u.rows.empty()) throw ApiError{404, {not_found("User", "id", std::to_string(uid))}};
  if (!sets.empty()) {
    ps.push_back(std::to_string(uid));
    run(tx, "UPDATE confd_users SET " + sets + " WHERE id = $" + std::to_string(ps.size()), ps);
  }
  engine.notify(tx, "user", "edited", uid,
                sdk::json::object({{"id", uid}, {"uuid", u.get(0, "uuid")}}));
}

}  // namespace dialtone::plugins::api::confd
