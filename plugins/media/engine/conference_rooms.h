// Conference rooms (call:conference): the callers of one room share an
// engine mixer (each hears the others, never itself). The room exists while
// someone is in it; its settings come from whoever joins (the dialplan reads
// them from confd's /1.1/conferences).
//
// @code
//   auto rooms = std::make_shared<ConferenceRooms>(log);
//   ConferenceRooms::Join j;
//   j.room = "4010"; j.max_participants = 10; j.admin = true;
//   rooms->join(engine, channel, endpoint, j, resume);   // resume on leave
// @endcode
//
// What happens in a room (seed 5.7, Asterisk's confbridge sounds):
// - alone in the room, a caller hears the room's music on hold class;
// - a join or a leave plays confbridge-join / confbridge-leave to the others
//   (unless `quiet`);
// - DTMF 1 toggles the caller's own mute (conf-muted / conf-unmuted);
//   an organizer's (admin PIN) DTMF 2 mutes or unmutes every other
//   participant who is not an organizer;
// - DTMF # leaves the room: the verb returns and the dialplan goes on;
// - a room at `max_participants` refuses more callers (the verb returns
//   false, "full");
// - a waiting room (seed: *Waiting room*): participants who are not
//   organizers hear conf-waitforleader and the music, and nobody hears them,
//   until an organizer is in; when the last organizer leaves they wait again;
// - through calld's REST API (conference_api.cc): the participant list, and
//   an organizer's kick (the verb returns true, "kicked"), mute and unmute.
// All methods may run on any thread; the events come on the engine's event
// thread. Nothing here blocks: a mutex guards the room table only.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <dialtone/host.h>
#include <dialtone/lua.h>
#include <dialtone/media.h>

namespace dialtone::plugins::media {

class ConferenceRooms : public std::enable_shared_from_this<ConferenceRooms> {
 public:
  struct Join {
    std::string room;                  // the key: the room's number or name
    std::size_t max_participants = 0;  // 0: no limit
    std::string moh_class = "default"; // empty: silence when alone
    bool quiet = false;                // no join/leave sounds
    bool admin = false;                // joined with the organizer PIN
    bool waiting_room = false;         // non-organizers wait for an organizer
    std::string caller_name, caller_number;  // what the participant list shows
  };
  struct Participant {
    std::string id;  // the call core's channel id
    std::string caller_name, caller_number;
    bool admin = false;
    bool muted = false;    // by themselves or an organizer
    bool waiting = false;  // in a waiting room, no organizer yet
    std::int64_t joined_at = 0;  // unix seconds
  };
  enum class Action { kick, mute, unmute };

  explicit ConferenceRooms(sdk::Logger* log) : log_(log) {}

  // Puts the channel's endpoint in the room. `resume` gets (true, "hangup")
  // once the caller hung up, (true, "left") after its #, or (false, "full")
  // at once when the room is full.
  void join(const std::shared_ptr<sdk::media::MediaEngine>& engine, const std::string& channel,
            const std::shared_ptr<sdk::media::Endpoint>& endpoint, Join options, sdk::LuaResume resume);

  std::size_t participants(const std::string& room) const;
  // Who is in `room`, in the order they joined (empty: nobody).
  std::vector<Participant> list(const std::string& room) const;
  // An organizer's action on participant `id` of `room`: kick (it leaves the
  // room, the verb returns true, "kicked"), mute or unmute (as DTMF 2 does
  // for all). not_found when nobody by that id is in the room.
  sdk::Status act(const std::string& room, const std::string& id, Action action);

 private:
  struct Member {
    std::string channel;
    std::shared_ptr<sdk::media::Endpoint> endpoint;
    bool admin = false;
    bool muted = false;         // by themselves
    bool muted_by_admin = false;
    bool waiting = false;       // waiting room, no organizer in
    std::string caller_name, caller_number;
    std::int64_t joined_at = 0;
    std::uint64_t listener = 0;
    sdk::LuaResume resume;
  };
  struct Room {
    std::shared_ptr<sdk::media::Mixer> mixer;
    std::vector<Member> members;
    std::string moh_class;
    bool quiet = false;
    bool waiting_room = false;
    bool others_muted = false;  // an organizer pressed 2
  };

  // `why` is what the verb returns after true: "hangup", "left" (#) or "kicked".
  void leave(const std::string& room, const std::string& channel, const char* why);
  void digit(const std::string& room, const std::string& channel, char d);
  // With the lock held: the mixer mute of `m` from its flags.
  static void apply_mute(Room& r, Member& m);
  static bool has_organizer(const Room& r);
  // With the lock held: the room's music to `m` (alone in the room, or
  // waiting for an organizer: then after conf-waitforleader).
  void music(Room& r, Member& m);

  sdk::Logger* log_;
  std::weak_ptr<sdk::media::MediaEngine> engine_;
  mutable std::mutex m_;
  std::map<std::string, Room> rooms_;
};

}  // namespace dialtone::plugins::media
