// Conference participants through calld's REST API, with wazo-calld's
// routes and ACLs (XiVO Solutions offers the same actions to organizers in
// its UC assistant, seed 11.1.9: list, mute and unmute, kick):
//
//   GET    /1.0/conferences/{conference_id}/participants
//          calld.conferences.{conference_id}.participants.read
//          {"items": [{id, call_id, caller_id_name, caller_id_num, admin, muted, waiting, join_time}], "total"}
//   DELETE /1.0/conferences/{conference_id}/participants/{participant_id}
//          calld.conferences.{conference_id}.participants.delete: 204, the participant
//          hears conf-kicked and is hung up (lib/conferences.lua)
//   PUT    /1.0/conferences/{conference_id}/participants/{participant_id}/mute
//          calld.conferences.{conference_id}.participants.mute.update: 204
//   PUT    /1.0/conferences/{conference_id}/participants/{participant_id}/unmute
//          calld.conferences.{conference_id}.participants.unmute.update: 204
//
// `conference_id` is the room's confd id (what lib/conferences.lua names the
// room), `participant_id` the participant's channel id. 404 for a room
// confd does not have (when `exists` is given) or a participant not in it.
// Handlers run on HTTP threads; ConferenceRooms only takes its lock.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <dialtone/http.h>

#include "conference_rooms.h"

namespace dialtone::plugins::media {

// `exists(conference_id)`: whether confd has the room (null: not checked).
std::vector<sdk::Route> conference_routes(std::shared_ptr<ConferenceRooms> rooms,
                                          std::function<bool(const std::string&)> exists);

}  // namespace dialtone::plugins::media
