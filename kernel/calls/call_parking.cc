// Parking in the call core (seed 5.25): a call waits in a numbered slot of
// a lot until someone dials the slot (unpark), its time runs out, or it
// hangs up. The core only keeps the slots and the timers and tells the
// parked call's dialplan what became of it (wait_parked); the dialplan
// plays the slot number and the music, and decides where a call whose
// time ran out goes (lua-dialplan/lib/parking.lua).
#include <chrono>

#include "kernel/calls/call_core.h"

namespace dialtone::kernel {
namespace {

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::vector<std::pair<std::string, std::string>> park_fields(const sdk::ParkedCall& p) {
  return {{"slot", std::to_string(p.slot)}, {"lot", p.lot}, {"context", p.context}};
}

}  // namespace

sdk::Result<int> CallCoreImpl::park(std::string_view channel_id, sdk::ParkRequest request) {
  if (request.lot.empty()) return sdk::Error::invalid("parking: the request names no lot");
  if (request.first_slot <= 0 || request.last_slot < request.first_slot)
    return sdk::Error::invalid("parking: lot " + request.lot + " has no slots (" + std::to_string(request.first_slot) +
                               "-" + std::to_string(request.last_slot) + ")");
  sdk::ParkedCall p;
  sdk::Channel c;
  std::uint64_t generation;
  {
    std::lock_guard lock(mutex_);
    auto it = channels_.find(channel_id);
    if (it == channels_.end()) return sdk::Error::not_found("no channel " + std::string(channel_id));
    if (parked_.count(it->first))
      return sdk::Error::conflict("channel " + it->first + " is parked already (slot " +
                                  std::to_string(parked_[it->first].call.slot) + ")");
    c = it->second;
    auto& lot = lots_[request.lot];
    const int n = request.last_slot - request.first_slot + 1;
    // XiVO's "next" slot selection: the search starts after the last slot
    // taken, so a slot just freed is not handed out again at once.
    int start = lot.last_slot >= request.first_slot && lot.last_slot < request.last_slot ? lot.last_slot + 1
                                                                                          : request.first_slot;
    int slot = 0;
    for (int i = 0; i < n && !slot; ++i) {
      int candidate = request.first_slot + (start - request.first_slot + i) % n;
      if (!lot.slots.count(candidate)) slot = candidate;
    }
    if (!slot)
      return sdk::Error::unavailable("full: the " + std::to_string(n) + " slots of parking lot " + request.lot +
                                     " are taken");
    lot.last_slot = slot;
    lot.slots[slot] = c.id;
    p.channel = c.id;
    p.lot = request.lot;
    p.context = request.context;
    p.slot = slot;
    p.parker = request.parker;
    p.parker_endpoint = request.parker_endpoint;
    p.parked_at_ms = unix_ms();
    p.timeout_seconds = std::max(0, request.timeout_seconds);
    generation = next_park_++;
    parked_[c.id] = Parked{p, generation, nullptr, {}};
  }
  auto fields = park_fields(p);
  fields.emplace_back("parker", p.parker);
  fields.emplace_back("parker_endpoint", p.parker_endpoint);
  fields.emplace_back("timeout", std::to_string(p.timeout_seconds));
  queue_service("calls.park.parked", c, std::move(fields));
  if (p.timeout_seconds > 0)
    timers_.after(std::chrono::seconds(p.timeout_seconds),
                  [this, id = c.id, generation] { park_timeout(id, generation); });
  return p.slot;
}

bool CallCoreImpl::unpark_as(const std::string& channel_id, const std::string& outcome, sdk::ParkedCall* out) {
  std::function<void(std::string)> waiter;
  {
    std::lock_guard lock(mutex_);
    auto it = parked_.find(channel_id);
    if (it == parked_.end()) return false;
    if (!it->second.outcome.empty()) {
      // Out of its slot already (taken, or its time ran out) and not yet
      // read by wait_parked: not parked any more, so no second outcome (a
      // retrieved call hanging up later is no abandoned parked call).
      if (outcome == "hangup") parked_.erase(it);
      return false;
    }
    auto& lot = lots_[it->second.call.lot];
    lot.slots.erase(it->second.call.slot);
    if (out) *out = it->second.call;
    waiter = std::move(it->second.waiter);
    if (!waiter && outcome == "hangup") {
      parked_.erase(it);  // the channel is gone: wait_parked answers "hangup" without it
    } else if (!waiter) {
      // Nobody waits yet (the dialplan still plays the slot number): kept,
      // out of its slot, for wait_parked to read.
      it->second.outcome = outcome;
      it->second.call.slot = 0;
    } else {
      parked_.erase(it);
    }
  }
  if (waiter) waiter(outcome);
  return true;
}

void CallCoreImpl::park_timeout(const std::string& channel_id, std::uint64_t generation) {
  sdk::ParkedCall p;
  sdk::Channel c;
  {
    std::lock_guard lock(mutex_);
    auto it = parked_.find(channel_id);
    if (it == parked_.end() || it->second.generation != generation || it->second.call.slot == 0) return;
    auto ch = channels_.find(channel_id);
    if (ch == channels_.end()) return;
    c = ch->second;
  }
  if (!unpark_as(channel_id, "timeout", &p)) return;
  auto fields = park_fields(p);
  fields.emplace_back("parker_endpoint", p.parker_endpoint);
  queue_service("calls.park.timeout", c, std::move(fields));
}

void CallCoreImpl::wait_parked(std::string_view channel_id, std::function<void(std::string)> done) {
  std::string decided;
  {
    std::lock_guard lock(mutex_);
    auto it = parked_.find(std::string(channel_id));
    if (it == parked_.end()) {
      decided = "hangup";
    } else if (!it->second.outcome.empty()) {
      decided = it->second.outcome;
      parked_.erase(it);
    } else if (!channels_.count(channel_id)) {
      decided = "hangup";
    } else {
      it->second.waiter = std::move(done);
      return;
    }
  }
  done(decided);
}

void CallCoreImpl::unpark(std::string_view retriever_id, std::string_view lot_key, int slot,
                          std::function<void(sdk::Status)> done) {
  const std::string retriever(retriever_id);
  std::string parked, context;
  {
    std::lock_guard lock(mutex_);
    auto lot = lots_.find(std::string(lot_key));
    auto it = lot == lots_.end() ? std::map<int, std::string>::iterator() : lot->second.slots.find(slot);
    if (lot == lots_.end() || it == lot->second.slots.end())
      return done(sdk::Error::not_found("slot " + std::to_string(slot) + " of parking lot " + std::string(lot_key) +
                                        " is empty"));
    parked = it->second;
    if (parked == retriever) return done(sdk::Error::invalid("a parked call cannot take itself out"));
    // Out of the slot now: a second retriever dialing the same slot finds it empty.
    lot->second.slots.erase(it);
    auto p = parked_.find(parked);
    if (p != parked_.end()) {
      p->second.call.slot = 0;
      context = p->second.call.context;
    }
  }
  // Said before the two are joined, as Asterisk's parking does (the parked
  // call leaves its slot, then enters the retriever's bridge): the CEL has
  // PARK_END before BRIDGE_ENTER.
  if (auto c = channel(parked))
    queue_service("calls.park.retrieved", *c,
                  {{"slot", std::to_string(slot)}, {"lot", std::string(lot_key)}, {"context", context},
                   {"retriever", retriever}});
  join_answered(parked, retriever, [this, parked, slot, lot = std::string(lot_key), done](sdk::Status s) {
    sdk::ParkedCall p;
    if (!s) {
      // The parked caller left meanwhile (its waiter heard "hangup"), or the
      // retriever could not be answered: the parked call hears the news too.
      (void)unpark_as(parked, "hangup", &p);
      return done(sdk::Error::not_found("slot " + std::to_string(slot) + " of parking lot " + lot +
                                        " could not be taken: " + s.error().message));
    }
    (void)unpark_as(parked, "retrieved", &p);
    done({});
  });
}

void CallCoreImpl::parked_by_transfer(const std::string& parked, const sdk::Channel& transferor) {
  if (transferor.endpoint.empty()) return;
  std::string endpoint = transferor.backend + "/" + transferor.endpoint;
  {
    std::lock_guard lock(mutex_);
    auto it = parked_.find(parked);
    if (it == parked_.end() || it->second.call.slot == 0 || !it->second.call.parker_endpoint.empty()) return;
    it->second.call.parker = transferor.id;
    it->second.call.parker_endpoint = endpoint;
  }
  (void)set_variable(parked, "PARKER_ENDPOINT", endpoint);
}

std::vector<sdk::ParkedCall> CallCoreImpl::parked_calls() const {
  std::vector<sdk::ParkedCall> out;
  std::lock_guard lock(mutex_);
  for (auto& [lot, l] : lots_)
    for (auto& [slot, channel] : l.slots)
      if (auto it = parked_.find(channel); it != parked_.end()) out.push_back(it->second.call);
  return out;
}

}  // namespace dialtone::kernel
