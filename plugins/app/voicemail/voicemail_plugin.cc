// app.voicemail: the `voicemail` Lua module (spool, MWI, e-mail); the
// caller-facing flows are lua-dialplan/lib/voicemail.lua.
#include <dialtone/bus.h>
#include <dialtone/host.h>
#include <dialtone/plugin.h>
#include <dialtone/presence.h>
#include <dialtone/services.h>

#include "voicemail_app.h"

namespace dialtone::plugins::voicemail {
namespace {

using sdk::OptionType;

constexpr sdk::OptionSpec kOptions[] = {
    {"voicemail.spool_dir", OptionType::path, "/var/spool/dialtone/voicemail",
     "messages and greetings: <spool_dir>/<context>/<box>/INBOX/msgNNNN.wav + .txt (Asterisk's layout)"},
    {"voicemail.smtp_host", OptionType::string, "",
     "SMTP relay for e-mail notifications (empty: no e-mail)"},
    {"voicemail.smtp_port", OptionType::integer, "25", "SMTP relay port", sdk::kNone, nullptr, 1, 65535},
    {"voicemail.smtp_from", OptionType::string, "dialtone@localhost", "sender address of notifications"},
    {"voicemail.smtp_timeout", OptionType::duration, "10s", "give up on an SMTP relay that does not answer"},
    {}};

class VoicemailPlugin final : public sdk::Plugin {
 public:
  explicit VoicemailPlugin(sdk::Host& host) : host_(host) {}

  sdk::Status configure(const sdk::Options& o) override {
    cfg_.spool = o.get("voicemail.spool_dir", "/var/spool/dialtone/voicemail");
    cfg_.mail.host = o.get("voicemail.smtp_host", "");
    cfg_.mail.port = static_cast<int>(o.get_int("voicemail.smtp_port", 25));
    cfg_.mail.from = o.get("voicemail.smtp_from", "dialtone@localhost");
    cfg_.mail.timeout = o.get_duration("voicemail.smtp_timeout", std::chrono::milliseconds(10000));
    return {};
  }

  sdk::Status start() override {
    std::error_code ec;
    std::filesystem::create_directories(cfg_.spool, ec);
    if (ec)
      return sdk::Error::unavailable("voicemail: cannot create voicemail.spool_dir " + cfg_.spool.string() + ": " +
                                     ec.message() + "; set voicemail.spool_dir to a writable directory");
    app_ = std::make_shared<VoicemailApp>(cfg_, &host_.executor(), &host_.log(), host_.store(),
                                          host_.services().find<sdk::PresenceService>());
    if (auto* lua = host_.lua())
      if (auto s = lua->export_module("voicemail", app_->functions()); !s) return s;
    // A box deleted in confd takes its messages and greetings with it.
    std::weak_ptr<VoicemailApp> weak = app_;
    sdk::Executor* executor = &host_.executor();
    deleted_ = host_.bus().subscribe("config.voicemail.deleted", [weak, executor](const sdk::Event& e) {
      executor->post([weak, body = e.json()] {
        if (auto app = weak.lock()) app->box_deleted(body);
      });
    });
    // The lamps match the disk after a restart.
    host_.executor().post([app = app_] { app->publish_all(); });
    host_.log().info("voicemail: spool " + cfg_.spool.string() +
                     (cfg_.mail.host.empty() ? ", no e-mail" : ", e-mail through " + cfg_.mail.host + ":" +
                                                                   std::to_string(cfg_.mail.port)));
    return {};
  }

  void stop() override {
    deleted_.reset();
    app_.reset();
  }

 private:
  sdk::Host& host_;
  AppConfig cfg_;
  std::shared_ptr<VoicemailApp> app_;
  std::unique_ptr<sdk::Subscription> deleted_;
};

}  // namespace
}  // namespace dialtone::plugins::voicemail

DIALTONE_PLUGIN(dialtone::plugins::voicemail::VoicemailPlugin, "app.voicemail", "app", "1.0.0",
                "voicemail spool, message-waiting counts and e-mail for the Lua voicemail flows", "", "",
                dialtone::plugins::voicemail::kOptions)
