// app.fax: fax reception (seed 5.14, XiVO's FaxToMail): the call verb
// call:receive_fax, which lua-dialplan/lib/faxes.lua runs for incalls whose
// destination is the application fax_to_mail.
#include <mutex>

#include <dialtone/files.h>
#include <dialtone/calls.h>
#include <dialtone/host.h>
#include <dialtone/plugin.h>
#include <dialtone/services.h>

#include "fax_app.h"

namespace dialtone::plugins::fax {
namespace {

using sdk::OptionType;

constexpr sdk::OptionSpec kOptions[] = {
    {"fax.spool_dir", OptionType::path, "/var/spool/dialtone/fax",
     "received faxes: <spool_dir>/<srcnum>-<epoch>-<call id>.pdf, kept unless mailed (or saved elsewhere)"},
    {"fax.tiff2pdf", OptionType::path, "/usr/bin/tiff2pdf", "TIFF to PDF converter (Debian libtiff-tools)"},
    {"fax.smtp_host", OptionType::string, "", "SMTP relay the faxes are mailed through (empty: no e-mail)"},
    {"fax.smtp_port", OptionType::integer, "25", "SMTP relay port", sdk::kNone, nullptr, 1, 65535},
    {"fax.smtp_from", OptionType::string, "dialtone@localhost", "sender address of fax e-mails (XiVO's email_from)"},
    {"fax.smtp_realname", OptionType::string, "", "sender name of fax e-mails (XiVO's email_realname)"},
    {"fax.smtp_timeout", OptionType::duration, "10s", "give up on an SMTP relay that does not answer"},
    {"fax.mail_subject", OptionType::string, "FAX reception to %(dstnum)s",
     "subject of fax e-mails: %(dstnum)s the DID, %(srcnum)s the sender, %(pages)s"},
    {"fax.mail_body_file", OptionType::path, "",
     "body of fax e-mails (XiVO's mail.txt, same substitutions); empty: a one-line body"},
    {"fax.station_id", OptionType::string, "", "our fax station identifier (CSI), up to 20 characters"},
    {"fax.detect_timeout", OptionType::duration, "35s",
     "a caller that is no fax machine is let go after this (T.30's T1)"},
    {}};

// The call core keeps a verb for the life of the process: the rows
// registered at the first start call whichever app runs now.
struct Current {
  std::mutex m;
  std::shared_ptr<FaxApp> app;
  std::vector<sdk::LuaFunctionSpec> functions;
  bool registered = false;
};
Current& current() {
  static Current c;
  return c;
}

class FaxPlugin final : public sdk::Plugin {
 public:
  explicit FaxPlugin(sdk::Host& host) : host_(host) {}

  sdk::Status configure(const sdk::Options& o) override {
    auto& d = cfg_.delivery;
    d.spool = o.get("fax.spool_dir", "/var/spool/dialtone/fax");
    d.tiff2pdf = o.get("fax.tiff2pdf", "/usr/bin/tiff2pdf");
    d.mail.host = o.get("fax.smtp_host", "");
    d.mail.port = static_cast<int>(o.get_int("fax.smtp_port", 25));
    d.mail.from = o.get("fax.smtp_from", "dialtone@localhost");
    d.mail.from_name = o.get("fax.smtp_realname", "");
    d.mail.timeout = o.get_duration("fax.smtp_timeout", std::chrono::milliseconds(10000));
    d.subject = o.get("fax.mail_subject", "FAX reception to %(dstnum)s");
    if (std::string body = o.get("fax.mail_body_file", ""); !body.empty()) {
      auto text = sdk::read_file(body);
      if (!text) return sdk::Error::invalid("fax: cannot read fax.mail_body_file " + body + "; fix the path or leave it empty");
      d.body = std::move(*text);
    }
    cfg_.station_id = o.get("fax.station_id", "");
    cfg_.detect_seconds = static_cast<int>(
        std::max<std::int64_t>(1, o.get_duration("fax.detect_timeout", std::chrono::milliseconds(35000)).count() / 1000));
    return {};
  }

  sdk::Status start() override {
    std::error_code ec;
    std::filesystem::create_directories(cfg_.delivery.spool, ec);
    if (ec)
      return sdk::Error::unavailable("fax: cannot create fax.spool_dir " + cfg_.delivery.spool.string() + ": " +
                                     ec.message() + "; set fax.spool_dir to a writable directory");
    auto* services = &host_.services();
    auto app = std::make_shared<FaxApp>(
        cfg_, [services] { return services->find<sdk::media::MediaEngine>(); }, &host_.executor(), &host_.log());
    auto& c = current();
    std::vector<sdk::LuaFunctionSpec> rows;
    {
      std::lock_guard lk(c.m);
      c.app = app;
      c.functions = app->functions();
      if (!c.registered) {
        c.registered = true;
        rows = c.functions;
      }
    }
    auto core = host_.services().find<sdk::CallCore>();
    if (!core && !rows.empty()) host_.log().warn("fax: no call core; call:receive_fax is not available");
    for (auto& row : rows) {
      row.fn = [name = row.name](const sdk::LuaValues& args) -> sdk::LuaReply {
        auto& c = current();
        sdk::LuaFunction fn;
        {
          std::lock_guard lk(c.m);
          for (auto& f : c.functions)
            if (f.name == name) fn = f.fn;
        }
        if (!fn) return sdk::LuaReply::error("call:" + name + ": the app.fax plugin is stopped");
        return fn(args);
      };
      if (core)
        if (auto s = core->register_verb(std::move(row)); !s)
          host_.log().warn("fax: call verb not registered: " + s.error().message);
    }
    host_.log().info("fax: spool " + cfg_.delivery.spool.string() +
                     (cfg_.delivery.mail.host.empty() ? ", no e-mail"
                                                      : ", e-mail through " + cfg_.delivery.mail.host + ":" +
                                                            std::to_string(cfg_.delivery.mail.port)));
    return {};
  }

  void stop() override {
    auto& c = current();
    std::lock_guard lk(c.m);
    c.app.reset();
    c.functions.clear();
  }

 private:
  sdk::Host& host_;
  FaxConfig cfg_;
};

}  // namespace
}  // namespace dialtone::plugins::fax

DIALTONE_PLUGIN(dialtone::plugins::fax::FaxPlugin, "app.fax", "app", "1.0.0",
                "fax reception: call:receive_fax, PDF, mail (seed 5.14 FaxToMail)", "", "",
                dialtone::plugins::fax::kOptions)
