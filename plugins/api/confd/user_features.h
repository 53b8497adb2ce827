// A user's forwards and services (do-not-disturb, incoming call filter):
// the checks and the write shared by PUT /1.1/users/{id}/forwards|services
// and by sdk::ConfigService (feature codes dialed on a phone), so both give
// the same errors, the same pg_notify and the same config.user.edited event.
#pragma once

#include <string>
#include <vector>

#include <rapidjson/document.h>

#include <dialtone/store.h>

#include "plugins/api/confd/resource.h"

namespace dialtone::plugins::api::confd {

// Forward kinds and services, as the REST paths name them.
extern const std::vector<std::string> kForwardKinds;  // busy, noanswer, unconditional
extern const std::vector<std::string> kServiceNames;  // dnd, incallfilter
// The confd_users column of a service: service_<name>_enabled, and
// call_record_enabled for "callrecord" (XiVO's *26; no REST path of its own,
// the user's call_record_enabled field is its API).
std::string service_column(const std::string& name);

// Adds the SET fragments of forward `kind` from {"enabled": bool,
// "destination": string|null}; throws ApiError 400 naming the bad field.
void forward_sets(const rapidjson::Value& v, const std::string& kind, sdk::Params& ps, std::string& sets);
// Same for service `name` from {"enabled": bool}.
void service_sets(const rapidjson::Value& v, const std::string& name, sdk::Params& ps, std::string& sets);
// UPDATE confd_users with `sets` in `tx`, then pg_notify and the queued
// config.user.edited event. Throws ApiError 404 when there is no user `uid`.
void save_user_features(Engine& engine, sdk::Transaction& tx, long uid, const std::string& sets, sdk::Params ps);

}  // namespace dialtone::plugins::api::confd
