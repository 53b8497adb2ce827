// The kernel's service registry. Each plugin sees it through its own
// PluginServices view, which records the provider and ties every provided
// object to the provider's shared library, so the library stays loaded for
// as long as any consumer holds the object.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <dialtone/service_registry.h>
#include <dialtone/services.h>

namespace boost::dll {
class shared_library;
}

namespace dialtone::kernel {

// The registry itself is the SDK's (dialtone/service_registry.h), the one the
// fake host gives a plugin's tests too.
using ServiceRegistryImpl = sdk::ServiceTable;

// One plugin's view of the registry.
class PluginServices final : public sdk::ServiceRegistry {
 public:
  PluginServices(ServiceRegistryImpl& registry, std::string owner,
                 std::shared_ptr<boost::dll::shared_library> library)
      : registry_(registry), owner_(std::move(owner)), library_(std::move(library)) {}

  sdk::Status provide_erased(std::string name, int version, std::string instance,
                             std::shared_ptr<void> impl) override;
  std::shared_ptr<void> find_erased(std::string_view name, int version,
                                    std::string_view instance) const override {
    return registry_.find_erased(name, version, instance);
  }
  std::vector<std::pair<std::string, std::shared_ptr<void>>> all_erased(
      std::string_view name, int version) const override {
    return registry_.all_erased(name, version);
  }
  void withdraw_erased(std::string_view name, std::string_view instance) override {
    registry_.withdraw_erased(name, instance);
  }

 private:
  ServiceRegistryImpl& registry_;
  std::string owner_;
  std::shared_ptr<boost::dll::shared_library> library_;
};

}  // namespace dialtone::kernel
