#include "plugins/backend/sip/sip_plugin.h"

#include <unistd.h>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <dialtone/lua.h>

namespace dialtone::plugins::backend::sip {

using sdk::OptionType;

const sdk::OptionSpec kOptions[] = {
    {"sip.listen", OptionType::address, "127.0.0.1:5060",
     "address and port for SIP over UDP and TCP (port 0: any free port)"},
    {"sip.transports", OptionType::list, "udp,tcp", "transports on sip.listen: udp, tcp or both"},
    {"sip.tls_certificate_dir", OptionType::path, "",
     "folder with agent.pem (certificate and key) and cafile.pem; empty: no TLS"},
    {"sip.tls_port", OptionType::integer, "5061", "port for SIP over TLS", sdk::kNone, nullptr, 1,
     65535},
    {"sip.realm", OptionType::string, "dialtone", "digest authentication realm"},
    {"registrar.expires_min", OptionType::integer, "60",
     "shortest registration accepted (shorter gets 423 Interval Too Brief)", sdk::kNone, nullptr,
     1, 86400},
    {"registrar.expires_max", OptionType::integer, "3600", "longest registration granted",
     sdk::kNone, nullptr, 1, 604800},
    {"registrar.expires_default", OptionType::integer, "3600",
     "registration length when the phone asks for none", sdk::kNone, nullptr, 1, 604800},
    {"auth.nonce_lifetime", OptionType::duration, "300s",
     "age after which a nonce is stale and the phone is challenged again"},
    {"auth.ban_failures", OptionType::integer, "5",
     "authentication failures from one address that ban it (0: never ban)", sdk::kNone, nullptr, 0,
     1000000},
    {"auth.ban_window", OptionType::duration, "60s", "period in which failures are counted"},
    {"auth.ban_time", OptionType::duration, "10m", "how long a banned address gets 403"},
    {"auth.credential_cache", OptionType::duration, "5m",
     "how long line credentials are kept in memory (a change in the store clears them)"},
    {"dialplan.function", OptionType::string, "route_call",
     "global Lua function called for each incoming call"},
    {"sip.node", OptionType::string, "", "name of this node in the location table (default: host name)"},
    {}};

namespace {

std::chrono::seconds secs(std::chrono::milliseconds ms) {
  return std::chrono::duration_cast<std::chrono::seconds>(ms);
}

constexpr const char* kCredentialsSql = R"SQL(
SELECT e.username, e.secret, l.id AS line_id, l.context,
       coalesce(nullif(l.caller_id_name, ''),
                nullif(trim(u.firstname || ' ' || coalesce(u.lastname, '')), '')) AS caller_name,
       coalesce(nullif(l.caller_id_num, ''),
                (SELECT x.exten FROM confd_line_extensions le
                   JOIN confd_extensions x ON x.id = le.extension_id
                  WHERE le.line_id = l.id ORDER BY x.id LIMIT 1)) AS caller_number,
       u.id AS user_id
  FROM confd_endpoints_sip e
  JOIN confd_lines l ON l.endpoint_sip_id = e.id
  LEFT JOIN confd_user_lines ul ON ul.line_id = l.id AND ul.main_user
  LEFT JOIN confd_users u ON u.id = ul.user_id AND u.enabled
 WHERE e.username = $1
 LIMIT 1)SQL";

constexpr const char* kFindLineSql = R"SQL(
SELECT e.username
  FROM confd_extensions x
  JOIN confd_line_extensions le ON le.extension_id = x.id
  JOIN confd_lines l ON l.id = le.line_id
  JOIN confd_endpoints_sip e ON e.id = l.endpoint_sip_id
 WHERE x.exten = $1 AND x.context = $2 AND NOT x.commented
 ORDER BY l.position)SQL";

constexpr const char* kLocationsV1 = R"SQL(
CREATE TABLE sip_locations (
  aor text NOT NULL,
  contact text NOT NULL,
  expires_at timestamptz NOT NULL,
  call_id text NOT NULL,
  cseq bigint NOT NULL,
  received text NOT NULL,
  user_agent text NOT NULL DEFAULT '',
  node text NOT NULL,
  PRIMARY KEY (aor, contact));
CREATE INDEX sip_locations_node ON sip_locations(node);
)SQL";

constexpr sdk::Migration kMigrations[] = {{1, "sip locations", kLocationsV1}};

