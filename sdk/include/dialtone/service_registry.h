// The service registry itself: the one dialtoned runs, and the one the fake
// host (dialtone/testing/fake_host.h) gives a plugin's tests, so a duplicate,
// a null object or a version mismatch is answered alike in both, in the same
// words.
//
// @code
//   dialtone::sdk::ServiceTable table;               // provide_erased() owns as "kernel"
//   table.provide_as("directory.ldap", "directory.source", 1, "corp", impl);
//   table.provide_as("directory.csv", "directory.source", 1, "corp", other);
//   // -> conflict: "service directory.source 'corp' is already provided by directory.ldap"
//   table.withdraw_all("directory.ldap");            // what the kernel does after stop()
// @endcode
//
// Linked from Dialtone::options (part of the installed SDK).
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dialtone/result.h"
#include "dialtone/services.h"

namespace dialtone::sdk {

class ServiceTable : public ServiceRegistry {
 public:
  // provide_erased() records services as provided by `owner`.
  explicit ServiceTable(std::string owner = "kernel") : owner_(std::move(owner)) {}

  Status provide_erased(std::string name, int version, std::string instance,
                        std::shared_ptr<void> impl) override {
    return provide_as(owner_, std::move(name), version, std::move(instance), std::move(impl));
  }
  std::shared_ptr<void> find_erased(std::string_view name, int version,
                                    std::string_view instance) const override;
  std::vector<std::pair<std::string, std::shared_ptr<void>>> all_erased(
      std::string_view name, int version) const override;
  void withdraw_erased(std::string_view name, std::string_view instance) override;

  // Refuses a null object (ErrorCode::invalid) and a duplicate (name,
  // instance) with ErrorCode::conflict naming the plugin that provides it.
  Status provide_as(std::string owner, std::string name, int version, std::string instance,
                    std::shared_ptr<void> impl);
  // Drops whatever `owner` still provides; returns how many.
  std::size_t withdraw_all(std::string_view owner);
  // "name/instance vN (owner)" lines in provide order, for diagnostics.
  std::vector<std::string> describe() const;

 private:
  struct Entry {
    std::string name, instance, owner;
    int version = 0;
    std::shared_ptr<void> impl;
  };
  std::string owner_;
  mutable std::mutex mutex_;
  std::vector<Entry> entries_;  // in provide order: find() with no instance returns the first
};

}  // namespace dialtone::sdk
