#include "plugins/backend/sip/sip_plugin.h"

#include <utility>

#include <unistd.h>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <dialtone/dialplan_decision.h>
#include <dialtone/json.h>
#include <dialtone/lua.h>
#include <dialtone/option_check.h>
#include <dialtone/services.h>
#include <dialtone/text.h>

#include "plugins/backend/sip/autoprov.h"
#include "plugins/backend/sip/outbound_register.h"
#include "plugins/backend/sip/sdp.h"

namespace dialtone::plugins::backend::sip {

using sdk::OptionType;

const sdk::OptionSpec kOptions[] = {
    {"sip.listen", OptionType::address, "127.0.0.1:5060",
     "address and port for SIP over UDP and TCP (port 0: any free port)"},
    {"sip.transports", OptionType::list, "udp,tcp",
     "transports served: udp and tcp on sip.listen, tls on sip.tls_port (udp or tcp needed)"},
    {"sip.tls_certificate_dir", OptionType::path, "",
     "folder with agent.pem (private key and certificate) and cafile.pem; setting it also "
     "turns tls on"},
    {"sip.tls_port", OptionType::integer, "5061", "port for SIP over TLS (0: any free port)",
     sdk::kNone, nullptr, 0, 65535},
    {"sip.tcp_max_connections", OptionType::integer, "4096",
     "TCP and TLS connections accepted at most (0: no limit); past it the newest without a "
     "registration are closed", sdk::kNone, nullptr, 0, 1000000},
    {"sip.tcp_idle_timeout", OptionType::duration, "10m",
     "a TCP or TLS connection silent this long is closed, unless a registration came over it"},
    {"sip.transaction_timeout", OptionType::duration, "32s",
     "64*T1 (RFC 3261): how long a finished transaction is kept to absorb retransmissions, and "
     "how long a request Dialtone sends waits for its answer"},
    {"sip.max_pending", OptionType::integer, "1000",
     "new INVITEs and REGISTERs waiting for credentials or the dialplan (plus work queued for "
     "the SIP thread) at most; past it new ones get 503 with Retry-After while calls in "
     "progress go on (0: no bound)", sdk::kReloadable, nullptr, 0, 1000000},
    {"sip.max_queue_delay", OptionType::duration, "400ms",
     "a new INVITE or REGISTER read from the UDP socket this long after it arrived gets 503 with "
     "Retry-After before any work (one without credentials, which would only be challenged, "
     "after half of it), so that an overloaded server sheds what its callers have given up on "
     "(0: no bound)", sdk::kReloadable},
    {"sip.retry_after", OptionType::duration, "5s",
     "Retry-After sent with the 503 of overload (whole seconds)", sdk::kReloadable},
    {"sip.realm", OptionType::string, "dialtone", "digest authentication realm"},
    {"registrar.expires_min", OptionType::integer, "60",
     "shortest registration accepted (shorter gets 423 Interval Too Brief)", sdk::kReloadable, nullptr,
     1, 86400},
    {"registrar.expires_max", OptionType::integer, "3600", "longest registration granted",
     sdk::kReloadable, nullptr, 1, 604800},
    {"registrar.expires_default", OptionType::integer, "3600",
     "registration length when the phone asks for none", sdk::kReloadable, nullptr, 1, 604800},
    {"auth.nonce_lifetime", OptionType::duration, "300s",
     "age after which a nonce is stale and the phone is challenged again"},
    {"auth.algorithms", OptionType::list, "MD5",
     "digest algorithms offered to phones, preferred first: MD5, SHA-256 or \"SHA-256, MD5\" "
     "(one challenge each; answers with another algorithm are challenged again)", sdk::kReloadable},
    {"auth.ban_failures", OptionType::integer, "5",
     "authentication failures from one address that ban it (0: never ban)", sdk::kNone, nullptr, 0,
     1000000},
    {"auth.ban_window", OptionType::duration, "60s", "period in which failures are counted"},
    {"auth.ban_time", OptionType::duration, "10m", "how long a banned address gets 403"},
    {"auth.credential_cache", OptionType::duration, "5m",
     "how long line credentials are kept in memory (a change in the configuration clears them)", sdk::kReloadable},
    {"dialplan.function", OptionType::string, "route_call",
     "global Lua function called for each incoming call", sdk::kReloadable},
    {"sip.node", OptionType::string, "", "name of this node in the location table (default: host name)"},
    {"rtp.bind", OptionType::string, "127.0.0.1",
     "address the RTP relay binds and writes in SDP (0.0.0.0: all, SDP gets the sip.listen host)"},
    {"rtp.port_min", OptionType::integer, "10000", "lowest RTP relay port", sdk::kNone, nullptr, 1024,
     65535},
    {"rtp.port_max", OptionType::integer, "30000",
     "highest RTP relay port (a relayed call takes two ports with rtcp-mux, four without: the default "
     "range holds 5,000 calls where neither phone multiplexes RTCP, 10,000 where both do; media.engine's "
     "rtp.* range must not overlap it)", sdk::kNone, nullptr, 1024,
     65535},
    {"rtp.relatch_quiet", OptionType::duration, "2s",
     "how long a latched RTP source must be silent before another source takes over"},
    {"media.direct_media", OptionType::boolean, "false",
     "default for lines without direct_media in their options: true sends SDP through unchanged "
     "(media flows phone to phone), false anchors RTP on the relay", sdk::kReloadable},
    {"qualify.interval", OptionType::duration, "60s",
     "how often each registered contact is sent OPTIONS (0: never); one that stops answering "
     "is unreachable and not rung"},
    {"qualify.timeout", OptionType::duration, "3s",
     "how long an OPTIONS may stay unanswered before the contact is unreachable"},
    {"notify.timeout", OptionType::duration, "8s",
     "how long a phone may take to answer a check-sync NOTIFY (provisioning synchronize)", sdk::kReloadable},
    {"media.codecs", OptionType::list, "pcmu,pcma,g722,opus,telephone-event",
     "codecs kept in offers (in the offerer's order): pcmu, pcma, g722, opus, telephone-event", sdk::kReloadable},
    {"session_timers.min_se", OptionType::integer, "90",
     "shortest Session-Expires accepted from a caller asking for session timers (RFC 4028); "
     "shorter gets 422 with Min-SE; keep it at 90 or more",
     sdk::kReloadable, nullptr, 1, 86400},
    {"sip.resolv_conf", OptionType::path, "",
     "resolv.conf used to look up trunk hosts given by name (empty: /etc/resolv.conf); a "
     "\"port N\" line sets the DNS server's port"},
    {"sip.force_rport", OptionType::boolean, "true",
     "answer requests over UDP at the port they came from even when their Via has no rport "
     "(phones behind NAT that do not ask for it, RFC 3581); false: only when asked"},
    {"sip.external_signaling_address", OptionType::string, "",
     "Dialtone behind NAT: public host[:port] (port: sip.listen's) the NAT forwards to "
     "Dialtone, written in Via and Contact toward peers outside sip.local_net (empty: none)"},
    {"sip.external_tls_port", OptionType::integer, "0",
     "public port forwarded to sip.tls_port, written in Via toward outside peers over TLS "
     "(0: sip.tls_port)", sdk::kNone, nullptr, 0, 65535},
    {"sip.external_media_address", OptionType::string, "",
     "public IP address written in the SDP of relayed media toward peers outside "
     "sip.local_net (empty: sip.external_signaling_address's host)"},
    {"sip.local_net", OptionType::subnets, "",
     "networks reached without the NAT (e.g. 192.168.0.0/16, 10.0.0.0/8): peers there see the "
     "real addresses; required with an external address"},
    {"subscribe.expires_min", OptionType::integer, "60",
     "shortest subscription accepted (BLF, presence, MWI; shorter gets 423 Interval Too Brief)",
     sdk::kReloadable, nullptr, 1, 86400},
    {"subscribe.expires_max", OptionType::integer, "3600", "longest subscription granted",
     sdk::kReloadable, nullptr, 1, 604800},
    {"subscribe.expires_default", OptionType::integer, "3600",
     "subscription length when the phone asks for none", sdk::kReloadable, nullptr, 1, 604800},
    {"subscribe.max_per_line", OptionType::integer, "200",
     "subscriptions one line may hold at once (a phone subscribes once per BLF key); past it 403",
     sdk::kReloadable, nullptr, 1, 100000},
    {"mwi.unsolicited", OptionType::boolean, "true",
     "registered phones that do not subscribe to message-summary get their mailbox's counts in "
     "unsolicited NOTIFYs (at each change, and when they register with messages waiting); "
     "false: only subscribed phones see their lamp",
     sdk::kReloadable},
    {"rel100.mode", OptionType::choice, "required",
     "18x sent reliably with PRACK (RFC 3262) to callers that require 100rel (required), or also "
     "to callers that only support it (supported)",
     sdk::kReloadable, "required|supported"},
    {}};

namespace {

std::chrono::seconds secs(std::chrono::milliseconds ms) {
  return std::chrono::duration_cast<std::chrono::seconds>(ms);
}

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

// Subscriptions (SUBSCRIBE dialogs) this node holds: after a restart their
// phones are told to subscribe again (subscription_store.cc).
constexpr const char* kSubscriptionsV2 = R"SQL(
CREATE TABLE sip_subscriptions (
  call_id text NOT NULL,
  local_tag text NOT NULL,
  node text NOT NULL,
  local_uri text NOT NULL,
  remote text NOT NULL,
  target text NOT NULL,
  route text NOT NULL DEFAULT '',
  event text NOT NULL,
  line text NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (call_id, local_tag));
CREATE INDEX sip_subscriptions_node ON sip_subscriptions(node);
)SQL";

constexpr sdk::Migration kMigrations[] = {{1, "sip locations", kLocationsV1},
                                          {2, "sip subscriptions", kSubscriptionsV2}};

// One binding's fields, as the bus events and the sip_locations rows carry them.
void write_binding_fields(rapidjson::Writer<rapidjson::StringBuffer>& w, const Binding& b) {
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
}

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
    write_binding_fields(w, b);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return sb.GetString();
}