std::string bindings_json(const std::string& aor, const std::vector<Binding>& bindings) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.StartObject();
  w.Key("aor");
  w.String(aor.c_str());
  w.Key("registered");
  w.Bool(!bindings.empty());
  w.Key("contacts");
  w.StartArray();
  for (auto& b : bindings) {
    w.StartObject();
    w.Key("contact");
    w.String(b.contact.c_str());
    w.Key("expires");
    w.Int64(b.expires_at);
    w.Key("call_id");
    w.String(b.call_id.c_str());
    w.Key("cseq");
    w.Uint(b.cseq);
    w.Key("received");
    w.String(b.received.c_str());
    w.Key("user_agent");
    w.String(b.user_agent.c_str());
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return sb.GetString();
}

std::string field(const sdk::LuaTable& t, const char* key) {
  auto it = t.fields.find(key);
  if (it == t.fields.end()) return {};
  if (auto* s = it->second.as_string()) return *s;
  if (auto i = it->second.as_int()) return std::to_string(*i);
  return {};
}

// The dialplan's answer as a decision; anything unexpected rejects the call.
RouteDecision decision_from(const sdk::Result<sdk::LuaValues>& r, sdk::Logger& log,
                            const std::string& call_id) {
  RouteDecision d;
  d.action = RouteDecision::Action::reject;
  d.status = 500;
  if (!r) {
    log.error("sip: call " + call_id + ": dialplan failed: " + r.error().message);
    return d;
  }
  const sdk::LuaTable* t = r->empty() ? nullptr : r->front().as_table();
  if (!t) {
    log.error("sip: call " + call_id + ": the dialplan returned no decision table");
    return d;
  }
  auto action = field(*t, "action");
  if (action == "dial") {
    d.action = RouteDecision::Action::dial;
    auto it = t->fields.find("targets");
    if (it != t->fields.end()) {
      if (auto* list = it->second.as_table())
        for (auto& v : list->array)
          if (auto* s = v.as_string()) d.targets.push_back(*s);
      if (auto* s = it->second.as_string()) d.targets.push_back(*s);
    }
    auto timeout = field(*t, "timeout");
    if (!timeout.empty()) d.timeout_seconds = std::atoi(timeout.c_str());
    return d;
  }
  if (action == "reject") {
    auto code = field(*t, "code");
    if (code.empty()) code = field(*t, "status");
    d.status = code.empty() ? 404 : std::atoi(code.c_str());
    d.reason = field(*t, "reason");
    return d;
  }
  log.error("sip: call " + call_id + ": unknown dialplan action '" + action +
            "' (expected dial or reject)");
  return d;
}

}  // namespace

sdk::Result<SipConfig> config_from_options(const sdk::Options& o) {
  SipConfig c;
  auto listen = o.get("sip.listen", "127.0.0.1:5060");
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) {
    c.host = listen;
  } else {
    c.host = listen.substr(0, colon);
    try {
      c.port = std::stoi(listen.substr(colon + 1));
    } catch (...) {
      return sdk::Error::invalid("sip.listen: bad port in '" + listen + "'; write host:port");
    }
  }
  if (c.host.size() > 2 && c.host.front() == '[') c.host = c.host.substr(1, c.host.size() - 2);
  if (o.has("sip.transports")) c.transports = o.get_list("sip.transports");
  for (auto& t : c.transports)
    if (t != "udp" && t != "tcp")
      return sdk::Error::invalid("sip.transports: unknown transport '" + t +
                                 "'; use udp, tcp (TLS is enabled by sip.tls_certificate_dir)");
  if (c.transports.empty()) return sdk::Error::invalid("sip.transports: give udp, tcp or both");
  c.tls_certificate_dir = o.get("sip.tls_certificate_dir");
  c.tls_port = static_cast<int>(o.get_int("sip.tls_port", 5061));
  c.realm = o.get("sip.realm", "dialtone");
  c.expires_min = static_cast<int>(o.get_int("registrar.expires_min", 60));
  c.expires_max = static_cast<int>(o.get_int("registrar.expires_max", 3600));
  c.expires_default = static_cast<int>(o.get_int("registrar.expires_default", 3600));
  if (c.expires_min > c.expires_max)
    return sdk::Error::invalid("registrar.expires_min is above registrar.expires_max; lower it");
  c.expires_default = std::clamp(c.expires_default, c.expires_min, c.expires_max);
  c.nonce_lifetime = secs(o.get_duration("auth.nonce_lifetime", std::chrono::seconds(300)));
  c.ban_failures = static_cast<int>(o.get_int("auth.ban_failures", 5));
  c.ban_window = secs(o.get_duration("auth.ban_window", std::chrono::seconds(60)));
  c.ban_time = secs(o.get_duration("auth.ban_time", std::chrono::minutes(10)));
  c.credential_cache = secs(o.get_duration("auth.credential_cache", std::chrono::minutes(5)));
  return c;
}

