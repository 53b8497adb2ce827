#include "call_verbs.h"

#include <algorithm>
#include <atomic>
#include <variant>
#include <mutex>

#include "dialtone/lua_fields.h"

namespace dialtone::plugins::media {
namespace {

// How long call:moh waits for its music to load before it counts the seconds anyway.
constexpr std::chrono::seconds kMusicLoadLimit{30};

namespace sm = sdk::media;
using sdk::LuaReply;
using sdk::LuaTable;
using sdk::LuaValue;
using sdk::LuaValues;

// The call's id (`call.id`), which names its recordings.
std::string call_id_of(const LuaValues& args) {
  auto* t = args.empty() ? nullptr : args[0].as_table();
  return t ? sdk::text_field(*t, "id") : std::string();
}

// One waiting verb: resumes the coroutine once, whoever comes first (an
// engine event, the timer, the hang-up), and stops listening.
struct Wait : std::enable_shared_from_this<Wait> {
  std::shared_ptr<sm::MediaEngine> engine;
  sdk::Executor* executor = nullptr;
  std::string channel;
  sdk::LuaResume resume;
  std::atomic<bool> done{false};
  std::mutex m;
  std::uint64_t listener = 0;
  std::uint64_t timer = 0;

  // False when it already finished.
  bool finish(LuaValues values) {
    if (done.exchange(true)) return false;
    std::uint64_t l, t;
    {
      std::lock_guard lk(m);
      l = listener;
      t = timer;
    }
    if (l) engine->unlisten(channel, l);
    if (t && executor) executor->cancel(t);
    resume(std::move(values));
    return true;
  }
  // (Re)arms the timeout: `on_timeout` runs on the executor.
  void arm(std::chrono::milliseconds delay, std::function<void()> on_timeout) {
    if (!executor || done) return;
    std::uint64_t old;
    {
      std::lock_guard lk(m);
      old = timer;
      timer = 0;
    }
    if (old) executor->cancel(old);
    std::weak_ptr<Wait> weak = shared_from_this();
    auto id = executor->after(delay, [weak, on_timeout = std::move(on_timeout)] {
      if (auto w = weak.lock(); w && !w->done) on_timeout();
    });
    std::lock_guard lk(m);
    timer = id;
  }
};

// A sound of the store as call:record's `sound` names it: <category>/<name>,
// each of letters, digits, '-', '_', '.', not starting with '.'.
bool store_sound_name(std::string_view s) {
  auto slash = s.find('/');
  if (slash == std::string_view::npos || s.size() > 200) return false;
  auto part_ok = [](std::string_view p) {
    if (p.empty() || p.front() == '.') return false;
    return std::all_of(p.begin(), p.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
             c == '.';
    });
  };
  return part_ok(s.substr(0, slash)) && part_ok(s.substr(slash + 1));
}

}  // namespace

CallVerbs::CallVerbs(std::shared_ptr<sm::MediaEngine> engine, sdk::Executor* executor, sdk::Logger* log,
                     sdk::EventBus* bus)
    : engine_(std::move(engine)), executor_(executor), log_(log), rooms_(std::make_shared<ConferenceRooms>(log)),
      paging_(std::make_shared<Paging>(log)) {
  // The verbs outlive a restart of the plugin: the engine and the directory
  // are read when a digit comes, never kept.
  OnlineRecording::Publish publish;
  if (bus) publish = [bus](std::string topic, std::string body) { bus->publish(std::move(topic), std::move(body)); };
  online_ = std::make_shared<OnlineRecording>([this] { return this->engine(); },
                                              [this] { return std::atomic_load(&recordings_); }, log,
                                              std::move(publish));
}

std::function<void(const std::string&, char, sm::DtmfSource)> CallVerbs::digit_sink(
    std::shared_ptr<sdk::CallCore> core) {
  std::weak_ptr<CallVerbs> weak = weak_from_this();  // the engine keeps the sink: no cycle
  return [weak, core](const std::string& channel, char digit, sm::DtmfSource source) {
    if (auto self = weak.lock()) self->online_->digit(channel, digit);
    if (core) (void)core->dtmf_received(channel, digit, source == sm::DtmfSource::rfc4733 ? "rfc4733" : "inband");
  };
}

