#include "voicemail_app.h"

#include <chrono>

#include <rapidjson/document.h>

#include <dialtone/files.h>

namespace dialtone::plugins::voicemail {
namespace {

using sdk::LuaReply;
using sdk::LuaTable;
using sdk::LuaValue;
using sdk::LuaValues;

std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string text(const LuaValue& v) {
  if (auto* s = v.as_string()) return *s;
  if (auto i = v.as_int()) return std::to_string(*i);
  return {};
}

LuaValues failed(const std::string& why) { return {LuaValue(false), LuaValue(why)}; }

std::shared_ptr<LuaTable> message_table(const Message& m) {
  auto t = std::make_shared<LuaTable>();
  t->fields["id"] = m.id;
  t->fields["folder"] = m.folder;
  t->fields["file"] = m.wav.string();
  t->fields["callerid"] = m.callerid;
  t->fields["origtime"] = m.origtime;
  t->fields["duration"] = m.duration;
  return t;
}

}  // namespace

VoicemailApp::VoicemailApp(AppConfig cfg, sdk::Executor* executor, sdk::Logger* log, sdk::Store* store,
                           std::shared_ptr<sdk::PresenceService> presence)
    : cfg_(cfg), spool_(cfg.spool), executor_(executor), log_(log), store_(store), presence_(std::move(presence)) {
  if (executor_ && log_) mailer_ = std::make_shared<Mailer>(cfg.mail, *executor_, *log_);
}

void VoicemailApp::publish(const Mailbox& box) {
  if (!presence_) return;
  auto c = spool_.counts(box);
  presence_->set_mwi(box.key(), c.new_messages, c.old_messages);
}

bool VoicemailApp::box_deleted(const std::string& event_body) {
  rapidjson::Document d;
  d.Parse(event_body.c_str());
  auto text = [&](const char* k) {
    return d.IsObject() && d.HasMember(k) && d[k].IsString() ? std::string(d[k].GetString()) : std::string();
  };
  auto box = Mailbox::parse(text("number") + "@" + text("context"));
  if (!box || text("number").empty() || text("context").empty()) {
    if (log_) log_->warn("voicemail: a deleted voicemail's event names no box (number and context): its spool, if any, stays");
    return false;
  }
  std::error_code ec;
  auto dir = spool_.box_dir(*box);
  auto removed = std::filesystem::remove_all(dir, ec);
  if (ec) {
    if (log_) log_->error("voicemail: box " + box->key() + " deleted in confd but its spool " + dir.string() +
                          " could not be removed: " + ec.message() + "; remove it by hand");
    return false;
  }
  if (presence_) presence_->set_mwi(box->key(), 0, 0);
  if (log_ && removed)
    log_->info("voicemail: box " + box->key() + " deleted in confd: its spool " + dir.string() + " removed");
  return true;
}

void VoicemailApp::publish_all() {
  std::error_code ec;
  for (auto& ctx : std::filesystem::directory_iterator(spool_.root(), ec)) {
    if (!ctx.is_directory()) continue;
    std::error_code ec2;
    for (auto& b : std::filesystem::directory_iterator(ctx.path(), ec2))
      if (auto box = Mailbox::parse(b.path().filename().string() + "@" + ctx.path().filename().string()))
        publish(*box);
  }
}

std::vector<sdk::LuaFunctionSpec> VoicemailApp::functions() {
  std::weak_ptr<VoicemailApp> weak = weak_from_this();
  // Runs `work` on the executor with the box of args[0] and resumes the
  // coroutine with what it returns.
  using Work = std::function<LuaValues(VoicemailApp&, const Mailbox&, const LuaValues&)>;
  auto on_worker = [weak](const char* name, Work work) {
    return [weak, name, work](const LuaValues& args) -> LuaReply {
      auto box = Mailbox::parse(text(args[0]));
      if (!box)
        return LuaReply::error(std::string("voicemail.") + name + ": '" + text(args[0]) +
                               "' is not a mailbox (<number>@<context>)");
      auto self = weak.lock();
      if (!self || !self->executor_) return LuaReply::values(failed("the voicemail application is stopped"));
      return LuaReply::async([self, box = *box, args, work](sdk::LuaResume resume) {
        self->executor_->post([self, box, args, work, resume] { resume(work(*self, box, args)); });
      });
    };
  };

  std::vector<sdk::LuaFunctionSpec> f;
  f.push_back(
      {"box", "mailbox: string", "box: table|nil",
       "The confd voicemail `mailbox` (\"1001@default\"): {number, context, name, password, email, "
       "attach_audio, ask_password, delete_messages, max_messages (nil: no limit), max_message_seconds "
       "(its `maxsecs` or `maxmessage` option; nil: the dialplan's)}; nil when it does not exist or is disabled.",
       [weak](const LuaValues& args) -> LuaReply {
         auto box = Mailbox::parse(text(args[0]));
         auto self = weak.lock();
         if (!box || !self || !self->store_) return LuaReply::values({LuaValue()});
         return LuaReply::async([self, box = *box](sdk::LuaResume resume) {
           self->store_->exec_async(
               "SELECT number, context, name, coalesce(password, '') AS password, coalesce(email, '') AS email, "
               "attach_audio::text, ask_password::text, delete_messages::text, max_messages, "
               "(SELECT o->>1 FROM jsonb_array_elements(options) o WHERE o->>0 IN ('maxsecs', 'maxmessage') "
               "AND o->>1 ~ '^[0-9]{1,6}$' LIMIT 1) AS max_message_seconds FROM confd_voicemails "
               "WHERE number = $1 AND context = $2 AND enabled",
               {box.number, box.context}, [resume](sdk::Result<sdk::QueryResult> r) {
                 if (!r || r->rows.empty()) return resume(LuaValues{LuaValue()});
                 auto t = std::make_shared<LuaTable>();
                 for (auto c : {"number", "context", "name", "password", "email"}) t->fields[c] = r->get(0, c);
                 for (auto c : {"attach_audio", "ask_password", "delete_messages"}) t->fields[c] = r->get(0, c) == "true";
                 for (auto c : {"max_messages", "max_message_seconds"})
                   if (auto v = r->get(0, c); !v.empty()) t->fields[c] = static_cast<std::int64_t>(std::stoll(v));
                 resume(LuaValues{LuaValue(t)});
               });
         });
       }});
  f.push_back({"of_user", "user_id: integer|string", "mailbox: string|nil",
               "The mailbox (\"<number>@<context>\") of the user's enabled voicemail, nil when it has none.",
               [weak](const LuaValues& args) -> LuaReply {
                 auto self = weak.lock();
                 if (!self || !self->store_) return LuaReply::values({LuaValue()});
                 return LuaReply::async([self, uid = text(args[0])](sdk::LuaResume resume) {
                   self->store_->exec_async(
                       "SELECT v.number || '@' || v.context AS mailbox FROM confd_user_voicemails uv "
                       "JOIN confd_voicemails v ON v.id = uv.voicemail_id WHERE uv.user_id::text = $1 AND v.enabled",
                       {uid}, [resume](sdk::Result<sdk::QueryResult> r) {
                         if (!r || r->rows.empty()) return resume(LuaValues{LuaValue()});
                         resume(LuaValues{LuaValue(r->get(0, "mailbox"))});
                       });
                 });
               }});
  f.push_back({"by_id", "voicemail_id: integer|string", "mailbox: string|nil",
               "The mailbox (\"<number>@<context>\") of confd voicemail `voicemail_id`, nil when it does not "
               "exist or is disabled.",
               [weak](const LuaValues& args) -> LuaReply {
                 auto self = weak.lock();
                 if (!self || !self->store_) return LuaReply::values({LuaValue()});
                 return LuaReply::async([self, id = text(args[0])](sdk::LuaResume resume) {
                   self->store_->exec_async(
                       "SELECT number || '@' || context AS mailbox FROM confd_voicemails WHERE id::text = $1 AND enabled",
                       {id}, [resume](sdk::Result<sdk::QueryResult> r) {
                         if (!r || r->rows.empty()) return resume(LuaValues{LuaValue()});
                         resume(LuaValues{LuaValue(r->get(0, "mailbox"))});
                       });
                 });
               }});
  f.push_back({"recording_file", "mailbox: string", "file: string|false, error: string|nil",
               "A new file in the box's tmp/ directory for call:record (a message or a greeting being "
               "recorded); deliver or save_greeting moves it into place.",
               on_worker("recording_file", [](VoicemailApp& app, const Mailbox& box, const LuaValues&) {
                 auto p = app.spool_.recording_file(box, "rec");
                 if (!p) {
                   app.log_->error("voicemail: " + p.error().message + " (check voicemail.spool_dir)");
                   return failed(p.error().message);
                 }
                 return LuaValues{LuaValue(p->string())};
               })});
  f.push_back(
      {"deliver", "mailbox: string, file: string, callerid?: string", "ok: boolean, id_or_error: string",
       "Files the recording `file` as a new message of INBOX (msgNNNN.wav + msgNNNN.txt, written whole or not "
       "at all), updates the box's message-waiting counts and e-mails the box's address (WAV attached when "
       "attach_audio). A full disk is logged in one line and gives `false` and why; nothing half-written stays.",
       on_worker("deliver", [](VoicemailApp& app, const Mailbox& box, const LuaValues& args) {
         std::string file = text(args[1]);
         std::filesystem::path tmp = app.spool_.box_dir(box) / "tmp";
         if (std::filesystem::path(file).parent_path() != tmp)
           return failed("voicemail.deliver: " + file + " is not a recording_file of " + box.key());
         auto m = app.spool_.deliver(box, file, args.size() > 2 ? text(args[2]) : "", now_seconds());
         if (!m) {
           app.log_->error("voicemail: message for box " + box.key() + " not stored: " + m.error().message +
                           " (free space under voicemail.spool_dir " + app.spool_.root().string() + ")");
           return failed(m.error().message);
         }
         app.publish(box);
         if (app.store_ && app.mailer_ && app.mailer_->enabled()) {
           auto r = app.store_->exec(
               "SELECT name, coalesce(email, '') AS email, attach_audio::text FROM confd_voicemails "
               "WHERE number = $1 AND context = $2",
               {box.number, box.context});
           if (r && !r->rows.empty() && !r->get(0, "email").empty()) {
             MailJob job;
             job.to = r->get(0, "email");
             job.box_name = r->get(0, "name");
             job.mailbox = box.key();
             job.callerid = m->callerid;
             job.duration = m->duration;
             job.origtime = m->origtime;
             if (r->get(0, "attach_audio") == "true") job.wav = sdk::read_file(m->wav).value_or("");
             app.mailer_->send(std::move(job));
           }
         }
         return LuaValues{LuaValue(true), LuaValue(m->id)};
       })});
  f.push_back({"messages", "mailbox: string, folder: string", "messages: table",
               "The messages of a folder (INBOX, Old, Work, Family, Friends) in order: {id, folder, file, "
               "callerid, origtime, duration} each.",
               on_worker("messages", [](VoicemailApp& app, const Mailbox& box, const LuaValues& args) {
                 auto t = std::make_shared<LuaTable>();
                 if (auto list = app.spool_.messages(box, text(args[1])))
                   for (auto& m : *list) t->array.push_back(LuaValue(message_table(m)));
                 return LuaValues{LuaValue(t)};
               })});
  f.push_back({"move", "mailbox: string, folder: string, id: string, to: string", "ok: boolean, error: string|nil",
               "Moves a message to folder `to` (listened: INBOX to Old; saved: Work, Family, Friends).",
               on_worker("move", [](VoicemailApp& app, const Mailbox& box, const LuaValues& args) {
                 auto m = app.spool_.move(box, text(args[1]), text(args[2]), text(args[3]));
                 if (!m) return failed(m.error().message);
                 app.publish(box);
                 return LuaValues{LuaValue(true), LuaValue(m->id)};
               })});
  f.push_back({"remove", "mailbox: string, folder: string, id: string", "ok: boolean, error: string|nil",
               "Deletes a message (its .wav and .txt).",
               on_worker("remove", [](VoicemailApp& app, const Mailbox& box, const LuaValues& args) {
                 auto s = app.spool_.remove(box, text(args[1]), text(args[2]));
                 if (!s) return failed(s.error().message);
                 app.publish(box);
                 return LuaValues{LuaValue(true)};
               })});
  f.push_back({"forward", "mailbox: string, folder: string, id: string, to: string", "ok: boolean, error: string|nil",
               "Copies a message into the INBOX of mailbox `to` (its lamp lights).",
               on_worker("forward", [](VoicemailApp& app, const Mailbox& box, const LuaValues& args) {
                 auto to = Mailbox::parse(text(args[3]));
                 if (!to) return failed("no mailbox " + text(args[3]));
                 auto m = app.spool_.forward(box, text(args[1]), text(args[2]), *to, now_seconds());
                 if (!m) return failed(m.error().message);
                 app.publish(*to);
                 return LuaValues{LuaValue(true), LuaValue(m->id)};
               })});
  f.push_back({"counts", "mailbox: string", "new: integer, old: integer",
               "Messages in INBOX and in Old.",
               on_worker("counts", [](VoicemailApp& app, const Mailbox& box, const LuaValues&) {
                 auto c = app.spool_.counts(box);
                 return LuaValues{LuaValue(c.new_messages), LuaValue(c.old_messages)};
               })});
  f.push_back({"greeting", "mailbox: string, kind: string", "file: string|nil",
               "The box's recorded greeting `kind` (unavail, busy, greet: the name, temp), nil when none.",
               on_worker("greeting", [](VoicemailApp& app, const Mailbox& box, const LuaValues& args) {
                 auto g = app.spool_.greeting(box, text(args[1]));
                 return g ? LuaValues{LuaValue(g->string())} : LuaValues{LuaValue()};
               })});
  f.push_back({"save_greeting", "mailbox: string, kind: string, file: string", "ok: boolean, error: string|nil",
               "Makes the recording `file` (from recording_file) the box's greeting `kind`.",
               on_worker("save_greeting", [](VoicemailApp& app, const Mailbox& box, const LuaValues& args) {
                 std::filesystem::path file = text(args[2]);
                 if (file.parent_path() != app.spool_.box_dir(box) / "tmp")
                   return failed("voicemail.save_greeting: " + file.string() + " is not a recording_file of " + box.key());
                 auto s = app.spool_.save_greeting(box, text(args[1]), file);
                 if (!s) {
                   app.log_->error("voicemail: greeting of " + box.key() + " not saved: " + s.error().message);
                   return failed(s.error().message);
                 }
                 return LuaValues{LuaValue(true)};
               })});
  return f;
}

}  // namespace dialtone::plugins::voicemail
