// The call logs on confd's listener: GET /1.1/call_logs (XiVO's CSV, or JSON
// with filters and paging), GET /1.1/users/me/call_logs and
// /1.1/users/{user_uuid}/call_logs (one user's history). plugins/records/
// call_logs/api.yml describes them; routes run on the listener's workers and
// read PostgreSQL there.
#pragma once

#include <string>
#include <vector>

#include <dialtone/http.h>
#include <dialtone/store.h>

namespace dialtone::plugins::records {

// The routes (their OpenAPI file included) as they are mounted on "confd".
std::vector<sdk::Route> call_log_routes(sdk::Store& store);

}  // namespace dialtone::plugins::records
