// records.cel: the call core's channel events (calls.channel.*) recorded as
// CEL rows in PostgreSQL's `cel` table, XiVO's columns (docs/admin/cel.md).
// The bus delivers on this plugin's own thread, the mapper turns each event
// into rows and the writer inserts them in batches on its thread: nothing
// here runs on, or waits for, the SIP or dialplan threads. After each batch
// the linked ids of the calls it closed are published as `cel.calls_ended`
// (records.call_logs builds the call logs from them).
#include <unistd.h>

#include <chrono>
#include <iterator>
#include <memory>
#include <vector>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <dialtone/bus.h>
#include <dialtone/config.h>
#include <dialtone/host.h>
#include <dialtone/plugin.h>
#include <dialtone/services.h>
#include <dialtone/store.h>

#include "plugins/records/cel/cel_mapper.h"
#include "plugins/records/cel/cel_writer.h"

namespace dialtone::plugins::records {
namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string host_name() {
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  return name;
}

class CelPlugin final : public sdk::Plugin {
 public:
  explicit CelPlugin(sdk::Host& host) : host_(host) {}

  sdk::Status configure(const sdk::Options& o) override {
    config_.batch_size = static_cast<std::size_t>(o.get_int("cel.batch_size", 500));
    config_.batch_interval = o.get_duration("cel.batch_interval", std::chrono::milliseconds(1000));
    config_.queue_size = static_cast<std::size_t>(o.get_int("cel.queue_size", 100000));
    spool_ = o.get_bool("cel.spool", true);
    config_.writer_key = o.get("cel.writer");
    return {};
  }

  sdk::Status start() override {
    auto* store = host_.store();
    if (!store) return sdk::Error::unavailable("records.cel needs the database; set store.dsn in conf.d");
    if (auto s = store->migrate("records.cel", cel_migrations()); !s) return s;
    auto config = config_;
    if (config.writer_key.empty()) config.writer_key = host_name() + ":" + host_.data_dir().string();
    if (spool_) config.spool = host_.data_dir() / "cel.spool";
    auto& bus = host_.bus();
    writer_ = std::make_unique<CelWriter>(*store, host_.log(), config, [&bus](const std::vector<std::string>& ids) {
      rapidjson::StringBuffer sb;
      rapidjson::Writer<rapidjson::StringBuffer> w(sb);
      w.StartObject();
      w.Key("linkedids");
      w.StartArray();
      for (auto& id : ids) w.String(id.c_str(), static_cast<rapidjson::SizeType>(id.size()));
      w.EndArray();
      w.EndObject();
      bus.publish("cel.calls_ended", std::string(sb.GetString(), sb.GetSize()));
    });
    if (auto s = writer_->start(); !s) return s;

    auto services = &host_.services();
    mapper_ = std::make_unique<CelMapper>([services](const std::string& endpoint) -> std::optional<EndpointInfo> {
      auto config = services->find<sdk::ConfigService>();
      if (!config) return std::nullopt;
      auto snap = config->snapshot();
      auto* line = snap ? snap->line_by_username(endpoint) : nullptr;
      if (!line) return std::nullopt;
      EndpointInfo info;
      info.context = line->context;
      info.line_id = line->id;
      if (line->main_user_id)
        if (auto* u = snap->user(*line->main_user_id)) {
          info.user_uuid = u->uuid;
          info.user_name = u->firstname + (u->lastname && !u->lastname->empty() ? " " + *u->lastname : "");
          info.userfield = u->userfield.value_or("");
        }
      return info;
    }, [services](const std::string& endpoint) -> std::string {
      // A dialed URI, sip:<number>@<host>: the trunk whose endpoint has that host.
      auto at = endpoint.find('@');
      if (endpoint.rfind("sip:", 0) != 0 || at == std::string::npos) return {};
      auto host = endpoint.substr(at + 1, endpoint.find(';', at) - at - 1);
      auto config = services->find<sdk::ConfigService>();
      auto snap = config ? config->snapshot() : nullptr;
      if (!snap) return {};
      for (auto& [id, t] : snap->trunks)
        if (t.has_endpoint && t.host == host && !t.username.empty()) return t.username;
      return {};
    });
    // Without the configuration service every call is internal: say so once.
    if (!host_.services().find<sdk::ConfigService>())
      host_.log().warn("records.cel: no configuration service (api.confd): calls cannot be told inbound or "
                       "outbound and carry no user uuid; enable api.confd");
    // calls.# in one subscription: park and pickup events keep their place
    // among the channel events (a parked caller's hang-up after its PARK_END).
    // The rows of the events the bus hands over at once are queued (and
    // spooled, one write) together after the last of them.
    sub_ = host_.bus().subscribe(
        "calls.#",
        [this](const sdk::Event& e) {
          auto rows = mapper_->map(e, now_ms());
          std::move(rows.begin(), rows.end(), std::back_inserter(pending_));
        },
        {.queue_capacity = 65536, .name = "records.cel", .after_batch = [this] {
           if (!pending_.empty()) writer_->push(std::move(pending_));
           pending_.clear();
         }});
    host_.log().info("records.cel: recording channel events into cel (batches of " +
                     std::to_string(config.batch_size) + ", spool " +
                     (config.spool.empty() ? std::string("off") : config.spool.string()) + ")");
    return {};
  }

  void stop() override {
    sub_.reset();  // no delivery runs after this
    if (writer_) writer_->stop();
    writer_.reset();
    mapper_.reset();
  }

 private:
  sdk::Host& host_;
  CelWriterConfig config_;
  bool spool_ = true;
  std::unique_ptr<CelMapper> mapper_;
  std::unique_ptr<CelWriter> writer_;
  std::unique_ptr<sdk::Subscription> sub_;
  std::vector<CelRow> pending_;  // the bus thread's, until its run ends
};

constexpr sdk::OptionSpec kOptions[] = {
    {"cel.batch_size", sdk::OptionType::integer, "500",
     "CEL rows written per INSERT; more than four batches behind, up to eight batches per INSERT", sdk::kNone, nullptr,
     1, 5000},
    {"cel.batch_interval", sdk::OptionType::duration, "1s",
     "a partial batch is written after this long; a crash loses nothing spooled, and at most this much without "
     "the spool"},
    {"cel.queue_size", sdk::OptionType::integer, "100000",
     "CEL rows waiting for the database at most; more are dropped and counted in the log", sdk::kNone, nullptr, 100},
    {"cel.spool", sdk::OptionType::boolean, "true",
     "append each row to <data_dir>/cel.spool until its batch is committed, so the next start writes what a "
     "crash left"},
    {"cel.writer", sdk::OptionType::string, "",
     "name of this node's progress row in cel_writer (empty: hostname:data_dir)"},
    {}};

}  // namespace
}  // namespace dialtone::plugins::records

DIALTONE_PLUGIN(dialtone::plugins::records::CelPlugin, "records.cel", "records", "1.0.0",
                "channel events recorded as CEL rows in PostgreSQL, in batches off the call path", "", "api.confd",
                dialtone::plugins::records::kOptions)
