// Reachability of registered contacts (OPTIONS qualify): the schedule and
// state per contact. No sofia types: the SIP thread drives it (sync on
// registration changes, due() on its sweep, result() on each answer) and
// other threads read snapshots.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace dialtone::plugins::backend::sip {

enum class Reachability { unknown, reachable, unreachable };

const char* to_string(Reachability r);

struct ContactReachability {
  std::string aor;
  std::string contact;
  std::string received;  // transport:ip:port the probes go to
  Reachability state = Reachability::unknown;
  int rtt_ms = -1;       // last answered probe; -1: none yet
};

// A state change worth an event.
struct ReachabilityChange {
  ContactReachability now;
  Reachability previous = Reachability::unknown;
};

class QualifyTable {
 public:
  // interval 0: never probe (every contact stays unknown and is rung).
  QualifyTable(std::chrono::milliseconds interval, std::chrono::milliseconds timeout)
      : interval_(interval), timeout_(timeout) {}

  std::chrono::milliseconds interval() const { return interval_; }
  std::chrono::milliseconds timeout() const { return timeout_; }

  // The contacts of `aor` now (contact URI, received address). New contacts
  // start unknown with their first probe one interval later; an unreachable
  // contact that registers again is probed at the next due(); contacts gone
  // are forgotten.
  void sync(const std::string& aor, const std::vector<std::pair<std::string, std::string>>& contacts,
            std::int64_t now_ms);
  // Contacts whose probe is due at `now_ms`; they are marked in flight until result().
  std::vector<ContactReachability> due(std::int64_t now_ms);
  // Outcome of a probe: answered (any final response) with its round trip,
  // or not (timeout, transport error). Returns the change, if the state changed.
  std::optional<ReachabilityChange> result(const std::string& aor, const std::string& contact,
                                           bool answered, int rtt_ms, std::int64_t now_ms);

  // Thread-safe snapshots.
  std::vector<ContactReachability> of(const std::string& aor) const;
  bool unreachable(const std::string& aor, const std::string& contact) const;

 private:
  struct Entry {
    ContactReachability info;
    std::int64_t next_ms = 0;
    bool in_flight = false;
  };
  std::chrono::milliseconds interval_;
  std::chrono::milliseconds timeout_;
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, Entry> entries_;  // (aor, contact)
};

}  // namespace dialtone::plugins::backend::sip