SipPlugin::SipPlugin(sdk::Host& host) : host_(host) {}

SipPlugin::~SipPlugin() { stop(); }

sdk::Status SipPlugin::configure(const sdk::Options& options) {
  auto c = config_from_options(options);
  if (!c) return c.error();
  config_ = *c;
  dialplan_function_ = options.get("dialplan.function", "route_call");
  node_ = options.get("sip.node");
  if (node_.empty()) {
    char name[256] = {0};
    gethostname(name, sizeof name - 1);
    node_ = name;
  }
  return {};
}

sdk::Status SipPlugin::start() {
  auto* store = host_.store();
  if (store) {
    if (auto s = store->migrate("backend.sip", kMigrations); !s) return s;
    // Rows this node wrote before a restart describe contacts it no longer
    // holds in memory; phones re-register.
    if (auto r = store->exec("DELETE FROM sip_locations WHERE node = $1", {node_}); !r)
      return r.error();
    config_listener_ = store->listen("dialtone_config", [this](const std::string&) {
      if (stack_) stack_->invalidate_credentials();
    });
  } else {
    host_.log().warn("sip: no store: every registration and call is refused (no credentials)");
  }
  if (auto s = export_lua(); !s) return s;
  {
    std::lock_guard<std::mutex> lock(writes_->mutex);
    writes_->stopped = false;
  }
  stack_ = std::make_unique<SipStack>(config_, static_cast<SipBackend&>(*this), host_.log());
  if (auto s = stack_->start(); !s) {
    stack_.reset();
    return s;
  }
  return {};
}

void SipPlugin::stop() {
  config_listener_.reset();
  if (stack_) stack_->stop();
  stack_.reset();
  std::lock_guard<std::mutex> lock(writes_->mutex);
  writes_->stopped = true;
}

sdk::Status SipPlugin::export_lua() {
  auto* lua = host_.lua();
  if (!lua) return {};
  auto* store = host_.store();
  return lua->export_module(
      "sip",
      {{"find_line", "exten: string, context: string", "usernames: table",
        "SIP usernames of the lines that own extension `exten` in `context` (empty when none).",
        [store](const sdk::LuaValues& args) {
          std::string exten = args.size() > 0 && args[0].as_string() ? *args[0].as_string() : "";
          std::string context = args.size() > 1 && args[1].as_string() ? *args[1].as_string() : "";
          return sdk::LuaReply::async([store, exten, context](sdk::LuaResume resume) {
            if (!store) {
              resume(sdk::LuaValues{std::make_shared<sdk::LuaTable>()});
              return;
            }
            store->exec_async(kFindLineSql, {exten, context},
                              [resume](sdk::Result<sdk::QueryResult> r) {
                                if (!r) {
                                  resume(r.error());
                                  return;
                                }
                                auto t = std::make_shared<sdk::LuaTable>();
                                for (auto& row : r->rows)
                                  if (row[0]) t->array.emplace_back(*row[0]);
                                resume(sdk::LuaValues{t});
                              });
          });
        }}});
}

void SipPlugin::find_credentials(const std::string& username,
                                 std::function<void(std::optional<LineCredentials>, bool)> done) {
  auto* store = host_.store();
  if (!store) {
    done(std::nullopt, true);
    return;
  }
  sdk::Logger* log = &host_.log();
  store->exec_async(kCredentialsSql, {username}, [done, log](sdk::Result<sdk::QueryResult> r) {
    if (!r) {
      log->error("sip: credential lookup failed: " + r.error().message);
      done(std::nullopt, false);
      return;
    }
    if (r->rows.empty()) {
      done(std::nullopt, true);
      return;
    }
    LineCredentials c;
    c.username = r->get(0, "username");
    c.secret = r->get(0, "secret");
    c.line_id = r->get(0, "line_id");
    c.context = r->get(0, "context");
    c.caller_name = r->get(0, "caller_name");
    c.caller_number = r->get(0, "caller_number");
    c.user_id = r->get(0, "user_id");
    done(std::move(c), true);
  });
}

