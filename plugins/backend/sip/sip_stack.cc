// sofia-sip lives only in this file (and the fuzzer): its headers clash with
// Poco and others, so every other translation unit sees sip_stack.h only.
#define NTA_AGENT_MAGIC_T void
#define NTA_LEG_MAGIC_T void
#define NTA_OUTGOING_MAGIC_T void
#define NTA_INCOMING_MAGIC_T void
#define SU_ROOT_MAGIC_T void
#define SU_WAKEUP_ARG_T void
#define SU_TIMER_ARG_T void

#include "plugins/backend/sip/sip_stack.h"

#include <sofia-sip/msg_addr.h>
#include <sofia-sip/nta.h>
#include <sofia-sip/nta_tport.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_tag.h>
#include <sofia-sip/sip_util.h>
#include <sofia-sip/su.h>
#include <sofia-sip/su_alloc.h>
#include <sofia-sip/su_tag.h>
#include <sofia-sip/su_wait.h>
#include <sofia-sip/tport_tag.h>
#include <sofia-sip/url.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>

#include "plugins/backend/sip/auth_ban.h"
#include "plugins/backend/sip/digest.h"

namespace dialtone::plugins::backend::sip {
namespace {

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
std::int64_t mono_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string str(const char* s) { return s ? std::string(s) : std::string(); }

std::string random_token(std::size_t n) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* d = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string out(n, '0');
  for (auto& c : out) c = d[rng() % 36];
  return out;
}

// Owns one su_home_t (sofia's arena allocator).
class Home {
 public:
  Home() { su_home_init(home_); }
  ~Home() { su_home_deinit(home_); }
  Home(const Home&) = delete;
  Home& operator=(const Home&) = delete;
  su_home_t* get() { return home_; }

 private:
  su_home_t home_[1] = {SU_HOME_INIT(home_)};
};

// A reference to a msg_t, released when it goes out of scope.
class MsgRef {
 public:
  explicit MsgRef(msg_t* m) : m_(m) {}
  ~MsgRef() {
    if (m_) msg_destroy(m_);
  }
  MsgRef(const MsgRef&) = delete;
  MsgRef& operator=(const MsgRef&) = delete;
  msg_t* get() const { return m_; }

 private:
  msg_t* m_;
};

// Where a request came from: "udp", "127.0.0.1", 5070.
struct Source {
  std::string transport = "udp";
  std::string ip = "?";
  int port = 0;
  std::string text() const { return transport + ":" + ip + ":" + std::to_string(port); }
};

Source source_of(nta_incoming_t* irq) {
  Source s;
  MsgRef msg(nta_incoming_getrequest(irq));
  if (!msg.get()) return s;
  su_addrinfo_t* ai = msg_addrinfo(msg.get());
  if (!ai || !ai->ai_addr) return s;
  char buf[INET6_ADDRSTRLEN] = {0};
  if (ai->ai_addr->sa_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(ai->ai_addr);
    inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf);
    s.port = ntohs(in->sin_port);
  } else if (ai->ai_addr->sa_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(ai->ai_addr);
    inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf);
    s.port = ntohs(in6->sin6_port);
  }
  s.ip = buf;
  if (ai->ai_protocol == IPPROTO_TCP) s.transport = "tcp";
  return s;
}

std::string url_string(const url_t* u) {
  if (!u) return {};
  Home h;
  char* s = url_as_string(h.get(), u);
  return str(s);
}

// The Authorization header rebuilt as text, for the digest parser (which is
// also what the fuzzer exercises).
std::string auth_text(const msg_auth_t* au) {
  std::string out = str(au->au_scheme);
  bool first = true;
  for (auto p = au->au_params; p && *p; ++p) {
    out += first ? " " : ", ";
    out += *p;
    first = false;
  }
  return out;
}

}  // namespace

struct Call;

struct Branch {
  Call* call = nullptr;
  std::string target;
  nta_leg_t* leg = nullptr;
  nta_outgoing_t* orq = nullptr;
  int status = 0;
  bool final = false;
  bool acked = false;
  std::uint32_t invite_cseq = 0;
};

struct Call {
  std::uint64_t serial = 0;
  std::string id;
  enum class State { authenticating, routing, ringing, answered, ending } state = State::authenticating;
  nta_leg_t* a_leg = nullptr;
  nta_incoming_t* a_irq = nullptr;
  std::vector<std::unique_ptr<Branch>> branches;
  Branch* winner = nullptr;
  su_timer_t* ring_timer = nullptr;
  std::string sdp;
  std::string content_type;
  std::string from_display;
  std::string from_user;
  std::string called;
  int pending_byes = 0;
  int ended_status = 0;
  bool relayed_ringing = false;
  bool finishing = false;
};

// Tasks posted from other threads, run on the SIP thread. Shared with the
// completion callbacks so a late completion after stop() is dropped safely.
struct Inbox {
  std::mutex mutex;
  std::deque<std::function<void()>> tasks;
  int fd = -1;
  bool open = true;

