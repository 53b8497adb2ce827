// The `voicemail` Lua module: the spool, the boxes of confd, message-waiting
// counts and e-mail, for lua-dialplan/lib/voicemail.lua, which holds the
// caller-facing flows (call:voicemail, call:voicemail_main) on top of the
// media verbs. Declared once in voicemail_app.cc: the rows register the
// functions and generate their reference in docs/lua-dialplan.md.
//
// Every function that touches the disk or the database suspends only the
// calling coroutine and does the work on the executor (or the store's
// threads): the dialplan thread never waits on I/O. After each change of a
// box its counts go to the presence service (set_mwi), which notifies the
// phones subscribed to message-summary.
#pragma once

#include <memory>
#include <vector>

#include <dialtone/host.h>
#include <dialtone/lua.h>
#include <dialtone/presence.h>
#include <dialtone/store.h>

#include "mailer.h"
#include "spool.h"

namespace dialtone::plugins::voicemail {

struct AppConfig {
  std::filesystem::path spool = "/var/spool/dialtone/voicemail";
  int max_message_seconds = 180;
  MailConfig mail;
};

class VoicemailApp : public std::enable_shared_from_this<VoicemailApp> {
 public:
  // All pointers may be null for the reference (docs) only; `presence` and
  // `store` may be null at run time (no MWI, no box settings).
  VoicemailApp(AppConfig cfg, sdk::Executor* executor, sdk::Logger* log, sdk::Store* store,
               std::shared_ptr<sdk::PresenceService> presence);

  std::vector<sdk::LuaFunctionSpec> functions();
  // Publishes the counts of every box in the spool (start: the lamps match
  // the disk after a restart).
  void publish_all();
  Spool& spool() { return spool_; }
  // A box deleted in confd (config.voicemail.deleted, whose body has its
  // number and context): its spool directory goes, its lamps go out.
  // Returns false when the body names no valid box (logged).
  bool box_deleted(const std::string& event_body);

 private:
  void publish(const Mailbox& box);
  AppConfig cfg_;
  Spool spool_;
  sdk::Executor* executor_;
  sdk::Logger* log_;
  sdk::Store* store_;
  std::shared_ptr<sdk::PresenceService> presence_;
  std::shared_ptr<Mailer> mailer_;
};

}  // namespace dialtone::plugins::voicemail
