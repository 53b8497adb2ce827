#include "plugins/backend/sip/autoprov.h"

namespace dialtone::plugins::backend::sip {

namespace {

constexpr const char* kAutoprovSql = R"SQL(
SELECT raw_config->'sip_lines'->'1'->>'password' AS secret
  FROM provd_config
 WHERE raw_config->'X_autoprov' = 'true'::jsonb
   AND raw_config->'sip_lines'->'1'->>'username' = $1
 ORDER BY id LIMIT 1)SQL";

}  // namespace

void autoprov_credentials(sdk::Store& store, sdk::Logger& log, const std::string& username,
                          std::function<void(std::optional<LineCredentials>, bool)> done) {
  sdk::Logger* l = &log;
  store.exec_async(kAutoprovSql, {username}, [done, l, username](sdk::Result<sdk::QueryResult> r) {
    if (!r) {
      // Without provd's tables there is no guest line.
      l->debug("sip: no autoprov line (" + r.error().message + ")");
      done(std::nullopt, true);
      return;
    }
    if (r->rows.empty() || !r->rows[0][0]) {
      done(std::nullopt, true);
      return;
    }
    LineCredentials c;
    c.username = username;
    c.secret = *r->rows[0][0];
    c.context = kAutoprovContext;
    c.caller_name = "Autoprov";
    c.caller_number = username;
    done(std::move(c), true);
  });
}

}  // namespace dialtone::plugins::backend::sip
