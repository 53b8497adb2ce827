// Typed, versioned services that plugins provide to each other.
//
// @code
//   // The interface, in a header other plugins include:
//   class DirectorySource {
//    public:
//     static constexpr std::string_view kServiceName = "directory.source";
//     static constexpr int kServiceVersion = 1;
//     virtual ~DirectorySource() = default;
//     ...
//   };
//
//   // Provider (in start()):
//   host_.services().provide<DirectorySource>("corp_ldap", std::make_shared<LdapSource>(...));
//   // Consumer:
//   auto src = host_.services().find<DirectorySource>("corp_ldap");   // shared_ptr or null
//   for (auto& [name, s] : host_.services().all<DirectorySource>()) ...
// @endcode
//
// A service keeps the library that created it loaded for as long as any
// consumer holds it. Providers withdraw their services in stop().
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dialtone/result.h"

namespace dialtone::sdk {

class ServiceRegistry {
 public:
  virtual ~ServiceRegistry() = default;

  template <class I>
  Status provide(std::string instance, std::shared_ptr<I> impl) {
    return provide_erased(std::string(I::kServiceName), I::kServiceVersion, std::move(instance),
                          std::shared_ptr<void>(impl, impl.get()));
  }

  template <class I>
  std::shared_ptr<I> find(std::string_view instance = {}) const {
    return std::static_pointer_cast<I>(find_erased(I::kServiceName, I::kServiceVersion, instance));
  }

  template <class I>
  std::vector<std::pair<std::string, std::shared_ptr<I>>> all() const {
    std::vector<std::pair<std::string, std::shared_ptr<I>>> out;
    for (auto& [name, p] : all_erased(I::kServiceName, I::kServiceVersion))
      out.emplace_back(name, std::static_pointer_cast<I>(p));
    return out;
  }

  template <class I>
  void withdraw(std::string_view instance) {
    withdraw_erased(I::kServiceName, instance);
  }

  // Type-erased forms; the templates above are what plugins call.
  // provide_erased refuses a duplicate (name, instance) with ErrorCode::conflict.
  virtual Status provide_erased(std::string name, int version, std::string instance,
                                std::shared_ptr<void> impl) = 0;
  // Empty instance: the first provided. Version must match exactly.
  virtual std::shared_ptr<void> find_erased(std::string_view name, int version,
                                            std::string_view instance) const = 0;
  virtual std::vector<std::pair<std::string, std::shared_ptr<void>>> all_erased(
      std::string_view name, int version) const = 0;
  virtual void withdraw_erased(std::string_view name, std::string_view instance) = 0;
};

}  // namespace dialtone::sdk