std::string arg_string(const sdk::LuaValues& args, std::size_t i) {
  if (i >= args.size()) return {};
  if (auto* s = args[i].as_string()) return *s;
  if (auto n = args[i].as_int()) return std::to_string(*n);
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
  auto decision = sdk::read_decision(*r);
  if (!decision) {
    log.error("sip: call " + call_id + ": the dialplan returned no decision table");
    return d;
  }
  auto& action = decision->action;
  if (action == "dial") {
    d.action = RouteDecision::Action::dial;
    d.targets = decision->targets;
    if (decision->timeout_seconds) d.timeout_seconds = *decision->timeout_seconds;
    return d;
  }
  if (action == "done") {
    d.action = RouteDecision::Action::done;
    return d;
  }
  if (action == "reject") {
    d.status = decision->code.value_or(404);
    d.reason = decision->reason;
    return d;
  }
  log.error("sip: call " + call_id + ": unknown dialplan action '" + action +
            "' (expected done, dial or reject)");
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
    if (t != "udp" && t != "tcp" && t != "tls")
      return sdk::Error::invalid("sip.transports: unknown transport '" + t + "'; use udp, tcp, tls");
  auto has = [&](const char* t) {
    return std::find(c.transports.begin(), c.transports.end(), t) != c.transports.end();
  };
  if (!has("udp") && !has("tcp"))
    return sdk::Error::invalid("sip.transports: give udp, tcp or both (tls comes in addition)");
  c.tls_certificate_dir = o.get("sip.tls_certificate_dir");
  // Before tls was a transport name, the folder alone turned TLS on.
  if (!c.tls_certificate_dir.empty() && !has("tls")) c.transports.push_back("tls");
  if (has("tls") && c.tls_certificate_dir.empty())
    return sdk::Error::invalid(
        "sip.transports lists tls but sip.tls_certificate_dir is empty; set it to the folder "
        "holding agent.pem and cafile.pem");
  c.tls_port = static_cast<int>(o.get_int("sip.tls_port", 5061));
  c.tcp_max_connections = static_cast<std::size_t>(o.get_int("sip.tcp_max_connections", 4096));
  c.tcp_idle_timeout = o.get_duration("sip.tcp_idle_timeout", std::chrono::minutes(10));
  if (c.tcp_idle_timeout.count() <= 0)
    return sdk::Error::invalid("sip.tcp_idle_timeout must be positive (e.g. 10m)");
  c.transaction_timeout = o.get_duration("sip.transaction_timeout", std::chrono::seconds(32));
  if (c.transaction_timeout < std::chrono::milliseconds(500) ||
      c.transaction_timeout > std::chrono::minutes(5))
    return sdk::Error::invalid("sip.transaction_timeout must be between 500ms and 5m (RFC 3261: 32s)");
  c.max_pending = static_cast<std::size_t>(o.get_int("sip.max_pending", 1000));
  c.max_queue_delay = o.get_duration("sip.max_queue_delay", std::chrono::milliseconds(400));
  if (c.max_queue_delay.count() < 0)
    return sdk::Error::invalid("sip.max_queue_delay must not be negative (e.g. 400ms; 0: no bound)");
  c.retry_after = secs(o.get_duration("sip.retry_after", std::chrono::seconds(5)));
  if (c.retry_after.count() < 1)
    return sdk::Error::invalid("sip.retry_after must be at least 1s");
  c.realm = o.get("sip.realm", "dialtone");
  c.expires_min = static_cast<int>(o.get_int("registrar.expires_min", 60));
  c.expires_max = static_cast<int>(o.get_int("registrar.expires_max", 3600));
  c.expires_default = static_cast<int>(o.get_int("registrar.expires_default", 3600));
  if (c.expires_min > c.expires_max)
    return sdk::Error::invalid("registrar.expires_min is above registrar.expires_max; lower it");
  c.expires_default = std::clamp(c.expires_default, c.expires_min, c.expires_max);
  c.nonce_lifetime = secs(o.get_duration("auth.nonce_lifetime", std::chrono::seconds(300)));
  if (o.has("auth.algorithms")) {
    auto algorithms = parse_digest_algorithms(o.get_list("auth.algorithms"));
    if (!algorithms)
      return sdk::Error::invalid("auth.algorithms: '" + o.get("auth.algorithms") +
                                 "' is not a list of MD5 and SHA-256; write e.g. \"SHA-256, MD5\"");
    c.auth_algorithms = *algorithms;
  }
  c.ban_failures = static_cast<int>(o.get_int("auth.ban_failures", 5));
  c.ban_window = secs(o.get_duration("auth.ban_window", std::chrono::seconds(60)));
  c.ban_time = secs(o.get_duration("auth.ban_time", std::chrono::minutes(10)));
  c.credential_cache = secs(o.get_duration("auth.credential_cache", std::chrono::minutes(5)));
  c.media.relay.bind = o.get("rtp.bind", "127.0.0.1");
  if (c.media.relay.bind.size() > 2 && c.media.relay.bind.front() == '[')
    c.media.relay.bind = c.media.relay.bind.substr(1, c.media.relay.bind.size() - 2);
  c.media.relay.port_min = static_cast<int>(o.get_int("rtp.port_min", 10000));
  c.media.relay.port_max = static_cast<int>(o.get_int("rtp.port_max", 30000));
  if (c.media.relay.port_max - c.media.relay.port_min < 3)
    return sdk::Error::invalid("rtp.port_max must be at least rtp.port_min + 3 (two port pairs)");
  c.media.relay.relatch_quiet = o.get_duration("rtp.relatch_quiet", std::chrono::seconds(2));
  c.media.direct_media = o.get_bool("media.direct_media", false);
  if (o.has("media.codecs")) {
    auto codecs = parse_codecs(o.get_list("media.codecs"));
    if (!codecs) return codecs.error();
    c.media.codecs = *codecs;
  }
  c.qualify_interval = o.get_duration("qualify.interval", std::chrono::seconds(60));
  c.qualify_timeout = o.get_duration("qualify.timeout", std::chrono::seconds(3));
  c.notify_timeout = o.get_duration("notify.timeout", std::chrono::seconds(8));
  if (c.qualify_interval.count() < 0 || c.qualify_timeout.count() <= 0 || c.notify_timeout.count() <= 0)
    return sdk::Error::invalid("qualify.interval, qualify.timeout and notify.timeout must be positive");
  c.session_min_se = static_cast<int>(o.get_int("session_timers.min_se", 90));
  c.rel100_when_supported = o.get("rel100.mode", "required") == "supported";
  c.subscribe_expires_min = static_cast<int>(o.get_int("subscribe.expires_min", 60));
  c.subscribe_expires_max = static_cast<int>(o.get_int("subscribe.expires_max", 3600));
  c.subscribe_expires_default = static_cast<int>(o.get_int("subscribe.expires_default", 3600));
  if (c.subscribe_expires_min > c.subscribe_expires_max)
    return sdk::Error::invalid("subscribe.expires_min is above subscribe.expires_max; lower it");
  c.subscribe_expires_default = std::clamp(c.subscribe_expires_default, c.subscribe_expires_min,
                                           c.subscribe_expires_max);
  c.subscribe_max_per_line = static_cast<std::size_t>(o.get_int("subscribe.max_per_line", 200));
  c.mwi_unsolicited = o.get_bool("mwi.unsolicited", true);
  c.force_rport = o.get_bool("sip.force_rport", true);
  c.resolv_conf = o.get("sip.resolv_conf");
  auto external = parse_external_address(
      o.get("sip.external_signaling_address"), static_cast<int>(o.get_int("sip.external_tls_port", 0)),
      o.get("sip.external_media_address"),
      o.has("sip.local_net") ? o.get_list("sip.local_net") : std::vector<std::string>{});
  if (!external) return external.error();
  c.external = *external;
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
  } else {
    host_.log().warn("sip: no store: registrations are not shared with other nodes");
  }
  {
    std::lock_guard<std::mutex> lock(config_mutex_);
    config_service_ = host_.services().find<sdk::ConfigService>();
  }
  if (config_service_) {
    // A new snapshot: cached credentials, trunks and registrations follow it.
    config_watch_ = config_service_->watch([this](const sdk::ConfigSnapshot& s) {
      std::lock_guard<std::mutex> lock(stack_mutex_);
      if (!stack_) return;
      stack_->invalidate_credentials();
      stack_->set_pickup_code(s.feature_code("pickup"));
    });
  } else {
    host_.log().warn("sip: no configuration service: every registration and call is refused (no "
                     "credentials); enable api.confd");
  }
  if (auto s = export_lua(); !s) return s;
  {
    std::lock_guard<std::mutex> lock(writes_->mutex);
    writes_->stopped = false;
  }
  {
    std::lock_guard<std::mutex> lock(subscription_writes_->mutex);
    subscription_writes_->stopped = false;
  }
  attach_call_core();
  {
    std::lock_guard<std::mutex> lock(config_mutex_);
    presence_ = host_.services().find<sdk::PresenceService>();
  }
  // confd's directed pickup code (XiVO's *8 without confd); the watch
  // above follows its changes.
  config_.pickup_code = config_snapshot()->feature_code("pickup");
  auto stack = std::make_unique<SipStack>(config_, static_cast<SipBackend&>(*this), host_.log());
  if (auto s = stack->start(); !s) {
    detach_call_core();
    return s;
  }
  // Subscriptions of the last run, once the stack listens: their phones are
  // told to subscribe again.
  if (auto held = take_saved_subscriptions(); !held.empty()) stack->deactivate(std::move(held));
  {
    std::lock_guard<std::mutex> lock(stack_mutex_);
    stack_ = std::move(stack);
  }
  return start_services();
}

