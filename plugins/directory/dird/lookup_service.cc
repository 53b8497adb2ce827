#include "plugins/directory/dird/lookup_service.h"

#include <algorithm>

#include <dialtone/text.h>

namespace dialtone::plugins::directory {
namespace {

using Clock = std::chrono::steady_clock;

using sdk::text::trim;

// Every piece, trimmed; empty pieces kept (a column may have empty parts).
std::vector<std::string> split(std::string_view s, char sep) {
  auto out = sdk::text::split(s, sep);
  if (out.empty()) out.emplace_back();
  for (auto& p : out) p = trim(p);
  return out;
}

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
  for (auto pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size()))
    s.replace(pos, from.size(), to);
  return s;
}

}  // namespace

sdk::Result<std::map<std::string, Profile>> read_profiles(const sdk::Options& o) {
  std::map<std::string, std::vector<sdk::DisplayColumn>> displays;
  for (auto& d : o.instances("display")) {
    std::vector<sdk::DisplayColumn> cols;
    for (auto& item : o.get_list("display." + d + ".columns")) {
      auto parts = split(item, '|');
      if (parts.size() < 2 || parts[1].empty())
        return sdk::Error::invalid("display." + d + ": column '" + item +
                                   "' is not `Title|field[|type[|default]]`; write e.g. "
                                   "`columns = Name|name|name, Number|number|number`");
      parts.resize(4);
      cols.push_back({parts[0], parts[1], parts[2], parts[3]});
    }
    displays[d] = std::move(cols);
  }
  std::map<std::string, PhoneDisplay> phone_displays;
  for (auto& d : o.instances("phone_display")) {
    PhoneDisplay pd;
    auto names = o.get_list("phone_display." + d + ".name");
    if (!names.empty()) pd.name_fields = names;
    auto numbers = o.get_list("phone_display." + d + ".numbers");
    if (!numbers.empty()) {
      pd.numbers.clear();
      for (auto& n : numbers) {
        auto colon = n.find(':');
        pd.numbers.push_back(colon == std::string::npos
                                 ? PhoneNumberSpec{trim(n), ""}
                                 : PhoneNumberSpec{trim(n.substr(0, colon)), trim(n.substr(colon + 1))});
      }
    }
    phone_displays[d] = std::move(pd);
  }
  std::map<std::string, Profile> out;
  for (auto& name : o.instances("profile")) {
    auto k = [&](const char* key) { return "profile." + name + "." + key; };
    Profile p;
    p.name = name;
    p.sources = o.get_list(k("sources"));
    p.timeout = o.get_duration(k("timeout"), std::chrono::milliseconds(2000));
    p.reverse_timeout = o.get_duration(k("reverse_timeout"), std::chrono::milliseconds(1000));
    auto display = o.get(k("display"));
    if (!display.empty()) {
      auto it = displays.find(display);
      if (it == displays.end())
        return sdk::Error::invalid("profile." + name + ": display '" + display +
                                   "' is not defined; add a [display." + display + "] section");
      p.display = it->second;
    } else {
      p.display = {{"Name", "name", "name", ""}, {"Number", "number", "number", ""}};
    }
    auto phone = o.get(k("phone_display"));
    if (!phone.empty()) {
      auto it = phone_displays.find(phone);
      if (it == phone_displays.end())
        return sdk::Error::invalid("profile." + name + ": phone_display '" + phone +
                                   "' is not defined; add a [phone_display." + phone + "] section");
      p.phone = it->second;
    }
    out[name] = std::move(p);
  }
  return out;
}

WorkerPool::WorkerPool(std::size_t max_threads) : max_(max_threads) {}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard lock(state_->mu);
    state_->stopping = true;
    state_->tasks.clear();
  }
  state_->cv.notify_all();
}

void WorkerPool::post(std::function<void()> task) {
  {
    std::lock_guard lock(state_->mu);
    state_->tasks.push_back(std::move(task));
    if (state_->idle < state_->tasks.size() && state_->threads < max_) {
      ++state_->threads;
      std::thread([s = state_] { run(s); }).detach();
    }
  }
  // Notified after unlocking: the woken worker does not block on the mutex
  // the poster still holds (a reverse lookup posts one task per source).
  state_->cv.notify_one();
}

void WorkerPool::run(std::shared_ptr<State> s) {
  std::unique_lock lock(s->mu);
  while (true) {
    ++s->idle;
    s->cv.wait(lock, [&] { return s->stopping || !s->tasks.empty(); });
    --s->idle;
    if (s->stopping) break;
    auto task = std::move(s->tasks.front());
    s->tasks.pop_front();
    lock.unlock();
    task();
    lock.lock();
  }
  --s->threads;
}

