// directory.users: one UsersSource per `[source.<name>]` section.
#include <dialtone/plugin.h>
#include <dialtone/services.h>

#include "plugins/directory/users/users_source.h"

namespace dialtone::plugins::directory {
namespace {

class UsersPlugin final : public sdk::Plugin {
 public:
  explicit UsersPlugin(sdk::Host& host) : host_(host) {}

  sdk::Status configure(const sdk::Options& o) override {
    configs_.clear();
    for (auto& name : o.instances("source")) {
      auto sc = read_source_config(o, name);
      if (!sc) return sc.error();
      for (auto* list : {&sc->searched_columns, &sc->first_matched_columns})
        for (auto& c : *list) {
          auto& cols = user_columns();
          if (std::find(cols.begin(), cols.end(), c) == cols.end())
            return sdk::Error::invalid("source " + name + ": unknown column '" + c +
                                       "'; use id, uuid, firstname, lastname, email, mobile_phone_number, exten, "
                                       "context or voicemail_number");
        }
      configs_.push_back(std::move(*sc));
    }
    return {};
  }

  sdk::Status start() override {
    auto* db = host_.store();
    if (!db) return sdk::Error::unavailable("directory.users needs the database; set store.dsn in conf.d");
    for (auto& c : configs_) {
      auto name = c.name;
      auto src = std::make_shared<UsersSource>(c, *db, host_.log());
      // Logs the one "tables do not exist yet" line now rather than at the first call.
      (void)src->ready();
      auto s = host_.services().provide<sdk::DirectorySource>(name, src);
      if (!s) return s;
      names_.push_back(name);
    }
    return {};
  }

  void stop() override {
    for (auto& n : names_) host_.services().withdraw<sdk::DirectorySource>(n);
    names_.clear();
  }

 private:
  sdk::Host& host_;
  std::vector<SourceConfig> configs_;
  std::vector<std::string> names_;
};

constexpr sdk::OptionSpec kOptions[] = {DIALTONE_DIRECTORY_COMMON_OPTIONS, {}};

}  // namespace
}  // namespace dialtone::plugins::directory

DIALTONE_PLUGIN(dialtone::plugins::directory::UsersPlugin, "directory.users", "directory", "1.0.0",
                "the PBX's users (api.confd tables) as a directory source", "", "api.confd",
                dialtone::plugins::directory::kOptions)