void SipPlugin::stop() {
  stop_services();
  config_watch_.reset();
  std::unique_ptr<SipStack> stack;
  {
    std::lock_guard<std::mutex> lock(stack_mutex_);
    stack = std::move(stack_);
  }
  if (stack) {
    stack->stop();
    // The bindings end with the stack (the next start forgets them), so
    // every line it held is published unregistered: the presence model and
    // other listeners on the bus would otherwise keep a phone registered
    // that no registrar knows, through a restart of the plugin.
    for (auto& aor : stack->registered_aors())
      host_.bus().publish("sip.registration." + aor, bindings_json(aor, {}));
  }
  detach_call_core();
  {
    std::lock_guard<std::mutex> lock(config_mutex_);
    config_service_.reset();
    presence_.reset();
  }
  {
    std::lock_guard<std::mutex> lock(subscription_writes_->mutex);
    subscription_writes_->stopped = true;
  }
  std::uint64_t timer = 0;
  {
    std::lock_guard<std::mutex> lock(writes_->mutex);
    writes_->stopped = true;
    timer = std::exchange(writes_->timer, 0);
  }
  // Not run after the plugin (whose code it is) is gone.
  if (timer && host_.executor().cancel(timer)) {
    std::lock_guard<std::mutex> lock(writes_->mutex);
    writes_->in_flight = false;
    writes_->pending.clear();  // the next start deletes this node's rows
  }
}

