#include "kernel/calls/call_completion.h"

#include <utility>

namespace dialtone::kernel {
namespace {

using sdk::LuaReply;
using sdk::LuaValue;
using sdk::LuaValues;

std::int64_t arg_id(const LuaValues& args, std::size_t i) {
  if (i >= args.size()) return 0;
  if (auto n = args[i].as_int(); n && *n > 0) return *n;
  if (auto* s = args[i].as_string(); s && !s->empty() && s->size() <= 18 &&
                                     s->find_first_not_of("0123456789") == std::string::npos)
    return std::stoll(*s);
  return 0;
}

std::string arg_string(const LuaValues& args, std::size_t i) {
  if (i >= args.size()) return {};
  if (auto* s = args[i].as_string()) return *s;
  return {};
}

}  // namespace

CallCompletion::CallCompletion(CallCoreImpl& calls, sdk::PresenceService& presence, sdk::Logger& log,
                               ConfigSource config, Timers timers)
    : calls_(calls), presence_(presence), log_(log), config_(std::move(config)), timers_(timers) {}

CallCompletion::~CallCompletion() { stop(); }

void CallCompletion::stop() {
  std::map<std::uint64_t, std::unique_ptr<Request>> dropped;
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
    dropped.swap(requests_);
    offers_.clear();
  }
  timers_thread_.stop();
  dropped.clear();  // the watches end here, outside mutex_
}

bool CallCompletion::busy(const sdk::PresenceState& s) {
  for (auto& d : s.dialogs)
    if (d.state != sdk::DialogState::terminated) return true;
  return false;
}

void CallCompletion::offer(std::int64_t caller, std::string exten, std::string context, std::string reason) {
  if (caller <= 0 || exten.empty()) return;
  if (log_.enabled(sdk::LogLevel::debug))
    log_.debug("call completion: user " + std::to_string(caller) + " may ask for " + exten + "@" + context + " (" +
               reason + ")");
  std::lock_guard lock(mutex_);
  if (stopped_) return;
  offers_[caller] = Offer{std::move(exten), std::move(context), std::move(reason),
                          std::chrono::steady_clock::now() + timers_.offer};
}

void CallCompletion::withdraw(std::int64_t caller) {
  std::lock_guard lock(mutex_);
  offers_.erase(caller);
}

std::unique_ptr<CallCompletion::Request> CallCompletion::take(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  auto it = requests_.find(id);
  if (it == requests_.end()) return nullptr;
  auto r = std::move(it->second);
  requests_.erase(it);
  return r;
}

std::string CallCompletion::toggle(std::int64_t caller) {
  std::unique_ptr<Request> cancelled;
  Offer offer;
  std::uint64_t id = 0;
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return "unavailable";
    for (auto it = requests_.begin(); it != requests_.end(); ++it)
      if (it->second->caller == caller) {
        cancelled = std::move(it->second);
        requests_.erase(it);
        break;
      }
    if (!cancelled) {
      auto o = offers_.find(caller);
      if (o == offers_.end() || o->second.until < std::chrono::steady_clock::now()) {
        if (o != offers_.end()) offers_.erase(o);
        return "unavailable";
      }
      offer = std::move(o->second);
      offers_.erase(o);
      id = next_id_++;
    }
  }
  if (cancelled) {
    log_.info("call completion: user " + std::to_string(caller) + " cancelled the request for " +
              cancelled->exten + "@" + cancelled->context);
    return "cancelled";  // its watches end with it, outside mutex_
  }

  auto r = std::make_unique<Request>();
  r->id = id;
  r->caller = caller;
  r->exten = offer.exten;
  r->context = offer.context;
  r->reason = offer.reason;
  r->callee_resource.kind = sdk::PresenceResource::Kind::extension;
  r->callee_resource.exten = offer.exten;
  r->callee_resource.context = offer.context;
  // The caller's own lines, through its first extension; a caller without
  // one is taken as free.
  bool caller_watched = false;
  if (auto snap = config_ ? config_() : nullptr)
    if (auto* user = snap->user(caller))
      for (auto line_id : user->line_ids)
        if (auto* line = snap->line(line_id); line && !line->extension_ids.empty())
          if (auto* x = snap->extension(line->extension_ids.front())) {
            r->caller_resource.kind = sdk::PresenceResource::Kind::extension;
            r->caller_resource.exten = x->exten;
            r->caller_resource.context = x->context;
            caller_watched = true;
            break;
          }
  const auto callee = r->callee_resource;
  const auto mine = r->caller_resource;
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return "unavailable";
    requests_[id] = std::move(r);
  }
  // Watches are made outside mutex_: their callbacks take it.
  auto callee_watch = presence_.watch(callee, [this, id](const sdk::PresenceState& s) { on_callee(id, s); });
  std::unique_ptr<sdk::PresenceService::Watch> caller_watch;
  if (caller_watched)
    caller_watch = presence_.watch(mine, [this, id](const sdk::PresenceState& s) { on_caller(id, s); });
  {
    std::lock_guard lock(mutex_);
    auto it = requests_.find(id);
    if (it != requests_.end()) {
      it->second->callee_watch = std::move(callee_watch);
      it->second->caller_watch = std::move(caller_watch);
    }
  }
  // The states now (a change before the watches existed is in them).
  on_caller(id, caller_watched ? presence_.state(mine) : sdk::PresenceState{});
  on_callee(id, presence_.state(callee));
  auto wait = offer.reason == "busy" ? timers_.busy_available : timers_.noanswer_available;
  timers_thread_.after(wait, [this, id] { expire(id); });
  log_.info("call completion: user " + std::to_string(caller) + " waits for " + offer.exten + "@" + offer.context +
            " (" + offer.reason + ")");
  return "activated";
}

