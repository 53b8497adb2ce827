// The lookup service of directory.dird: profiles (seed 4.1.1 "services:
// lookup/reverse/favorites", "views: displays, displays_phone"), a parallel
// fan-out over each profile's sources bounded by the profile's timeout, and
// the default_json ordering.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <dialtone/directory.h>
#include <dialtone/host.h>
#include <dialtone/options.h>

#include "plugins/directory/common/directory_common.h"

namespace dialtone::plugins::directory {

struct PhoneNumberSpec {
  std::string field;
  std::string format;  // "{name} (Mobile)"; empty: the name alone
};

struct PhoneDisplay {
  std::vector<std::string> name_fields{"display_name", "name"};
  std::vector<PhoneNumberSpec> numbers{{"number", ""}};
};

struct Profile {
  std::string name;
  std::vector<std::string> sources;
  std::chrono::milliseconds timeout{2000};
  std::chrono::milliseconds reverse_timeout{1000};
  std::vector<sdk::DisplayColumn> display;
  PhoneDisplay phone;
};

// Reads `[profile.*]`, `[display.*]` and `[phone_display.*]`. Fails with one
// line naming the section and the fix.
sdk::Result<std::map<std::string, Profile>> read_profiles(const sdk::Options& options);

// Worker threads that grow on demand up to a bound: a source that hangs holds
// one worker, never the caller.
class WorkerPool {
 public:
  explicit WorkerPool(std::size_t max_threads = 64);
  ~WorkerPool();
  void post(std::function<void()> task);

 private:
  // Shared with the threads: a worker still inside a hung source when the
  // pool is destroyed finds the state alive and exits on its own.
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::function<void()>> tasks;
    std::size_t threads = 0;
    std::size_t idle = 0;
    bool stopping = false;
  };
  static void run(std::shared_ptr<State> s);
  std::shared_ptr<State> state_ = std::make_shared<State>();
  std::size_t max_;
};

using SourceResolver = std::function<std::shared_ptr<sdk::DirectorySource>(const std::string&)>;

class LookupService final : public sdk::DirectoryLookup {
 public:
  LookupService(std::map<std::string, Profile> profiles, SourceResolver resolver, sdk::Logger& log);

  sdk::Result<sdk::LookupResult> lookup(const sdk::LookupRequest& request) override;
  sdk::Result<std::vector<sdk::PhoneEntry>> phone_lookup(const sdk::LookupRequest& request) override;
  sdk::Result<std::optional<sdk::DirectoryEntry>> reverse(const sdk::LookupRequest& request) override;
  sdk::Result<std::vector<sdk::DisplayColumn>> headers(std::string_view profile) override;

  // Entries of the profile's sources with the given unique ids (favorites),
  // keyed by source name.
  sdk::Result<sdk::LookupResult> list(std::string_view profile,
                                      const std::map<std::string, std::vector<std::string>>& ids,
                                      const std::string& user_uuid);
  const Profile* profile(std::string_view name) const;
  // "ldap", "personal", ... of a configured source; empty if not running.
  std::string source_type(const std::string& source) const;
  // The running source of that name, or nullptr.
  std::shared_ptr<sdk::DirectorySource> source(const std::string& name) const { return resolver_(name); }
  // The display name of an entry: the phone display's name fields, then the
  // first name-typed display column.
  std::string display_name(const Profile& p, const sdk::DirectoryEntry& e) const;

 private:
  template <class T>
  struct Fanout;
  template <class T, class F>
  std::shared_ptr<Fanout<T>> fan_out(const Profile& p, std::chrono::steady_clock::time_point deadline, F call);

  std::map<std::string, Profile> profiles_;
  SourceResolver resolver_;
  sdk::Logger& log_;
  std::map<std::string, std::unique_ptr<FailureLog>> failures_;
  WorkerPool pool_;
};

// Sorts as the default_json view: whole-word match, word prefix, anywhere,
// then by the first name-typed column, accents folded; empty names last.
void order_entries(std::vector<sdk::DirectoryEntry>& entries, std::string_view term,
                   const std::vector<sdk::DisplayColumn>& display);

}  // namespace dialtone::plugins::directory