  bool post(std::function<void()> task) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (!open) return false;
      tasks.push_back(std::move(task));
    }
    std::uint64_t one = 1;
    ssize_t n = ::write(fd, &one, sizeof one);
    (void)n;
    return true;
  }
  void close() {
    std::lock_guard<std::mutex> lock(mutex);
    open = false;
    tasks.clear();
  }
};

struct SipStack::Impl {
  SipConfig cfg;
  SipBackend& backend;
  sdk::Logger& log;
  NonceFactory nonces;
  AuthBan bans;
  std::shared_ptr<Inbox> inbox = std::make_shared<Inbox>();

  std::thread thread;
  std::atomic<int> bound_port{0};
  std::mutex start_mutex;
  std::condition_variable start_cv;
  bool start_done = false;
  std::string start_error;

  // Sofia objects: only touched on the SIP thread.
  su_root_t* root = nullptr;
  nta_agent_t* agent = nullptr;
  nta_leg_t* default_leg = nullptr;
  su_timer_t* sweep_timer = nullptr;
  su_wait_t inbox_wait[1];
  int inbox_index = -1;
  Home home;
  sip_contact_t* contact = nullptr;

  // Registrar working copy (SIP thread) and a snapshot for other threads.
  std::unordered_map<std::string, std::vector<Binding>> locations;
  mutable std::mutex snapshot_mutex;
  std::unordered_map<std::string, std::size_t> snapshot;

  struct CachedCredentials {
    std::optional<LineCredentials> creds;
    std::int64_t fetched_ms = 0;
  };
  std::unordered_map<std::string, CachedCredentials> credentials;
  std::unordered_map<std::string,
                     std::vector<std::function<void(const std::optional<LineCredentials>&, bool)>>>
      credential_waiters;

  std::unordered_map<std::uint64_t, std::unique_ptr<Call>> calls;
  std::atomic<std::size_t> call_count{0};
  std::uint64_t next_call = 1;

  Impl(SipConfig c, SipBackend& b, sdk::Logger& l)
      : cfg(std::move(c)),
        backend(b),
        log(l),
        nonces(cfg.realm, cfg.nonce_lifetime),
        bans(cfg.ban_failures, cfg.ban_window, cfg.ban_time) {}

  // ---- thread and loop ------------------------------------------------

  void run(int port) {
    su_init();
    std::string err = open(port);
    {
      std::lock_guard<std::mutex> lock(start_mutex);
      start_error = err;
      start_done = true;
    }
    start_cv.notify_all();
    if (err.empty()) su_root_run(root);
    close();
    su_deinit();
  }

  std::string open(int port) {
    root = su_root_create(nullptr);
    if (!root) return "cannot create the SIP event loop";
    inbox->fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (inbox->fd < 0) return "cannot create an eventfd for the SIP thread";
    su_wait_create(inbox_wait, inbox->fd, SU_WAIT_IN);
    inbox_index = su_root_register(root, inbox_wait, &Impl::on_inbox, this, 0);

    bool udp = std::find(cfg.transports.begin(), cfg.transports.end(), "udp") != cfg.transports.end();
    bool tcp = std::find(cfg.transports.begin(), cfg.transports.end(), "tcp") != cfg.transports.end();
    std::string url = "sip:" + cfg.host + ":" + std::to_string(port);
    if (udp && !tcp) url += ";transport=udp";
    if (tcp && !udp) url += ";transport=tcp";
    agent = nta_agent_create(root, URL_STRING_MAKE(url.c_str()), &Impl::on_stray, this,
                             NTATAG_UA(1), NTATAG_CANCEL_487(1), NTATAG_SERVER_RPORT(1),
                             NTATAG_MAXSIZE(65536), TAG_END());
    if (!agent)
      return "cannot listen on " + url + " (address in use or not local?); set sip.listen";
    if (!cfg.tls_certificate_dir.empty()) {
      std::string tls = "sips:" + cfg.host + ":" + std::to_string(cfg.tls_port);
      if (nta_agent_add_tport(agent, URL_STRING_MAKE(tls.c_str()),
                              TPTAG_CERTIFICATE(cfg.tls_certificate_dir.c_str()), TAG_END()) < 0)
        return "cannot listen for TLS on " + tls + " with certificates from " +
               cfg.tls_certificate_dir + "; check sip.tls_certificate_dir";
    }
    default_leg = nta_leg_tcreate(agent, &Impl::on_request, this, NTATAG_NO_DIALOG(1), TAG_END());
    if (!default_leg) return "cannot create the SIP default leg";
    contact = sip_contact_dup(home.get(), nta_agent_contact(agent));
    if (contact && contact->m_url->url_port) bound_port = std::atoi(contact->m_url->url_port);
    else bound_port = port;
    sweep_timer = su_timer_create(su_root_task(root), 1000);
    su_timer_set_interval(sweep_timer, &Impl::on_sweep, this, 1000);
    return {};
  }