template <class T>
struct LookupService::Fanout {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> names;
  std::vector<std::optional<sdk::Result<T>>> results;
  std::size_t pending = 0;
};

template <class T, class F>
std::shared_ptr<LookupService::Fanout<T>> LookupService::fan_out(const Profile& p, Clock::time_point deadline,
                                                                 F call) {
  auto f = std::make_shared<Fanout<T>>();
  f->names = p.sources;
  f->results.resize(p.sources.size());
  std::vector<std::pair<std::size_t, std::shared_ptr<sdk::DirectorySource>>> queued;
  for (std::size_t i = 0; i < p.sources.size(); ++i) {
    auto src = resolver_(p.sources[i]);
    if (!src)
      f->results[i].emplace(sdk::Error::unavailable("directory source " + p.sources[i] + " is not running"));
    else
      queued.emplace_back(i, std::move(src));
  }
  f->pending = queued.size();
  for (auto& [i, src] : queued) {
    pool_.post([f, i = i, src = src, call, deadline] {
      std::optional<sdk::Result<T>> r;
      try {
        r.emplace(call(*src, deadline));
      } catch (const std::exception& e) {
        r.emplace(sdk::Error::internal(std::string("source threw: ") + e.what()));
      } catch (...) {
        r.emplace(sdk::Error::internal("source threw"));
      }
      {
        std::lock_guard lock(f->mu);
        f->results[i] = std::move(r);
        --f->pending;
      }
      f->cv.notify_all();
    });
  }
  return f;
}

LookupService::LookupService(std::map<std::string, Profile> profiles, SourceResolver resolver,
                             sdk::Logger& log)
    : profiles_(std::move(profiles)), resolver_(std::move(resolver)), log_(log) {
  for (auto& [_, p] : profiles_)
    for (auto& s : p.sources)
      if (!failures_.count(s)) failures_[s] = std::make_unique<FailureLog>();
}

const Profile* LookupService::profile(std::string_view name) const {
  auto it = profiles_.find(std::string(name));
  return it == profiles_.end() ? nullptr : &it->second;
}

std::string LookupService::source_type(const std::string& source) const {
  auto s = resolver_(source);
  return s ? std::string(s->type()) : std::string();
}

std::string LookupService::display_name(const Profile& p, const sdk::DirectoryEntry& e) const {
  for (auto& f : p.phone.name_fields)
    if (auto v = e.field(f); !v.empty()) return v;
  for (auto& c : p.display)
    if (c.type == "name")
      if (auto v = e.field(c.field); !v.empty()) return v;
  return {};
}

void order_entries(std::vector<sdk::DirectoryEntry>& entries, std::string_view term,
                   const std::vector<sdk::DisplayColumn>& display) {
  auto t = fold(term);
  struct Key {
    int rank;
    bool no_name;
    std::string name;
  };
  std::vector<std::pair<Key, std::size_t>> keys;
  keys.reserve(entries.size());
  for (std::size_t i = 0; i < entries.size(); ++i) {
    auto& e = entries[i];
    int rank = 3;
    bool any = false;
    for (auto& c : display) {
      auto it = e.fields.find(c.field);
      if (it == e.fields.end()) continue;
      any = true;
      rank = std::min(rank, match_rank(fold(it->second), t));
    }
    if (!any)
      for (auto& [_, v] : e.fields) rank = std::min(rank, match_rank(fold(v), t));
    std::string name;
    for (auto& c : display)
      if (c.type == "name")
        if (auto v = e.field(c.field); !v.empty()) { name = fold(v); break; }
    keys.push_back({{rank, name.empty(), std::move(name)}, i});
  }
  std::stable_sort(keys.begin(), keys.end(), [](auto& a, auto& b) {
    if (a.first.rank != b.first.rank) return a.first.rank < b.first.rank;
    if (a.first.no_name != b.first.no_name) return !a.first.no_name;
    return a.first.name < b.first.name;
  });
  std::vector<sdk::DirectoryEntry> sorted;
  sorted.reserve(entries.size());
  for (auto& [_, i] : keys) sorted.push_back(std::move(entries[i]));
  entries = std::move(sorted);
}

