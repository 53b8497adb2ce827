// What ring strategies of groups remember between calls: per group, the
// member that answered last and, per member, how many calls it answered and
// when. Kept in memory like Asterisk's queue member statistics (a restart
// starts the rotation over); shared by every Lua state of the pool; owned by the call core.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace dialtone::kernel {

class GroupMemory {
 public:
  struct Member {
    std::int64_t answered = 0;
    std::int64_t last_answered_ms = 0;  // 0: never
  };
  struct Group {
    std::string last_member;  // user id of the last member that answered
    std::map<std::string, Member> members;
  };

  // `member` of `group` answered a call at `now_ms`.
  void answered(const std::string& group, const std::string& member, std::int64_t now_ms);
  // A copy of what is known about `group` (empty when nothing yet).
  Group snapshot(const std::string& group) const;
  // Forgets groups beyond `max_groups`, least recently answered first, so
  // that deleted groups do not accumulate.
  void trim(std::size_t max_groups);

 private:
  mutable std::mutex mutex_;
  std::map<std::string, Group> groups_;
  std::map<std::string, std::int64_t> touched_;  // group -> last answer
};

}  // namespace dialtone::kernel