sdk::Status SipPlugin::export_lua() {
  auto* lua = host_.lua();
  if (!lua) return {};
  auto sip_functions = std::vector<sdk::LuaFunctionSpec>{
      {"find_line", "exten: string, context: string", "usernames: table",
       "SIP usernames of the lines that own extension `exten` in `context` (empty when none).",
       [this](const sdk::LuaValues& args) {
         auto t = std::make_shared<sdk::LuaTable>();
         auto snap = config_snapshot();
         if (auto* x = snap->extension(arg_string(args, 0), arg_string(args, 1)); x && !x->commented)
           for (auto id : snap->lines_of(x->id))
             if (auto* l = snap->line(id); l && !l->username.empty()) t->array.emplace_back(l->username);
         return sdk::LuaReply(sdk::LuaValues{t});
       }},
      {"reachability", "username: string", "contacts: table",
       "Qualify state of the line's registered contacts: {{contact, state=\"reachable\"|"
       "\"unreachable\"|\"unknown\", rtt_ms}} (unreachable ones are not rung).",
       [this](const sdk::LuaValues& args) { return reachability_lua(arg_string(args, 0)); }}};
  // The `config` module is api.confd's (served from its snapshot).
  return lua->export_module("sip", std::move(sip_functions));
}

std::shared_ptr<sdk::PresenceService> SipPlugin::presence() {
  std::lock_guard<std::mutex> lock(config_mutex_);
  return presence_;
}

