// The SIP stack: sofia-sip NTA on its own su_root thread, the registrar and a
// basic B2BUA. This header carries no sofia types so that the plugin glue,
// the tests and other translation units never include sofia headers.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <dialtone/host.h>
#include <dialtone/result.h>

namespace dialtone::plugins::backend::sip {

struct SipConfig {
  std::string host = "127.0.0.1";
  int port = 5060;  // 0: an ephemeral port (tests); udp and tcp share it
  std::vector<std::string> transports{"udp", "tcp"};
  std::string tls_certificate_dir;  // sofia's TLS layout: agent.pem, cafile.pem
  int tls_port = 5061;
  std::string realm = "dialtone";
  int expires_min = 60;
  int expires_max = 3600;
  int expires_default = 3600;
  std::chrono::seconds nonce_lifetime{300};
  int ban_failures = 5;
  std::chrono::seconds ban_window{60};
  std::chrono::seconds ban_time{600};
  std::chrono::seconds credential_cache{300};
  std::string user_agent = "Dialtone";
};

// A line's SIP credentials and what the dialplan needs about its caller.
struct LineCredentials {
  std::string username;
  std::string secret;
  std::string context;
  std::string line_id;
  std::string caller_name;
  std::string caller_number;
  std::string user_id;
};

// One registered contact of an AOR, as persisted and published.
struct Binding {
  std::string contact;     // the Contact URI
  std::string call_id;
  std::uint32_t cseq = 0;
  std::int64_t expires_at = 0;  // unix seconds
  std::string received;    // transport:ip:port the REGISTER came from
  std::string user_agent;
};

// The call as handed to the dialplan.
struct CallInfo {
  std::string id;
  std::string caller_username;
  std::string caller_number;
  std::string caller_name;
  std::string called_number;
  std::string context;
  std::map<std::string, std::string> variables;  // XIVO_* style
};

// What the dialplan decided.
struct RouteDecision {
  enum class Action { dial, reject } action = Action::reject;
  std::vector<std::string> targets;  // SIP usernames of lines
  int timeout_seconds = 30;
  int status = 404;
  std::string reason;
};

// What the stack needs from the rest of the process. Each method is called on
// the SIP thread, must not block, and may complete from any thread.
class SipBackend {
 public:
  virtual ~SipBackend() = default;
  // `done(creds, ok)`: ok=false when the store failed (the stack answers 503).
  virtual void find_credentials(const std::string& username,
                                std::function<void(std::optional<LineCredentials>, bool ok)> done) = 0;
  virtual void route_call(const CallInfo& call, std::function<void(RouteDecision)> done) = 0;
  // The AOR's full set of bindings changed (empty: unregistered).
  virtual void bindings_changed(const std::string& aor, const std::vector<Binding>& bindings) = 0;
  // A call changed state: "ringing", "answered", "ended" with a SIP status.
  virtual void call_event(const std::string& call_id, const std::string& state, int status) = 0;
};

class SipStack {
 public:
  SipStack(SipConfig config, SipBackend& backend, sdk::Logger& log);
  ~SipStack();
  SipStack(const SipStack&) = delete;
  SipStack& operator=(const SipStack&) = delete;

  // Starts the thread and binds the transports; fails with a message naming
  // the address when it cannot.
  sdk::Status start();
  void stop();

  // The port actually bound (after start()).
  int port() const;
  // Drops cached credentials (a line changed in the store).
  void invalidate_credentials();
  // Number of registered contacts of `aor` (thread-safe snapshot).
  std::size_t contact_count(const std::string& aor) const;
  std::size_t active_calls() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace dialtone::plugins::backend::sip
