// directory.dird: the lookup service over the configured profiles, its REST
// API on the "dird" listener and `dird.reverse()` for the Lua dialplan.
#include "plugins/directory/dird/dird_plugin.h"

#include "plugins/directory/dird/dird_lua.h"

#include <dialtone/lua.h>
#include <dialtone/services.h>

namespace dialtone::plugins::directory {

sdk::Status DirdPlugin::configure(const sdk::Options& o) {
  auto p = read_profiles(o);
  if (!p) return p.error();
  profiles_ = std::move(*p);
  return {};
}

sdk::Status DirdPlugin::start() {
  auto& services = host_.services();
  service_ = std::make_shared<LookupService>(
      profiles_, [&services](const std::string& n) { return services.find<sdk::DirectorySource>(n); },
      host_.log());
  if (auto* store = host_.store()) {
    favorites_ = std::make_unique<Favorites>(*store);
    if (auto s = favorites_->migrate(); !s) return s;
  }
  if (auto s = services.provide<sdk::DirectoryLookup>("default", service_); !s) return s;
  if (auto* http = host_.http()) {
    rest_ = std::make_unique<DirdRest>(*service_, favorites_.get());
    for (auto& r : rest_->routes())
      if (auto s = http->mount("dird", std::move(r)); !s) return s;
  }
  if (auto* lua = host_.lua())
    if (auto s = lua->export_module("dird", dird_lua_functions(service_, pool_)); !s) return s;
  return {};
}

void DirdPlugin::stop() {
  if (host_.http()) host_.http()->unmount_all(host_.plugin_id());
  host_.services().withdraw<sdk::DirectoryLookup>("default");
  rest_.reset();
  favorites_.reset();
  service_.reset();
}

constexpr sdk::OptionSpec kDirdOptions[] = {
    {"profile.*.sources", sdk::OptionType::list, "", "source names queried by this profile"},
    {"profile.*.timeout", sdk::OptionType::duration, "2s", "lookup deadline; slower sources are dropped"},
    {"profile.*.reverse_timeout", sdk::OptionType::duration, "1s", "reverse lookup deadline"},
    {"profile.*.display", sdk::OptionType::string, "", "name of a [display.<name>] section"},
    {"profile.*.phone_display", sdk::OptionType::string, "", "name of a [phone_display.<name>] section"},
    {"display.*.columns", sdk::OptionType::list, "",
     "columns `Title|field|type|default`, comma-separated"},
    {"phone_display.*.name", sdk::OptionType::list, "display_name,name",
     "fields tried in order for the name shown on phones"},
    {"phone_display.*.numbers", sdk::OptionType::list, "number",
     "number fields, each `field` or `field:{name} (Mobile)`"},
    {}};

}  // namespace dialtone::plugins::directory

DIALTONE_PLUGIN(dialtone::plugins::directory::DirdPlugin, "directory.dird", "directory", "1.0.0",
                "directory lookup service, dird REST API and dird.reverse() for the dialplan", "",
                "directory.ldap,directory.csv,directory.csv_ws,directory.phonebook,directory.users,"
                "directory.personal",
                dialtone::plugins::directory::kDirdOptions)