std::shared_ptr<const sdk::ConfigSnapshot> SipPlugin::config_snapshot() const {
  std::lock_guard<std::mutex> lock(config_mutex_);
  if (config_service_) return config_service_->snapshot();
  static const auto empty = std::make_shared<const sdk::ConfigSnapshot>();
  return empty;
}

void SipPlugin::find_trunks(std::function<void(std::vector<TrunkInfo>, bool)> done) {
  std::vector<TrunkInfo> out;
  auto snap = config_snapshot();
  for (auto& [id, tr] : snap->trunks) {
    if (!tr.has_endpoint || tr.host.empty() || tr.host == "dynamic") continue;
    TrunkInfo t;
    t.id = std::to_string(tr.id);
    t.name = tr.username;
    t.context = tr.context.value_or("");
    std::string host = tr.host;
    auto colon = host.rfind(':');
    if (colon != std::string::npos) {
      t.port = std::atoi(host.c_str() + colon + 1);
      host = host.substr(0, colon);
    }
    t.ip = host;
    t.secret = tr.secret;
    t.auth_username = endpoint_option(tr.endpoint_options, "auth_username").value_or("");
    t.auth_realm = endpoint_option(tr.endpoint_options, "auth_realm").value_or("");
    t.t38 = t38_option(tr.endpoint_options);
    if (auto f = endpoint_option(tr.endpoint_options, "failover_codes")) {
      if (auto codes = parse_failover_codes(*f)) {
        t.failover = *codes;
      } else if (warned_options_.insert(t.name + "\n" + *f).second) {
        host_.log().warn("sip: trunk " + t.name + ": failover_codes \"" + *f +
                         "\" is not a list of SIP statuses and classes (e.g. \"404,480,5xx\"); "
                         "using the default " + kDefaultFailoverCodes);
      }
    }
    if (auto v = endpoint_option(tr.endpoint_options, "trustrpid")) {
      auto trust = sdk::parse_boolean(*v);
      t.trust_id = trust.value_or(false);
      if (!trust && warned_options_.insert(t.name + "\n" + *v).second)
        host_.log().warn("sip: trunk " + t.name + ": trustrpid \"" + *v + "\" is neither yes nor no; using no");
    }
    if (auto v = endpoint_option(tr.endpoint_options, "sendrpid")) {
      if (auto how = parse_send_identity(*v)) {
        t.send_identity = *how;
      } else if (warned_options_.insert(t.name + "\n" + *v).second) {
        host_.log().warn("sip: trunk " + t.name + ": sendrpid \"" + *v +
                         "\" is not one of no, pai, yes, rpid; using no");
      }
    }
    out.push_back(std::move(t));
  }
  done(std::move(out), true);
}

