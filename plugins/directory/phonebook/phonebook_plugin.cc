// directory.phonebook: one PhonebookSource per `[source.<name>]` section and
// the phonebook REST API on the "dird" listener.
#include "plugins/directory/phonebook/phonebook_plugin.h"

#include <dialtone/services.h>

namespace dialtone::plugins::directory {
extern const char* const kPhonebookApiSpec;  // api.yml, embedded at build time
namespace {

// /0.1/api/api.yml on the dird listener belongs to directory.dird.
sdk::Route spec_route() {
  return {"GET", "/0.1/api/phonebook.yml", "", sdk::RouteAuth::none, "OpenAPI description of the phonebook API",
          {}, [](const sdk::HttpRequest&) {
            return sdk::HttpResponse::text(200, kPhonebookApiSpec, "application/x-yaml");
          }};
}

}  // namespace

sdk::Status PhonebookPlugin::configure(const sdk::Options& o) {
  configs_.clear();
  for (auto& name : o.instances("source")) {
    auto sc = read_source_config(o, name);
    if (!sc) return sc.error();
    auto k = [&](const char* key) { return "source." + name + "." + key; };
    PhonebookSourceConfig c;
    c.source = std::move(*sc);
    c.tenant = o.get(k("tenant"), "default");
    c.phonebook_name = o.get(k("phonebook_name"));
    c.phonebook_id = o.get_int(k("phonebook_id"), 0);
    if (c.phonebook_name.empty() && c.phonebook_id <= 0)
      return sdk::Error::invalid("source " + name + ": no phonebook; add `phonebook_name = <name>`");
    configs_.push_back(std::move(c));
  }
  return {};
}

sdk::Status PhonebookPlugin::start() {
  auto* db = host_.store();
  if (!db)
    return sdk::Error::unavailable("directory.phonebook needs the database; set store.dsn in conf.d");
  store_ = std::make_shared<PhonebookStore>(*db);
  if (auto s = store_->migrate(host_.log()); !s) return s;
  for (auto& c : configs_) {
    auto name = c.source.name;
    auto s = host_.services().provide<sdk::DirectorySource>(
        name, std::make_shared<PhonebookSource>(c, store_, host_.log()));
    if (!s) return s;
    names_.push_back(name);
  }
  if (auto* http = host_.http()) {
    for (auto& r : phonebook_routes(store_))
      if (auto s = http->mount("dird", std::move(r)); !s) return s;
    if (auto s = http->mount("dird", spec_route()); !s) return s;
  }
  return {};
}

void PhonebookPlugin::stop() {
  if (host_.http()) host_.http()->unmount_all(host_.plugin_id());
  for (auto& n : names_) host_.services().withdraw<sdk::DirectorySource>(n);
  names_.clear();
  store_.reset();
}

constexpr sdk::OptionSpec kPhonebookOptions[] = {
    {"source.*.tenant", sdk::OptionType::string, "default", "tenant of the phonebook"},
    {"source.*.phonebook_name", sdk::OptionType::string, "", "name of the phonebook searched by this source"},
    {"source.*.phonebook_id", sdk::OptionType::integer, "0",
     "id of the phonebook (deprecated, use phonebook_name)", sdk::kNone, nullptr, 0},
    DIALTONE_DIRECTORY_COMMON_OPTIONS,
    {}};

}  // namespace dialtone::plugins::directory

DIALTONE_PLUGIN(dialtone::plugins::directory::PhonebookPlugin, "directory.phonebook", "directory", "1.0.0",
                "internal phonebooks in PostgreSQL: directory sources and REST API", "", "",
                dialtone::plugins::directory::kPhonebookOptions)
