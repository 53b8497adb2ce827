#include "fax_app.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>

#include "dialtone/lua_fields.h"

namespace dialtone::plugins::fax {
namespace {

namespace sm = sdk::media;
using sdk::LuaReply;
using sdk::LuaValue;
using sdk::LuaValues;

// Letters, digits, '.', '-' and '_' of `s` (a caller number or a call id in a file name).
std::string file_safe(const std::string& s) {
  std::string out;
  for (char c : s)
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') out += c;
  return out.empty() ? "unknown" : out;
}

}  // namespace

FaxApp::FaxApp(FaxConfig cfg, EngineLookup engine, sdk::Executor* executor, sdk::Logger* log)
    : cfg_(std::move(cfg)), engine_(std::move(engine)), executor_(executor), log_(log) {
  if (log_) delivery_ = std::make_unique<FaxDelivery>(cfg_.delivery, *log_);
}

std::vector<sdk::LuaFunctionSpec> FaxApp::functions() {
  std::weak_ptr<FaxApp> weak = weak_from_this();
  std::vector<sdk::LuaFunctionSpec> f;
  f.push_back(
      {"receive_fax", "call: table, fax?: table", "ok: boolean, pages_or_why: integer|string",
       "`call:receive_fax{ email = \"fax@example.com\", directory = \"/srv/faxes\", pdf = true, detect = 35 }` "
       "receives a T.30 fax over the call's G.711 audio, or over T.38 (UDPTL) when the sending gateway moves "
       "the call there with a re-INVITE (seed 5.14, the FaxToMail application) and returns "
       "`true, pages` or `false, why` (\"not a fax\" when no fax machine answered within `detect` seconds, "
       "default fax.detect_timeout). The document is <srcnum>-<epoch>-<call id>.pdf (TIFF with `pdf = false` "
       "or when tiff2pdf fails), saved in `directory` (default fax.spool_dir) and mailed to `email` through "
       "fax.smtp_host with fax.mail_subject and fax.mail_body (%(srcnum)s, %(dstnum)s, %(pages)s); mailed "
       "without `directory`, it leaves the spool. A mail that cannot be sent keeps the file and logs one line. "
       "Needs call:answer() first.",
       [weak](const LuaValues& args) -> LuaReply {
         auto self = weak.lock();
         auto engine = self && self->engine_ ? self->engine_() : nullptr;
         if (!self || !engine || !self->executor_) return LuaReply::error("call:receive_fax: the media engine is stopped");
         std::string channel = sdk::call_channel(args);
         if (channel.empty()) return LuaReply::error("call:receive_fax: the call has no `channel` field");
         auto ep = engine->channel_endpoint(channel);
         if (!ep)
           return LuaReply::values({LuaValue(false), LuaValue("call:receive_fax: the call's media does not end in "
                                                              "Dialtone; call call:answer() first")});
         const sdk::LuaTable* call = args[0].as_table();
         const sdk::LuaTable* t = args.size() > 1 ? args[1].as_table() : nullptr;
         ReceivedFax r;
         r.call_id = call ? sdk::text_field(*call, "id") : std::string();
         r.srcnum = call ? sdk::text_field(*call, "caller_number") : std::string();
         r.dstnum = call ? sdk::text_field(*call, "called_number") : std::string();
         if (r.dstnum.empty() && call) r.dstnum = sdk::text_field(*call, "callee");
         sm::FaxOptions o;
         o.detect_seconds = self->cfg_.detect_seconds;
         o.local_id = self->cfg_.station_id;
         if (t) {
           r.email = sdk::text_field(*t, "email");
           r.directory = sdk::text_field(*t, "directory");
           r.pdf = sdk::bool_field(*t, "pdf").value_or(true);
           if (auto d = sdk::int_field(*t, "detect")) o.detect_seconds = static_cast<int>(std::clamp<std::int64_t>(*d, 1, 600));
         }
         auto epoch = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
         r.tiff = self->cfg_.delivery.spool /
                  (file_safe(r.srcnum) + "-" + std::to_string(epoch) + "-" + file_safe(r.call_id) + ".tif");
         return LuaReply::async([weak, ep, r, o](sdk::LuaResume resume) mutable {
           auto once = std::make_shared<std::atomic<bool>>(false);
           o.on_done = [weak, r, resume, once](const sm::MediaEvent& e) mutable {
             if (e.type != sm::EventType::fax_done || once->exchange(true)) return;
             auto self = weak.lock();
             if (!e.ok && e.pages == 0) {
               if (self && self->log_)
                 self->log_->warn("fax: call " + r.call_id + " from " + r.srcnum + ": no fax received (" + e.detail +
                                  "); nothing was written");
               bool not_fax = e.detail.rfind("not a fax", 0) == 0;
               resume(LuaValues{LuaValue(false), LuaValue(not_fax ? std::string("not a fax") : e.detail)});
               return;
             }
             r.pages = e.pages;
             if (!e.ok && self && self->log_)
               self->log_->warn("fax: call " + r.call_id + " from " + r.srcnum + ": fax ended early after " +
                                std::to_string(e.pages) + " page(s): " + e.detail + "; delivering those pages");
             if (self) self->executor_->post([self, r] { self->delivery_->deliver(r); });
             resume(LuaValues{LuaValue(e.ok), e.ok ? LuaValue(static_cast<std::int64_t>(e.pages)) : LuaValue(e.detail)});
           };
           if (!ep->receive_fax(r.tiff, o))
             resume(LuaValues{LuaValue(false), LuaValue("this media engine cannot receive faxes")});
         });
       }});
  return f;
}

}  // namespace dialtone::plugins::fax
