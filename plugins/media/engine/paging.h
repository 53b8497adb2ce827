// Paging (call:page; seed 5.24): the caller's voice to a group of phones
// that answer on their own. The members are dialed through the call core
// from one `page` channel of the caller's call whose variable AUTOANSWER=yes
// asks each backend for its phones' auto-answer header (SIP: per vendor);
// every member that answers joins one engine mixer with the caller.
//
// @code
//   auto paging = std::make_shared<Paging>(log);
//   paging->set_call_core(core);                  // registers the `page` driver
//   Paging::Page p;
//   p.targets = {"sip/1002", "sip/1003"};
//   paging->page(engine, caller_channel, caller_endpoint, p, resume);
// @endcode
//
// One way by default: members are muted in the mixer, so they hear the
// caller and nobody hears them; `duplex` unmutes them (everyone hears
// everyone else, Asterisk's Page(d)). The page lasts until the caller hangs
// up or presses #, or until no member is left once every dial ended; then
// every member's leg is hung up. Members who hang up leave the mixer.
// All methods may run on any thread and never block.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <dialtone/calls.h>
#include <dialtone/host.h>
#include <dialtone/lua.h>
#include <dialtone/media.h>

namespace dialtone::plugins::media {

class Paging : public std::enable_shared_from_this<Paging> {
 public:
  struct Page {
    std::vector<std::string> targets;  // "<backend>/<target>", e.g. "sip/1002"
    int timeout_seconds = 30;          // the members' phones are given this long to answer
    bool duplex = false;               // members heard too
    bool quiet = false;                // no beep to the caller when the first member answers
    std::string announce;              // a sound played to the members as they answer
    bool announce_caller = true;       // the caller hears `announce` too
    std::filesystem::path record_file; // what the caller says, to WAV (empty: not recorded)
    std::string caller_number, caller_name;  // presented to the members
  };

  explicit Paging(sdk::Logger* log) : log_(log) {}

  // The call core the members are dialed through; registers the `page`
  // channel driver with it. Null: call:page answers `false, "no call core"`.
  void set_call_core(std::shared_ptr<sdk::CallCore> core);

  // Pages `options.targets` for the caller on `channel`; `resume` gets
  // (true, "hangup" | "left" | "ended") once the page is over, or
  // (false, why) when nothing could be dialed.
  void page(const std::shared_ptr<sdk::media::MediaEngine>& engine, const std::string& channel,
            const std::shared_ptr<sdk::media::Endpoint>& endpoint, Page options, sdk::LuaResume resume);

  // Members of the caller's page whose media is in the mixer now.
  std::size_t members(const std::string& caller_channel) const;

 private:
  struct Member {
    std::string leg;  // the call core's channel
    std::shared_ptr<sdk::media::Endpoint> endpoint;
    std::uint64_t listener = 0;
  };
  struct Session {
    std::string caller, page_channel;
    std::shared_ptr<sdk::media::Endpoint> caller_endpoint;
    std::shared_ptr<sdk::media::Mixer> mixer;
    Page options;
    std::vector<Member> members;
    std::size_t dials_pending = 0;
    std::size_t answered = 0;
    std::uint64_t caller_listener = 0;
    bool over = false;
    sdk::LuaResume resume;
  };

  void answered(const std::string& caller, const std::string& leg);
  void dial_over(const std::string& caller);
  void member_left(const std::string& caller, const std::string& leg);
  void end(const std::string& caller, const char* why);

  sdk::Logger* log_;
  std::shared_ptr<sdk::CallCore> core_;
  std::weak_ptr<sdk::media::MediaEngine> engine_;
  mutable std::mutex m_;
  std::map<std::string, std::shared_ptr<Session>> sessions_;  // by the caller's channel
};

}  // namespace dialtone::plugins::media