void SipPlugin::route_call(const CallInfo& call, std::function<void(RouteDecision)> done) {
  auto* lua = host_.lua();
  if (!lua) {
    RouteDecision d;
    d.status = 503;
    d.reason = "No dialplan";
    done(d);
    return;
  }
  auto t = std::make_shared<sdk::LuaTable>();
  t->fields["id"] = call.id;
  t->fields["caller"] = call.caller_username;
  t->fields["caller_number"] = call.caller_number;
  t->fields["caller_name"] = call.caller_name;
  t->fields["callee"] = call.called_number;
  t->fields["called_number"] = call.called_number;
  t->fields["context"] = call.context;
  auto vars = std::make_shared<sdk::LuaTable>();
  for (auto& [k, v] : call.variables) vars->fields[k] = v;
  t->fields["vars"] = vars;
  sdk::Logger* log = &host_.log();
  std::string id = call.id;
  lua->call(dialplan_function_, {t}, [done, log, id](sdk::Result<sdk::LuaValues> r) {
    done(decision_from(r, *log, id));
  });
}

void SipPlugin::bindings_changed(const std::string& aor, const std::vector<Binding>& bindings) {
  host_.bus().publish("sip.registration." + aor, bindings_json(aor, bindings));
  if (!host_.store()) return;
  bool flush = false;
  {
    std::lock_guard<std::mutex> lock(writes_->mutex);
    writes_->pending[aor] = bindings;
    if (!writes_->in_flight && !writes_->stopped) {
      writes_->in_flight = true;
      flush = true;
    }
  }
  if (flush) flush_locations();
}

// Writes every pending AOR in one transaction on an executor thread; what
// piles up meanwhile goes in the next one, so writes stay ordered per AOR
// and the SIP thread never waits for PostgreSQL.
void SipPlugin::flush_locations() {
  auto writes = writes_;
  auto* store = host_.store();
  sdk::Logger* log = &host_.log();
  std::string node = node_;
  host_.executor().post([writes, store, log, node] {
    while (true) {
      std::unordered_map<std::string, std::vector<Binding>> batch;
      {
        std::lock_guard<std::mutex> lock(writes->mutex);
        batch.swap(writes->pending);
        if (batch.empty() || writes->stopped) {
          writes->in_flight = false;
          return;
        }
      }
      std::string aors = "{";
      rapidjson::StringBuffer sb;
      rapidjson::Writer<rapidjson::StringBuffer> w(sb);
      w.StartArray();
      bool first = true;
      for (auto& [aor, bindings] : batch) {
        std::string quoted = "\"";
        for (char ch : aor) {
          if (ch == '"' || ch == '\\') quoted.push_back('\\');
          quoted.push_back(ch);
        }
        aors += (first ? "" : ",") + quoted + "\"";
        first = false;
        for (auto& b : bindings) {
          w.StartObject();
          w.Key("aor");
          w.String(aor.c_str());
          w.Key("contact");
          w.String(b.contact.c_str());
          w.Key("expires");
          w.Int64(b.expires_at);
          w.Key("call_id");
          w.String(b.call_id.c_str());
          w.Key("cseq");
          w.Uint(b.cseq);
          w.Key("received");
          w.String(b.received.c_str());
          w.Key("user_agent");
          w.String(b.user_agent.c_str());
          w.EndObject();
        }
      }
      w.EndArray();
      aors += "}";
      std::string rows = sb.GetString();
      auto s = store->transaction([&](sdk::Transaction& tx) -> sdk::Status {
        if (auto r = tx.exec("DELETE FROM sip_locations WHERE aor = ANY($1::text[])", {aors}); !r)
          return r.error();
        if (auto r = tx.exec(
                "INSERT INTO sip_locations (aor, contact, expires_at, call_id, cseq, received, "
                "user_agent, node) SELECT x.aor, x.contact, to_timestamp(x.expires), x.call_id, "
                "x.cseq, x.received, x.user_agent, $2 FROM json_to_recordset($1::json) AS "
                "x(aor text, contact text, expires double precision, call_id text, cseq bigint, "
                "received text, user_agent text)",
                {rows, node});
            !r)
          return r.error();
        return {};
      });
      if (!s) log->error("sip: could not save locations: " + s.error().message);
    }
  });
}

void SipPlugin::call_event(const std::string& call_id, const std::string& state, int status) {
  host_.bus().publish("sip.call." + state,
                      "{\"call_id\":\"" + call_id + "\",\"status\":" + std::to_string(status) + "}");
}

}  // namespace dialtone::plugins::backend::sip
