// Conference participants through calld's REST API (see the header).
#include "conference_api.h"

#include <chrono>
#include <optional>

#include <dialtone/json.h>

namespace dialtone::plugins::media {

std::vector<sdk::Route> conference_routes(std::shared_ptr<ConferenceRooms> rooms,
                                          std::function<bool(const std::string&)> exists) {
  using sdk::HttpRequest;
  using sdk::HttpResponse;
  namespace json = sdk::json;
  auto param = [](const HttpRequest& req, const char* name) {
    auto it = req.params.find(name);
    return it == req.params.end() ? std::string() : it->second;
  };
  // nullopt: the room is known (or not checked); else the 404 to answer.
  auto unknown = [exists, param](const HttpRequest& req) -> std::optional<HttpResponse> {
    auto id = param(req, "conference_id");
    if (exists && !exists(id))
      return HttpResponse::error(404, {"Resource Not Found - No such conference: '" + id + "'"});
    return std::nullopt;
  };
  auto act = [rooms, unknown, param](ConferenceRooms::Action a) {
    return [rooms, unknown, param, a](const HttpRequest& req) {
      if (auto r = unknown(req)) return *r;
      auto s = rooms->act(param(req, "conference_id"), param(req, "participant_id"), a);
      if (!s) return HttpResponse::error(404, {"Resource Not Found - " + s.error().message});
      return HttpResponse::empty(204);
    };
  };
  std::vector<sdk::Route> out;
  out.push_back({"GET", "/1.0/conferences/{conference_id}/participants",
                 "calld.conferences.{conference_id}.participants.read", sdk::RouteAuth::token,
                 "List the participants of a conference room (in the order they joined)", {},
                 [rooms, unknown, param](const HttpRequest& req) {
                   if (auto r = unknown(req)) return *r;
                   auto now = std::chrono::duration_cast<std::chrono::seconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
                   std::vector<json::Value> items;
                   auto list = rooms->list(param(req, "conference_id"));
                   for (auto& p : list)
                     items.emplace_back(json::Raw{json::object({{"id", p.id},
                                                                {"call_id", p.id},
                                                                {"caller_id_name", p.caller_name},
                                                                {"caller_id_num", p.caller_number},
                                                                {"admin", p.admin},
                                                                {"muted", p.muted},
                                                                {"waiting", p.waiting},
                                                                {"join_time", now - p.joined_at}})});
                   return HttpResponse::json(200, json::object({{"items", json::Raw{json::array(items)}},
                                                                {"total", static_cast<std::int64_t>(list.size())}}));
                 }});
  out.push_back({"DELETE", "/1.0/conferences/{conference_id}/participants/{participant_id}",
                 "calld.conferences.{conference_id}.participants.delete", sdk::RouteAuth::token,
                 "Kick a participant out of a conference room", {}, act(ConferenceRooms::Action::kick)});
  out.push_back({"PUT", "/1.0/conferences/{conference_id}/participants/{participant_id}/mute",
                 "calld.conferences.{conference_id}.participants.mute.update", sdk::RouteAuth::token,
                 "Mute a participant (the others no longer hear it)", {}, act(ConferenceRooms::Action::mute)});
  out.push_back({"PUT", "/1.0/conferences/{conference_id}/participants/{participant_id}/unmute",
                 "calld.conferences.{conference_id}.participants.unmute.update", sdk::RouteAuth::token,
                 "Unmute a participant", {}, act(ConferenceRooms::Action::unmute)});
  return out;
}

}  // namespace dialtone::plugins::media
