#include "kernel/core/service_registry.h"

#include "kernel/core/dll.h"

namespace dialtone::kernel {

namespace {
// Members are destroyed in reverse order: the object first, then the library
// holding its code.
struct LibraryPinned {
  std::shared_ptr<boost::dll::shared_library> library;
  std::shared_ptr<void> impl;
};
}  // namespace

sdk::Status PluginServices::provide_erased(std::string name, int version, std::string instance,
                                           std::shared_ptr<void> impl) {
  if (!impl) return sdk::Error::invalid("service " + name + " '" + instance + "' is null");
  void* raw = impl.get();
  std::shared_ptr<void> pinned;
  if (library_) {
    auto holder = std::make_shared<LibraryPinned>(LibraryPinned{library_, std::move(impl)});
    pinned = std::shared_ptr<void>(holder, raw);
  } else {
    pinned = std::move(impl);
  }
  return registry_.provide_as(owner_, std::move(name), version, std::move(instance),
                              std::move(pinned));
}

}  // namespace dialtone::kernel
