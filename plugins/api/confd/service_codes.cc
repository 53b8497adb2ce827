// Writes behind feature codes a user dials (lib/features.lua), saved through
// confd's Engine with the events and notifications the REST API sends:
//   *90           the user's voicemail on when off, off when on
//   *50/*51/*52<group id>  the user's membership of a group toggled, joined, left
#include "plugins/api/confd/config_service.h"

namespace dialtone::plugins::api::confd {
namespace {

// The result of a write: `not_found` names what a 404 missed.
template <class T>
void finish(const sdk::HttpResponse& r, const std::string& not_found_text, T value,
            const std::function<void(sdk::Result<T>)>& done) {
  if (r.status == 404) return done(sdk::Error::not_found(not_found_text));
  if (r.status >= 300) return done(sdk::Error::unavailable("not saved (" + std::to_string(r.status) + ")"));
  done(value);
}

}  // namespace

void ConfigServiceImpl::toggle_voicemail(std::int64_t user_id, std::function<void(sdk::Result<bool>)> done) {
  auto self = shared_from_this();
  executor_.post([self, user_id, done] {
    bool now = false;
    auto r = self->engine_->write([&](sdk::Transaction& tx) {
      auto q = run(tx,
                   "SELECT v.id, v.enabled FROM confd_user_voicemails uv JOIN confd_voicemails v "
                   "ON v.id = uv.voicemail_id WHERE uv.user_id = $1 FOR UPDATE OF v",
                   {std::to_string(user_id)});
      if (q.rows.empty()) return sdk::HttpResponse::empty(404);
      now = q.get(0, "enabled") != "t";
      auto id = q.get(0, "id");
      run(tx, "UPDATE confd_voicemails SET enabled = $2 WHERE id = $1", {id, now ? "true" : "false"});
      self->engine_->notify(tx, "voicemail", "edited", std::stol(id), sdk::json::object({{"id", std::stol(id)}}));
      return sdk::HttpResponse::empty(204);
    });
    finish<bool>(r, "user " + std::to_string(user_id) + " has no voicemail", now, done);
  });
}

void ConfigServiceImpl::set_group_member(std::int64_t group_id, std::int64_t user_id, std::optional<bool> member,
                                         std::function<void(sdk::Result<bool>)> done) {
  auto self = shared_from_this();
  executor_.post([self, group_id, user_id, member, done] {
    bool now = false;
    const auto gid = std::to_string(group_id), uid = std::to_string(user_id);
    auto r = self->engine_->write([&](sdk::Transaction& tx) {
      if (run(tx, "SELECT 1 FROM confd_groups WHERE id = $1 FOR UPDATE", {gid}).rows.empty())
        return sdk::HttpResponse::empty(404);
      bool in = !run(tx, "SELECT 1 FROM confd_group_members WHERE group_id = $1 AND user_id = $2", {gid, uid})
                     .rows.empty();
      now = member.value_or(!in);
      if (now && !in)
        run(tx,
            "INSERT INTO confd_group_members (group_id, user_id, position) "
            "SELECT $1, $2, coalesce(max(position), 0) + 1 FROM confd_group_members WHERE group_id = $1",
            {gid, uid});
      else if (!now && in)
        run(tx, "DELETE FROM confd_group_members WHERE group_id = $1 AND user_id = $2", {gid, uid});
      if (now != in) self->engine_->notify(tx, "group_members", "edited", group_id, sdk::json::object({{"group_id", group_id}}));
      return sdk::HttpResponse::empty(204);
    });
    finish<bool>(r, "group " + gid + " does not exist", now, done);
  });
}

}  // namespace dialtone::plugins::api::confd
