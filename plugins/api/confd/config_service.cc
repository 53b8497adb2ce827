#include "plugins/api/confd/config_service.h"

#include <rapidjson/document.h>

#include <algorithm>

#include "plugins/api/confd/config_snapshot.h"
#include "plugins/api/confd/user_features.h"

namespace dialtone::plugins::api::confd {
namespace {

// An Engine answer as a Result: 2xx is ok, 404 not_found, 400 invalid.
sdk::Error error_of(const sdk::HttpResponse& r) {
  rapidjson::Document d;
  d.Parse(r.body.c_str());
  std::string message = r.body;
  if (!d.HasParseError() && d.IsArray() && !d.Empty() && d[0].IsString()) message = d[0].GetString();
  if (r.status == 404) return sdk::Error::not_found(message);
  if (r.status == 400) return sdk::Error::invalid(message);
  if (r.status == 409) return sdk::Error::conflict(message);
  return sdk::Error::unavailable(message);
}

}  // namespace

class ConfigServiceImpl::WatchHandle final : public sdk::ConfigService::Watch {
 public:
  WatchHandle(std::weak_ptr<ConfigServiceImpl> owner, std::uint64_t id) : owner_(std::move(owner)), id_(id) {}
  ~WatchHandle() override {
    if (auto o = owner_.lock()) o->unwatch(id_);
  }

 private:
  std::weak_ptr<ConfigServiceImpl> owner_;
  std::uint64_t id_;
};

ConfigServiceImpl::ConfigServiceImpl(sdk::Store& store, sdk::EventBus& bus, sdk::Executor& executor,
                                     sdk::Logger& log)
    : store_(store), bus_(bus), executor_(executor), log_(log),
      engine_(std::make_unique<Engine>(store, bus)) {
  current_.store(std::make_shared<const sdk::ConfigSnapshot>());
  // A confd write returns once the snapshot holds it: the next call or
  // REGISTER sees what the admin just saved. Up to 15 s, not the default 2:
  // a thousand users imported on a busy machine take longer to load, and a
  // phone registering right after the 201 must not be refused as unknown.
  engine_->on_commit([this] {
    if (!refresh(std::chrono::seconds(15))) log_.warn("config: the snapshot could not be refreshed after a write; it follows the next change");
  });
}

ConfigServiceImpl::~ConfigServiceImpl() { stop(); }

sdk::Status ConfigServiceImpl::start() {
  {
    std::lock_guard lock(mu_);
    stopped_ = false;
  }
  // Listen first, so a change committed while the first load runs is not lost.
  std::weak_ptr<ConfigServiceImpl> weak = weak_from_this();
  listener_ = store_.listen("dialtone_config", [weak](const std::string&) {
    if (auto self = weak.lock()) self->refresh_async();
  });
  auto t0 = std::chrono::steady_clock::now();
  if (!refresh(std::chrono::minutes(1)))
    return sdk::Error::unavailable("config: the configuration could not be loaded from the store (see above)");
  auto snap = snapshot();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  log_.info("config: " + std::to_string(snap->users.size()) + " users, " + std::to_string(snap->lines.size()) +
            " lines, " + std::to_string(snap->extensions.size()) + " extensions loaded in " + std::to_string(ms) +
            " ms");
  return {};
}

void ConfigServiceImpl::stop() {
  listener_.reset();
  std::unique_lock lock(mu_);
  stopped_ = true;
  cv_.wait(lock, [this] { return !building_; });
}

bool ConfigServiceImpl::refresh(std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  std::unique_lock lock(mu_);
  const std::uint64_t ticket = ++requested_;
  while (attempted_ < ticket) {
    if (stopped_) return false;
    if (!building_) {
      // Nobody is building: this thread does, for every request so far.
      building_ = true;
      std::uint64_t target = requested_;
      lock.unlock();
      build(target);
      lock.lock();
      building_ = false;
      cv_.notify_all();
      continue;
    }
    if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && attempted_ < ticket) return false;
  }
  return done_ >= ticket;
}

