#include "conference_rooms.h"

#include <algorithm>
#include <chrono>

namespace dialtone::plugins::media {

namespace sm = sdk::media;
using sdk::LuaValue;
using sdk::LuaValues;

namespace {

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void ConferenceRooms::join(const std::shared_ptr<sm::MediaEngine>& engine, const std::string& channel,
                           const std::shared_ptr<sm::Endpoint>& endpoint, Join o, sdk::LuaResume resume) {
  const std::string key = o.room;
  {
    std::unique_lock lk(m_);
    engine_ = engine;
    auto& r = rooms_[key];
    if (!r.mixer) {
      // The first caller's settings are the room's until it empties.
      r.mixer = engine->create_mixer();
      r.moh_class = o.moh_class;
      r.quiet = o.quiet;
      r.waiting_room = o.waiting_room;
    }
    if (o.max_participants && r.members.size() >= o.max_participants) {
      if (r.members.empty()) rooms_.erase(key);
      lk.unlock();
      resume(LuaValues{LuaValue(false), LuaValue("full")});
      return;
    }
    const bool organizer_was_in = has_organizer(r);
    Member m;
    m.channel = channel;
    m.endpoint = endpoint;
    m.admin = o.admin;
    m.muted_by_admin = r.others_muted && !o.admin;
    m.waiting = r.waiting_room && !o.admin && !organizer_was_in;
    m.caller_name = o.caller_name;
    m.caller_number = o.caller_number;
    m.joined_at = unix_now();
    m.resume = std::move(resume);
    r.members.push_back(std::move(m));
    r.mixer->add(endpoint);
    Member& newcomer = r.members.back();
    apply_mute(r, newcomer);
    if (newcomer.waiting) {
      // Nobody talks yet: the others wait to music too, no join sound.
      music(r, newcomer);
    } else {
      if (r.waiting_room && o.admin && !organizer_was_in)
        // The organizer opens the room: those waiting stop their music and talk.
        for (auto& w : r.members)
          if (w.waiting) {
            w.waiting = false;
            apply_mute(r, w);
            w.endpoint->stop_playing();
          }
      if (r.members.size() == 1) {
        music(r, newcomer);
      } else {
        // The others hear the newcomer arrive; the one who was alone stops
        // hearing music (the sound replaces it, or nothing does when quiet).
        for (std::size_t i = 0; i + 1 < r.members.size(); ++i) {
          if (!r.quiet) r.members[i].endpoint->play({"confbridge-join"});
          else if (r.members.size() == 2) r.members[i].endpoint->stop_playing();
        }
      }
    }
  }
  // Listening after the member is in: a hang-up that came first makes
  // listen() return 0, and the caller leaves at once.
  std::weak_ptr<ConferenceRooms> weak = weak_from_this();
  auto id = engine->listen(channel, [weak, key, channel](const sm::MediaEvent& e) {
    auto self = weak.lock();
    if (!self) return;
    if (e.type == sm::EventType::detached) self->leave(key, channel, "hangup");
    if (e.type == sm::EventType::dtmf) self->digit(key, channel, e.digit);
  });
  if (!id) return leave(key, channel, "hangup");
  std::lock_guard lk(m_);
  auto r = rooms_.find(key);
  if (r != rooms_.end())
    for (auto& m : r->second.members)
      if (m.channel == channel) return (void)(m.listener = id);
  // It left meanwhile.
  engine->unlisten(channel, id);
}

void ConferenceRooms::leave(const std::string& key, const std::string& channel, const char* why) {
  Member gone;
  std::shared_ptr<sm::MediaEngine> engine;
  {
    std::lock_guard lk(m_);
    engine = engine_.lock();
    auto r = rooms_.find(key);
    if (r == rooms_.end()) return;
    Room& room = r->second;
    auto& members = room.members;
    auto it = std::find_if(members.begin(), members.end(), [&](const Member& m) { return m.channel == channel; });
    if (it == members.end()) return;
    gone = std::move(*it);
    members.erase(it);
    room.mixer->remove(gone.endpoint);
    if (members.empty()) {
      rooms_.erase(r);
    } else if (room.waiting_room && gone.admin && !has_organizer(room)) {
      // The last organizer left: the others wait for the next one.
      for (auto& m : members) {
        m.waiting = true;
        apply_mute(room, m);
        music(room, m);
      }
    } else if (members.size() == 1) {
      if (!members.front().waiting) music(room, members.front());  // one waiting hears its music already
    } else if (!room.quiet) {
      for (auto& m : members)
        if (!m.waiting) m.endpoint->play({"confbridge-leave"});
    }
  }
  if (engine && gone.listener) engine->unlisten(channel, gone.listener);
  if (gone.resume) gone.resume(LuaValues{LuaValue(true), LuaValue(why)});
}

void ConferenceRooms::digit(const std::string& key, const std::string& channel, char d) {
  if (d == '#') return leave(key, channel, "left");
  std::lock_guard lk(m_);
  auto r = rooms_.find(key);
  if (r == rooms_.end()) return;
  Room& room = r->second;
  auto me = std::find_if(room.members.begin(), room.members.end(), [&](const Member& m) { return m.channel == channel; });
  if (me == room.members.end() || me->waiting) return;  // a waiting participant keeps its music
  if (d == '1') {
    me->muted = !me->muted;
    apply_mute(room, *me);
    me->endpoint->play({me->muted ? "conf-muted" : "conf-unmuted"});
  } else if (d == '2' && me->admin) {
    room.others_muted = !room.others_muted;
    for (auto& m : room.members)
      if (!m.admin) {
        m.muted_by_admin = room.others_muted;
        apply_mute(room, m);
      }
    me->endpoint->play({room.others_muted ? "conf-now-muted" : "conf-now-unmuted"});
  }
}

std::vector<ConferenceRooms::Participant> ConferenceRooms::list(const std::string& key) const {
  std::vector<Participant> out;
  std::lock_guard lk(m_);
  auto r = rooms_.find(key);
  if (r == rooms_.end()) return out;
  for (auto& m : r->second.members)
    out.push_back({m.channel, m.caller_name, m.caller_number, m.admin, m.muted || m.muted_by_admin, m.waiting,
                   m.joined_at});
  return out;
}

sdk::Status ConferenceRooms::act(const std::string& key, const std::string& id, Action action) {
  {
    std::lock_guard lk(m_);
    auto r = rooms_.find(key);
    auto* m = [&]() -> Member* {
      if (r == rooms_.end()) return nullptr;
      for (auto& x : r->second.members)
        if (x.channel == id) return &x;
      return nullptr;
    }();
    if (!m) return sdk::Error::not_found("no participant '" + id + "' in conference room " + key);
    if (action != Action::kick) {
      m->muted_by_admin = action == Action::mute;
      apply_mute(r->second, *m);
      return {};
    }
  }
  if (log_) log_->info("conference: participant " + id + " kicked out of room " + key);
  leave(key, id, "kicked");
  return {};
}

void ConferenceRooms::apply_mute(Room& r, Member& m) {
  r.mixer->mute(m.endpoint, m.muted || m.muted_by_admin || m.waiting);
}

bool ConferenceRooms::has_organizer(const Room& r) {
  return std::any_of(r.members.begin(), r.members.end(), [](const Member& m) { return m.admin; });
}

void ConferenceRooms::music(Room& r, Member& m) {
  auto engine = engine_.lock();
  std::vector<std::string> files;
  if (m.waiting) files.push_back("conf-waitforleader");
  if (engine && !r.moh_class.empty())
    for (auto& p : engine->music_files(r.moh_class)) files.push_back(p.string());
  if (files.size() == (m.waiting ? 1u : 0u)) {
    if (!r.moh_class.empty() && log_)
      log_->warn("conference: music on hold class '" + r.moh_class +
                 "' has no files: a caller alone or waiting in the room hears silence; install "
                 "asterisk-moh-opsound-wav or set the room's music_on_hold to an existing class");
    if (files.empty()) return m.endpoint->stop_playing();
    return m.endpoint->play(files);  // the waiting prompt, once
  }
  sm::PlayOptions o;
  o.loop = true;
  m.endpoint->play(files, o);
}

std::size_t ConferenceRooms::participants(const std::string& key) const {
  std::lock_guard lk(m_);
  auto r = rooms_.find(key);
  return r == rooms_.end() ? 0 : r->second.members.size();
}

}  // namespace dialtone::plugins::media
