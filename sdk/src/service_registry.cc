#include "dialtone/service_registry.h"

#include <algorithm>

namespace dialtone::sdk {

Status ServiceTable::provide_as(std::string owner, std::string name, int version,
                                std::string instance, std::shared_ptr<void> impl) {
  if (!impl) return Error::invalid("service " + name + " '" + instance + "' is null");
  std::lock_guard lock(mutex_);
  for (auto& e : entries_) {
    if (e.name == name && e.instance == instance)
      return Error::conflict("service " + name + " '" + instance + "' is already provided by " +
                             e.owner);
  }
  entries_.push_back({std::move(name), std::move(instance), std::move(owner), version,
                      std::move(impl)});
  return {};
}

std::shared_ptr<void> ServiceTable::find_erased(std::string_view name, int version,
                                                std::string_view instance) const {
  std::lock_guard lock(mutex_);
  for (auto& e : entries_) {
    if (e.name != name || (!instance.empty() && e.instance != instance)) continue;
    // A consumer built against another interface version must not get it.
    if (e.version != version) continue;
    return e.impl;
  }
  return nullptr;
}

std::vector<std::pair<std::string, std::shared_ptr<void>>> ServiceTable::all_erased(
    std::string_view name, int version) const {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<std::string, std::shared_ptr<void>>> out;
  for (auto& e : entries_)
    if (e.name == name && e.version == version) out.emplace_back(e.instance, e.impl);
  return out;
}

void ServiceTable::withdraw_erased(std::string_view name, std::string_view instance) {
  std::shared_ptr<void> released;  // destroyed after the lock: its destructor may call back
  std::lock_guard lock(mutex_);
  auto it = std::find_if(entries_.begin(), entries_.end(),
                         [&](auto& e) { return e.name == name && e.instance == instance; });
  if (it == entries_.end()) return;
  released = std::move(it->impl);
  entries_.erase(it);
}

std::size_t ServiceTable::withdraw_all(std::string_view owner) {
  std::vector<std::shared_ptr<void>> released;
  {
    std::lock_guard lock(mutex_);
    auto it = std::remove_if(entries_.begin(), entries_.end(), [&](auto& e) {
      if (e.owner != owner) return false;
      released.push_back(std::move(e.impl));
      return true;
    });
    entries_.erase(it, entries_.end());
  }
  return released.size();
}

std::vector<std::string> ServiceTable::describe() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  for (auto& e : entries_)
    out.push_back(e.name + "/" + e.instance + " v" + std::to_string(e.version) + " (" + e.owner +
                  ")");
  return out;
}

}  // namespace dialtone::sdk