sdk::Result<sdk::LookupResult> LookupService::lookup(const sdk::LookupRequest& req) {
  auto* p = profile(req.profile);
  if (!p) return sdk::Error::not_found("directory profile '" + req.profile + "' is not configured");
  auto deadline = Clock::now() + p->timeout;
  sdk::DirectoryQuery q{req.term, req.user_uuid, deadline};
  auto f = fan_out<std::vector<sdk::DirectoryEntry>>(
      *p, deadline, [q](sdk::DirectorySource& s, Clock::time_point) { return s.search(q); });
  sdk::LookupResult out;
  out.columns = p->display;
  std::unique_lock lock(f->mu);
  f->cv.wait_until(lock, deadline, [&] { return f->pending == 0; });
  for (std::size_t i = 0; i < f->names.size(); ++i) {
    auto& name = f->names[i];
    if (!f->results[i]) {
      out.failed_sources.push_back(name);
      failures_[name]->failed(log_, "directory source " + name + " did not answer within " +
                                        std::to_string(p->timeout.count()) + " ms (profile " +
                                        p->name + "); its results were dropped");
      continue;
    }
    auto& r = *f->results[i];
    if (!r) {
      // The source has logged this failure itself (one line per streak).
      out.failed_sources.push_back(name);
      continue;
    }
    failures_[name]->succeeded(log_, name);
    for (auto& e : *r) out.entries.push_back(std::move(e));
  }
  lock.unlock();
  order_entries(out.entries, req.term, p->display);
  return out;
}

sdk::Result<std::vector<sdk::PhoneEntry>> LookupService::phone_lookup(const sdk::LookupRequest& req) {
  auto r = lookup(req);
  if (!r) return r.error();
  auto* p = profile(req.profile);
  std::vector<sdk::PhoneEntry> out;
  for (auto& e : r->entries) {
    auto name = display_name(*p, e);
    for (auto& n : p->phone.numbers) {
      auto number = e.field(n.field);
      if (number.empty()) continue;
      auto shown = n.format.empty() ? name
                                    : replace_all(replace_all(n.format, "{name}", name), "{number}", number);
      out.push_back({std::move(shown), std::move(number)});
    }
  }
  return out;
}

sdk::Result<std::optional<sdk::DirectoryEntry>> LookupService::reverse(const sdk::LookupRequest& req) {
  auto* p = profile(req.profile);
  if (!p) return sdk::Error::not_found("directory profile '" + req.profile + "' is not configured");
  using Opt = std::optional<sdk::DirectoryEntry>;
  auto deadline = Clock::now() + p->reverse_timeout;
  sdk::DirectoryQuery q{req.term, req.user_uuid, deadline};
  auto f = fan_out<Opt>(*p, deadline,
                        [q](sdk::DirectorySource& s, Clock::time_point) { return s.first_match(q); });
  // The first source in profile order that matched wins; stop waiting as soon
  // as every source before it has answered.
  std::optional<sdk::DirectoryEntry> found;
  auto decided = [&] {
    for (auto& r : f->results) {
      if (!r) return false;
      if (*r && r->value()) {
        found = r->value();
        return true;
      }
    }
    return true;
  };
  std::unique_lock lock(f->mu);
  if (!f->cv.wait_until(lock, deadline, decided)) {
    for (std::size_t i = 0; i < f->results.size(); ++i) {
      if (!f->results[i]) {
        failures_[f->names[i]]->failed(log_, "directory source " + f->names[i] +
                                                 " did not answer a reverse lookup within " +
                                                 std::to_string(p->reverse_timeout.count()) + " ms");
        continue;
      }
      if (*f->results[i] && f->results[i]->value()) {
        found = f->results[i]->value();
        break;
      }
    }
  }
  return found;
}

sdk::Result<std::vector<sdk::DisplayColumn>> LookupService::headers(std::string_view name) {
  auto* p = profile(name);
  if (!p) return sdk::Error::not_found("directory profile '" + std::string(name) + "' is not configured");
  return p->display;
}

sdk::Result<sdk::LookupResult> LookupService::list(
    std::string_view name, const std::map<std::string, std::vector<std::string>>& ids,
    const std::string& user_uuid) {
  auto* p = profile(name);
  if (!p) return sdk::Error::not_found("directory profile '" + std::string(name) + "' is not configured");
  auto deadline = Clock::now() + p->timeout;
  sdk::DirectoryQuery q{"", user_uuid, deadline};
  auto f = fan_out<std::vector<sdk::DirectoryEntry>>(
      *p, deadline, [q, ids](sdk::DirectorySource& s, Clock::time_point) {
        auto it = ids.find(std::string(s.name()));
        if (it == ids.end() || it->second.empty())
          return sdk::Result<std::vector<sdk::DirectoryEntry>>(std::vector<sdk::DirectoryEntry>{});
        return s.list(it->second, q);
      });
  sdk::LookupResult out;
  out.columns = p->display;
  std::unique_lock lock(f->mu);
  f->cv.wait_until(lock, deadline, [&] { return f->pending == 0; });
  for (std::size_t i = 0; i < f->names.size(); ++i) {
    if (!f->results[i] || !*f->results[i]) {
      out.failed_sources.push_back(f->names[i]);
      continue;
    }
    for (auto& e : f->results[i]->value()) out.entries.push_back(std::move(e));
  }
  lock.unlock();
  order_entries(out.entries, "", p->display);
  return out;
}

}  // namespace dialtone::plugins::directory