std::vector<sdk::LuaFunctionSpec> CallVerbs::functions() {
  std::weak_ptr<CallVerbs> weak = weak_from_this();
  // The endpoint of the call, or the error every verb gives when there is none.
  auto endpoint = [weak](const LuaValues& args, const char* verb,
                         std::string& channel) -> std::variant<std::shared_ptr<sm::Endpoint>, LuaReply> {
    auto self = weak.lock();
    channel = sdk::call_channel(args);
    auto engine = self ? self->engine() : nullptr;
    if (!engine) return LuaReply::error(std::string("call:") + verb + ": the media engine is stopped");
    if (channel.empty())
      return LuaReply::error(std::string("call:") + verb + ": the call has no `channel` field");
    auto ep = engine->channel_endpoint(channel);
    if (!ep)
      return LuaReply::values({LuaValue(false), LuaValue(std::string("call:") + verb +
                                                         ": the call's media does not end in Dialtone; "
                                                         "call call:answer() first")});
    // The call's prompt language (`call.language`: the user's, set by the
    // dialplan) for the sounds this verb plays.
    if (auto* t = args[0].as_table())
      if (auto language = sdk::text_field(*t, "language"); !language.empty()) ep->set_language(language);
    return ep;
  };
  // A wait on `channel` whose events go to `on_event` (hang-up: `on_event` gets `detached`).
  auto start_wait = [weak](const std::string& channel, sdk::LuaResume resume) {
    auto self = weak.lock();
    auto w = std::make_shared<Wait>();
    w->engine = self ? self->engine() : nullptr;
    w->executor = self->executor_;
    w->channel = channel;
    w->resume = std::move(resume);
    return w;
  };
  auto listen = [](const std::shared_ptr<Wait>& w, std::function<void(const sm::MediaEvent&)> on_event) {
    std::weak_ptr<Wait> ww = w;
    if (!w->engine) return false;
    auto id = w->engine->listen(w->channel, [ww, on_event](const sm::MediaEvent& e) {
      if (auto w = ww.lock(); w && !w->done) on_event(e);
    });
    {
      std::lock_guard lk(w->m);
      w->listener = id;
    }
    return id != 0;
  };
  auto hung_up = [] { return LuaValues{LuaValue(false), LuaValue("hangup")}; };

  std::vector<sdk::LuaFunctionSpec> f;
  f.push_back(
      {"play", "call: table, sounds: string|table", "ok: boolean, error: string|nil",
       "`call:play(\"vm-intro\")` or `call:play{ \"conf-getpin\", \"beep\" }` plays the sounds in turn "
       "and returns when they end: names are found under `sounds.path`/<language> (the media "
       "engine's options), paths (.wav, .gsm, .sln) are taken as they are. A missing or corrupt file "
       "is logged in one line and replaced by the info tone (then `false, \"missing sound\"`). "
       "`false, \"hangup\"` when the caller hangs up; needs call:answer() first.",
       [endpoint, start_wait, listen, hung_up](const LuaValues& args) -> LuaReply {
         std::string channel;
         auto ep = endpoint(args, "play", channel);
         if (auto* r = std::get_if<LuaReply>(&ep)) return std::move(*r);
         std::vector<std::string> sounds;
         if (auto* s = args[1].as_string()) sounds.push_back(*s);
         if (auto* t = args[1].as_table())
           for (auto& v : t->array)
             if (auto* s = v.as_string()) sounds.push_back(*s);
         if (sounds.empty()) return LuaReply::error("call:play: give a sound name or a list of them");
         auto endpoint_ptr = std::get<std::shared_ptr<sm::Endpoint>>(ep);
         return LuaReply::async([=](sdk::LuaResume resume) {
           auto w = start_wait(channel, std::move(resume));
           if (!listen(w, [w, hung_up](const sm::MediaEvent& e) {
                 if (e.type == sm::EventType::detached) w->finish(hung_up());
                 // `stopped`: what played before was replaced by this play.
                 if (e.type == sm::EventType::play_done && !e.stopped)
                   w->finish(e.ok ? LuaValues{LuaValue(true)} : LuaValues{LuaValue(false), LuaValue("missing sound")});
               })) {
             w->finish(hung_up());
             return;
           }
           endpoint_ptr->play(sounds);
         });
       }});
  f.push_back(
      {"read_digits", "call: table, options?: table", "digits: string, reason: string",
       "`call:read_digits{ max = 4, timeout = 5, terminator = \"#\", prompt = \"vm-password\" }` "
       "collects DTMF digits (RFC 4733 or in-band; SIP INFO digits only reach calls.channel.dtmf) until `max` digits (default 1), the "
       "`terminator` (not returned; default none) or `timeout` seconds (default 5) without a digit, "
       "counted once the prompt ended; a digit stops the prompt (`prompt` may be a list of sounds, "
       "played in turn). Returns the digits and why it "
       "stopped: max, terminator, timeout or hangup. Digits beyond `max` are ignored.",
       [endpoint, start_wait, listen](const LuaValues& args) -> LuaReply {
         std::string channel;
         auto ep = endpoint(args, "read_digits", channel);
         if (auto* r = std::get_if<LuaReply>(&ep)) return std::move(*r);
         std::size_t max = 1;
         long timeout_ms = 5000;
         std::string terminator;
         std::vector<std::string> prompt;
         if (args.size() > 1)
           if (auto* t = args[1].as_table()) {
             if (auto m = sdk::int_field(*t, "max")) max = static_cast<std::size_t>(std::clamp<std::int64_t>(*m, 1, 64));
             if (auto s = sdk::int_field(*t, "timeout")) timeout_ms = static_cast<long>(std::clamp<std::int64_t>(*s, 1, 3600)) * 1000;
             terminator = sdk::text_field(*t, "terminator");
             // One sound or a list (an error prompt then the question):
             // a digit typed during any of them counts.
             prompt = sdk::strings_field(*t, "prompt");
           }
         auto endpoint_ptr = std::get<std::shared_ptr<sm::Endpoint>>(ep);
         return LuaReply::async([=](sdk::LuaResume resume) {
           auto w = start_wait(channel, std::move(resume));
           auto digits = std::make_shared<std::string>();
           auto finish = [w, digits](const char* why) {
             std::string got;
             {
               std::lock_guard lk(w->m);
               got = *digits;
             }
             w->finish(LuaValues{LuaValue(got), LuaValue(why)});
           };
           auto rearm = [w, finish, timeout_ms] {
             w->arm(std::chrono::milliseconds(timeout_ms), [finish] { finish("timeout"); });
           };
           bool prompting = !prompt.empty();
           if (!listen(w, [w, digits, finish, rearm, max, terminator, endpoint_ptr, prompting](const sm::MediaEvent& e) {
                 if (e.type == sm::EventType::detached) return finish("hangup");
                 if (e.type == sm::EventType::play_done && prompting && !e.stopped) return rearm();
                 if (e.type != sm::EventType::dtmf) return;
                 if (prompting) endpoint_ptr->stop_playing();
                 if (!terminator.empty() && terminator.find(e.digit) != std::string::npos) return finish("terminator");
                 std::size_t n;
                 {
                   std::lock_guard lk(w->m);
                   if (digits->size() < max) digits->push_back(e.digit);
                   n = digits->size();
                 }
                 if (n >= max) return finish("max");
                 rearm();
               })) {
             finish("hangup");
             return;
           }
           if (prompting) {
             sm::PlayOptions o;
             o.stop_on_dtmf = true;
             endpoint_ptr->play(prompt, o);
           } else {
             rearm();
           }
         });
       }});
  f.push_back(
      {"record", "call: table, options: table", "ok: boolean, file_or_error: string|nil",
       "`call:record{ file = \"/var/lib/dialtone/rec/x.wav\", max_seconds = 60, silence = 3 }` "
       "records what the caller says to a WAV file (8 kHz, 16-bit) until `max_seconds` (default "
       "3600), `silence` seconds of silence after some sound (default 0: off), `#`, or the hang-up "
       "(the file is kept). `sound = \"recordings/1001-1765000000\"` instead of `file` writes "
       "<sounds.store>/recordings/1001-1765000000.wav, the sound store confd's /1.1/sounds serves; "
       "such a file, or any with `whole = true`, is there whole or not at all (renamed into place "
       "once closed; nothing stays after a full disk or when no sound came). Returns `true` and the "
       "file once closed (`true` alone when the caller hung up first), or `false` and why when the "
       "file cannot be written (the call goes on).",
       [weak, endpoint, start_wait, listen](const LuaValues& args) -> LuaReply {
         std::string channel;
         auto ep = endpoint(args, "record", channel);
         if (auto* r = std::get_if<LuaReply>(&ep)) return std::move(*r);
         const LuaTable& t = *args[1].as_table();
         std::string file = sdk::text_field(t, "file");
         sm::RecordOptions o;
         o.whole = sdk::bool_field(t, "whole").value_or(false);
         if (std::string sound = sdk::text_field(t, "sound"); !sound.empty()) {
           auto self = weak.lock();
           auto engine = self ? self->engine() : nullptr;
           auto store = engine ? engine->sound_store_path() : std::filesystem::path();
           if (store.empty()) return LuaReply::error("call:record: the media engine has no sound store (sounds.store)");
           if (!store_sound_name(sound))
             return LuaReply::error("call:record: sound '" + sound +
                                    "' is not <category>/<name> (letters, digits, '-', '_', '.')");
           file = (store / (sound + ".wav")).string();
           o.whole = true;
         }
         if (file.empty()) return LuaReply::error("call:record: give `file`, the WAV file to write, or `sound`");
         o.max_seconds = static_cast<int>(std::clamp<std::int64_t>(sdk::int_field(t, "max_seconds").value_or(3600), 1, 86400));
         o.silence_seconds = static_cast<int>(std::clamp<std::int64_t>(sdk::int_field(t, "silence").value_or(0), 0, 3600));
         auto endpoint_ptr = std::get<std::shared_ptr<sm::Endpoint>>(ep);
         return LuaReply::async([=](sdk::LuaResume resume) {
           auto w = start_wait(channel, std::move(resume));
           if (!listen(w, [w, endpoint_ptr, file](const sm::MediaEvent& e) {
                 if (e.type == sm::EventType::detached) return (void)w->finish(LuaValues{LuaValue(true)});
                 if (e.type == sm::EventType::dtmf && e.digit == '#') endpoint_ptr->stop_recording();
                 if (e.type == sm::EventType::record_done)
                   w->finish(e.ok ? LuaValues{LuaValue(true), LuaValue(file)}
                                  : LuaValues{LuaValue(false), LuaValue(e.detail)});
               })) {
             w->finish(LuaValues{LuaValue(false), LuaValue("hangup")});
             return;
           }
           endpoint_ptr->record(file, o);
         });
       }});
  f.push_back({"playtones", "call: table, name: string", "ok: boolean, error: string|nil",
               "Plays the tone `name` of the country table (`tones.country`: fr, us ...): dial, ring, "
               "busy, congestion, callwaiting, info, record. Returns at once; the tone goes on until "
               "the next play, call:stop_playing() or the end of the call.",
               [endpoint](const LuaValues& args) -> LuaReply {
                 std::string channel;
                 auto ep = endpoint(args, "playtones", channel);
                 if (auto* r = std::get_if<LuaReply>(&ep)) return std::move(*r);
                 std::get<std::shared_ptr<sm::Endpoint>>(ep)->play_tone(*args[1].as_string());
                 return LuaReply::values({LuaValue(true)});
               }});
  f.push_back({"stop_playing", "call: table", "ok: boolean, error: string|nil",
               "Stops the sound, tone or music playing to the call.",
               [endpoint](const LuaValues& args) -> LuaReply {
                 std::string channel;
                 auto ep = endpoint(args, "stop_playing", channel);
                 if (auto* r = std::get_if<LuaReply>(&ep)) return std::move(*r);
                 std::get<std::shared_ptr<sm::Endpoint>>(ep)->stop_playing();
                 return LuaReply::values({LuaValue(true)});
               }});
  f.push_back({"echo", "call: table", "ok: boolean, error: string|nil",
               "The echo test (*55): the caller hears what it says until it presses `#` or hangs up.",
               [endpoint, start_wait, listen](const LuaValues& args) -> LuaReply {
                 std::string channel;
                 auto ep = endpoint(args, "echo", channel);
                 if (auto* r = std::get_if<LuaReply>(&ep)) return std::move(*r);
                 auto endpoint_ptr = std::get<std::shared_ptr<sm::Endpoint>>(ep);
                 return LuaReply::async([=](sdk::LuaResume resume) {
                   auto w = start_wait(channel, std::move(resume));
                   if (!listen(w, [w, endpoint_ptr](const sm::MediaEvent& e) {
                         if (e.type == sm::EventType::detached) return (void)w->finish(LuaValues{LuaValue(true)});
                         if (e.type == sm::EventType::dtmf && e.digit == '#') {
                           endpoint_ptr->echo(false);
                           w->finish(LuaValues{LuaValue(true)});
                         }
                       })) {
                     w->finish(LuaValues{LuaValue(false), LuaValue("hangup")});
                     return;
                   }
                   endpoint_ptr->echo(true);
                 });
               }});
  f.push_back(
      {"detect_fax", "call: table, options?: table", "fax: boolean, how: string",
       "`call:detect_fax{ timeout = 4 }` listens to the caller for `timeout` seconds (default 4, as XiVO's "
       "incall fax detection; 1 to 60) for a fax machine's calling tone (CNG, 1100 Hz; spandsp's detector) "
       "and returns `true, \"cng\"` as soon as it is heard, `true, \"t38\"` when the caller's gateway moves "
       "the call to T.38, or `false, \"timeout\"` / `false, \"hangup\"`. What the caller hears meanwhile "
       "is the dialplan's (e.g. call:playtones(\"ring\") before); follow a `true` with call:receive_fax. "
       "Needs call:answer() first.",
       [endpoint, start_wait, listen](const LuaValues& args) -> LuaReply {
         std::string channel;
         auto ep = endpoint(args, "detect_fax", channel);
         if (auto* r = std::get_if<LuaReply>(&ep)) return std::move(*r);
         long timeout_ms = 4000;
         if (args.size() > 1)
           if (auto* t = args[1].as_table())
             if (auto s = sdk::int_field(*t, "timeout")) timeout_ms = static_cast<long>(std::clamp<std::int64_t>(*s, 1, 60)) * 1000;
         auto endpoint_ptr = std::get<std::shared_ptr<sm::Endpoint>>(ep);
         return LuaReply::async([=](sdk::LuaResume resume) {
           auto w = start_wait(channel, std::move(resume));
           if (!listen(w, [w](const sm::MediaEvent& e) {
                 if (e.type == sm::EventType::detached) w->finish(LuaValues{LuaValue(false), LuaValue("hangup")});
                 if (e.type == sm::EventType::fax_tone) w->finish(LuaValues{LuaValue(true), LuaValue(e.detail)});
               })) {
             w->finish(LuaValues{LuaValue(false), LuaValue("hangup")});
             return;
           }
           if (!endpoint_ptr->detect_fax(true)) {
             w->finish(LuaValues{LuaValue(false), LuaValue("this media engine cannot detect faxes")});
             return;
           }
           w->arm(std::chrono::milliseconds(timeout_ms), [w, endpoint_ptr] {
             endpoint_ptr->detect_fax(false);
             w->finish(LuaValues{LuaValue(false), LuaValue("timeout")});
           });
         });
       }});
  f.push_back(
      {"moh", "call: table, class?: string, seconds?: integer", "ok: boolean, error: string|nil",
       "Plays the music-on-hold class `class` (default `default`: the files of `sounds.moh_path`, "
       "other classes its sub-directories), looping, for `seconds` then returns; without `seconds` it "
       "returns at once and the music goes on until the next play or call:stop_playing(). An empty "
       "or unknown class is logged and gives `false`.",
       [weak, endpoint, start_wait, listen](const LuaValues& args) -> LuaReply {
         std::string channel;
         auto ep = endpoint(args, "moh", channel);
         if (auto* r = std::get_if<LuaReply>(&ep)) return std::move(*r);
         std::string cls = args.size() > 1 && args[1].as_string() ? *args[1].as_string() : "default";
         auto self = weak.lock();
         std::vector<std::string> files;
         if (auto engine = self ? self->engine() : nullptr)
           for (auto& p : engine->music_files(cls)) files.push_back(p.string());
         if (files.empty()) {
           if (self && self->log_)
             self->log_->warn("media: music on hold class '" + cls + "' has no files (sounds.moh_path or its "
                              "sub-directory " + cls + "); install asterisk-moh-opsound-wav or fix the class");
           return LuaReply::values({LuaValue(false), LuaValue("no music in class " + cls)});
         }
         auto endpoint_ptr = std::get<std::shared_ptr<sm::Endpoint>>(ep);
         sm::PlayOptions o;
         o.loop = true;
         std::optional<std::int64_t> seconds;
         if (args.size() > 2) seconds = args[2].as_int();
         if (!seconds || *seconds <= 0) {
           endpoint_ptr->play(files, o);
           return LuaReply::values({LuaValue(true)});
         }
         long ms = static_cast<long>(std::min<std::int64_t>(*seconds, 86400)) * 1000;
         return LuaReply::async([=](sdk::LuaResume resume) {
           auto w = start_wait(channel, std::move(resume));
           auto stop = [w, endpoint_ptr] {
             endpoint_ptr->stop_playing();
             w->finish(LuaValues{LuaValue(true)});
           };
           // The files load on the I/O thread first (seconds on a cold cache), so
           // the `seconds` count from play_started: the caller hears all of them.
           // Listening before play() so the event cannot be missed.
           if (!listen(w, [w, ms, stop](const sm::MediaEvent& e) {
                 if (e.type == sm::EventType::detached) w->finish(LuaValues{LuaValue(false), LuaValue("hangup")});
                 if (e.type == sm::EventType::play_started) w->arm(std::chrono::milliseconds(ms), stop);
               })) {
             w->finish(LuaValues{LuaValue(false), LuaValue("hangup")});
             return;
           }
           // Backstop in case the music never starts (a later play or tone on the
           // channel replaced it before it loaded): the verb still returns.
           w->arm(std::chrono::milliseconds(ms) + kMusicLoadLimit, stop);
           endpoint_ptr->play(files, o);
         });
       }});
  f.push_back(
      {"conference", "call: table, room: table", "ok: boolean, why: string",
       "`call:conference{ room = \"4010\", max_participants = 10, music_on_hold = \"default\", "
       "quiet = false, admin = false, waiting_room = false }` puts the caller in conference room `room` "
       "(its number or name; lib/conferences.lua gives the confd id, which calld's "
       "/1.0/conferences/{conference_id}/participants routes name) and returns when the caller leaves: "
       "`true, \"hangup\"`, `true, \"left\"` after DTMF #, or `true, \"kicked\"` when an organizer "
       "kicked it out through calld; or at once with "
       "`false, \"full\"` when `max_participants` (0: no limit) are in. Each participant hears "
       "the others, not itself; alone in the room it hears `music_on_hold` (\"\": silence). Joins "
       "and leaves play confbridge-join / confbridge-leave to the others unless `quiet`. DTMF 1 "
       "mutes or unmutes oneself; with `admin` (the organizer PIN), DTMF 2 mutes or unmutes the "
       "other participants. With `waiting_room` (the room's first caller sets it), callers who are "
       "not `admin` hear conf-waitforleader and the music, unheard, until an organizer is in, and "
       "again once the last organizer left. The call's caller_name and caller_number are what "
       "the participant list shows. The PIN prompt is the dialplan's (lib/conferences.lua); needs "
       "call:answer() first.",
       [weak, endpoint](const LuaValues& args) -> LuaReply {
         std::string channel;
         auto ep = endpoint(args, "conference", channel);
         if (auto* r = std::get_if<LuaReply>(&ep)) return std::move(*r);
         const LuaTable* t = args.size() > 1 ? args[1].as_table() : nullptr;
         ConferenceRooms::Join j;
         if (t) j.room = sdk::text_field(*t, "room");
         if (j.room.empty()) return LuaReply::error("call:conference: give `room`, the room's number or name");
         j.max_participants = static_cast<std::size_t>(std::max<std::int64_t>(0, sdk::int_field(*t, "max_participants").value_or(0)));
         if (auto* v = sdk::lua_field(*t, "music_on_hold"))
           if (auto* s = v->as_string()) j.moh_class = *s;
         j.quiet = sdk::bool_field(*t, "quiet").value_or(false);
         j.admin = sdk::bool_field(*t, "admin").value_or(false);
         j.waiting_room = sdk::bool_field(*t, "waiting_room").value_or(false);
         if (const LuaTable* c = args[0].as_table()) {
           j.caller_name = sdk::text_field(*c, "caller_name");
           j.caller_number = sdk::text_field(*c, "caller_number");
         }
         auto self = weak.lock();
         auto engine = self ? self->engine() : nullptr;
         if (!self || !engine) return LuaReply::error("call:conference: the media engine is stopped");
         auto endpoint_ptr = std::get<std::shared_ptr<sm::Endpoint>>(ep);
         auto rooms = self->rooms_;
         return LuaReply::async([=](sdk::LuaResume resume) {
           rooms->join(engine, channel, endpoint_ptr, j, std::move(resume));
         });
       }});
  f.push_back(
      {"record_call", "call: table", "ok: boolean, file: string",
       "Records the call in the background, both parties mixed, to <recordings.path>/<UTC "
       "yyyymmdd-HHMMSS>-<call id>.wav (media.engine's option; listed by GET /1.0/recordings) "
       "until call:stop_recording() or the end of the call, and returns at once with the file's name. "
       "A file that cannot be written (directory, full disk) gives one log line and the call goes on "
       "unrecorded. Use it once the call is bridged (after call:dial answered), or once answered by "
       "Dialtone (a voicemail, a conference, a prompt: what the caller says and hears). It runs beside "
       "call:record (a voicemail message of a recorded call is recorded too).",
       [weak, endpoint](const LuaValues& args) -> LuaReply {
         std::string channel;
         auto ep = endpoint(args, "record_call", channel);
         if (auto* r = std::get_if<LuaReply>(&ep)) return std::move(*r);
         auto self = weak.lock();
         auto rec = self ? std::atomic_load(&self->recordings_) : nullptr;
         if (!rec) return LuaReply::values({LuaValue(false), LuaValue("no recordings directory (recordings.path)")});
         auto file = rec->new_file(call_id_of(args));
         std::get<std::shared_ptr<sm::Endpoint>>(ep)->record_call(file);
         if (self->log_) self->log_->info("call " + call_id_of(args) + ": recording to " + file.string());
         return LuaReply::values({LuaValue(true), LuaValue(file.filename().string())});
       }});
  f.push_back(
      {"allow_online_recording", "call: table, options: table", "ok: boolean, error: string|nil",
       "`call:allow_online_recording{ by = { call.channel, outcome.channel }, code = \"*3\" }` lets the "
       "parties of the channels `by` (default: the call's) start and stop the recording of the bridged "
       "call by sending `code` (XiVO's online call recording, *3): each start writes a new file as "
       "call:record_call() does, listed by GET /1.0/recordings; the end of the call stops it. Returns at "
       "once. Use it once the call is bridged (after call:dial answered).",
       [weak, endpoint](const LuaValues& args) -> LuaReply {
         std::string channel;
         auto ep = endpoint(args, "allow_online_recording", channel);
         if (auto* r = std::get_if<LuaReply>(&ep)) return std::move(*r);
         const LuaTable* t = args.size() > 1 ? args[1].as_table() : nullptr;
         std::vector<std::string> by = t ? sdk::strings_field(*t, "by") : std::vector<std::string>{};
         if (by.empty()) by.push_back(channel);
         std::string code = t ? sdk::text_field(*t, "code") : std::string();
         if (code.empty()) code = "*3";
         if (code.find_first_not_of("0123456789*#ABCD") != std::string::npos)
           return LuaReply::error("call:allow_online_recording: code '" + code +
                                  "' holds a character that is not a DTMF digit (0-9, *, #, A-D)");
         auto self = weak.lock();
         if (!self) return LuaReply::error("call:allow_online_recording: the media engine is stopped");
         self->online_->allow(by, channel, call_id_of(args), code);
         return LuaReply::values({LuaValue(true)});
       }});
  f.push_back({"stop_recording", "call: table", "ok: boolean, error: string|nil",
               "Stops the recording call:record_call started (the file is kept).",
               [endpoint](const LuaValues& args) -> LuaReply {
                 std::string channel;
                 auto ep = endpoint(args, "stop_recording", channel);
                 if (auto* r = std::get_if<LuaReply>(&ep)) return std::move(*r);
                 std::get<std::shared_ptr<sm::Endpoint>>(ep)->stop_call_recording();
                 return LuaReply::values({LuaValue(true)});
               }});
  f.push_back(
      {"page", "call: table, page: table", "ok: boolean, why: string",
       "`call:page{ targets = { \"sip/1002\", \"sip/1003\" }, timeout = 30, duplex = false, quiet = false, "
       "announce = \"beep\", announce_caller = true, record = false }` pages the "
       "targets (seed 5.24): each is dialed with AUTOANSWER=yes, so its phone answers on its own "
       "(SIP: the auto-answer header of its vendor), and hears the caller; the caller hears nobody "
       "unless `duplex`. The first answer plays `announce` (unless not `announce_caller`) and a beep "
       "(unless `quiet`) to the caller; members hear `announce` as they answer. `record = true` writes "
       "what the caller says to <recordings.path>/<date>-<call id>-page.wav. Returns when the caller hangs up (`true, \"hangup\"`), presses # "
       "(`true, \"left\"`) or no member is left (`true, \"ended\"`); the members' legs are then hung "
       "up. Needs call:answer() first.",
       [weak, endpoint](const LuaValues& args) -> LuaReply {
         std::string channel;
         auto ep = endpoint(args, "page", channel);
         if (auto* r = std::get_if<LuaReply>(&ep)) return std::move(*r);
         const LuaTable* t = args.size() > 1 ? args[1].as_table() : nullptr;
         if (!t) return LuaReply::error("call:page: give a table with `targets`");
         Paging::Page p;
         p.targets = sdk::strings_field(*t, "targets");
         if (p.targets.empty()) return LuaReply::values({LuaValue(false), LuaValue("no member to page")});
         auto flag = [t](const char* k, bool dflt) { return sdk::bool_field(*t, k).value_or(dflt); };
         p.timeout_seconds = static_cast<int>(std::clamp<std::int64_t>(sdk::int_field(*t, "timeout").value_or(30), 1, 86400));
         p.duplex = flag("duplex", false);
         p.quiet = flag("quiet", false);
         p.announce_caller = flag("announce_caller", true);
         p.announce = sdk::text_field(*t, "announce");
         if (flag("record", false)) {
           auto self = weak.lock();
           auto rec = self ? std::atomic_load(&self->recordings_) : nullptr;
           if (rec) p.record_file = rec->new_file(call_id_of(args), "page");
           else if (self && self->log_) self->log_->warn("call:page: `record` asked but no recordings directory is set; not recorded");
         }
         p.caller_number = sdk::text_field(*t, "caller_number");
         p.caller_name = sdk::text_field(*t, "caller_name");
         auto self = weak.lock();
         auto engine = self ? self->engine() : nullptr;
         if (!self || !engine) return LuaReply::error("call:page: the media engine is stopped");
         auto endpoint_ptr = std::get<std::shared_ptr<sm::Endpoint>>(ep);
         auto paging = self->paging_;
         return LuaReply::async([=](sdk::LuaResume resume) {
           paging->page(engine, channel, endpoint_ptr, p, std::move(resume));
         });
       }});
  return f;
}

}  // namespace dialtone::plugins::media