void ConfigServiceImpl::refresh_async() {
  {
    std::lock_guard lock(mu_);
    if (async_pending_ || stopped_) return;
    async_pending_ = true;
  }
  std::weak_ptr<ConfigServiceImpl> weak = weak_from_this();
  executor_.post([weak] {
    auto self = weak.lock();
    if (!self) return;
    {
      std::lock_guard lock(self->mu_);
      self->async_pending_ = false;
    }
    self->refresh(std::chrono::minutes(1));
  });
}

// Runs with building_ set, without the lock.
void ConfigServiceImpl::build(std::uint64_t target) {
  auto loaded = load_snapshot(store_, version_ + 1);
  std::shared_ptr<const sdk::ConfigSnapshot> snap;
  {
    std::lock_guard lock(mu_);
    attempted_ = target;
    if (loaded) {
      ++version_;
      done_ = target;
      snap = *loaded;
      current_.store(snap);
    }
  }
  if (!loaded) {
    log_.error("config: cannot read the configuration (" + loaded.error().message +
               "); calls keep the previous snapshot, retrying in 1 s");
    bool retry = false;
    {
      std::lock_guard lock(mu_);
      retry = !retry_pending_ && !stopped_;
      retry_pending_ = true;
    }
    if (retry) {
      std::weak_ptr<ConfigServiceImpl> weak = weak_from_this();
      executor_.after(std::chrono::seconds(1), [weak] {
        if (auto self = weak.lock()) {
          {
            std::lock_guard lock(self->mu_);
            self->retry_pending_ = false;
          }
          self->refresh_async();
        }
      });
    }
    return;
  }
  // Under the lock, so a watch handle destroyed elsewhere returns only once
  // its callback is no longer running.
  std::lock_guard lock(watch_mu_);
  for (auto& [id, f] : watchers_) f(*snap);
}

std::unique_ptr<sdk::ConfigService::Watch> ConfigServiceImpl::watch(
    std::function<void(const sdk::ConfigSnapshot&)> on_change) {
  std::lock_guard lock(watch_mu_);
  auto id = next_watch_++;
  watchers_[id] = std::move(on_change);
  return std::make_unique<WatchHandle>(weak_from_this(), id);
}

void ConfigServiceImpl::unwatch(std::uint64_t id) {
  std::lock_guard lock(watch_mu_);
  watchers_.erase(id);
}

void ConfigServiceImpl::set_forward(std::int64_t user_id, std::string kind, bool enabled,
                                    std::optional<std::string> destination,
                                    std::function<void(sdk::Result<sdk::ConfigForward>)> done) {
  auto self = shared_from_this();
  executor_.post([self, user_id, kind, enabled, destination, done] {
    // The same body PUT /1.1/users/{id}/forwards takes, checked by the same code.
    rapidjson::Document body(rapidjson::kObjectType);
    auto& a = body.GetAllocator();
    std::vector<std::string> kinds;
    if (kind == "all" && !enabled && !destination) {
      kinds = kForwardKinds;
    } else if (std::find(kForwardKinds.begin(), kForwardKinds.end(), kind) != kForwardKinds.end()) {
      kinds = {kind};
    } else {
      done(sdk::Error::invalid("unknown forward '" + kind + "' (busy, noanswer, unconditional; all to turn "
                               "the three off)"));
      return;
    }
    for (auto& k : kinds) {
      rapidjson::Value f(rapidjson::kObjectType);
      f.AddMember("enabled", enabled, a);
      if (destination) f.AddMember("destination", rapidjson::Value(destination->c_str(), a), a);
      body.AddMember(rapidjson::Value(k.c_str(), a), f, a);
    }
    sdk::ConfigForward saved;
    auto r = self->engine_->write([&](sdk::Transaction& tx) {
      sdk::Params ps;
      std::string sets;
      for (auto m = body.MemberBegin(); m != body.MemberEnd(); ++m)
        forward_sets(m->value, m->name.GetString(), ps, sets);
      save_user_features(*self->engine_, tx, static_cast<long>(user_id), sets, ps);
      const std::string k = kinds.size() == 1 ? kinds[0] : "unconditional";
      auto q = run(tx, "SELECT forward_" + k + "_enabled AS enabled, forward_" + k +
                           "_destination AS destination FROM confd_users WHERE id = $1",
                   {std::to_string(user_id)});
      saved.enabled = q.get(0, "enabled") == "t";
      if (q.rows[0][1]) saved.destination = *q.rows[0][1];
      return sdk::HttpResponse::empty(204);
    });
    if (r.status >= 300) {
      done(error_of(r));
      return;
    }
    done(saved);
  });
}