  void close() {
    inbox->close();
    for (auto& [_, call] : calls) release(*call);
    calls.clear();
    call_count = 0;
    if (sweep_timer) su_timer_destroy(sweep_timer);
    sweep_timer = nullptr;
    if (default_leg) nta_leg_destroy(default_leg);
    default_leg = nullptr;
    if (agent) nta_agent_destroy(agent);
    agent = nullptr;
    if (root && inbox_index >= 0) su_root_deregister(root, inbox_index);
    if (inbox->fd >= 0) ::close(inbox->fd);
    inbox->fd = -1;
    if (root) su_root_destroy(root);
    root = nullptr;
  }

  static int on_inbox(void* magic, su_wait_t* w, void* arg) {
    auto* self = static_cast<Impl*>(arg);
    std::uint64_t n;
    while (::read(self->inbox->fd, &n, sizeof n) > 0) {
    }
    std::deque<std::function<void()>> tasks;
    {
      std::lock_guard<std::mutex> lock(self->inbox->mutex);
      tasks.swap(self->inbox->tasks);
    }
    for (auto& t : tasks) t();
    return 0;
  }

  // Runs `fn` on the SIP thread later (also used to leave sofia callbacks
  // before destroying the objects they belong to).
  void later(std::function<void()> fn) { inbox->post(std::move(fn)); }

  static int on_stray(void*, nta_agent_t* agent, msg_t* msg, sip_t* sip) {
    nta_msg_discard(agent, msg);
    return 0;
  }

  // ---- requests outside dialogs -------------------------------------

  static int on_request(void* magic, nta_leg_t* leg, nta_incoming_t* irq, const sip_t* sip) {
    auto* self = static_cast<Impl*>(magic);
    if (!sip || !sip->sip_request) return 400;
    switch (sip->sip_request->rq_method) {
      case sip_method_register:
        return self->on_register(irq, sip);
      case sip_method_invite:
        if (sip->sip_to && sip->sip_to->a_tag) return 481;
        return self->on_invite(irq, sip);
      case sip_method_options:
        nta_incoming_treply(irq, SIP_200_OK,
                            SIPTAG_ALLOW_STR("INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER"),
                            SIPTAG_ACCEPT_STR("application/sdp"),
                            SIPTAG_USER_AGENT_STR(self->cfg.user_agent.c_str()), TAG_END());
        nta_incoming_destroy(irq);
        return 0;
      case sip_method_ack:
        return 0;
      case sip_method_bye:
      case sip_method_cancel:
        return 481;
      default:
        nta_incoming_treply(irq, SIP_405_METHOD_NOT_ALLOWED,
                            SIPTAG_ALLOW_STR("INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER"),
                            TAG_END());
        nta_incoming_destroy(irq);
        return 0;
    }
  }

  // ---- authentication --------------------------------------------------

  enum class AuthStep { challenge, stale, check, forbidden };

  void challenge(nta_incoming_t* irq, bool proxy, bool stale) {
    std::string value = "Digest realm=\"" + cfg.realm + "\", nonce=\"" + nonces.make(unix_now()) +
                        "\", qop=\"auth\", algorithm=MD5";
    if (stale) value += ", stale=true";
    if (proxy)
      nta_incoming_treply(irq, SIP_407_PROXY_AUTH_REQUIRED,
                          SIPTAG_PROXY_AUTHENTICATE_STR(value.c_str()), TAG_END());
    else
      nta_incoming_treply(irq, SIP_401_UNAUTHORIZED, SIPTAG_WWW_AUTHENTICATE_STR(value.c_str()),
                          TAG_END());
    nta_incoming_destroy(irq);
  }

  void reply(nta_incoming_t* irq, int status, const char* phrase) {
    nta_incoming_treply(irq, status, phrase, TAG_END());
    nta_incoming_destroy(irq);
  }

  // The credentials in `list` meant for our realm, parsed.
  std::optional<DigestCredentials> our_credentials(const msg_auth_t* list) {
    for (auto* au = list; au; au = au->au_next) {
      auto c = parse_digest(auth_text(au));
      if (c && c->realm == cfg.realm) return c;
    }
    return std::nullopt;
  }

  void auth_failed(const std::string& user, const Source& src) {
    log.warn("sip: auth failed for \"" + user + "\" from " + src.ip);
    if (bans.failure(src.ip, std::chrono::steady_clock::now()))
      log.warn("sip: banned " + src.ip + " for " + std::to_string(cfg.ban_time.count()) +
               "s after " + std::to_string(cfg.ban_failures) + " auth failures");
  }

