// api.confd: XiVO's configuration REST API (xivo-confd 1.1) as a plugin.
// Mounts /1.1/... on the "confd" listener, owns the confd_* tables and
// provides their in-memory snapshot as sdk::ConfigService (config_service.h).
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <dialtone/host.h>
#include <dialtone/http.h>
#include <dialtone/options.h>
#include <dialtone/plugin.h>

#include "plugins/api/confd/config_service.h"
#include "plugins/api/confd/resource.h"

namespace dialtone::plugins::api::confd {

extern const sdk::OptionSpec kOptions[];

// The OpenAPI document served at /1.1/api/api.yml (plugins/api/confd/api.yml).
extern const char* const kApiSpec;

class ConfdApi final : public sdk::Plugin {
 public:
  explicit ConfdApi(sdk::Host& host) : host_(host) {}
  sdk::Status configure(const sdk::Options& options) override;
  sdk::Status start() override;
  void stop() override;

  // The routes start() mounts, for documentation and the OpenAPI check.
  std::vector<sdk::Route> routes();
  // The table-driven resources, for the OpenAPI schemas (openapi_gen).
  const std::vector<std::shared_ptr<Resource>>& resources() {
    if (resources_.empty()) define_resources();
    return resources_;
  }

 private:
  using Handler = std::function<sdk::HttpResponse(const sdk::HttpRequest&)>;
  using AddRoute = std::function<void(std::string method, std::string path, std::string acl,
                                      std::string summary, Handler handler)>;
  void define_resources();
  // Routes by capability (relations.cc, routing_routes.cc, context_routing.cc,
  // callfilters.cc, callpickups.cc, funckeys.cc, system_routes.cc).
  void relation_routes(const AddRoute& add);
  void routing_routes(const AddRoute& add);
  void context_routes(const AddRoute& add);
  void callfilter_routes(const AddRoute& add);
  void callpickup_routes(const AddRoute& add);
  void paging_routes(const AddRoute& add);  // pagings.cc
  // A route whose GET lists rows: `sort` are the columns `order` may name.
  using AddListRoute = std::function<void(std::string method, std::string path, std::string acl,
                                          std::string summary, Handler handler, std::vector<std::string> sort)>;
  void feature_extension_routes(const AddListRoute& add);  // feature_extensions.cc
  void funckey_routes(const AddRoute& add);
  void system_routes(const AddRoute& add);
  void wizard_routes(const AddRoute& add);  // wizard_routes.cc
  void moh_routes(const AddRoute& add);  // moh_routes.cc
  void sound_routes(const AddRoute& add);  // sounds_routes.cc
  sdk::HttpResponse import_users(const sdk::HttpRequest& req);
  sdk::HttpResponse update_users_csv(const sdk::HttpRequest& req);
  sdk::HttpResponse export_users(const sdk::HttpRequest& req);
  long user_id(sdk::Transaction* tx, const std::string& ref);

  sdk::Host& host_;
  std::string listener_ = "confd";
  // The classes' directories: conf.d's moh.path, else the media engine's
  // sounds.moh_path (looked up on each request: the engine may start after
  // this plugin, or be reloaded), else the Debian default.
  std::filesystem::path moh_path_;
  std::filesystem::path moh_root() const;
  // The sound store (/1.1/sounds): the media engine's sounds.store, else
  // /var/lib/dialtone/sounds.
  std::filesystem::path sound_store() const;
  // The configuration snapshot and the Engine every write goes through.
  std::shared_ptr<ConfigServiceImpl> config_;
  Engine* engine_ = nullptr;
  std::vector<std::shared_ptr<Resource>> resources_;
  bool mounted_ = false;
};

}  // namespace dialtone::plugins::api::confd