void SipPlugin::find_registrations(std::function<void(std::vector<TrunkRegistration>, bool)> done) {
  std::vector<TrunkRegistration> out;
  auto snap = config_snapshot();
  for (auto& [id, tr] : snap->trunks) {
    if (!tr.has_endpoint || tr.host.empty() || tr.host == "dynamic") continue;
    if (!wants_outbound_register(tr.endpoint_options)) continue;
    TrunkRegistration t;
    t.id = std::to_string(tr.id);
    t.name = tr.username;
    t.username = t.name;
    t.secret = tr.secret;
    t.host = tr.host;
    if (auto e = endpoint_option(tr.endpoint_options, "register_expires")) {
      int v = std::atoi(e->c_str());
      if (v > 0) t.expires = v;
      else host_.log().warn("sip: trunk " + t.name + ": register_expires \"" + *e +
                            "\" is not a positive number of seconds; using 3600");
    }
    out.push_back(std::move(t));
  }
  done(std::move(out), true);
}

void SipPlugin::registration_changed(const TrunkRegistration& trunk, bool registered, int status,
                                     const std::string& detail) {
  // Names, hosts and details come from confd and from the registrar: written
  // by the JSON writer so a quote in them cannot break the event.
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.StartObject();
  w.Key("trunk");
  w.String(trunk.name.c_str(), static_cast<rapidjson::SizeType>(trunk.name.size()));
  w.Key("host");
  w.String(trunk.host.c_str(), static_cast<rapidjson::SizeType>(trunk.host.size()));
  w.Key("status");
  w.Int(status);
  w.Key("detail");
  w.String(detail.c_str(), static_cast<rapidjson::SizeType>(detail.size()));
  w.EndObject();
  host_.bus().publish("sip.trunk." + trunk.name + (registered ? ".registered" : ".failed"),
                      std::string(sb.GetString(), sb.GetSize()));
}