  // Challenges, refuses, or calls `next(creds)` once the user's credentials
  // have been looked up and the response verified. Returns 0 (the request is
  // answered here or later).
  int authenticate(nta_incoming_t* irq, const sip_t* sip, bool proxy, const char* method,
                   std::function<void(nta_incoming_t*, const LineCredentials&)> next) {
    Source src = source_of(irq);
    if (bans.banned(src.ip, std::chrono::steady_clock::now())) {
      reply(irq, SIP_403_FORBIDDEN);
      return 0;
    }
    auto creds = our_credentials(proxy ? sip->sip_proxy_authorization : sip->sip_authorization);
    if (!creds) {
      challenge(irq, proxy, false);
      return 0;
    }
    auto algorithm = digest_algorithm(creds->algorithm);
    if (!algorithm || (!creds->qop.empty() && creds->qop != "auth")) {
      challenge(irq, proxy, false);
      return 0;
    }
    switch (nonces.check(creds->nonce, unix_now())) {
      case NonceFactory::Check::invalid:
        challenge(irq, proxy, false);
        return 0;
      case NonceFactory::Check::stale:
        challenge(irq, proxy, true);
        return 0;
      case NonceFactory::Check::valid:
        break;
    }
    std::string m = method;
    with_credentials(creds->username, [this, irq, src, c = *creds, a = *algorithm, m,
                                       next = std::move(next)](
                                          const std::optional<LineCredentials>& line, bool ok) {
      if (!ok) {
        reply(irq, SIP_503_SERVICE_UNAVAILABLE);
        return;
      }
      if (!line || !equal_secret(digest_response(a, c, line->secret, m), c.response)) {
        auth_failed(c.username, src);
        reply(irq, SIP_403_FORBIDDEN);
        return;
      }
      bans.success(src.ip);
      next(irq, *line);
    });
    return 0;
  }

  void with_credentials(const std::string& user,
                        std::function<void(const std::optional<LineCredentials>&, bool)> cb) {
    auto now = mono_ms();
    auto it = credentials.find(user);
    if (it != credentials.end()) {
      // Unknown users are asked again after a second, so a line created in
      // the store can register right away.
      auto ttl = it->second.creds ? cfg.credential_cache.count() * 1000 : 1000;
      if (now - it->second.fetched_ms < ttl) {
        cb(it->second.creds, true);
        return;
      }
    }
    auto& waiters = credential_waiters[user];
    waiters.push_back(std::move(cb));
    if (waiters.size() > 1) return;
    std::weak_ptr<Inbox> weak = inbox;
    backend.find_credentials(user, [this, weak, user](std::optional<LineCredentials> c, bool ok) {
      if (auto in = weak.lock())
        in->post([this, user, c = std::move(c), ok] { on_credentials(user, c, ok); });
    });
  }

  void on_credentials(const std::string& user, const std::optional<LineCredentials>& c, bool ok) {
    if (ok) credentials[user] = CachedCredentials{c, mono_ms()};
    auto waiters = std::move(credential_waiters[user]);
    credential_waiters.erase(user);
    for (auto& w : waiters) w(c, ok);
  }

  // ---- registrar ---------------------------------------------------------

  int on_register(nta_incoming_t* irq, const sip_t* sip) {
    if (!sip->sip_to || !sip->sip_to->a_url->url_user || !sip->sip_call_id || !sip->sip_cseq)
      return 400;
    return authenticate(irq, sip, false, "REGISTER",
                        [this, sip](nta_incoming_t* irq, const LineCredentials& line) {
                          do_register(irq, sip, line);
                        });
  }

  void do_register(nta_incoming_t* irq, const sip_t* sip, const LineCredentials& line) {
    std::string aor = str(sip->sip_to->a_url->url_user);
    if (aor != line.username) {
      reply(irq, 403, "Authenticated user does not own this AOR");
      return;
    }
    Source src = source_of(irq);
    auto now = unix_now();
    auto& bindings = locations[aor];
    std::string call_id = str(sip->sip_call_id->i_id);
    std::uint32_t cseq = sip->sip_cseq->cs_seq;
    long header_expires = sip->sip_expires ? static_cast<long>(sip->sip_expires->ex_delta) : -1;
    bool changed = false;

    if (sip->sip_contact && sip->sip_contact->m_url->url_type == url_any) {
      if (header_expires != 0 || sip->sip_contact->m_next) {
        reply(irq, 400, "Wildcard Contact needs Expires: 0");
        return;
      }
      changed = !bindings.empty();
      bindings.clear();
    } else {
      // Refuse a too-short interval before changing anything.
      for (auto* m = sip->sip_contact; m; m = m->m_next) {
        long e = m->m_expires ? std::strtol(m->m_expires, nullptr, 10) : header_expires;
        if (e < 0) e = cfg.expires_default;
        if (e > 0 && e < cfg.expires_min) {
          std::string min = std::to_string(cfg.expires_min);
          nta_incoming_treply(irq, SIP_423_INTERVAL_TOO_BRIEF, SIPTAG_MIN_EXPIRES_STR(min.c_str()),
                              TAG_END());
          nta_incoming_destroy(irq);
          return;
        }
      }
      for (auto* m = sip->sip_contact; m; m = m->m_next) {
        long e = m->m_expires ? std::strtol(m->m_expires, nullptr, 10) : header_expires;
        if (e < 0) e = cfg.expires_default;
        if (e > cfg.expires_max) e = cfg.expires_max;
        std::string uri = url_string(m->m_url);
        auto it = std::find_if(bindings.begin(), bindings.end(),
                               [&](const Binding& b) { return b.contact == uri; });
        if (e == 0) {
          if (it != bindings.end()) {
            bindings.erase(it);
            changed = true;
          }
          continue;
        }
        if (it == bindings.end()) {
          bindings.push_back({});
          it = bindings.end() - 1;
          it->contact = uri;
        } else if (it->call_id == call_id && cseq <= it->cseq) {
          continue;  // an old or repeated request
        }
        it->call_id = call_id;
        it->cseq = cseq;
        it->expires_at = now + e;
        it->received = src.text();
        it->user_agent = sip->sip_user_agent ? str(sip->sip_user_agent->g_string) : "";
        changed = true;
      }
    }

    std::string contacts;
    for (auto& b : bindings) {
      if (!contacts.empty()) contacts += ", ";
      contacts += "<" + b.contact + ">;expires=" + std::to_string(std::max<std::int64_t>(0, b.expires_at - now));
    }
    nta_incoming_treply(irq, SIP_200_OK, TAG_IF(!contacts.empty(), SIPTAG_CONTACT_STR(contacts.c_str())),
                        TAG_END());
    nta_incoming_destroy(irq);
    if (changed) publish_bindings(aor);
  }

