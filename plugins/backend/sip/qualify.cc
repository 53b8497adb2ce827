#include "plugins/backend/sip/qualify.h"

#include <algorithm>

namespace dialtone::plugins::backend::sip {

const char* to_string(Reachability r) {
  switch (r) {
    case Reachability::reachable: return "reachable";
    case Reachability::unreachable: return "unreachable";
    case Reachability::unknown: break;
  }
  return "unknown";
}

void QualifyTable::sync(const std::string& aor,
                        const std::vector<std::pair<std::string, std::string>>& contacts,
                        std::int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto lo = entries_.lower_bound({aor, std::string()});
  while (lo != entries_.end() && lo->first.first == aor) {
    bool kept = false;
    for (auto& c : contacts) kept = kept || c.first == lo->first.second;
    lo = kept ? std::next(lo) : entries_.erase(lo);
  }
  for (auto& [contact, received] : contacts) {
    auto [it, added] = entries_.try_emplace({aor, contact});
    if (added) {
      it->second.info.aor = aor;
      it->second.info.contact = contact;
      it->second.next_ms = now_ms + interval_.count();
    } else if (it->second.info.state == Reachability::unreachable) {
      // It registered again, so it may be back (a rebooted phone): probe it
      // now rather than leave it unrung for up to one interval.
      it->second.next_ms = std::min(it->second.next_ms, now_ms);
    }
    it->second.info.received = received;
  }
}

std::vector<ContactReachability> QualifyTable::due(std::int64_t now_ms) {
  std::vector<ContactReachability> out;
  if (interval_.count() <= 0) return out;
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [_, e] : entries_) {
    if (e.in_flight || e.next_ms > now_ms) continue;
    e.in_flight = true;
    out.push_back(e.info);
  }
  return out;
}

std::optional<ReachabilityChange> QualifyTable::result(const std::string& aor,
                                                       const std::string& contact, bool answered,
                                                       int rtt_ms, std::int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find({aor, contact});
  if (it == entries_.end()) return std::nullopt;  // unregistered meanwhile
  auto& e = it->second;
  e.in_flight = false;
  e.next_ms = now_ms + interval_.count();
  auto previous = e.info.state;
  e.info.state = answered ? Reachability::reachable : Reachability::unreachable;
  if (answered) e.info.rtt_ms = rtt_ms;
  if (e.info.state == previous) return std::nullopt;
  return ReachabilityChange{e.info, previous};
}

std::vector<ContactReachability> QualifyTable::of(const std::string& aor) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<ContactReachability> out;
  for (auto it = entries_.lower_bound({aor, std::string()});
       it != entries_.end() && it->first.first == aor; ++it)
    out.push_back(it->second.info);
  return out;
}

bool QualifyTable::unreachable(const std::string& aor, const std::string& contact) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find({aor, contact});
  return it != entries_.end() && it->second.info.state == Reachability::unreachable;
}

}  // namespace dialtone::plugins::backend::sip
