#include "conference_rooms.h"

#include <algorithm>

namespace dialtone::plugins::media {

namespace sm = sdk::media;
using sdk::LuaValue;
using sdk::LuaValues;

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
    }
    if (o.max_participants && r.members.size() >= o.max_participants) {
      if (r.members.empty()) rooms_.erase(key);
      lk.unlock();
      resume(LuaValues{LuaValue(false), LuaValue("full")});
      return;
    }
    Member m;
    m.channel = channel;
    m.endpoint = endpoint;
    m.admin = o.admin;
    m.muted_by_admin = r.others_muted && !o.admin;
    m.resume = std::move(resume);
    r.members.push_back(std::move(m));
    r.mixer->add(endpoint);
    apply_mute(r, r.members.back());
    if (r.members.size() == 1) {
      alone_music(r);
    } else {
      // The others hear the newcomer arrive; the one who was alone stops
      // hearing music (the sound replaces it, or nothing does when quiet).
      for (std::size_t i = 0; i + 1 < r.members.size(); ++i) {
        if (!r.quiet) r.members[i].endpoint->play({"confbridge-join"});
        else if (r.members.size() == 2) r.members[i].endpoint->stop_playing();
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
    auto& members = r->second.members;
    auto it = std::find_if(members.begin(), members.end(), [&](const Member& m) { return m.channel == channel; });
    if (it == members.end()) return;
    gone = std::move(*it);
    members.erase(it);
    r->second.mixer->remove(gone.endpoint);
    if (members.empty()) {
      rooms_.erase(r);
    } else if (members.size() == 1) {
      alone_music(r->second);
    } else if (!r->second.quiet) {
      for (auto& m : members) m.endpoint->play({"confbridge-leave"});
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
  if (me == room.members.end()) return;
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

void ConferenceRooms::apply_mute(Room& r, Member& m) { r.mixer->mute(m.endpoint, m.muted || m.muted_by_admin); }

void ConferenceRooms::alone_music(Room& r) {
  auto& lone = r.members.front();
  auto engine = engine_.lock();
  std::vector<std::string> files;
  if (engine && !r.moh_class.empty())
    for (auto& p : engine->music_files(r.moh_class)) files.push_back(p.string());
  if (files.empty()) {
    if (!r.moh_class.empty() && log_)
      log_->warn("conference: music on hold class '" + r.moh_class +
                 "' has no files: the caller alone in the room hears silence; install "
                 "asterisk-moh-opsound-wav or set the room's music_on_hold to an existing class");
    lone.endpoint->stop_playing();
    return;
  }
  sm::PlayOptions o;
  o.loop = true;
  lone.endpoint->play(files, o);
}

std::size_t ConferenceRooms::participants(const std::string& key) const {
  std::lock_guard lk(m_);
  auto r = rooms_.find(key);
  return r == rooms_.end() ? 0 : r->second.members.size();
}

}  // namespace dialtone::plugins::media