  void publish_bindings(const std::string& aor) {
    auto it = locations.find(aor);
    std::vector<Binding> copy;
    if (it != locations.end()) copy = it->second;
    {
      std::lock_guard<std::mutex> lock(snapshot_mutex);
      if (copy.empty()) snapshot.erase(aor);
      else snapshot[aor] = copy.size();
    }
    if (it != locations.end() && it->second.empty()) locations.erase(it);
    backend.bindings_changed(aor, copy);
  }

  static void on_sweep(void* magic, su_timer_t*, void* arg) {
    auto* self = static_cast<Impl*>(arg);
    auto now = unix_now();
    std::vector<std::string> changed;
    for (auto& [aor, bindings] : self->locations) {
      auto before = bindings.size();
      bindings.erase(std::remove_if(bindings.begin(), bindings.end(),
                                    [&](const Binding& b) { return b.expires_at <= now; }),
                     bindings.end());
      if (bindings.size() != before) changed.push_back(aor);
    }
    for (auto& aor : changed) self->publish_bindings(aor);
    self->bans.expire(std::chrono::steady_clock::now());
  }

  // ---- calls ---------------------------------------------------------------

  int on_invite(nta_incoming_t* irq, const sip_t* sip) {
    if (!sip->sip_from || !sip->sip_to || !sip->sip_request->rq_url) return 400;
    return authenticate(irq, sip, true, "INVITE",
                        [this, sip](nta_incoming_t* irq, const LineCredentials& line) {
                          start_call(irq, sip, line);
                        });
  }

  void start_call(nta_incoming_t* irq, const sip_t* sip, const LineCredentials& line) {
    auto call = std::make_unique<Call>();
    Call* c = call.get();
    c->serial = next_call++;
    c->id = random_token(16);
    c->a_irq = irq;
    c->from_display = str(sip->sip_from->a_display);
    c->from_user = str(sip->sip_from->a_url->url_user);
    c->called = str(sip->sip_request->rq_url->url_user);
    if (sip->sip_payload && sip->sip_payload->pl_data)
      c->sdp.assign(sip->sip_payload->pl_data, sip->sip_payload->pl_len);
    if (sip->sip_content_type) c->content_type = str(sip->sip_content_type->c_type);

    c->a_leg = nta_leg_tcreate(agent, &Impl::on_a_request, c, SIPTAG_CALL_ID(sip->sip_call_id),
                               SIPTAG_FROM(sip->sip_to), SIPTAG_TO(sip->sip_from), TAG_END());
    if (!c->a_leg) {
      reply(irq, SIP_500_INTERNAL_SERVER_ERROR);
      return;
    }
    nta_leg_tag(c->a_leg, nullptr);
    nta_leg_server_route(c->a_leg, sip->sip_record_route, sip->sip_contact);
    nta_incoming_tag(irq, nta_leg_get_tag(c->a_leg));
    nta_incoming_bind(irq, &Impl::on_a_ack_cancel, c);
    nta_incoming_treply(irq, SIP_100_TRYING, TAG_END());

    CallInfo info;
    info.id = c->id;
    info.caller_username = line.username;
    info.caller_number = line.caller_number.empty() ? c->from_user : line.caller_number;
    info.caller_name = line.caller_name.empty() ? c->from_display : line.caller_name;
    if (info.caller_name.size() >= 2 && info.caller_name.front() == '"' && info.caller_name.back() == '"')
      info.caller_name = info.caller_name.substr(1, info.caller_name.size() - 2);
    info.called_number = c->called;
    info.context = line.context;
    info.variables = {{"XIVO_SRCNUM", info.caller_number},
                      {"XIVO_DSTNUM", info.called_number},
                      {"XIVO_CONTEXT", info.context},
                      {"XIVO_CALLORIGIN", "intern"},
                      {"XIVO_USERID", line.user_id},
                      {"XIVO_LINEID", line.line_id}};
    c->state = Call::State::routing;
    calls.emplace(c->serial, std::move(call));
    call_count = calls.size();

    std::weak_ptr<Inbox> weak = inbox;
    auto serial = c->serial;
    backend.route_call(info, [this, weak, serial](RouteDecision d) {
      if (auto in = weak.lock()) in->post([this, serial, d = std::move(d)] { on_decision(serial, d); });
    });
  }

