// Per-source-address ban after repeated authentication failures (the
// in-process counterpart of the fail2ban filter in docs/admin/sip.md).
// Used on the SIP thread only.
#pragma once

#include <chrono>
#include <deque>
#include <string>
#include <unordered_map>

namespace dialtone::plugins::backend::sip {

class AuthBan {
 public:
  using Clock = std::chrono::steady_clock;

  // `failures` within `window` ban the address for `ban_time`; 0 disables.
  AuthBan(int failures, std::chrono::seconds window, std::chrono::seconds ban_time)
      : failures_(failures), window_(window), ban_time_(ban_time) {}

  // Records a failure; true when this one starts a ban.
  bool failure(const std::string& ip, Clock::time_point now) {
    if (failures_ <= 0) return false;
    auto& e = entries_[ip];
    e.times.push_back(now);
    while (!e.times.empty() && now - e.times.front() > window_) e.times.pop_front();
    if (static_cast<int>(e.times.size()) >= failures_ && e.banned_until <= now) {
      e.banned_until = now + ban_time_;
      e.times.clear();
      return true;
    }
    return false;
  }

  void success(const std::string& ip) {
    auto it = entries_.find(ip);
    if (it != entries_.end() && it->second.banned_until < Clock::now()) entries_.erase(it);
  }

  bool banned(const std::string& ip, Clock::time_point now) const {
    auto it = entries_.find(ip);
    return it != entries_.end() && it->second.banned_until > now;
  }

  // Forgets addresses with no recent failure and no ban (bounded memory).
  void expire(Clock::time_point now) {
    for (auto it = entries_.begin(); it != entries_.end();) {
      auto& e = it->second;
      while (!e.times.empty() && now - e.times.front() > window_) e.times.pop_front();
      if (e.times.empty() && e.banned_until <= now) it = entries_.erase(it);
      else ++it;
    }
  }

 private:
  struct Entry {
    std::deque<Clock::time_point> times;
    Clock::time_point banned_until{};
  };
  int failures_;
  std::chrono::seconds window_;
  std::chrono::seconds ban_time_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace dialtone::plugins::backend::sip
