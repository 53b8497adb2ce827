#include "kernel/calls/group_memory.h"

#include <algorithm>
#include <vector>

namespace dialtone::kernel {

void GroupMemory::answered(const std::string& group, const std::string& member,
                           std::int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto& g = groups_[group];
  g.last_member = member;
  auto& m = g.members[member];
  ++m.answered;
  m.last_answered_ms = now_ms;
  touched_[group] = now_ms;
}

GroupMemory::Group GroupMemory::snapshot(const std::string& group) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = groups_.find(group);
  return it == groups_.end() ? Group{} : it->second;
}

void GroupMemory::trim(std::size_t max_groups) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (groups_.size() <= max_groups) return;
  std::vector<std::pair<std::int64_t, std::string>> by_age;
  by_age.reserve(touched_.size());
  for (auto& [g, t] : touched_) by_age.emplace_back(t, g);
  std::sort(by_age.begin(), by_age.end());
  for (std::size_t i = 0; i < by_age.size() && groups_.size() > max_groups; ++i) {
    groups_.erase(by_age[i].second);
    touched_.erase(by_age[i].second);
  }
}

}  // namespace dialtone::kernel