  Call* find_call(std::uint64_t serial) {
    auto it = calls.find(serial);
    return it == calls.end() ? nullptr : it->second.get();
  }

  void answer_a(Call& c, int status, const char* phrase) {
    if (c.a_irq && nta_incoming_status(c.a_irq) < 200) {
      nta_incoming_treply(c.a_irq, status, phrase, TAG_END());
    }
    if (c.ended_status == 0) {
      c.ended_status = status;
      backend.call_event(c.id, "ended", status);
    }
  }

  void on_decision(std::uint64_t serial, const RouteDecision& d) {
    Call* c = find_call(serial);
    if (!c) return;
    if (c->state != Call::State::routing) {
      maybe_finish(*c);
      return;
    }
    if (d.action == RouteDecision::Action::reject) {
      int status = d.status >= 400 && d.status <= 699 ? d.status : 404;
      const char* phrase = d.reason.empty() ? sip_status_phrase(status) : d.reason.c_str();
      answer_a(*c, status, phrase ? phrase : "Rejected");
      c->state = Call::State::ending;
      maybe_finish(*c);
      return;
    }
    std::string from = "<sip:" + c->from_user + "@" + cfg.host + ">";
    if (!c->from_display.empty()) from = c->from_display + " " + from;
    for (auto& target : d.targets) {
      auto it = locations.find(target);
      if (it == locations.end()) continue;
      for (auto& b : it->second) {
        auto branch = std::make_unique<Branch>();
        Branch* br = branch.get();
        br->call = c;
        br->target = target;
        std::string to = "<sip:" + target + "@" + cfg.host + ">";
        std::string call_id = random_token(20) + "@dialtone";
        br->leg = nta_leg_tcreate(agent, &Impl::on_b_request, br, SIPTAG_FROM_STR(from.c_str()),
                                  SIPTAG_TO_STR(to.c_str()), SIPTAG_CALL_ID_STR(call_id.c_str()),
                                  TAG_END());
        if (!br->leg) continue;
        nta_leg_tag(br->leg, nullptr);
        br->orq = nta_outgoing_tcreate(
            br->leg, &Impl::on_b_response, br, nullptr, SIP_METHOD_INVITE,
            URL_STRING_MAKE(b.contact.c_str()), SIPTAG_CONTACT(contact),
            SIPTAG_USER_AGENT_STR(cfg.user_agent.c_str()),
            TAG_IF(!c->content_type.empty(), SIPTAG_CONTENT_TYPE_STR(c->content_type.c_str())),
            TAG_IF(!c->sdp.empty(), SIPTAG_PAYLOAD_STR(c->sdp.c_str())), TAG_END());
        if (!br->orq) {
          nta_leg_destroy(br->leg);
          continue;
        }
        c->branches.push_back(std::move(branch));
      }
    }
    if (c->branches.empty()) {
      answer_a(*c, SIP_480_TEMPORARILY_UNAVAILABLE);
      c->state = Call::State::ending;
      maybe_finish(*c);
      return;
    }
    c->state = Call::State::ringing;
    int timeout = d.timeout_seconds > 0 ? d.timeout_seconds : 30;
    c->ring_timer = su_timer_create(su_root_task(root), timeout * 1000);
    su_timer_set(c->ring_timer, &Impl::on_ring_timeout, c);
  }

  static void on_ring_timeout(void* magic, su_timer_t*, void* arg) {
    auto* c = static_cast<Call*>(arg);
    if (c->state != Call::State::ringing) return;
    c->state = Call::State::ending;
    for (auto& b : c->branches)
      if (!b->final && b->orq) nta_outgoing_cancel(b->orq);
    current()->answer_a(*c, SIP_480_TEMPORARILY_UNAVAILABLE);
    current()->maybe_finish(*c);
  }

  // The Impl running on this thread (timer callbacks carry only the call).
  static Impl*& current() {
    static thread_local Impl* impl = nullptr;
    return impl;
  }