// From the configuration snapshot: no store round trip on a REGISTER or
// INVITE. Only a username the configuration does not know is looked up in
// provd's autoprov config (a phone in autoprov mode).
void SipPlugin::find_credentials(const std::string& username,
                                 std::function<void(std::optional<LineCredentials>, bool)> done) {
  auto snap = config_snapshot();
  if (auto* line = snap->line_by_username(username)) {
    LineCredentials c;
    c.username = line->username;
    c.secret = line->secret;
    c.line_id = std::to_string(line->id);
    c.context = line->context;
    const sdk::ConfigUser* user = nullptr;
    if (line->main_user_id)
      if (auto* u = snap->user(*line->main_user_id); u && u->enabled) user = u;
    if (line->caller_id_name && !line->caller_id_name->empty()) {
      c.caller_name = *line->caller_id_name;
    } else if (user) {
      c.caller_name = sdk::text::trim(user->firstname + " " + user->lastname.value_or(""));
    }
    if (line->caller_id_num && !line->caller_id_num->empty())
      c.caller_number = *line->caller_id_num;
    else if (!line->extension_ids.empty())
      if (auto* x = snap->extension(line->extension_ids.front())) c.caller_number = x->exten;
    if (user) c.user_id = std::to_string(user->id);
    c.direct_media = direct_media_option(line->endpoint_options);
    c.t38 = t38_option(line->endpoint_options);
    if (auto nat = endpoint_option(line->endpoint_options, "nat")) {
      if (auto mode = parse_nat_mode(*nat)) c.nat = *mode;
      else if (warned_options_.insert(line->username + "\nnat\n" + *nat).second)
        host_.log().warn("sip: line " + line->username + ": nat \"" + *nat +
                         "\" is not one of auto_force_rport, force_rport, no; using auto_force_rport");
    }
    done(std::move(c), true);
    return;
  }
  auto* store = host_.store();
  if (!store) {
    done(std::nullopt, true);
    return;
  }
  autoprov_credentials(*store, host_.log(), username, std::move(done));
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
  t->fields["channel"] = call.channel;
  t->fields["caller"] = call.caller_username;
  t->fields["caller_number"] = call.caller_number;
  t->fields["caller_name"] = call.caller_name;
  t->fields["callee"] = call.called_number;
  t->fields["called_number"] = call.called_number;
  t->fields["context"] = call.context;
  t->fields["origin"] = call.origin;
  auto vars = std::make_shared<sdk::LuaTable>();
  for (auto& [k, v] : call.variables) vars->fields[k] = v;
  t->fields["vars"] = vars;
  sdk::Logger* log = &host_.log();
  std::string id = call.id;
  lua->call(dialplan_function(), {t}, [done, log, id](sdk::Result<sdk::LuaValues> r) {
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
// and the SIP thread never waits for PostgreSQL. The transaction starts
// kLocationBatch after the first change: a burst of registrations (or
// refreshes spread over the second) is one transaction and one wake-up of
// the executor, not one per REGISTER (at 3,000 REGISTER/s that was a
// transaction and two context switches per registration).
void SipPlugin::flush_locations() {
  std::lock_guard<std::mutex> lock(writes_->mutex);
  write_locations_later(writes_, &host_.executor(), host_.store(), &host_.log(), node_);
}

// Called with writes->mutex held and in_flight set.
void SipPlugin::write_locations_later(std::shared_ptr<Writes> writes, sdk::Executor* executor,
                                      sdk::Store* store, sdk::Logger* log, std::string node) {
  writes->timer = executor->after(kLocationBatch, [writes, executor, store, log, node] {
    std::unordered_map<std::string, std::vector<Binding>> batch;
    {
      std::lock_guard<std::mutex> lock(writes->mutex);
      writes->timer = 0;
      batch.swap(writes->pending);
      if (batch.empty() || writes->stopped) {
        writes->in_flight = false;
        return;
      }
    }
    std::vector<std::string_view> names;
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    w.StartArray();
    for (auto& [aor, bindings] : batch) {
      names.push_back(aor);
      for (auto& b : bindings) {
        w.StartObject();
        w.Key("aor");
        w.String(aor.c_str());
        write_binding_fields(w, b);
        w.EndObject();
      }
    }
    w.EndArray();
    const std::string aors = sdk::text_array(names);
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
    std::lock_guard<std::mutex> lock(writes->mutex);
    if (writes->pending.empty() || writes->stopped) writes->in_flight = false;
    else write_locations_later(writes, executor, store, log, node);
  });
}

void SipPlugin::call_event(const std::string& call_id, const std::string& state, int status) {
  // A peer's Call-ID may hold quotes and backslashes (RFC 3261 `word`).
  host_.bus().publish("sip.call." + state, sdk::json::object({{"call_id", call_id}, {"status", status}}));
}

}  // namespace dialtone::plugins::backend::sip
