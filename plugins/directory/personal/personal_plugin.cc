// directory.personal: the `personal` directory source(s) and the
// /0.1/personal REST API on the "dird" listener.
#include "plugins/directory/personal/personal_plugin.h"

#include <dialtone/services.h>

namespace dialtone::plugins::directory {
extern const char* const kPersonalApiSpec;  // api.yml, embedded at build time
namespace {

// /0.1/api/api.yml on the dird listener belongs to directory.dird.
sdk::Route spec_route() {
  return {"GET", "/0.1/api/personal.yml", "", sdk::RouteAuth::none, "OpenAPI description of the personal API",
          {}, [](const sdk::HttpRequest&) {
            return sdk::HttpResponse::text(200, kPersonalApiSpec, "application/x-yaml");
          }};
}

}  // namespace

sdk::Status PersonalPlugin::configure(const sdk::Options& o) {
  configs_.clear();
  for (auto& name : o.instances("source")) {
    auto sc = read_source_config(o, name);
    if (!sc) return sc.error();
    configs_.push_back(std::move(*sc));
  }
  return {};
}

sdk::Status PersonalPlugin::start() {
  auto* db = host_.store();
  if (!db) return sdk::Error::unavailable("directory.personal needs the database; set store.dsn in conf.d");
  store_ = std::make_shared<PersonalStore>(*db);
  if (auto s = store_->migrate(); !s) return s;
  for (auto& c : configs_) {
    auto name = c.name;
    auto s = host_.services().provide<sdk::DirectorySource>(
        name, std::make_shared<PersonalSource>(c, store_, host_.log()));
    if (!s) return s;
    names_.push_back(name);
  }
  if (auto* http = host_.http()) {
    for (auto& r : personal_routes(store_))
      if (auto s = http->mount("dird", std::move(r)); !s) return s;
    if (auto s = http->mount("dird", spec_route()); !s) return s;
  }
  return {};
}

void PersonalPlugin::stop() {
  if (host_.http()) host_.http()->unmount_all(host_.plugin_id());
  for (auto& n : names_) host_.services().withdraw<sdk::DirectorySource>(n);
  names_.clear();
  store_.reset();
}

constexpr sdk::OptionSpec kPersonalOptions[] = {DIALTONE_DIRECTORY_COMMON_OPTIONS, {}};

}  // namespace dialtone::plugins::directory

DIALTONE_PLUGIN(dialtone::plugins::directory::PersonalPlugin, "directory.personal", "directory", "1.0.0",
                "users' personal contacts in PostgreSQL: directory source and /0.1/personal REST API", "", "",
                dialtone::plugins::directory::kPersonalOptions)