  static int on_b_response(void* magic, nta_outgoing_t* orq, const sip_t* sip) {
    auto* br = static_cast<Branch*>(magic);
    Impl* self = current();
    Call& c = *br->call;
    int status = sip ? static_cast<int>(sip->sip_status->st_status) : nta_outgoing_status(orq);
    if (status < 200) {
      if (status > 100 && c.state == Call::State::ringing && c.a_irq) {
        bool has_sdp = sip && sip->sip_payload && sip->sip_payload->pl_len > 0;
        if (!c.relayed_ringing || has_sdp) {
          const char* phrase = sip->sip_status->st_phrase;
          nta_incoming_treply(
              c.a_irq, status, phrase, SIPTAG_CONTACT(self->contact),
              TAG_IF(has_sdp && sip->sip_content_type, SIPTAG_CONTENT_TYPE(sip->sip_content_type)),
              TAG_IF(has_sdp, SIPTAG_PAYLOAD(sip->sip_payload)), TAG_END());
          if (!c.relayed_ringing) self->backend.call_event(c.id, "ringing", status);
          c.relayed_ringing = true;
        }
      }
      return 0;
    }
    if (status < 300 && sip) {
      if (!br->acked) {
        br->acked = true;
        br->invite_cseq = sip->sip_cseq ? sip->sip_cseq->cs_seq : 0;
        if (sip->sip_to && sip->sip_to->a_tag) nta_leg_rtag(br->leg, sip->sip_to->a_tag);
        nta_leg_client_route(br->leg, sip->sip_record_route, sip->sip_contact);
      }
      self->send_ack(*br);
      if (br->final) return 0;  // a retransmitted 2xx: ACK again only
      br->final = true;
      br->status = status;
      if (c.state == Call::State::ringing) {
        c.state = Call::State::answered;
        c.winner = br;
        if (c.ring_timer) su_timer_reset(c.ring_timer);
        for (auto& other : c.branches)
          if (other.get() != br && !other->final && other->orq) nta_outgoing_cancel(other->orq);
        bool has_sdp = sip->sip_payload && sip->sip_payload->pl_len > 0;
        nta_incoming_treply(
            c.a_irq, SIP_200_OK, SIPTAG_CONTACT(self->contact),
            TAG_IF(has_sdp && sip->sip_content_type, SIPTAG_CONTENT_TYPE(sip->sip_content_type)),
            TAG_IF(has_sdp, SIPTAG_PAYLOAD(sip->sip_payload)), TAG_END());
        self->backend.call_event(c.id, "answered", 200);
      } else {
        // Answered after the call was settled (cancel race): hang it up.
        self->send_bye(c, br->leg);
      }
      return 0;
    }
    br->final = true;
    br->status = status;
    if (c.state == Call::State::ringing) {
      bool open = std::any_of(c.branches.begin(), c.branches.end(),
                              [](const auto& b) { return !b->final; });
      if (!open) {
        bool busy = std::any_of(c.branches.begin(), c.branches.end(), [](const auto& b) {
          return b->status == 486 || b->status == 600;
        });
        c.state = Call::State::ending;
        if (busy) self->answer_a(c, SIP_486_BUSY_HERE);
        else if (status == 603) self->answer_a(c, SIP_603_DECLINE);
        else self->answer_a(c, SIP_480_TEMPORARILY_UNAVAILABLE);
      }
    }
    self->maybe_finish(c);
    return 0;
  }

  void send_ack(Branch& br) {
    Home h;
    sip_cseq_t* cseq = sip_cseq_create(h.get(), br.invite_cseq, SIP_METHOD_ACK);
    nta_outgoing_t* ack = nta_outgoing_tcreate(br.leg, nullptr, nullptr, nullptr, SIP_METHOD_ACK,
                                               nullptr, SIPTAG_CSEQ(cseq), TAG_END());
    if (ack) nta_outgoing_destroy(ack);
  }

  void send_bye(Call& c, nta_leg_t* leg) {
    nta_outgoing_t* bye = nta_outgoing_tcreate(leg, &Impl::on_bye_response, &c, nullptr,
                                               SIP_METHOD_BYE, nullptr, TAG_END());
    if (bye) ++c.pending_byes;
  }

  static int on_bye_response(void* magic, nta_outgoing_t* orq, const sip_t* sip) {
    auto* c = static_cast<Call*>(magic);
    int status = sip ? static_cast<int>(sip->sip_status->st_status) : nta_outgoing_status(orq);
    if (status < 200) return 0;
    nta_outgoing_destroy(orq);
    --c->pending_byes;
    current()->maybe_finish(*c);
    return 0;
  }

  // ACK or CANCEL for A's INVITE.
  static int on_a_ack_cancel(void* magic, nta_incoming_t* irq, const sip_t* sip) {
    auto* c = static_cast<Call*>(magic);
    Impl* self = current();
    if (sip && sip->sip_request && sip->sip_request->rq_method == sip_method_cancel) {
      if (c->state == Call::State::routing || c->state == Call::State::ringing) {
        c->state = Call::State::ending;
        for (auto& b : c->branches)
          if (!b->final && b->orq) nta_outgoing_cancel(b->orq);
        self->answer_a(*c, SIP_487_REQUEST_TERMINATED);
        self->maybe_finish(*c);
      }
    }
    return 0;
  }