void CallCompletion::on_callee(std::uint64_t id, const sdk::PresenceState& s) {
  std::lock_guard lock(mutex_);
  auto it = requests_.find(id);
  if (it == requests_.end()) return;
  auto& r = *it->second;
  if (busy(s)) {
    r.callee_was_busy = true;
    r.callee_free = false;
  } else if (r.callee_was_busy) {
    r.callee_free = true;
  }
  maybe_fire(r);
}

void CallCompletion::on_caller(std::uint64_t id, const sdk::PresenceState& s) {
  std::lock_guard lock(mutex_);
  auto it = requests_.find(id);
  if (it == requests_.end()) return;
  it->second->caller_busy = busy(s);
  maybe_fire(*it->second);
}

void CallCompletion::maybe_fire(Request& r) {
  if (r.fired || !r.callee_free || r.caller_busy || stopped_) return;
  r.fired = true;
  // The watches end in call_back, on the timer thread: never from their own callback.
  timers_thread_.after(std::chrono::milliseconds(0), [this, id = r.id] { call_back(id); });
}

void CallCompletion::call_back(std::uint64_t id) {
  auto r = take(id);
  if (!r) return;
  const std::string what = "call completion: user " + std::to_string(r->caller) + " to " + r->exten + "@" + r->context;
  auto snap = config_ ? config_() : nullptr;
  const sdk::ConfigUser* user = snap ? snap->user(r->caller) : nullptr;
  if (!user) {
    log_.warn(what + ": the user is gone; no callback");
    return;
  }
  auto o = CallCoreImpl::user_origination(*snap, *user, std::nullopt, r->exten, r->context);
  if (!o) {
    log_.warn(what + ": no callback: " + o.error().message);
    return;
  }
  o->ring_seconds = timers_.recall_seconds;
  o->variables["XIVO_USERID"] = std::to_string(user->id);
  o->variables["XIVO_CALLCOMPLETION"] = "1";
  auto leg = calls_.originate(std::move(*o));
  if (!leg) {
    log_.warn(what + ": the callback could not ring the user: " + leg.error().message);
    return;
  }
  log_.info(what + ": the callee is free; calling the user back (" + *leg + ")");
}

void CallCompletion::expire(std::uint64_t id) {
  auto r = take(id);
  if (!r) return;
  log_.info("call completion: user " + std::to_string(r->caller) + " to " + r->exten + "@" + r->context +
            ": the callee did not become free in time; request dropped");
}

void CallCompletion::clear() {
  std::map<std::uint64_t, std::unique_ptr<Request>> dropped;
  {
    std::lock_guard lock(mutex_);
    dropped.swap(requests_);
    offers_.clear();
  }
}

std::size_t CallCompletion::requests() const {
  std::lock_guard lock(mutex_);
  return requests_.size();
}

std::vector<sdk::LuaFunctionSpec> CallCompletion::lua_functions() {
  std::vector<sdk::LuaFunctionSpec> f;
  f.push_back({"offer", "caller: integer|string, exten: string, context: string, reason: string", "",
               "The call of user `caller` to `exten`@`context` was `busy` or not answered (`noanswer`): for "
               "the offer time (30 s) the caller may ask for call completion (seed 5.3). A later offer replaces it.",
               [this](const LuaValues& args) -> LuaReply {
                 auto reason = arg_string(args, 3);
                 if (reason != "busy" && reason != "noanswer")
                   return LuaReply::error("completion.offer: reason must be \"busy\" or \"noanswer\", not \"" +
                                          reason + "\"");
                 offer(arg_id(args, 0), arg_string(args, 1), arg_string(args, 2), reason);
                 return LuaReply::values({});
               }});
  f.push_back({"withdraw", "caller: integer|string", "",
               "Drops the offer of user `caller` (a call that cannot be completed, e.g. the callee's "
               "simultaneous-calls limit).",
               [this](const LuaValues& args) -> LuaReply {
                 withdraw(arg_id(args, 0));
                 return LuaReply::values({});
               }});
  f.push_back({"toggle", "caller: integer|string", "result: string",
               "*40 of user `caller`: `cancelled` when a request was waiting (it is dropped), `activated` when "
               "an offer was pending (the caller is called back once the callee has been in a call and is free "
               "again, and the caller is free; the callee is then dialed), else `unavailable`.",
               [this](const LuaValues& args) -> LuaReply {
                 return LuaReply::values({LuaValue(toggle(arg_id(args, 0)))});
               }});
  return f;
}

sdk::Status CallCompletion::export_lua(sdk::LuaHost& lua) { return lua.export_module("completion", lua_functions()); }

}  // namespace dialtone::kernel