void ConfigServiceImpl::set_service(std::int64_t user_id, std::string service, std::optional<bool> enabled,
                                    std::function<void(sdk::Result<bool>)> done) {
  auto self = shared_from_this();
  executor_.post([self, user_id, service, enabled, done] {
    if (service != "callrecord" && std::find(kServiceNames.begin(), kServiceNames.end(), service) == kServiceNames.end()) {
      done(sdk::Error::invalid("unknown service '" + service + "' (dnd, incallfilter, callrecord)"));
      return;
    }
    bool now = false;
    auto r = self->engine_->write([&](sdk::Transaction& tx) {
      now = enabled.value_or(false);
      if (!enabled) {
        auto q = run(tx, "SELECT " + service_column(service) + " AS on FROM confd_users WHERE id = $1 FOR UPDATE",
                     {std::to_string(user_id)});
        if (q.rows.empty()) throw ApiError{404, {not_found("User", "id", std::to_string(user_id))}};
        now = q.get(0, "on") != "t";
      }
      rapidjson::Document body(rapidjson::kObjectType);
      body.AddMember("enabled", now, body.GetAllocator());
      sdk::Params ps;
      std::string sets;
      service_sets(body, service, ps, sets);
      save_user_features(*self->engine_, tx, static_cast<long>(user_id), sets, ps);
      return sdk::HttpResponse::empty(204);
    });
    if (r.status >= 300) {
      done(error_of(r));
      return;
    }
    done(now);
  });
}

void ConfigServiceImpl::set_line_devices(std::string sql, std::vector<std::string> params, std::string action,
                                         std::string device_id, std::string none_matched,
                                         std::function<void(sdk::Result<std::vector<std::int64_t>>)> done) {
  auto self = shared_from_this();
  executor_.post([self, sql, params, action, device_id, none_matched, done] {
    std::vector<std::int64_t> ids;
    auto r = self->engine_->write([&](sdk::Transaction& tx) {
      auto q = run(tx, sql, sdk::Params(params.begin(), params.end()));
      if (q.rows.empty() && !none_matched.empty()) throw ApiError{404, {none_matched}};
      for (auto& row : q.rows) {
        long lid = std::stol(*row[0]);
        ids.push_back(lid);
        self->engine_->notify_line_device(tx, action, lid, device_id);
      }
      return sdk::HttpResponse::empty(204);
    });
    if (r.status >= 300) {
      done(error_of(r));
      return;
    }
    done(ids);
  });
}

void ConfigServiceImpl::associate_device(std::string code, std::string device_id,
                                         std::function<void(sdk::Result<std::vector<std::int64_t>>)> done) {
  set_line_devices("UPDATE confd_lines SET device_id = $2 WHERE provisioning_code = $1 RETURNING id",
                   {code, device_id}, "created", device_id, "no line has provisioning code " + code,
                   std::move(done));
}

void ConfigServiceImpl::dissociate_device(std::string device_id,
                                          std::function<void(sdk::Result<std::vector<std::int64_t>>)> done) {
  set_line_devices("UPDATE confd_lines SET device_id = NULL WHERE device_id = $1 RETURNING id", {device_id},
                   "deleted", device_id, "", std::move(done));
}

}  // namespace dialtone::plugins::api::confd