  // In-dialog requests from A.
  static int on_a_request(void* magic, nta_leg_t* leg, nta_incoming_t* irq, const sip_t* sip) {
    auto* c = static_cast<Call*>(magic);
    Impl* self = current();
    switch (sip->sip_request->rq_method) {
      case sip_method_ack:
        return 0;
      case sip_method_bye:
        if (c->state == Call::State::answered) {
          c->state = Call::State::ending;
          if (c->winner) self->send_bye(*c, c->winner->leg);
          self->backend.call_event(c->id, "ended", 200);
          c->ended_status = 200;
        }
        self->maybe_finish(*c);
        return 200;
      default:
        return 501;
    }
  }

  // In-dialog requests from a B leg.
  static int on_b_request(void* magic, nta_leg_t* leg, nta_incoming_t* irq, const sip_t* sip) {
    auto* br = static_cast<Branch*>(magic);
    Call& c = *br->call;
    Impl* self = current();
    switch (sip->sip_request->rq_method) {
      case sip_method_ack:
        return 0;
      case sip_method_bye:
        if (c.state == Call::State::answered && c.winner == br) {
          c.state = Call::State::ending;
          self->send_bye(c, c.a_leg);
          self->backend.call_event(c.id, "ended", 200);
          c.ended_status = 200;
        }
        self->maybe_finish(c);
        return 200;
      default:
        return 501;
    }
  }

  // Frees the call once nothing is in flight; deferred to the loop so no
  // sofia object is destroyed inside its own callback.
  void maybe_finish(Call& c) {
    if (c.state != Call::State::ending || c.finishing) return;
    for (auto& b : c.branches)
      if (!b->final) return;
    if (c.pending_byes > 0) return;
    c.finishing = true;
    auto serial = c.serial;
    later([this, serial] {
      auto it = calls.find(serial);
      if (it == calls.end()) return;
      release(*it->second);
      calls.erase(it);
      call_count = calls.size();
    });
  }

  void release(Call& c) {
    if (c.ring_timer) su_timer_destroy(c.ring_timer);
    c.ring_timer = nullptr;
    for (auto& b : c.branches) {
      if (b->orq) nta_outgoing_destroy(b->orq);
      if (b->leg) nta_leg_destroy(b->leg);
      b->orq = nullptr;
      b->leg = nullptr;
    }
    if (c.a_irq) {
      if (nta_incoming_status(c.a_irq) < 200) nta_incoming_treply(c.a_irq, SIP_500_INTERNAL_SERVER_ERROR, TAG_END());
      nta_incoming_destroy(c.a_irq);
    }
    c.a_irq = nullptr;
    if (c.a_leg) nta_leg_destroy(c.a_leg);
    c.a_leg = nullptr;
  }
};

// ---- public face --------------------------------------------------------

SipStack::SipStack(SipConfig config, SipBackend& backend, sdk::Logger& log)
    : impl_(std::make_shared<Impl>(std::move(config), backend, log)) {}

SipStack::~SipStack() { stop(); }

namespace {
// A port free for both UDP and TCP on `host`, for sip.listen port 0.
int free_port(const std::string& host) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    int t = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    inet_pton(AF_INET, host.c_str(), &a.sin_addr);
    a.sin_port = 0;
    if (::bind(t, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(t);
      return 0;
    }
    socklen_t len = sizeof a;
    getsockname(t, reinterpret_cast<sockaddr*>(&a), &len);
    int u = ::socket(AF_INET, SOCK_DGRAM, 0);
    bool ok = ::bind(u, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(u);
    ::close(t);
    if (ok) return ntohs(a.sin_port);
  }
  return 0;
}
}  // namespace

sdk::Status SipStack::start() {
  auto impl = impl_;
  int port = impl->cfg.port;
  if (port == 0) port = free_port(impl->cfg.host);
  if (port == 0) return sdk::Error::unavailable("sip: no free port on " + impl->cfg.host);
  impl->thread = std::thread([impl, port] {
    Impl::current() = impl.get();
    impl->run(port);
  });
  std::unique_lock<std::mutex> lock(impl->start_mutex);
  impl->start_cv.wait(lock, [&] { return impl->start_done; });
  if (!impl->start_error.empty()) {
    lock.unlock();
    impl->thread.join();
    return sdk::Error::unavailable("sip: " + impl->start_error);
  }
  impl->log.info("sip: listening on " + impl->cfg.host + ":" + std::to_string(impl->bound_port.load()));
  return {};
}

void SipStack::stop() {
  auto impl = impl_;
  if (!impl->thread.joinable()) return;
  impl->inbox->post([impl] {
    if (impl->root) su_root_break(impl->root);
  });
  impl->thread.join();
}

int SipStack::port() const { return impl_->bound_port; }

void SipStack::invalidate_credentials() {
  auto impl = impl_;
  impl->inbox->post([impl] { impl->credentials.clear(); });
}

std::size_t SipStack::contact_count(const std::string& aor) const {
  std::lock_guard<std::mutex> lock(impl_->snapshot_mutex);
  auto it = impl_->snapshot.find(aor);
  return it == impl_->snapshot.end() ? 0 : it->second;
}

std::size_t SipStack::active_calls() const { return impl_->call_count; }

}  // namespace dialtone::plugins::backend::sip
