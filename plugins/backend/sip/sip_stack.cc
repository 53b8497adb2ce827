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
#include <sofia-sip/tport.h>
#include <sofia-sip/tport_tag.h>
#include <sofia-sip/url.h>

#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>

#include "plugins/backend/sip/auth_ban.h"
#include "plugins/backend/sip/digest.h"
#include "plugins/backend/sip/transports.h"
#include "plugins/backend/sip/outbound_register.h"
#include "plugins/backend/sip/qualify.h"
#include "plugins/backend/sip/sdp.h"

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

// SIP UDP socket buffers (SO_RCVBUF/SO_SNDBUF; capped by net.core.rmem_max
// and wmem_max unless the process may force them).
constexpr unsigned kUdpBuffer = 8u << 20;

constexpr const char* kAllow = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, UPDATE, INFO, REFER, NOTIFY";
// The extensions an INVITE may require: session timers and PRACK.
constexpr const char* kSupported = "timer, 100rel";

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
  // TLS runs over TCP too: only the transport object tells them apart.
  if (tport_t* tp = nta_incoming_transport(nullptr, irq, nullptr)) {
    const tp_name_t* name = tport_name(tp);
    if (name && name->tpn_proto && su_casematch(name->tpn_proto, "tls")) s.transport = "tls";
    tport_unref(tp);
  }
  return s;
}

std::string url_string(const url_t* u) {
  if (!u) return {};
  // Most URIs fit a stack buffer: no allocator home per REGISTER contact.
  char buf[512];
  issize_t n = url_e(buf, sizeof buf, u);
  if (n >= 0 && static_cast<std::size_t>(n) < sizeof buf) return std::string(buf, static_cast<std::size_t>(n));
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
  bool counted = false;  // `target` is in the active-line counts
  bool ack_waits = false;  // late offer: the ACK carries A's answer, sent when A ACKs
  int round = 0;         // which sip.dial of the call rang it
  std::uint32_t invite_cseq = 0;
  std::uint32_t rseq = 0;  // the last reliable 18x PRACKed (RFC 3262)
  std::string channel;   // the leg's id in the call core; empty once ended
};

// An in-dialog request sent on one leg: relayed from the other leg's `irq`
// (re-INVITE, UPDATE, INFO), or the stack's own (a transfer's re-INVITE),
// which `on_final` completes instead.
struct DialogRequest {
  std::uint64_t serial = 0;  // the call
  MediaLeg from = MediaLeg::a;  // the side the request came from
  sip_method_t method = sip_method_unknown;
  nta_incoming_t* irq = nullptr;
  nta_outgoing_t* orq = nullptr;
  nta_leg_t* to_leg = nullptr;
  bool offer = false;      // the request carried an SDP offer
  bool finished = false;
  // raw: the stack's own request whose answer it handles itself (no SDP
  // rewriting, no ACK); `cseq` is the final response's, for that ACK.
  bool raw = false;
  std::uint32_t cseq = 0;
  std::function<void(int status, const std::string& body)> on_final;
};

// A session timer (RFC 4028) on one leg of an answered call: Dialtone
// refreshes the leg at half the interval, or hangs up when the peer, the
// refresher, lets the session lapse.
struct SessionTimer {
  Call* call = nullptr;
  MediaLeg side = MediaLeg::a;
  int interval = 0;           // seconds; 0: no session timer on this leg
  bool we_refresh = false;
  bool peer_timer = false;    // the peer supports "timer": answers carry Require: timer
  bool peer_update = false;   // the peer allows UPDATE: refreshes use it
  su_timer_t* timer = nullptr;
  nta_outgoing_t* refresh = nullptr;  // our refresh in flight
  bool refresh_invite = false;
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
  std::string caller_username;  // counted in the active-line counts
  std::string caller_number;
  // The dial in progress for the dialplan (sip.dial), by round.
  int round = 0;
  std::function<void(DialResult)> dial_done;
  std::unique_ptr<CallMedia> media;  // the SDP rewriting and relay ports
  // In-dialog requests in flight, and whether one carries an offer (a second
  // offer meanwhile gets 491, RFC 3261 14.1).
  std::vector<std::unique_ptr<DialogRequest>> dialog;
  bool offer_pending = false;
  // Late-offer re-INVITE: the leg to ACK once the other side's ACK brings the answer.
  nta_leg_t* ack_leg = nullptr;
  std::uint32_t ack_cseq = 0;
  MediaLeg ack_from = MediaLeg::a;
  // Session timers per leg, the last SDP sent on each leg (a re-INVITE
  // refresh offers it again), and whether 18x go to A reliably.
  SessionTimer a_timer;
  SessionTimer b_timer;
  std::string a_sdp_sent;
  std::string b_sdp_sent;
  bool a_rel100 = false;
  std::string context;       // the caller's
  std::string caller_name;
  int trunks_down = 0;       // trunk targets of the last dial skipped as unreachable
  // Blind transfer: on the transferred call, the transfer's call and the
  // leg that sent REFER (on side `referrer_side`); on the transfer's call,
  // the call it serves.
  std::uint64_t transfer = 0;
  nta_leg_t* referrer = nullptr;
  MediaLeg referrer_side = MediaLeg::b;
  bool referrer_gone = false;
  // Attended transfer: the transferor's other call while the two are being
  // joined (on both calls; `join_notify` on the one that got the REFER), and
  // on the call giving its party, that party's offer waiting for its ACK.
  std::uint64_t joined_with = 0;
  bool join_notify = false;
  std::uint32_t join_cseq = 0;
  std::string join_offer;
  MediaLeg join_side = MediaLeg::a;
  std::uint64_t transfer_of = 0;
  bool transfer_done = false;
  std::string channel;  // A's id in the call core; empty once ended
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
      // One wakeup per batch: the SIP thread takes every queued task when
      // it swaps the queue, so only the post that finds it empty writes.
      if (tasks.size() > 1) return true;
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
  QualifyTable qualify{cfg.qualify_interval, cfg.qualify_timeout};
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
  unsigned sweeps = 0;
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
  std::unordered_map<std::string, std::uint64_t> call_ids;  // Call::id -> serial
  std::atomic<std::size_t> call_count{0};
  std::unique_ptr<RtpRelay> relay;  // started before and stopped after the SIP thread
  // Calls per line username (caller or rung), read by the dialplan.
  mutable std::mutex lines_mutex;
  std::unordered_map<std::string, int> line_calls;
  // Peer trunks, cached like credentials.
  std::vector<TrunkInfo> trunks;
  std::int64_t trunks_fetched_ms = -1;
  std::vector<std::function<void()>> trunk_waiters;
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
                             NTATAG_MAXSIZE(65536),
                             // The kernel's default (208 KB, about 90 datagrams) overflows
                             // in 10 ms at 1,500 calls/s whenever the SIP thread is
                             // descheduled; every drop is a retransmission later.
                             TPTAG_UDP_RMEM(kUdpBuffer), TPTAG_UDP_WMEM(kUdpBuffer), TAG_END());
    if (!agent)
      return "cannot listen on " + url + " (address in use or not local?); set sip.listen";
    open_tls();
    limit_connections(tcp);
    default_leg = nta_leg_tcreate(agent, &Impl::on_request, this, NTATAG_NO_DIALOG(1), TAG_END());
    if (!default_leg) return "cannot create the SIP default leg";
    contact = sip_contact_dup(home.get(), nta_agent_contact(agent));
    if (contact && contact->m_url->url_port) bound_port = std::atoi(contact->m_url->url_port);
    else bound_port = port;
    sweep_timer = su_timer_create(su_root_task(root), 1000);
    // su_timer_set_interval() fires once; su_timer_run() every second.
    su_timer_run(sweep_timer, &Impl::on_sweep, this);
    load_registrations();
    with_trunks([] {});  // loaded now so that trunks are qualified from the start
    return {};
  }

  void close() {
    inbox->close();
    close_connections();
    for (auto& [_, call] : calls) release(*call);
    calls.clear();
    call_count = 0;
    close_registrations();
    if (sweep_timer) su_timer_destroy(sweep_timer);
    sweep_timer = nullptr;
    if (default_leg) nta_leg_destroy(default_leg);
    default_leg = nullptr;
    drop_requests();
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
    // One read resets the eventfd counter (not a semaphore eventfd).
    ssize_t got = ::read(self->inbox->fd, &n, sizeof n);
    (void)got;
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
        if (sip->sip_replaces) return self->on_replacing_invite(irq, sip);
        return self->on_invite(irq, sip);
      case sip_method_options:
        nta_incoming_treply(irq, SIP_200_OK,
                            SIPTAG_ALLOW_STR(kAllow),
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
                            SIPTAG_ALLOW_STR(kAllow),
                            TAG_END());
        nta_incoming_destroy(irq);
        return 0;
    }
  }

  // ---- authentication --------------------------------------------------

  enum class AuthStep { challenge, stale, check, forbidden };

  // One challenge per offered algorithm, preferred first, sharing one nonce
  // (RFC 8760 section 2.4); a client takes the first it supports.
  void challenge(nta_incoming_t* irq, bool proxy, bool stale) {
    std::string head = "Digest realm=\"" + cfg.realm + "\", nonce=\"" + nonces.make(unix_now()) +
                       "\", qop=\"auth\", algorithm=";
    const char* tail = stale ? ", stale=true" : "";
    std::string first = head + digest_algorithm_name(cfg.auth_algorithms.front()) + tail;
    bool two = cfg.auth_algorithms.size() > 1;
    std::string second = two ? head + digest_algorithm_name(cfg.auth_algorithms[1]) + tail : "";
    if (proxy)
      nta_incoming_treply(irq, SIP_407_PROXY_AUTH_REQUIRED,
                          SIPTAG_PROXY_AUTHENTICATE_STR(first.c_str()),
                          TAG_IF(two, SIPTAG_PROXY_AUTHENTICATE_STR(second.c_str())), TAG_END());
    else
      nta_incoming_treply(irq, SIP_401_UNAUTHORIZED, SIPTAG_WWW_AUTHENTICATE_STR(first.c_str()),
                          TAG_IF(two, SIPTAG_WWW_AUTHENTICATE_STR(second.c_str())), TAG_END());
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
    bool offered = algorithm && std::find(cfg.auth_algorithms.begin(), cfg.auth_algorithms.end(),
                                          *algorithm) != cfg.auth_algorithms.end();
    // With qop the nonce count must be there (it is what replay protection
    // checks); without, a nonce serves once (counted as 1).
    std::optional<std::uint32_t> nc = 1;
    if (!creds->qop.empty()) nc = parse_nonce_count(creds->nc);
    if (!offered || (!creds->qop.empty() && (creds->qop != "auth" || creds->cnonce.empty())) ||
        !nc) {
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
    with_credentials(creds->username, [this, irq, src, proxy, c = *creds, a = *algorithm,
                                       count = *nc, m, next = std::move(next)](
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
      // Counted only once the response is verified, so a forged request
      // cannot use up a client's nonce counts.
      switch (nonces.use(c.nonce, count)) {
        case NonceFactory::Use::fresh:
          break;
        // stale=true: the credentials were right, so a phone that merely
        // reused a count retries with the new nonce instead of asking its
        // user; a replayer gains nothing from it.
        case NonceFactory::Use::replayed:
          log.warn("sip: replayed digest (nc " + c.nc + ") for \"" + c.username + "\" from " +
                   src.ip);
          challenge(irq, proxy, true);
          return;
        case NonceFactory::Use::forgotten:
          challenge(irq, proxy, true);
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
    hold_connection(irq, src);
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
    // Published before the 200 so that a phone told it is registered is
    // already counted and rung.
    if (changed) publish_bindings(aor);
    nta_incoming_treply(irq, SIP_200_OK, TAG_IF(!contacts.empty(), SIPTAG_CONTACT_STR(contacts.c_str())),
                        TAG_END());
    nta_incoming_destroy(irq);
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
    qualify_sync(aor);
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
    // Sofia keeps each finished transaction with its messages for up to 32 s
    // (64*T1: timers J and M), about 30 KB per call, so 1,000 calls/s hold
    // ~1 GB at peak; once freed, malloc keeps those pages in the SIP thread's
    // arena. Hand them back to the system every minute.
    if (++self->sweeps % 60 == 0) malloc_trim(0);
    // Probes and deadlines run from the inbox, outside sofia's timer dispatch.
    self->later([self] {
      self->expire_requests();
      self->qualify_tick();
    });
  }

  // ---- calls ---------------------------------------------------------------

  int on_invite(nta_incoming_t* irq, const sip_t* sip) {
    if (!sip->sip_from || !sip->sip_to || !sip->sip_request->rq_url) return 400;
    if (refuse_invite(irq, sip)) return 0;
    Source src = source_of(irq);
    with_trunks([this, irq, sip, src] {
      // A peer trunk is recognized by its address and needs no digest.
      for (auto& t : trunks) {
        if (t.ip != src.ip || (t.port != 0 && t.port != src.port)) continue;
        LineCredentials line;
        line.username = t.name;
        line.context = t.context;
        start_call(irq, sip, line, &t);
        return;
      }
      authenticate(irq, sip, true, "INVITE",
                   [this, sip](nta_incoming_t* irq, const LineCredentials& line) {
                     start_call(irq, sip, line, nullptr);
                   });
    });
    return 0;
  }

  // Runs `next` once the peer trunk list is loaded (kept like credentials).
  void with_trunks(std::function<void()> next) {
    auto now = mono_ms();
    if (trunks_fetched_ms >= 0 && now - trunks_fetched_ms < cfg.credential_cache.count() * 1000) {
      next();
      return;
    }
    trunk_waiters.push_back(std::move(next));
    if (trunk_waiters.size() > 1) return;
    std::weak_ptr<Inbox> weak = inbox;
    backend.find_trunks([this, weak](std::vector<TrunkInfo> list, bool ok) {
      if (auto in = weak.lock())
        in->post([this, list = std::move(list), ok] {
          if (ok) {
            trunks = list;
            trunks_fetched_ms = mono_ms();
            sync_trunk_qualify();
          }
          auto waiters = std::move(trunk_waiters);
          trunk_waiters.clear();
          for (auto& w : waiters) w();
        });
    });
  }

  void count_line(const std::string& user, int delta) {
    if (user.empty()) return;
    std::lock_guard<std::mutex> lock(lines_mutex);
    auto& n = line_calls[user];
    n += delta;
    if (n <= 0) line_calls.erase(user);
  }

  void start_call(nta_incoming_t* irq, const sip_t* sip, const LineCredentials& line,
                  const TrunkInfo* trunk) {
    auto call = std::make_unique<Call>();
    Call* c = call.get();
    c->serial = next_call++;
    c->id = random_token(16);
    c->a_irq = irq;
    c->from_display = str(sip->sip_from->a_display);
    c->from_user = str(sip->sip_from->a_url->url_user);
    c->called = str(sip->sip_request->rq_url->url_user);
    caller_extensions(*c, sip);
    if (sip->sip_payload && sip->sip_payload->pl_data)
      c->sdp.assign(sip->sip_payload->pl_data, sip->sip_payload->pl_len);
    if (sip->sip_content_type) c->content_type = str(sip->sip_content_type->c_type);
    c->media = std::make_unique<CallMedia>(relay.get(), cfg.media,
                                           line.direct_media.value_or(cfg.media.direct_media),
                                           c->id, &log);
    if (!c->sdp.empty()) {
      auto offer = c->media->offer(MediaLeg::a, c->sdp);
      if (!offer) {
        int st = media_error_status(offer.error());
        log.info("sip: call " + c->id + " refused with " + std::to_string(st) + ": " +
                 offer.error().message);
        reply(irq, st, sip_status_phrase(st));
        return;
      }
      c->sdp = *offer;
    }

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
    info.origin = trunk ? "extern" : "intern";
    info.variables = {{"XIVO_SRCNUM", info.caller_number},
                      {"XIVO_DSTNUM", info.called_number},
                      {"XIVO_CONTEXT", info.context},
                      {"XIVO_CALLORIGIN", info.origin},
                      {"XIVO_USERID", line.user_id},
                      {"XIVO_LINEID", line.line_id},
                      {"SIP_SOURCE_IP", source_of(irq).ip}};
    if (trunk) info.variables["XIVO_TRUNKID"] = trunk->id;
    c->caller_number = info.caller_number;
    c->caller_name = info.caller_name;
    c->context = info.context;
    if (!trunk) {
      c->caller_username = line.username;
      count_line(c->caller_username, 1);
    }
    c->state = Call::State::routing;
    call_ids[c->id] = c->serial;
    calls.emplace(c->serial, std::move(call));
    call_count = calls.size();
    c->channel = backend.leg_created(LegInfo{c->id, {}, true, trunk ? trunk->name : line.username,
                                             info.caller_number, info.caller_name, c->called,
                                             sip->sip_call_id ? str(sip->sip_call_id->i_id) : std::string()});

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
    if (d.action == RouteDecision::Action::done) {
      // "done" while nothing was dialed: the script settled nothing.
      answer_a(*c, SIP_500_INTERNAL_SERVER_ERROR);
      c->state = Call::State::ending;
      maybe_finish(*c);
      return;
    }
    DialRequest req;
    req.targets = d.targets;
    req.timeout_seconds = d.timeout_seconds;
    if (start_branches(*c, req) == 0) {
      answer_a(*c, SIP_480_TEMPORARILY_UNAVAILABLE);
      c->state = Call::State::ending;
      maybe_finish(*c);
    }
  }

  // Rings `req.targets` for `c` as a new round: a line username on each of
  // its registered contacts, a sip: URI as it is. Returns how many branches
  // started; with some, the call is ringing until answer, failure or timeout.
  std::size_t start_branches(Call& call, const DialRequest& req) {
    Call* c = &call;
    ++c->round;
    c->trunks_down = 0;
    std::string number = req.caller_number.empty() ? c->from_user : req.caller_number;
    std::string display = c->from_display;
    if (!req.caller_name.empty()) {
      std::string name = req.caller_name;
      name.erase(std::remove(name.begin(), name.end(), '"'), name.end());
      display = "\"" + name + "\"";
    }
    std::string from = "<sip:" + number + "@" + cfg.host + ">";
    if (!display.empty()) from = display + " " + from;
    std::string extra;
    if (req.anonymous) {
      // RFC 3325: the number goes only in P-Asserted-Identity.
      from = "\"Anonymous\" <sip:anonymous@anonymous.invalid>";
      extra = "P-Asserted-Identity: <sip:" + number + "@" + cfg.host + ">\r\nPrivacy: id";
    }
    std::size_t started = 0;
    for (auto& target : req.targets) {
      bool line = target.rfind("sip:", 0) != 0;
      std::vector<std::string> uris;
      if (line) {
        auto it = locations.find(target);
        if (it == locations.end()) continue;
        // A contact that stopped answering OPTIONS is not rung.
        for (auto& b : it->second)
          if (!qualify.unreachable(target, b.contact)) uris.push_back(b.contact);
      } else if (trunk_unreachable(target)) {
        ++c->trunks_down;
      } else {
        uris.push_back(target);
      }
      for (auto& uri : uris) {
        auto branch = std::make_unique<Branch>();
        Branch* br = branch.get();
        br->call = c;
        br->target = target;
        br->round = c->round;
        std::string to = line ? "<sip:" + target + "@" + cfg.host + ">" : "<" + target + ">";
        std::string call_id = random_token(20) + "@dialtone";
        br->leg = nta_leg_tcreate(agent, &Impl::on_b_request, br, SIPTAG_FROM_STR(from.c_str()),
                                  SIPTAG_TO_STR(to.c_str()), SIPTAG_CALL_ID_STR(call_id.c_str()),
                                  TAG_END());
        if (!br->leg) continue;
        nta_leg_tag(br->leg, nullptr);
        tport_t* via = line ? connection_for(target, uri) : nullptr;
        br->orq = nta_outgoing_tcreate(
            br->leg, &Impl::on_b_response, br, nullptr, SIP_METHOD_INVITE,
            URL_STRING_MAKE(uri.c_str()), TAG_IF(via, NTATAG_TPORT(via)), SIPTAG_CONTACT(contact),
            SIPTAG_USER_AGENT_STR(cfg.user_agent.c_str()),
            SIPTAG_SUPPORTED_STR(kSupported), SIPTAG_ALLOW_STR(kAllow),
            TAG_IF(!extra.empty(), SIPTAG_HEADER_STR(extra.c_str())),
            TAG_IF(!c->content_type.empty(), SIPTAG_CONTENT_TYPE_STR(c->content_type.c_str())),
            TAG_IF(!c->sdp.empty(), SIPTAG_PAYLOAD_STR(c->sdp.c_str())), TAG_END());
        if (!br->orq) {
          nta_leg_destroy(br->leg);
          continue;
        }
        if (line) {
          br->counted = true;
          count_line(target, 1);
        }
        c->branches.push_back(std::move(branch));
        ++started;
        br->channel = backend.leg_created(
            LegInfo{c->id, c->channel, false, target, number,
                    req.caller_name.empty() ? c->caller_name : req.caller_name, target, call_id});
      }
    }
    if (started == 0) return 0;
    c->state = Call::State::ringing;
    int timeout = req.timeout_seconds > 0 ? req.timeout_seconds : 30;
    if (!c->ring_timer) c->ring_timer = su_timer_create(su_root_task(root), timeout * 1000);
    su_timer_set_interval(c->ring_timer, &Impl::on_ring_timeout, c, timeout * 1000);
    return started;
  }

  // Hands the outcome of the current sip.dial back to the dialplan; on a
  // failure the call returns to routing so the script can go on.
  void finish_dial(Call& c, const char* status, int code) {
    if (!c.dial_done) return;
    if (c.state == Call::State::ringing) c.state = Call::State::routing;
    if (c.ring_timer) su_timer_reset(c.ring_timer);
    auto done = std::move(c.dial_done);
    c.dial_done = nullptr;
    done(DialResult{status, code});
  }

  void dial(const std::string& call_id, const DialRequest& req,
            std::function<void(DialResult)> done) {
    auto id = call_ids.find(call_id);
    Call* c = id == call_ids.end() ? nullptr : find_call(id->second);
    if (!c || c->state != Call::State::routing || c->dial_done) {
      done(DialResult{"cancelled", 0});
      return;
    }
    c->dial_done = std::move(done);
    if (start_branches(*c, req) == 0) finish_dial(*c, "unavailable", c->trunks_down ? 503 : 480);
  }

  // SipStack::hangup on the SIP thread. A leg moved to another call (blind
  // transfer) is found by its channel id.
  void hangup(const std::string& call_id, int status, const std::string& channel) {
    auto id = call_ids.find(call_id);
    Call* c = id == call_ids.end() ? nullptr : find_call(id->second);
    for (auto it = calls.begin(); !c && !channel.empty() && it != calls.end(); ++it) {
      Call& other = *it->second;
      bool has = other.channel == channel;
      for (auto& b : other.branches) has = has || b->channel == channel;
      if (has) c = &other;
    }
    if (!c) return;
    if (c->state == Call::State::answered) {
      c->state = Call::State::ending;
      send_bye(*c, c->a_leg);
      if (c->winner) send_bye(*c, c->winner->leg);
      backend.call_event(c->id, "ended", 200);
      c->ended_status = 200;
    } else if (c->state == Call::State::routing || c->state == Call::State::ringing) {
      c->state = Call::State::ending;
      for (auto& b : c->branches)
        if (!b->final && b->orq) nta_outgoing_cancel(b->orq);
      int st = status >= 400 && status <= 699 ? status : 480;
      const char* phrase = sip_status_phrase(st);
      answer_a(*c, st, phrase ? phrase : "Hung Up");
      if (c->dial_done) {
        auto done = std::move(c->dial_done);
        c->dial_done = nullptr;
        done(DialResult{"cancelled", st});
      }
    }
    maybe_finish(*c);
  }

  static void on_ring_timeout(void* magic, su_timer_t*, void* arg) {
    auto* c = static_cast<Call*>(arg);
    if (c->state != Call::State::ringing) return;
    if (c->ring_timer) su_timer_reset(c->ring_timer);
    for (auto& b : c->branches)
      if (!b->final && b->orq) nta_outgoing_cancel(b->orq);
    if (c->dial_done) {
      current()->finish_dial(*c, "noanswer", 408);
      return;
    }
    c->state = Call::State::ending;
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
      if (status > 100 && sip && sip->sip_rseq) self->prack(*br, sip);
      if (status > 100 && !br->channel.empty()) self->backend.leg_event(br->channel, LegState::ringing, status, {});
      if (status > 100 && c.state == Call::State::ringing && c.a_irq) {
        std::optional<std::string> body;
        if (sip && sip->sip_payload && sip->sip_payload->pl_len > 0) body = self->sdp_from_b(c, sip);
        bool has_sdp = body && !body->empty();
        if (!c.relayed_ringing || has_sdp) {
          const char* phrase = sip->sip_status->st_phrase;
          // Reliably (RSeq, Require: 100rel) when A asked for it (sofia
          // holds a 2xx until A PRACKs an 18x that carried SDP); otherwise,
          // or if sofia cannot, the plain reply below.
          if (!c.a_rel100 ||
              !nta_reliable_treply(
                  c.a_irq, nullptr, nullptr, status, phrase, SIPTAG_CONTACT(self->contact),
                  TAG_IF(has_sdp && sip->sip_content_type, SIPTAG_CONTENT_TYPE(sip->sip_content_type)),
                  TAG_IF(has_sdp, SIPTAG_PAYLOAD_STR(has_sdp ? body->c_str() : "")), TAG_END()))
          nta_incoming_treply(
              c.a_irq, status, phrase, SIPTAG_CONTACT(self->contact),
              TAG_IF(has_sdp && sip->sip_content_type, SIPTAG_CONTENT_TYPE(sip->sip_content_type)),
              TAG_IF(has_sdp, SIPTAG_PAYLOAD_STR(has_sdp ? body->c_str() : "")), TAG_END());
          if (!c.relayed_ringing) self->backend.call_event(c.id, "ringing", status);
          if (!c.relayed_ringing) self->backend.leg_event(c.channel, LegState::ringing, status, {});
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
        // B offered (A's INVITE had no SDP): the ACK waits for A's answer.
        br->ack_waits = c.sdp.empty() && sip->sip_payload && sip->sip_payload->pl_len > 0 &&
                        c.state == Call::State::ringing && br->round == c.round;
      }
      if (!br->ack_waits) self->send_ack(*br);
      if (br->final) return 0;  // a retransmitted 2xx: ACK again only
      br->final = true;
      br->status = status;
      if (c.state == Call::State::ringing && br->round == c.round) {
        c.state = Call::State::answered;
        c.winner = br;
        if (c.ring_timer) su_timer_reset(c.ring_timer);
        for (auto& other : c.branches)
          if (other.get() != br && !other->final && other->orq) nta_outgoing_cancel(other->orq);
        if (c.transfer_of) {
          self->finish_dial(c, "answered", 200);
          self->transfer_answered(c, *br, sip);
          return 0;
        }
        std::optional<std::string> body;
        if (sip->sip_payload && sip->sip_payload->pl_len > 0) {
          body = self->sdp_from_b(c, sip);
          if (!body) {
            // No codec in common with B's SDP: nothing to connect.
            br->ack_waits = false;
            self->send_ack(*br);
            self->send_bye(c, br->leg);
            c.state = Call::State::ending;
            self->answer_a(c, SIP_488_NOT_ACCEPTABLE);
            self->maybe_finish(c);
            return 0;
          }
        }
        bool has_sdp = body && !body->empty();
        std::string timer = self->timer_headers(c.a_timer);
        nta_incoming_treply(
            c.a_irq, SIP_200_OK, SIPTAG_CONTACT(self->contact),
            SIPTAG_ALLOW_STR(kAllow), SIPTAG_SUPPORTED_STR(kSupported),
            TAG_IF(!timer.empty(), SIPTAG_HEADER_STR(timer.c_str())),
            TAG_IF(has_sdp && sip->sip_content_type, SIPTAG_CONTENT_TYPE(sip->sip_content_type)),
            TAG_IF(has_sdp, SIPTAG_PAYLOAD_STR(has_sdp ? body->c_str() : "")), TAG_END());
        if (has_sdp) c.a_sdp_sent = *body;
        self->session_answered(c, sip);
        self->backend.call_event(c.id, "answered", 200);
        self->backend.leg_event(br->channel, LegState::up, 200, c.channel);
        self->backend.leg_event(c.channel, LegState::up, 200, br->channel);
        self->finish_dial(c, "answered", 200);
      } else {
        // Answered after the call was settled (cancel race): hang it up.
        self->send_bye(c, br->leg);
      }
      return 0;
    }
    br->final = true;
    br->status = status;
    if (!br->channel.empty()) {
      self->backend.leg_event(br->channel, LegState::ended, status, {});
      br->channel.clear();
    }
    if (br->counted) {
      self->count_line(br->target, -1);
      br->counted = false;
    }
    if (c.state == Call::State::ringing && br->round == c.round) {
      int round = c.round;
      bool open = std::any_of(c.branches.begin(), c.branches.end(), [round](const auto& b) {
        return b->round == round && !b->final;
      });
      if (!open) {
        bool busy = std::any_of(c.branches.begin(), c.branches.end(), [round](const auto& b) {
          return b->round == round && (b->status == 486 || b->status == 600);
        });
        if (c.dial_done) {
          self->finish_dial(c, busy ? "busy" : "unavailable", busy ? 486 : status);
          self->maybe_finish(c);
          return 0;
        }
        c.state = Call::State::ending;
        if (busy) self->answer_a(c, SIP_486_BUSY_HERE);
        else if (status == 603) self->answer_a(c, SIP_603_DECLINE);
        else self->answer_a(c, SIP_480_TEMPORARILY_UNAVAILABLE);
      }
    }
    self->maybe_finish(c);
    return 0;
  }

  void send_ack(Branch& br, const std::string& sdp = {}) {
    Home h;
    sip_cseq_t* cseq = sip_cseq_create(h.get(), br.invite_cseq, SIP_METHOD_ACK);
    nta_outgoing_t* ack = nta_outgoing_tcreate(
        br.leg, nullptr, nullptr, nullptr, SIP_METHOD_ACK, nullptr, SIPTAG_CSEQ(cseq),
        TAG_IF(!sdp.empty(), SIPTAG_CONTENT_TYPE_STR("application/sdp")),
        TAG_IF(!sdp.empty(), SIPTAG_PAYLOAD_STR(sdp.c_str())), TAG_END());
    if (ack) nta_outgoing_destroy(ack);
  }

  // B's SDP as sent to A: the answer to A's offer, or B's offer when A's
  // INVITE had none. nullopt when it shares no codec with the offer.
  std::optional<std::string> sdp_from_b(Call& c, const sip_t* sip) {
    std::string text(sip->sip_payload->pl_data, sip->sip_payload->pl_len);
    auto r = c.sdp.empty() ? c.media->offer(MediaLeg::b, text) : c.media->answer(MediaLeg::b, text);
    if (r) return *r;
    log.warn("sip: call " + c.id + ": SDP from the callee not relayed: " + r.error().message);
    return std::nullopt;
  }

  // A's ACK to the 2xx: with a late offer it carries A's answer for B.
  void on_a_ack(Call& c, const sip_t* sip) {
    if (c.a_irq && c.state == Call::State::answered) {
      // A's INVITE transaction ends with this ACK. Kept until the call
      // ended, each answered call left a live transaction that sofia's
      // timer walks at every tick. Destroyed from the loop: this may run
      // inside the transaction's own ACK callback.
      auto serial = c.serial;
      later([this, serial] {
        Call* call = find_call(serial);
        if (!call || !call->a_irq || nta_incoming_status(call->a_irq) < 200) return;
        nta_incoming_destroy(call->a_irq);
        call->a_irq = nullptr;
      });
    }
    Branch* br = c.winner;
    if (!br || !br->ack_waits) return;
    br->ack_waits = false;
    std::string answer;
    if (sip && sip->sip_payload && sip->sip_payload->pl_len > 0) {
      auto r = c.media->answer(MediaLeg::a,
                               std::string(sip->sip_payload->pl_data, sip->sip_payload->pl_len));
      if (r) answer = *r;
      else log.warn("sip: call " + c.id + ": SDP answer in ACK not relayed: " + r.error().message);
    }
    send_ack(*br, answer);
    if (!answer.empty()) c.b_sdp_sent = answer;
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
    if (!sip && nta_incoming_status(irq) < 200) self->rel100_timeout(*c);
    if (sip && sip->sip_request && sip->sip_request->rq_method == sip_method_ack) self->on_a_ack(*c, sip);
    if (sip && sip->sip_request && sip->sip_request->rq_method == sip_method_cancel) {
      if (c->state == Call::State::routing || c->state == Call::State::ringing) {
        c->state = Call::State::ending;
        for (auto& b : c->branches)
          if (!b->final && b->orq) nta_outgoing_cancel(b->orq);
        self->answer_a(*c, SIP_487_REQUEST_TERMINATED);
        if (c->dial_done) {
          auto done = std::move(c->dial_done);
          c->dial_done = nullptr;
          done(DialResult{"cancelled", 487});
        }
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
        self->on_a_ack(*c, sip);
        self->relay_ack(*c, MediaLeg::a, sip);
        return 0;
      case sip_method_bye:
        if (c->state == Call::State::answered && self->absorbs_bye(*c, MediaLeg::a)) return 200;
        if (c->state == Call::State::answered) {
          c->state = Call::State::ending;
          if (c->winner) self->send_bye(*c, c->winner->leg);
          self->backend.call_event(c->id, "ended", 200);
          c->ended_status = 200;
        }
        self->maybe_finish(*c);
        return 200;
      default:
        return self->in_dialog(*c, MediaLeg::a, nullptr, irq, sip);
    }
  }

  // In-dialog requests from a B leg.
  static int on_b_request(void* magic, nta_leg_t* leg, nta_incoming_t* irq, const sip_t* sip) {
    auto* br = static_cast<Branch*>(magic);
    Call& c = *br->call;
    Impl* self = current();
    switch (sip->sip_request->rq_method) {
      case sip_method_ack:
        if (c.winner == br) self->relay_ack(c, MediaLeg::b, sip);
        return 0;
      case sip_method_bye:
        if (c.state == Call::State::answered && c.winner == br && self->absorbs_bye(c, MediaLeg::b)) {
          // The referrer hangs up once it has handed the call over: A waits for C.
          return 200;
        }
        if (c.state == Call::State::answered && c.winner == br) {
          c.state = Call::State::ending;
          self->send_bye(c, c.a_leg);
          self->backend.call_event(c.id, "ended", 200);
          c.ended_status = 200;
        }
        self->maybe_finish(c);
        return 200;
      default:
        return self->in_dialog(c, MediaLeg::b, br, irq, sip);
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
    for (auto& b : c.branches)
      if (!b->channel.empty()) backend.leg_event(b->channel, LegState::ended, c.ended_status, {});
    if (!c.channel.empty()) backend.leg_event(c.channel, LegState::ended, c.ended_status, {});
    release_dialog(c);
    if (c.dial_done) {
      auto done = std::move(c.dial_done);
      c.dial_done = nullptr;
      done(DialResult{"cancelled", 0});
    }
    call_ids.erase(c.id);
    count_line(c.caller_username, -1);
    c.caller_username.clear();
    if (c.ring_timer) su_timer_destroy(c.ring_timer);
    c.ring_timer = nullptr;
    drop_session_timers(c);
    for (auto& b : c.branches) {
      if (b->counted) count_line(b->target, -1);
      b->counted = false;
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
    c.media.reset();  // the relay ports go back to the pool
  }

  // ---- in-dialog requests: re-INVITE, UPDATE, INFO, OPTIONS, REFER --------

  static std::string body_of(const sip_t* sip) {
    if (!sip || !sip->sip_payload || !sip->sip_payload->pl_data) return {};
    return std::string(sip->sip_payload->pl_data, sip->sip_payload->pl_len);
  }
  static std::string type_of(const sip_t* sip) {
    return sip && sip->sip_content_type ? str(sip->sip_content_type->c_type) : std::string();
  }
  static MediaLeg other_side(MediaLeg l) { return l == MediaLeg::a ? MediaLeg::b : MediaLeg::a; }

  // A request inside a call from side `from` (`br`: the B leg it came on).
  // Offers and INFO go to the other leg and its answer comes back.
  int in_dialog(Call& c, MediaLeg from, Branch* br, nta_incoming_t* irq, const sip_t* sip) {
    auto method = sip->sip_request->rq_method;
    bool established = c.state == Call::State::answered && c.winner &&
                       (from == MediaLeg::a || br == c.winner);
    switch (method) {
      case sip_method_options:
        nta_incoming_treply(irq, SIP_200_OK, SIPTAG_ALLOW_STR(kAllow),
                            SIPTAG_ACCEPT_STR("application/sdp"), SIPTAG_CONTACT(contact), TAG_END());
        nta_incoming_destroy(irq);
        return 0;
      case sip_method_refer:
        if (!established) return 481;
        return on_refer(c, from, irq, sip);
      case sip_method_invite:
      case sip_method_update:
      case sip_method_info:
        break;
      case sip_method_prack:
        return 481;  // no reliable 18x of ours waits for it (sofia takes those)
      default:
        return 501;
    }
    if (!established) return c.state == Call::State::ending ? 481 : 491;
    bool offerish = method != sip_method_info;
    if (offerish) {
      if (int answered = take_refresh(c, from, irq, sip); answered >= 0) return answered;
    }
    if (offerish && (c.offer_pending || c.transfer || c.joined_with)) return 491;  // glare
    std::string body = body_of(sip);
    std::string type = type_of(sip);
    bool offer = offerish && !body.empty();
    if (offer) {
      auto r = c.media->offer(from, body);
      if (!r) {
        int st = media_error_status(r.error());
        log.info("sip: call " + c.id + ": new offer refused with " + std::to_string(st) + ": " +
                 r.error().message);
        reply(irq, st, sip_status_phrase(st));
        return 0;
      }
      body = *r;
    }
    nta_leg_t* to = from == MediaLeg::a ? c.winner->leg : c.a_leg;
    DialogRequest* d = send_in_dialog(c, to, method, str(sip->sip_request->rq_method_name), type, body);
    if (!d) return 500;
    d->from = from;
    d->irq = irq;
    d->offer = offer;
    if (offerish) c.offer_pending = true;
    return 0;
  }

  DialogRequest* send_in_dialog(Call& c, nta_leg_t* leg, sip_method_t method, const std::string& name,
                                const std::string& type, const std::string& body) {
    auto d = std::make_unique<DialogRequest>();
    d->serial = c.serial;
    d->method = method;
    d->to_leg = leg;
    bool refresh = method == sip_method_invite || method == sip_method_update;
    std::string timer = refresh ? timer_request_headers(c, leg) : std::string();
    d->orq = nta_outgoing_tcreate(
        leg, &Impl::on_dialog_response, d.get(), nullptr, method, name.c_str(), nullptr,
        TAG_IF(refresh, SIPTAG_CONTACT(contact)), SIPTAG_USER_AGENT_STR(cfg.user_agent.c_str()),
        TAG_IF(!timer.empty(), SIPTAG_HEADER_STR(timer.c_str())),
        TAG_IF(!body.empty() && !type.empty(), SIPTAG_CONTENT_TYPE_STR(type.c_str())),
        TAG_IF(!body.empty(), SIPTAG_PAYLOAD_STR(body.c_str())), TAG_END());
    if (!d->orq) return nullptr;
    if (refresh && !body.empty()) sdp_sent_on(c, leg) = body;
    c.dialog.push_back(std::move(d));
    return c.dialog.back().get();
  }

  static int on_dialog_response(void* magic, nta_outgoing_t* orq, const sip_t* sip) {
    auto* d = static_cast<DialogRequest*>(magic);
    int status = sip && sip->sip_status ? static_cast<int>(sip->sip_status->st_status)
                                        : nta_outgoing_status(orq);
    if (status < 200 || d->finished) return 0;
    current()->dialog_final(*d, sip, status);
    return 0;
  }

  void ack_on(nta_leg_t* leg, std::uint32_t cseq_number, const std::string& sdp = {}) {
    Home h;
    sip_cseq_t* cseq = sip_cseq_create(h.get(), cseq_number, SIP_METHOD_ACK);
    nta_outgoing_t* ack = nta_outgoing_tcreate(
        leg, nullptr, nullptr, nullptr, SIP_METHOD_ACK, nullptr, SIPTAG_CSEQ(cseq),
        TAG_IF(!sdp.empty(), SIPTAG_CONTENT_TYPE_STR("application/sdp")),
        TAG_IF(!sdp.empty(), SIPTAG_PAYLOAD_STR(sdp.c_str())), TAG_END());
    if (ack) nta_outgoing_destroy(ack);
  }

  void dialog_final(DialogRequest& d, const sip_t* sip, int status) {
    d.finished = true;
    Call* c = find_call(d.serial);
    if (!c) return;
    bool offerish = d.method == sip_method_invite || d.method == sip_method_update;
    std::string body = body_of(sip);
    std::string type = type_of(sip);
    std::uint32_t cseq = sip && sip->sip_cseq ? sip->sip_cseq->cs_seq : 0;
    bool ack_now = d.method == sip_method_invite && status < 300 && sip && !d.raw;
    d.cseq = cseq;
    if (offerish) c->offer_pending = false;
    if (offerish && status < 300 && !body.empty() && !d.raw) {
      MediaLeg side = other_side(d.from);
      auto r = d.offer ? c->media->answer(side, body) : c->media->offer(side, body);
      if (r) {
        body = *r;
        if (!d.offer && d.method == sip_method_invite) {
          // A re-INVITE without SDP: the ACK from the other side brings the answer.
          ack_now = false;
          c->ack_leg = d.to_leg;
          c->ack_cseq = cseq;
          c->ack_from = d.from;
        }
      } else {
        log.warn("sip: call " + c->id + ": SDP in the answer not relayed: " + r.error().message);
        body.clear();
      }
    }
    if (ack_now) ack_on(d.to_leg, cseq);
    if (offerish && status < 300) session_refreshed(*c, d, sip);
    if (d.on_final) {
      auto fn = std::move(d.on_final);
      d.on_final = nullptr;
      fn(status, body);
    } else if (d.irq) {
      const char* phrase = sip && sip->sip_status ? sip->sip_status->st_phrase : sip_status_phrase(status);
      std::string timer = offerish && status < 300 ? timer_headers(timer_of(*c, d.from)) : std::string();
      if (offerish && status < 300 && !body.empty()) sdp_sent_on(*c, d.from) = body;
      nta_incoming_treply(d.irq, status, phrase ? phrase : "Error",
                          TAG_IF(offerish && status < 300, SIPTAG_CONTACT(contact)),
                          TAG_IF(!timer.empty(), SIPTAG_HEADER_STR(timer.c_str())),
                          TAG_IF(!body.empty() && !type.empty(), SIPTAG_CONTENT_TYPE_STR(type.c_str())),
                          TAG_IF(!body.empty(), SIPTAG_PAYLOAD_STR(body.c_str())), TAG_END());
      nta_incoming_destroy(d.irq);
      d.irq = nullptr;
    }
    // The transaction object goes once its callback has returned.
    auto serial = d.serial;
    DialogRequest* done = &d;
    later([this, serial, done] {
      Call* c = find_call(serial);
      if (!c) return;
      auto it = std::find_if(c->dialog.begin(), c->dialog.end(),
                             [done](const auto& p) { return p.get() == done; });
      if (it == c->dialog.end()) return;
      if ((*it)->orq) nta_outgoing_destroy((*it)->orq);
      c->dialog.erase(it);
    });
  }

  // The ACK to a relayed re-INVITE that had no SDP carries the answer.
  void relay_ack(Call& c, MediaLeg from, const sip_t* sip) {
    if (!c.ack_leg || c.ack_from != from) return;
    std::string answer;
    std::string body = body_of(sip);
    if (!body.empty()) {
      auto r = c.media->answer(from, body);
      if (r) answer = *r;
      else log.warn("sip: call " + c.id + ": SDP answer in ACK not relayed: " + r.error().message);
    }
    ack_on(c.ack_leg, c.ack_cseq, answer);
    if (!answer.empty()) sdp_sent_on(c, c.ack_leg) = answer;
    c.ack_leg = nullptr;
  }

  void release_dialog(Call& c) {
    for (auto& d : c.dialog) {
      if (d->irq) {
        if (nta_incoming_status(d->irq) < 200) nta_incoming_treply(d->irq, SIP_481_NO_TRANSACTION, TAG_END());
        nta_incoming_destroy(d->irq);
        d->irq = nullptr;
      }
      if (d->orq) nta_outgoing_destroy(d->orq);
      d->orq = nullptr;
    }
    c.dialog.clear();
    c.ack_leg = nullptr;
    if (!inbox->open) return;  // stopping: no more signalling
    if (c.transfer_of && !c.transfer_done) transfer_failed(c);
    if (c.transfer) {
      auto t = c.transfer;
      c.transfer = 0;
      later([this, t] { abandon_transfer(t); });
    }
    if (c.joined_with) {
      auto other = c.joined_with;
      auto serial = c.serial;
      c.joined_with = 0;
      later([this, other, serial] { join_abandoned(other, serial); });
    }
  }

  // ---- blind transfer (REFER) -------------------------------------------

  struct NotifyAfter {
    std::function<void()> fn;
  };

  // NOTIFY (Event: refer) on the REFER's dialog `leg` with the transfer's
  // progress as a sipfrag; `after` runs once it is answered.
  void notify_refer(nta_leg_t* leg, int status, const std::string& phrase, bool final,
                    std::function<void()> after) {
    if (!leg) {
      if (after) after();
      return;
    }
    std::string frag = "SIP/2.0 " + std::to_string(status) + " " + phrase + "\r\n";
    std::string state = final ? "terminated;reason=noresource" : "active;expires=60";
    auto* a = new NotifyAfter{std::move(after)};
    nta_outgoing_t* n = nta_outgoing_tcreate(
        leg, &Impl::on_refer_notify_response, a, nullptr, SIP_METHOD_NOTIFY, nullptr,
        SIPTAG_EVENT_STR("refer"), SIPTAG_SUBSCRIPTION_STATE_STR(state.c_str()),
        SIPTAG_CONTACT(contact), SIPTAG_CONTENT_TYPE_STR("message/sipfrag;version=2.0"),
        SIPTAG_PAYLOAD_STR(frag.c_str()), TAG_END());
    if (!n) {
      auto fn = std::move(a->fn);
      delete a;
      if (fn) fn();
    }
  }

  static int on_refer_notify_response(void* magic, nta_outgoing_t* orq, const sip_t* sip) {
    int status = sip && sip->sip_status ? static_cast<int>(sip->sip_status->st_status)
                                        : nta_outgoing_status(orq);
    if (status < 200) return 0;
    auto* a = static_cast<NotifyAfter*>(magic);
    nta_outgoing_destroy(orq);
    auto fn = std::move(a->fn);
    delete a;
    if (fn) fn();
    return 0;
  }

  // The leg of the party on `side` of an answered call.
  static nta_leg_t* leg_of(Call& c, MediaLeg side) {
    if (side == MediaLeg::a) return c.a_leg;
    return c.winner ? c.winner->leg : nullptr;
  }

  // The line username of the party on `side` (empty: a trunk).
  static std::string user_of(Call& c, MediaLeg side) {
    if (side == MediaLeg::a) return c.caller_username;
    if (!c.winner || c.winner->target.rfind("sip:", 0) == 0) return {};
    return c.winner->target;
  }

  static const char* phrase_of(int status) {
    const char* p = sip_status_phrase(status);
    return p ? p : "Failed";
  }

  // A BYE from the transferor while its transfer runs: answered, and the
  // call waits for the transfer's outcome.
  bool absorbs_bye(Call& c, MediaLeg side) {
    if ((!c.transfer && !c.joined_with) || c.referrer_side != side) return false;
    c.referrer_gone = true;
    return true;
  }

  // Hangs up an answered call on both sides (but `except`, already gone).
  void end_call(Call& c, nta_leg_t* except = nullptr) {
    if (c.state == Call::State::answered) {
      c.state = Call::State::ending;
      if (c.a_leg && c.a_leg != except) send_bye(c, c.a_leg);
      if (c.winner && c.winner->leg && c.winner->leg != except) send_bye(c, c.winner->leg);
      if (c.ended_status == 0) {
        c.ended_status = 200;
        backend.call_event(c.id, "ended", 200);
      }
    }
    maybe_finish(c);
  }

  // Takes the dialog of the party on `side` out of `c`, as a branch whose
  // leg answers to on_b_request; its line stays counted on the branch.
  std::unique_ptr<Branch> take_leg(Call& c, MediaLeg side) {
    if (side == MediaLeg::b) {
      auto it = std::find_if(c.branches.begin(), c.branches.end(),
                             [&](const auto& b) { return b.get() == c.winner; });
      if (it == c.branches.end()) return nullptr;
      auto owned = std::move(*it);
      c.branches.erase(it);
      c.winner = nullptr;
      return owned;
    }
    auto br = std::make_unique<Branch>();
    br->call = &c;
    br->leg = c.a_leg;
    br->target = c.caller_username;
    br->counted = !c.caller_username.empty();
    br->final = true;
    br->acked = true;
    br->status = 200;
    br->channel = std::move(c.channel);  // the channel follows its party
    c.channel.clear();
    c.a_leg = nullptr;
    c.caller_username.clear();
    nta_leg_bind(br->leg, &Impl::on_b_request, br.get());
    return br;
  }

  // The call core's view of a transfer: the party leaving `c` ends, the one
  // taking its place is linked with the party staying.
  void relink_channels(Branch* leaving, const std::string& staying, std::string& arriving) {
    if (leaving && !leaving->channel.empty()) {
      backend.leg_event(leaving->channel, LegState::ended, 200, {});
      leaving->channel.clear();
    }
    if (!arriving.empty() && !staying.empty()) {
      backend.leg_event(arriving, LegState::up, 200, staying);
      backend.leg_event(staying, LegState::up, 200, arriving);
    }
  }

  // Puts `br`'s dialog on `side` of `c` in place of the party there, whose
  // leg stays in c.branches (no longer connected) for its BYE; returns it.
  nta_leg_t* put_leg(Call& c, MediaLeg side, std::unique_ptr<Branch> br) {
    br->call = &c;
    br->round = c.round;
    br->final = true;
    if (side == MediaLeg::b) {
      Branch* old = c.winner;
      if (old && old->counted) {
        count_line(old->target, -1);
        old->counted = false;
      }
      c.winner = br.get();
      relink_channels(old, c.channel, br->channel);
      c.branches.push_back(std::move(br));
      return old ? old->leg : nullptr;
    }
    auto old = take_leg(c, MediaLeg::a);
    if (old->counted) {
      count_line(old->target, -1);
      old->counted = false;
    }
    c.channel = std::move(br->channel);
    br->channel.clear();
    relink_channels(old.get(), c.winner ? c.winner->channel : std::string(), c.channel);
    nta_leg_t* old_leg = old->leg;
    c.branches.push_back(std::move(old));
    // The newcomer is A now: its leg answers to on_a_request and its line
    // count moves to the caller's.
    c.a_leg = br->leg;
    br->leg = nullptr;
    nta_leg_bind(c.a_leg, &Impl::on_a_request, &c);
    if (br->orq) nta_outgoing_destroy(br->orq);
    br->orq = nullptr;
    if (br->counted) c.caller_username = br->target;
    br->counted = false;
    return old_leg;
  }

  // The Replaces value of a Refer-To URI's headers (RFC 3891), unescaped.
  static std::string replaces_param(const url_t* u) {
    if (!u->url_headers) return {};
    std::string h = u->url_headers;
    std::size_t pos = 0;
    while (pos < h.size()) {
      auto end = h.find('&', pos);
      if (end == std::string::npos) end = h.size();
      std::string item = h.substr(pos, end - pos);
      auto eq = item.find('=');
      if (eq != std::string::npos && strcasecmp(item.substr(0, eq).c_str(), "replaces") == 0) {
        std::string v = item.substr(eq + 1);
        std::vector<char> buf(v.size() + 1, '\0');
        url_unescape(buf.data(), v.c_str());
        return buf.data();
      }
      pos = end + 1;
    }
    return {};
  }

  // The answered call and side whose dialog (Dialtone's leg) `rp` names:
  // to-tag is Dialtone's tag, from-tag the phone's; the reverse is accepted
  // too, as some phones write the tags as they see them.
  struct Party {
    Call* call = nullptr;
    MediaLeg side = MediaLeg::a;
  };
  std::optional<Party> party_by_replaces(const sip_replaces_t* rp) {
    if (!rp || !rp->rp_call_id) return std::nullopt;
    nta_leg_t* leg = nta_leg_by_replaces(agent, rp);
    Home h;
    if (!leg && rp->rp_to_tag && rp->rp_from_tag) {
      sip_replaces_t* swapped = sip_replaces_format(h.get(), "%s;to-tag=%s;from-tag=%s", rp->rp_call_id,
                                                    rp->rp_from_tag, rp->rp_to_tag);
      if (swapped) leg = nta_leg_by_replaces(agent, swapped);
    }
    if (!leg) return std::nullopt;
    Party p;
    if (auto* c = static_cast<Call*>(nta_leg_magic(leg, &Impl::on_a_request))) {
      p = Party{c, MediaLeg::a};
    } else if (auto* br = static_cast<Branch*>(nta_leg_magic(leg, &Impl::on_b_request))) {
      if (br->call->winner != br) return std::nullopt;
      p = Party{br->call, MediaLeg::b};
    } else {
      return std::nullopt;
    }
    if (p.call->state != Call::State::answered || !p.call->winner || !p.call->a_leg) return std::nullopt;
    return p;
  }

  // A REFER from either party of an answered call. Blind (Refer-To without
  // Replaces): a new call (the transfer's) is routed through the dialplan as
  // the referrer and rung without SDP; C's answer is offered to the other
  // party by re-INVITE. With Replaces: an attended transfer.
  int on_refer(Call& c, MediaLeg from, nta_incoming_t* irq, const sip_t* sip) {
    if (!sip->sip_refer_to || !sip->sip_refer_to->r_url->url_user) return 400;
    if (c.transfer || c.joined_with || c.offer_pending) return 491;
    const url_t* u = sip->sip_refer_to->r_url;
    std::string replaces = replaces_param(u);
    std::string target = str(u->url_user);
    nta_incoming_treply(irq, SIP_202_ACCEPTED, SIPTAG_CONTACT(contact), TAG_END());
    nta_incoming_destroy(irq);
    if (!replaces.empty()) {
      attended_transfer(c, from, replaces);
      return 0;
    }
    MediaLeg rest = other_side(from);
    std::string referrer = user_of(c, from);
    if (referrer.empty() && from == MediaLeg::b) referrer = c.winner->target;
    c.referrer = leg_of(c, from);
    c.referrer_side = from;
    c.referrer_gone = false;
    notify_refer(c.referrer, 100, "Trying", false, nullptr);

    // C sees the party it gets as the caller.
    std::string number = c.caller_number;
    std::string name = c.caller_name;
    std::string rest_user = user_of(c, rest);
    if (rest == MediaLeg::b) {
      // A line's username, or the user part of a trunk's sip: URI (the number dialed).
      number = c.winner->target;
      if (number.rfind("sip:", 0) == 0) number = number.substr(4, number.find('@') - 4);
      name.clear();
    }
    auto call = std::make_unique<Call>();
    Call* t = call.get();
    t->serial = next_call++;
    t->id = random_token(16);
    t->from_display = rest == MediaLeg::a ? c.from_display : std::string();
    t->from_user = number;
    t->called = target;
    t->caller_number = number;
    t->caller_name = name;
    t->context = c.context;
    // The transfer's call never anchors: the transferred call's media session carries C.
    t->media = std::make_unique<CallMedia>(relay.get(), cfg.media, true, t->id, &log);
    t->transfer_of = c.serial;
    t->state = Call::State::routing;
    c.transfer = t->serial;
    call_ids[t->id] = t->serial;
    calls.emplace(t->serial, std::move(call));
    call_count = calls.size();
    log.info("sip: call " + c.id + ": " + (referrer.empty() ? std::string("the caller") : referrer) +
             " transfers " + (rest == MediaLeg::a ? "the caller" : "the callee") + " to " + target);

    CallInfo info;
    info.id = t->id;
    info.caller_number = number;
    info.caller_name = name;
    info.called_number = target;
    info.context = c.context;
    info.origin = "intern";
    info.variables = {{"XIVO_SRCNUM", info.caller_number},
                      {"XIVO_DSTNUM", target},
                      {"XIVO_CALLORIGIN", "intern"},
                      {"XIVO_TRANSFER", "blind"}};
    std::weak_ptr<Inbox> weak = inbox;
    auto serial = t->serial;
    auto route = [this, weak, serial](CallInfo info) {
      info.variables["XIVO_CONTEXT"] = info.context;
      Call* t = find_call(serial);
      if (t) {
        t->from_user = info.caller_number;
        t->caller_number = info.caller_number;
        t->caller_name = info.caller_name;
        if (!info.caller_name.empty()) t->from_display = "\"" + info.caller_name + "\"";
      }
      info.variables["XIVO_SRCNUM"] = info.caller_number;
      backend.route_call(info, [this, weak, serial](RouteDecision d) {
        if (auto in = weak.lock()) in->post([this, serial, d = std::move(d)] { on_decision(serial, d); });
      });
    };
    // Routed as the referrer: its context and its user.
    auto as_referrer = [this, route, referrer](CallInfo info) {
      if (referrer.empty() || referrer.rfind("sip:", 0) == 0) {
        route(info);
        return;
      }
      with_credentials(referrer, [info, route, referrer](const std::optional<LineCredentials>& l,
                                                         bool) mutable {
        if (l) {
          info.context = l->context;
          info.caller_username = referrer;
          info.variables["XIVO_USERID"] = l->user_id;
          info.variables["XIVO_LINEID"] = l->line_id;
        }
        route(info);
      });
    };
    if (rest != MediaLeg::b || rest_user.empty()) {
      as_referrer(info);
      return 0;
    }
    // The callee stays: C is shown its line's number and name.
    with_credentials(rest_user, [info, as_referrer](const std::optional<LineCredentials>& l,
                                                    bool) mutable {
      if (l && !l->caller_number.empty()) info.caller_number = l->caller_number;
      if (l && !l->caller_name.empty()) info.caller_name = l->caller_name;
      as_referrer(info);
    });
    return 0;
  }

  // C answered the transfer's call `t` with its offer: the party that stays
  // gets it by re-INVITE, C taking the referrer's media side.
  void transfer_answered(Call& t, Branch& brc, const sip_t* sip) {
    Call* o = find_call(t.transfer_of);
    std::string offer = body_of(sip);
    std::optional<std::string> to_rest;
    if (o && o->state == Call::State::answered && o->transfer == t.serial && !offer.empty()) {
      auto r = o->media->offer(o->referrer_side, offer);
      if (r) to_rest = *r;
      else log.warn("sip: call " + o->id + ": transfer target's SDP not usable: " + r.error().message);
    }
    DialogRequest* d = to_rest ? send_in_dialog(*o, leg_of(*o, other_side(o->referrer_side)),
                                                sip_method_invite, "INVITE", "application/sdp", *to_rest)
                               : nullptr;
    if (!d) {
      drop_transfer_leg(t, brc, 488);
      return;
    }
    d->from = o->referrer_side;
    d->offer = true;
    o->offer_pending = true;
    auto serial = t.serial;
    d->on_final = [this, serial](int status, const std::string& answer) {
      transfer_reinvited(serial, status, answer);
    };
  }

  void drop_transfer_leg(Call& t, Branch& brc, int status) {
    if (brc.ack_waits) {
      brc.ack_waits = false;
      send_ack(brc);
    }
    send_bye(t, brc.leg);
    t.state = Call::State::ending;
    if (t.ended_status == 0) {
      t.ended_status = status;
      backend.call_event(t.id, "ended", status);
    }
    maybe_finish(t);
  }

  // The other party answered the re-INVITE with C's media: C's leg takes
  // the referrer's place.
  void transfer_reinvited(std::uint64_t serial, int status, const std::string& answer) {
    Call* t = find_call(serial);
    if (!t || !t->winner) return;
    Branch& brc = *t->winner;
    Call* o = find_call(t->transfer_of);
    if (!o || o->transfer != serial || status >= 300 || answer.empty()) {
      drop_transfer_leg(*t, brc, status >= 300 ? status : 488);
      return;
    }
    brc.ack_waits = false;
    send_ack(brc, answer);
    std::string target = brc.target;
    auto it = std::find_if(t->branches.begin(), t->branches.end(),
                           [&](const auto& b) { return b.get() == &brc; });
    std::unique_ptr<Branch> owned = std::move(*it);
    t->branches.erase(it);
    t->winner = nullptr;
    nta_leg_t* ref = o->referrer;
    nta_leg_t* old = put_leg(*o, o->referrer_side, std::move(owned));
    o->transfer = 0;
    o->referrer = nullptr;
    t->transfer_done = true;
    t->state = Call::State::ending;
    maybe_finish(*t);
    log.info("sip: call " + o->id + ": transferred to " + target);
    backend.call_event(o->id, "transferred", 200);
    bool gone = o->referrer_gone;
    o->referrer_gone = false;
    if (gone || !old) return;
    auto oserial = o->serial;
    notify_refer(ref, 200, "OK", true, [this, oserial, old] {
      Call* c = find_call(oserial);
      if (c && !c->finishing) send_bye(*c, old);
    });
  }

  // The transfer's call ended without bridging: the referrer hears why and
  // keeps its call, or the other party is hung up when the referrer is gone.
  void transfer_failed(Call& t) {
    Call* o = find_call(t.transfer_of);
    if (!o || o->transfer != t.serial) return;
    o->transfer = 0;
    int st = t.ended_status >= 300 ? t.ended_status : 480;
    nta_leg_t* ref = o->referrer;
    o->referrer = nullptr;
    log.info("sip: call " + o->id + ": transfer failed with " + std::to_string(st));
    if (o->referrer_gone && o->state == Call::State::answered) {
      o->referrer_gone = false;
      end_call(*o, ref);
      return;
    }
    notify_refer(ref, st, phrase_of(st), true, nullptr);
  }

  // The transferred call ended first: its transfer stops.
  void abandon_transfer(std::uint64_t serial) {
    Call* t = find_call(serial);
    if (!t || t->state == Call::State::ending) return;
    t->transfer_of = 0;
    if (t->state == Call::State::answered && t->winner) {
      drop_transfer_leg(*t, *t->winner, 487);
      return;
    }
    for (auto& b : t->branches)
      if (!b->final && b->orq) nta_outgoing_cancel(b->orq);
    t->state = Call::State::ending;
    if (t->dial_done) {
      auto done = std::move(t->dial_done);
      t->dial_done = nullptr;
      done(DialResult{"cancelled", 487});
    }
    maybe_finish(*t);
  }

  // ---- attended transfer (REFER with Replaces, INVITE with Replaces) ------

  // ACKs a 2xx whose offer will not be used: every stream refused (port 0).
  void refuse_offer(nta_leg_t* leg, std::uint32_t cseq, const std::string& offer) {
    std::string answer;
    if (auto s = parse_sdp(offer)) {
      for (auto& m : s->media) m.port = 0;
      answer = s->to_string();
    }
    if (leg) ack_on(leg, cseq, answer);
  }

  // The transferor on side `from` of `c1` asks to join its other party to
  // the party of the call whose dialog `value` names (its other call, c2).
  // Third-party call control (RFC 3725): c2's party is asked for an offer by
  // a re-INVITE without SDP, the offer goes to c1's party, whose answer goes
  // back in the ACK; c2's party then takes the transferor's place in c1.
  void attended_transfer(Call& c1, MediaLeg from, const std::string& value) {
    nta_leg_t* ref = leg_of(c1, from);
    Home h;
    sip_replaces_t* rp = sip_replaces_make(h.get(), value.c_str());
    auto p = party_by_replaces(rp);
    std::string who = user_of(c1, from);
    if (!p || p->call == &c1 || who.empty() || user_of(*p->call, p->side) != who) {
      log.info("sip: call " + c1.id + ": attended transfer refused: Replaces \"" + value +
               "\" names no other call of " + (who.empty() ? std::string("the referrer") : who));
      notify_refer(ref, 481, "Call/Transaction Does Not Exist", true, nullptr);
      return;
    }
    Call& c2 = *p->call;
    if (c2.transfer || c2.joined_with || c2.offer_pending) {
      notify_refer(ref, 491, "Request Pending", true, nullptr);
      return;
    }
    MediaLeg yside = other_side(p->side);
    c1.referrer = ref;
    c1.referrer_side = from;
    c1.referrer_gone = false;
    c1.joined_with = c2.serial;
    c1.join_notify = true;
    c2.referrer = leg_of(c2, p->side);
    c2.referrer_side = p->side;
    c2.referrer_gone = false;
    c2.joined_with = c1.serial;
    c2.join_notify = false;
    notify_refer(ref, 100, "Trying", false, nullptr);
    log.info("sip: call " + c1.id + ": " + who + " joins it to call " + c2.id);
    DialogRequest* d = send_in_dialog(c2, leg_of(c2, yside), sip_method_invite, "INVITE", "", "");
    if (!d) {
      join_failed(c1, 500, false);
      return;
    }
    d->raw = true;
    d->from = p->side;
    c2.offer_pending = true;
    auto s1 = c1.serial;
    auto s2 = c2.serial;
    d->on_final = [this, s1, s2, yside, d](int status, const std::string& offer) {
      join_offered(s1, s2, yside, status, offer, d->cseq);
    };
  }

  // c2's party answered with its offer: c1's party gets it by re-INVITE.
  void join_offered(std::uint64_t s1, std::uint64_t s2, MediaLeg yside, int status,
                    const std::string& offer, std::uint32_t cseq) {
    Call* c2 = find_call(s2);
    if (!c2) return;
    nta_leg_t* yleg = leg_of(*c2, yside);
    Call* c1 = find_call(s1);
    bool live = c1 && c1->joined_with == s2 && c2->joined_with == s1;
    if (status >= 300 || offer.empty() || !live) {
      if (status < 300) refuse_offer(yleg, cseq, offer);
      if (live) join_failed(*c1, status >= 300 ? status : 488, status < 300 && !offer.empty());
      else if (status < 300 && !offer.empty()) end_call(*c2);
      return;
    }
    auto r = c1->media->offer(c1->referrer_side, offer);
    DialogRequest* d = nullptr;
    if (r)
      d = send_in_dialog(*c1, leg_of(*c1, other_side(c1->referrer_side)), sip_method_invite, "INVITE",
                         "application/sdp", *r);
    else
      log.warn("sip: call " + c2->id + ": SDP of the party to join not usable: " + r.error().message);
    if (!d) {
      refuse_offer(yleg, cseq, offer);
      join_failed(*c1, r ? 500 : media_error_status(r.error()), true);
      return;
    }
    d->from = c1->referrer_side;
    d->offer = true;
    c1->offer_pending = true;
    c2->join_cseq = cseq;
    c2->join_offer = offer;
    c2->join_side = yside;
    d->on_final = [this, s1, s2](int st, const std::string& answer) { joined(s1, s2, st, answer); };
  }

  // c1's party answered: the answer goes to c2's party in its ACK, and the
  // two are one call; the transferor is released from both.
  void joined(std::uint64_t s1, std::uint64_t s2, int status, const std::string& answer) {
    Call* c2 = find_call(s2);
    if (!c2 || !c2->join_cseq) return;
    MediaLeg yside = c2->join_side;
    nta_leg_t* yleg = leg_of(*c2, yside);
    std::uint32_t cseq = c2->join_cseq;
    c2->join_cseq = 0;
    Call* c1 = find_call(s1);
    bool live = c1 && c1->joined_with == s2 && c2->joined_with == s1;
    if (status >= 300 || answer.empty() || !live) {
      refuse_offer(yleg, cseq, c2->join_offer);
      if (live) join_failed(*c1, status >= 300 ? status : 488, true);
      else end_call(*c2);
      return;
    }
    ack_on(yleg, cseq, answer);
    c1->joined_with = 0;
    c1->join_notify = false;
    c2->joined_with = 0;
    auto y = take_leg(*c2, yside);
    std::string joined_user = y ? y->target : std::string();
    nta_leg_t* ref = c1->referrer;
    nta_leg_t* old = y ? put_leg(*c1, c1->referrer_side, std::move(y)) : nullptr;
    c1->referrer = nullptr;
    bool gone1 = c1->referrer_gone;
    c1->referrer_gone = false;
    // c2 keeps only the transferor's leg.
    nta_leg_t* ref2 = leg_of(*c2, c2->referrer_side);
    bool gone2 = c2->referrer_gone;
    c2->referrer = nullptr;
    c2->referrer_gone = false;
    c2->state = Call::State::ending;
    if (ref2 && !gone2) send_bye(*c2, ref2);
    if (c2->ended_status == 0) {
      c2->ended_status = 200;
      backend.call_event(c2->id, "ended", 200);
    }
    maybe_finish(*c2);
    log.info("sip: call " + c1->id + ": joined with " + (joined_user.empty() ? "a trunk" : joined_user) +
             " from call " + c2->id);
    backend.call_event(c1->id, "transferred", 200);
    if (gone1 || !old) return;
    notify_refer(ref, 200, "OK", true, [this, s1, old] {
      Call* c = find_call(s1);
      if (c && !c->finishing) send_bye(*c, old);
    });
  }

  // The attended transfer stopped: the transferor hears why and keeps its
  // calls; a call it already left, or whose party was re-INVITEd, ends.
  void join_failed(Call& c1, int status, bool c2_touched) {
    Call* c2 = find_call(c1.joined_with);
    c1.joined_with = 0;
    c1.join_notify = false;
    nta_leg_t* ref = c1.referrer;
    c1.referrer = nullptr;
    bool gone1 = c1.referrer_gone;
    c1.referrer_gone = false;
    log.info("sip: call " + c1.id + ": attended transfer failed with " + std::to_string(status));
    if (c2) {
      c2->joined_with = 0;
      c2->join_cseq = 0;
      nta_leg_t* ref2 = c2->referrer;
      bool gone2 = c2->referrer_gone;
      c2->referrer = nullptr;
      c2->referrer_gone = false;
      if (gone2 || c2_touched) end_call(*c2, gone2 ? ref2 : nullptr);
    }
    if (gone1) {
      end_call(c1, ref);
      return;
    }
    notify_refer(ref, status, phrase_of(status), true, nullptr);
  }

  // Call `gone` ended while being joined to `other`.
  void join_abandoned(std::uint64_t other, std::uint64_t gone) {
    Call* o = find_call(other);
    if (!o || o->joined_with != gone) return;
    o->joined_with = 0;
    nta_leg_t* ref = o->referrer;
    o->referrer = nullptr;
    bool notify = o->join_notify;
    o->join_notify = false;
    bool left = o->referrer_gone;
    o->referrer_gone = false;
    if (o->join_cseq) {
      // Its party's offer was waiting for the other call's answer.
      refuse_offer(leg_of(*o, o->join_side), o->join_cseq, o->join_offer);
      o->join_cseq = 0;
      end_call(*o, left ? ref : nullptr);
      return;
    }
    if (left) {
      end_call(*o, ref);
      return;
    }
    if (notify) notify_refer(ref, 487, "Request Terminated", true, nullptr);
  }

  // An INVITE with Replaces (RFC 3891) from a line: its sender takes the
  // place of the party whose dialog it names, which gets BYE.
  int on_replacing_invite(nta_incoming_t* irq, const sip_t* sip) {
    if (!sip->sip_from || !sip->sip_to || !sip->sip_call_id) return 400;
    authenticate(irq, sip, true, "INVITE", [this, sip](nta_incoming_t* irq, const LineCredentials& line) {
      replace_party(irq, sip, line);
    });
    return 0;
  }

  void replace_party(nta_incoming_t* irq, const sip_t* sip, const LineCredentials& line) {
    auto p = party_by_replaces(sip->sip_replaces);
    if (!p) {
      log.info("sip: INVITE with Replaces from " + line.username + " names no answered call");
      reply(irq, SIP_481_NO_TRANSACTION);
      return;
    }
    Call& c = *p->call;
    if (c.transfer || c.joined_with || c.offer_pending) {
      reply(irq, SIP_491_REQUEST_PENDING);
      return;
    }
    std::string offer = body_of(sip);
    std::string sent;
    if (!offer.empty()) {
      auto r = c.media->offer(p->side, offer);
      if (!r) {
        int st = media_error_status(r.error());
        log.info("sip: call " + c.id + ": INVITE with Replaces refused with " + std::to_string(st) + ": " +
                 r.error().message);
        reply(irq, st, sip_status_phrase(st));
        return;
      }
      sent = *r;
    }
    // The newcomer's dialog, kept as a branch of the call until it is connected.
    auto br = std::make_unique<Branch>();
    br->call = &c;
    br->target = line.username;
    br->final = true;
    br->acked = true;
    br->status = 200;
    br->leg = nta_leg_tcreate(agent, &Impl::on_b_request, br.get(), SIPTAG_CALL_ID(sip->sip_call_id),
                              SIPTAG_FROM(sip->sip_to), SIPTAG_TO(sip->sip_from), TAG_END());
    if (!br->leg) {
      reply(irq, SIP_500_INTERNAL_SERVER_ERROR);
      return;
    }
    nta_leg_tag(br->leg, nullptr);
    nta_leg_server_route(br->leg, sip->sip_record_route, sip->sip_contact);
    nta_incoming_tag(irq, nta_leg_get_tag(br->leg));
    nta_incoming_treply(irq, SIP_100_TRYING, TAG_END());
    Branch* nb = br.get();
    c.branches.push_back(std::move(br));
    DialogRequest* d = send_in_dialog(c, leg_of(c, other_side(p->side)), sip_method_invite, "INVITE",
                                      sent.empty() ? "" : "application/sdp", sent);
    if (!d) {
      reply(irq, SIP_500_INTERNAL_SERVER_ERROR);
      return;
    }
    d->from = p->side;
    d->offer = !sent.empty();
    d->irq = irq;  // answered 481 by release_dialog if the call ends meanwhile
    c.offer_pending = true;
    auto serial = c.serial;
    MediaLeg side = p->side;
    log.info("sip: call " + c.id + ": " + line.username + " replaces " +
             (side == MediaLeg::a ? "the caller" : "the callee"));
    d->on_final = [this, serial, side, nb, d](int status, const std::string& body) {
      replaced(serial, side, nb, d, status, body);
    };
  }

  // The other party took the newcomer's media: the newcomer is connected.
  void replaced(std::uint64_t serial, MediaLeg side, Branch* nb, DialogRequest* d, int status,
                const std::string& body) {
    Call* c = find_call(serial);
    nta_incoming_t* irq = d->irq;
    d->irq = nullptr;
    if (!c || !irq) return;
    if (nta_incoming_status(irq) >= 200) {
      // Cancelled meanwhile (answered 487 by the stack).
      nta_incoming_destroy(irq);
      end_call(*c);
      return;
    }
    if (status >= 300) {
      nta_incoming_treply(irq, status, phrase_of(status), TAG_END());
      nta_incoming_destroy(irq);
      return;
    }
    auto it = std::find_if(c->branches.begin(), c->branches.end(),
                           [nb](const auto& b) { return b.get() == nb; });
    if (it == c->branches.end()) {
      reply(irq, SIP_500_INTERNAL_SERVER_ERROR);
      return;
    }
    std::unique_ptr<Branch> owned = std::move(*it);
    c->branches.erase(it);
    owned->counted = !owned->target.empty();
    count_line(owned->target, 1);
    nta_leg_t* old = put_leg(*c, side, std::move(owned));
    nta_incoming_treply(irq, SIP_200_OK, SIPTAG_CONTACT(contact),
                        TAG_IF(!body.empty(), SIPTAG_CONTENT_TYPE_STR("application/sdp")),
                        TAG_IF(!body.empty(), SIPTAG_PAYLOAD_STR(body.c_str())), TAG_END());
    nta_incoming_destroy(irq);
    if (old) send_bye(*c, old);
    backend.call_event(c->id, "transferred", 200);
  }

  // ---- session timers (RFC 4028) and reliable provisionals (RFC 3262) -----

  static bool has_feature(const msg_list_t* list, const char* feature) {
    return list && sip_has_feature(list, feature);
  }
  SessionTimer& timer_of(Call& c, MediaLeg side) { return side == MediaLeg::a ? c.a_timer : c.b_timer; }
  std::string& sdp_sent_on(Call& c, MediaLeg side) {
    return side == MediaLeg::a ? c.a_sdp_sent : c.b_sdp_sent;
  }
  std::string& sdp_sent_on(Call& c, nta_leg_t* leg) {
    return sdp_sent_on(c, leg == c.a_leg ? MediaLeg::a : MediaLeg::b);
  }

  // An INVITE requiring an extension Dialtone lacks gets 420 with
  // Unsupported; a Session-Expires below session_min_se gets 422 with
  // Min-SE. True when the INVITE was answered here.
  bool refuse_invite(nta_incoming_t* irq, const sip_t* sip) {
    if (refuse_extensions(irq, sip)) return true;
    if (too_brief(sip)) {
      reply_too_brief(irq);
      return true;
    }
    return false;
  }

  bool refuse_extensions(nta_incoming_t* irq, const sip_t* sip) {
    if (!sip->sip_require) return false;
    Home h;
    sip_supported_t* ours = sip_supported_make(h.get(), kSupported);
    sip_unsupported_t* u = sip_has_unsupported(h.get(), ours, sip->sip_require);
    if (!u) return false;
    char buf[256] = {0};
    sip_header_field_e(buf, sizeof buf, reinterpret_cast<const sip_header_t*>(u), 0);
    log.info("sip: " + str(sip->sip_request->rq_method_name) + " from " + source_of(irq).ip +
             " refused with 420: it requires " + buf);
    nta_incoming_treply(irq, SIP_420_BAD_EXTENSION, SIPTAG_UNSUPPORTED(u),
                        SIPTAG_SUPPORTED_STR(kSupported), TAG_END());
    nta_incoming_destroy(irq);
    return true;
  }

  bool too_brief(const sip_t* sip) const {
    return sip->sip_session_expires &&
           sip->sip_session_expires->x_delta < static_cast<unsigned long>(cfg.session_min_se);
  }
  void reply_too_brief(nta_incoming_t* irq) {
    std::string min = std::to_string(cfg.session_min_se);
    nta_incoming_treply(irq, SIP_422_SESSION_TIMER_TOO_SMALL, SIPTAG_MIN_SE_STR(min.c_str()),
                        SIPTAG_SUPPORTED_STR(kSupported), TAG_END());
    nta_incoming_destroy(irq);
  }

  // The session timer `sip` (an INVITE or UPDATE from the peer of `st`)
  // asks for, RFC 4028 section 9: the refresher the peer named, else the
  // peer when it supports timer, else Dialtone. Without Session-Expires the
  // leg keeps what it had.
  static void timer_from_request(SessionTimer& st, const sip_t* sip) {
    if (has_feature(sip->sip_supported, "timer") || has_feature(sip->sip_require, "timer"))
      st.peer_timer = true;
    if (sip->sip_allow) st.peer_update = sip_is_allowed(sip->sip_allow, sip_method_update, "UPDATE");
    const sip_session_expires_t* se = sip->sip_session_expires;
    if (!se || se->x_delta == 0) return;
    st.interval = static_cast<int>(std::min<unsigned long>(se->x_delta, 86400));
    st.we_refresh = !st.peer_timer || (se->x_refresher && strcasecmp(se->x_refresher, "uas") == 0);
  }

  // The session timer a peer set in its 2xx to Dialtone's INVITE or UPDATE:
  // refresher=uac (or none) makes Dialtone the refresher.
  static void timer_from_response(SessionTimer& st, const sip_t* sip) {
    if (!sip) return;
    if (sip->sip_allow) st.peer_update = sip_is_allowed(sip->sip_allow, sip_method_update, "UPDATE");
    const sip_session_expires_t* se = sip->sip_session_expires;
    if (!se || se->x_delta == 0) return;
    st.peer_timer = true;
    st.interval = static_cast<int>(std::min<unsigned long>(se->x_delta, 86400));
    st.we_refresh = !se->x_refresher || strcasecmp(se->x_refresher, "uac") == 0;
  }

  void caller_extensions(Call& c, const sip_t* sip) {
    timer_from_request(c.a_timer, sip);
    c.a_rel100 = has_feature(sip->sip_require, "100rel") ||
                 (cfg.rel100_when_supported && has_feature(sip->sip_supported, "100rel"));
  }

  // Headers of Dialtone's 2xx to a request from the peer of `st`, which
  // was the UAC: refresher=uac names the peer.
  static std::string timer_headers(const SessionTimer& st) {
    if (st.interval <= 0) return {};
    std::string h = "Session-Expires: " + std::to_string(st.interval) +
                    ";refresher=" + (st.we_refresh ? "uas" : "uac");
    if (st.peer_timer) h += "\r\nRequire: timer";
    return h;
  }

  // Headers of an INVITE or UPDATE Dialtone sends on `leg` (Dialtone is
  // the UAC): every such request refreshes the leg's session.
  std::string timer_request_headers(Call& c, nta_leg_t* leg) {
    const SessionTimer& st = leg == c.a_leg ? c.a_timer : c.b_timer;
    if (st.interval <= 0) return {};
    return "Session-Expires: " + std::to_string(st.interval) +
           ";refresher=" + (st.we_refresh ? "uac" : "uas") + "\r\nSupported: timer";
  }

  // The call is answered: B's 2xx may impose a session timer on B's leg;
  // both legs' timers start.
  void session_answered(Call& c, const sip_t* b_ok) {
    timer_from_response(c.b_timer, b_ok);
    if (c.b_sdp_sent.empty()) c.b_sdp_sent = c.sdp;
    arm_session_timer(c, MediaLeg::a);
    arm_session_timer(c, MediaLeg::b);
  }

  // RFC 4028 section 10: the refresher refreshes at half the interval; the
  // other side hangs up when no refresh came by the interval minus the
  // smaller of 32 s and a third of it.
  void arm_session_timer(Call& c, MediaLeg side, long delay_ms = -1) {
    SessionTimer& st = timer_of(c, side);
    st.call = &c;
    st.side = side;
    if (st.interval <= 0 || !root) return;
    long ms = delay_ms >= 0 ? delay_ms
              : st.we_refresh ? st.interval * 500L
                              : (st.interval - std::min(32, st.interval / 3)) * 1000L;
    if (!st.timer) st.timer = su_timer_create(su_root_task(root), ms);
    if (st.timer) su_timer_set_interval(st.timer, &Impl::on_session_timer, &st, ms);
  }

  static void on_session_timer(void*, su_timer_t*, void* arg) {
    auto* st = static_cast<SessionTimer*>(arg);
    Impl* self = current();
    Call& c = *st->call;
    if (c.state != Call::State::answered || c.finishing) return;
    if (st->we_refresh) self->send_refresh(c, *st);
    else self->session_expired(c, *st, "no session refresh came in time");
  }

  // A refresh of ours: UPDATE without SDP when the peer allows it, else a
  // re-INVITE offering the SDP last sent on the leg again (RFC 4028 7.4).
  void send_refresh(Call& c, SessionTimer& st) {
    nta_leg_t* leg = leg_of(c, st.side);
    if (!leg || st.refresh) return;
    const std::string& sdp = sdp_sent_on(c, st.side);
    bool update = st.peer_update || sdp.empty();
    if (!update && (c.offer_pending || c.transfer)) {
      arm_session_timer(c, st.side, 2000);  // an offer is in flight: try again shortly
      return;
    }
    std::string se = "Session-Expires: " + std::to_string(st.interval) + ";refresher=uac";
    std::string min = std::to_string(cfg.session_min_se);
    st.refresh = nta_outgoing_tcreate(
        leg, &Impl::on_refresh_response, &st, nullptr,
        update ? sip_method_update : sip_method_invite, update ? "UPDATE" : "INVITE", nullptr,
        SIPTAG_CONTACT(contact), SIPTAG_USER_AGENT_STR(cfg.user_agent.c_str()),
        SIPTAG_SUPPORTED_STR(kSupported), SIPTAG_HEADER_STR(se.c_str()),
        SIPTAG_MIN_SE_STR(min.c_str()),
        TAG_IF(!update, SIPTAG_CONTENT_TYPE_STR("application/sdp")),
        TAG_IF(!update, SIPTAG_PAYLOAD_STR(sdp.c_str())), TAG_END());
    if (!st.refresh) {
      session_expired(c, st, "the session refresh could not be sent");
      return;
    }
    st.refresh_invite = !update;
    if (!update) c.offer_pending = true;
  }

  static int on_refresh_response(void* magic, nta_outgoing_t* orq, const sip_t* sip) {
    auto* st = static_cast<SessionTimer*>(magic);
    int status = sip && sip->sip_status ? static_cast<int>(sip->sip_status->st_status)
                                        : nta_outgoing_status(orq);
    if (status < 200 || st->refresh != orq) return 0;
    Impl* self = current();
    Call& c = *st->call;
    bool invite = st->refresh_invite;
    st->refresh = nullptr;
    st->refresh_invite = false;
    if (invite) {
      c.offer_pending = false;
      nta_leg_t* leg = self->leg_of(c, st->side);
      if (status < 300 && sip && sip->sip_cseq && leg) self->ack_on(leg, sip->sip_cseq->cs_seq);
    }
    // The transaction goes once its callback has returned.
    self->later([orq] { nta_outgoing_destroy(orq); });
    if (c.state != Call::State::answered || c.finishing) return 0;
    if (status < 300) {
      timer_from_response(*st, sip);
      self->arm_session_timer(c, st->side);
    } else if (status == 408 || status == 481) {
      self->session_expired(c, *st, "the session refresh got " + std::to_string(status));
    } else if (status == 422 && sip && sip->sip_min_se) {
      st->interval = std::max<int>(st->interval, static_cast<int>(sip->sip_min_se->min_delta));
      self->send_refresh(c, *st);
    } else if (!invite && (status == 405 || status == 501) && !self->sdp_sent_on(c, st->side).empty()) {
      st->peer_update = false;
      self->send_refresh(c, *st);
    } else if (status == 491) {
      self->arm_session_timer(c, st->side, 2000);
    } else {
      self->arm_session_timer(c, st->side);
    }
    return 0;
  }

  // The session of one leg lapsed: both legs are hung up.
  void session_expired(Call& c, SessionTimer& st, const std::string& why) {
    if (c.state != Call::State::answered) return;
    log.info("sip: call " + c.id + ": session timer of the " +
             (st.side == MediaLeg::a ? "caller" : "callee") + "'s leg (" +
             std::to_string(st.interval) + " s) expired: " + why + "; hanging up");
    c.state = Call::State::ending;
    send_bye(c, c.a_leg);
    if (c.winner) send_bye(c, c.winner->leg);
    if (c.ended_status == 0) {
      c.ended_status = 408;
      backend.call_event(c.id, "ended", 408);
    }
    maybe_finish(c);
  }

  // An INVITE or UPDATE from `from` in an answered call refreshes its
  // leg: its Session-Expires is taken (420 for an unknown Require, 422
  // below session_min_se) and an UPDATE without SDP is answered here.
  // Returns 0 when answered here, -1 when the request goes on to the
  // other leg.
  int take_refresh(Call& c, MediaLeg from, nta_incoming_t* irq, const sip_t* sip) {
    if (refuse_extensions(irq, sip)) return 0;
    if (too_brief(sip)) {
      reply_too_brief(irq);
      return 0;
    }
    SessionTimer& st = timer_of(c, from);
    timer_from_request(st, sip);
    if (sip->sip_request->rq_method != sip_method_update || !body_of(sip).empty()) return -1;
    std::string timer = timer_headers(st);
    nta_incoming_treply(irq, SIP_200_OK, SIPTAG_CONTACT(contact), SIPTAG_SUPPORTED_STR(kSupported),
                        TAG_IF(!timer.empty(), SIPTAG_HEADER_STR(timer.c_str())), TAG_END());
    nta_incoming_destroy(irq);
    arm_session_timer(c, from);
    return 0;
  }

  // A relayed INVITE or UPDATE got a 2xx: the leg it went to is refreshed
  // (its 2xx may change the timer) and so is the leg that sent it.
  void session_refreshed(Call& c, DialogRequest& d, const sip_t* sip) {
    MediaLeg to = d.to_leg == c.a_leg ? MediaLeg::a : MediaLeg::b;
    timer_from_response(timer_of(c, to), sip);
    arm_session_timer(c, to);
    if (d.irq) arm_session_timer(c, d.from);
  }

  void drop_session_timers(Call& c) {
    for (SessionTimer* st : {&c.a_timer, &c.b_timer}) {
      if (st->timer) su_timer_destroy(st->timer);
      st->timer = nullptr;
      if (st->refresh) nta_outgoing_destroy(st->refresh);
      st->refresh = nullptr;
    }
  }

  // B's reliable 18x (Require: 100rel, RSeq): PRACKed in B's early dialog,
  // once per RSeq (a retransmission is not PRACKed again).
  void prack(Branch& br, const sip_t* sip) {
    if (!br.leg || !br.orq || br.final || !sip->sip_cseq || !sip->sip_to || !sip->sip_to->a_tag ||
        !has_feature(sip->sip_require, "100rel"))
      return;
    std::uint32_t rseq = sip->sip_rseq->rs_response;
    if (br.rseq != 0 && rseq <= br.rseq) return;
    br.rseq = rseq;
    nta_leg_rtag(br.leg, sip->sip_to->a_tag);
    nta_leg_client_route(br.leg, sip->sip_record_route, sip->sip_contact);
    std::string rack = std::to_string(rseq) + " " + std::to_string(sip->sip_cseq->cs_seq) + " INVITE";
    nta_outgoing_t* p = nta_outgoing_tcreate(br.leg, &Impl::on_prack_response, nullptr, nullptr,
                                             SIP_METHOD_PRACK, nullptr, SIPTAG_RACK_STR(rack.c_str()),
                                             SIPTAG_USER_AGENT_STR(cfg.user_agent.c_str()), TAG_END());
    if (!p) log.warn("sip: call " + br.call->id + ": could not PRACK " + br.target + "'s " +
                     std::to_string(sip->sip_status->st_status));
    nta_outgoing_setrseq(br.orq, rseq);
  }

  static int on_prack_response(void*, nta_outgoing_t* orq, const sip_t* sip) {
    int status = sip && sip->sip_status ? static_cast<int>(sip->sip_status->st_status)
                                        : nta_outgoing_status(orq);
    if (status >= 200) nta_outgoing_destroy(orq);
    return 0;
  }

  // A never PRACKed a reliable 18x (sofia answers it 503): the call ends.
  void rel100_timeout(Call& c) {
    if (c.state == Call::State::ending) return;
    log.info("sip: call " + c.id + ": the caller did not PRACK a reliable provisional response");
    if (c.state == Call::State::answered && c.winner) send_bye(c, c.winner->leg);
    for (auto& b : c.branches)
      if (!b->final && b->orq) nta_outgoing_cancel(b->orq);
    c.state = Call::State::ending;
    if (c.ended_status == 0) {
      c.ended_status = 503;
      backend.call_event(c.id, "ended", 503);
    }
    if (c.dial_done) {
      auto done = std::move(c.dial_done);
      c.dial_done = nullptr;
      done(DialResult{"cancelled", 503});
    }
    maybe_finish(c);
  }

  // ---- trunk registrations (outbound REGISTER) ----------------------------

  struct OutboundReg {
    TrunkRegistration trunk;
    nta_leg_t* leg = nullptr;
    nta_outgoing_t* orq = nullptr;
    su_timer_t* timer = nullptr;
    std::string state = "pending";
    int failures = 0;
    int auth_tries = 0;  // challenges answered since the last final answer
    unsigned nonce_count = 0;
  };
  std::map<std::string, std::unique_ptr<OutboundReg>> regs;
  mutable std::mutex regs_mutex;
  std::map<std::string, std::string> reg_states;  // snapshot for other threads

  static bool same_registration(const TrunkRegistration& a, const TrunkRegistration& b) {
    return a.username == b.username && a.secret == b.secret && a.host == b.host && a.expires == b.expires;
  }

  void load_registrations() {
    std::weak_ptr<Inbox> weak = inbox;
    backend.find_registrations([this, weak](std::vector<TrunkRegistration> list, bool ok) {
      if (!ok) return;
      if (auto in = weak.lock()) in->post([this, list = std::move(list)] { sync_registrations(list); });
    });
  }

  void sync_registrations(const std::vector<TrunkRegistration>& list) {
    for (auto it = regs.begin(); it != regs.end();) {
      auto found = std::find_if(list.begin(), list.end(), [&](const TrunkRegistration& t) {
        return t.name == it->first && same_registration(t, it->second->trunk);
      });
      if (found == list.end()) {
        drop_registration(*it->second);
        it = regs.erase(it);
      } else {
        ++it;
      }
    }
    for (auto& t : list) {
      if (regs.count(t.name)) continue;
      auto r = std::make_unique<OutboundReg>();
      r->trunk = t;
      r->timer = su_timer_create(su_root_task(root), 1000);
      OutboundReg* p = r.get();
      regs.emplace(t.name, std::move(r));
      set_reg_state(*p, "pending");
      send_register(*p, {}, false);
    }
    sync_trunk_qualify();
    std::lock_guard<std::mutex> lock(regs_mutex);
    for (auto it = reg_states.begin(); it != reg_states.end();)
      it = regs.count(it->first) ? std::next(it) : reg_states.erase(it);
  }

  void drop_registration(OutboundReg& r) {
    if (r.orq) nta_outgoing_destroy(r.orq);
    if (r.timer) su_timer_destroy(r.timer);
    if (r.leg) nta_leg_destroy(r.leg);
    r.orq = nullptr;
    r.timer = nullptr;
    r.leg = nullptr;
  }

  void set_reg_state(OutboundReg& r, const std::string& state) {
    r.state = state;
    std::lock_guard<std::mutex> lock(regs_mutex);
    reg_states[r.trunk.name] = state;
  }

  std::string registrar_uri(const OutboundReg& r) const { return "sip:" + r.trunk.host; }

  void send_register(OutboundReg& r, const std::string& authorization, bool proxy) {
    const auto& t = r.trunk;
    if (!r.leg) {
      std::string aor = "<sip:" + t.username + "@" + t.host + ">";
      std::string call_id = random_token(20) + "@dialtone";
      r.leg = nta_leg_tcreate(agent, &Impl::on_out_leg_request, nullptr, SIPTAG_FROM_STR(aor.c_str()),
                              SIPTAG_TO_STR(aor.c_str()), SIPTAG_CALL_ID_STR(call_id.c_str()), TAG_END());
      if (r.leg) nta_leg_tag(r.leg, nullptr);
    }
    std::string uri = registrar_uri(r);
    std::string me = "<sip:" + t.username + "@" + cfg.host + ":" + std::to_string(bound_port.load()) + ">";
    std::string expires = std::to_string(t.expires);
    if (r.leg)
      r.orq = nta_outgoing_tcreate(
          r.leg, &Impl::on_register_response, &r, nullptr, SIP_METHOD_REGISTER,
          URL_STRING_MAKE(uri.c_str()), SIPTAG_CONTACT_STR(me.c_str()), SIPTAG_EXPIRES_STR(expires.c_str()),
          SIPTAG_USER_AGENT_STR(cfg.user_agent.c_str()),
          TAG_IF(!authorization.empty() && !proxy, SIPTAG_AUTHORIZATION_STR(authorization.c_str())),
          TAG_IF(!authorization.empty() && proxy, SIPTAG_PROXY_AUTHORIZATION_STR(authorization.c_str())),
          TAG_END());
    if (!r.orq) registration_failed(r, 503, "cannot send REGISTER to " + uri);
  }

  static void on_register_timer(void*, su_timer_t*, void* arg) {
    auto* r = static_cast<OutboundReg*>(arg);
    r->auth_tries = 0;
    if (!r->orq) current()->send_register(*r, {}, false);
  }

  static int on_register_response(void* magic, nta_outgoing_t* orq, const sip_t* sip) {
    auto* r = static_cast<OutboundReg*>(magic);
    Impl* self = current();
    int status = sip && sip->sip_status ? static_cast<int>(sip->sip_status->st_status)
                                        : nta_outgoing_status(orq);
    if (status < 200) return 0;
    nta_outgoing_destroy(orq);
    r->orq = nullptr;
    self->on_register_final(*r, sip, status);
    return 0;
  }

  void on_register_final(OutboundReg& r, const sip_t* sip, int status) {
    const auto& t = r.trunk;
    if ((status == 401 || status == 407) && sip) {
      const msg_auth_t* au = status == 401 ? sip->sip_www_authenticate : sip->sip_proxy_authenticate;
      std::optional<DigestChallenge> ch;
      for (; au && !ch; au = au->au_next) ch = parse_challenge(auth_text(au));
      // One answer per challenge; a second challenge means the credentials are wrong
      // (unless the nonce only went stale).
      if (ch && (r.auth_tries == 0 || ch->stale)) {
        ++r.auth_tries;
        auto value = digest_authorization(*ch, t.username, t.secret, "REGISTER", registrar_uri(r),
                                          ++r.nonce_count, random_token(16));
        if (value) {
          send_register(r, *value, status == 407);
          return;
        }
      }
      log.warn("sip: trunk " + t.name + ": registrar " + t.host + " refused the credentials of \"" +
               t.username + "\" (" + std::to_string(status) + "); check the trunk's username and secret");
      registration_failed(r, status, "wrong credentials");
      return;
    }
    r.auth_tries = 0;
    if (status >= 300) {
      if (status == 403)
        log.warn("sip: trunk " + t.name + ": registrar " + t.host + " forbids \"" + t.username +
                 "\" (403); check the trunk's username and secret");
      else
        log.warn("sip: trunk " + t.name + ": REGISTER to " + t.host + " failed with " +
                 std::to_string(status));
      registration_failed(r, status, status == 403 ? "forbidden" : "registrar answered " + std::to_string(status));
      return;
    }
    int granted = t.expires;
    if (sip && sip->sip_expires) granted = static_cast<int>(sip->sip_expires->ex_delta);
    std::string mine = t.username + "@" + cfg.host;
    for (auto* m = sip ? sip->sip_contact : nullptr; m; m = m->m_next)
      if (m->m_expires && url_string(m->m_url).find(mine) != std::string::npos)
        granted = std::atoi(m->m_expires);
    if (granted <= 0) granted = t.expires;
    r.failures = 0;
    if (r.state != "registered") {
      log.info("sip: trunk " + t.name + " registered to " + t.host + " for " + std::to_string(granted) + "s");
      set_reg_state(r, "registered");
      backend.registration_changed(t, true, status, {});
    }
    auto delay = refresh_delay(granted);
    if (r.timer) su_timer_set_interval(r.timer, &Impl::on_register_timer, &r, delay.count());
  }

  void registration_failed(OutboundReg& r, int status, const std::string& detail) {
    ++r.failures;
    bool changed = r.state != "failed";
    set_reg_state(r, "failed");
    if (changed) backend.registration_changed(r.trunk, false, status, detail);
    auto delay = retry_delay(r.failures);
    if (r.timer) su_timer_set_interval(r.timer, &Impl::on_register_timer, &r, delay.count());
  }

  void close_registrations() {
    for (auto& [_, r] : regs) drop_registration(*r);
    regs.clear();
  }

  // ---- TCP and TLS connections -------------------------------------------

  std::atomic<int> tls_bound_port{0};
  std::atomic<std::size_t> tcp_open{0};
  // The connection each TCP/TLS registration came over, by Binding::received:
  // the phone is called over it, and the reference keeps sofia from closing
  // it as idle.
  std::unordered_map<std::string, tport_t*> held;
  ConnectionScanner scanner;
  std::vector<int> conn_ports;  // local ports of the TCP and TLS listeners
  su_timer_t* conn_timer = nullptr;
  unsigned conn_ticks = 0;
  bool over_limit = false;

  static bool stream_transport(const std::string& received) {
    return received.rfind("tcp:", 0) == 0 || received.rfind("tls:", 0) == 0;
  }

  // Adds the TLS listener when asked for. A certificate folder that cannot
  // serve leaves TLS off with one error line; UDP and TCP keep serving.
  void open_tls() {
    bool tls = std::find(cfg.transports.begin(), cfg.transports.end(), "tls") != cfg.transports.end();
    if (!tls) return;
    std::string where = cfg.host + ":" + std::to_string(cfg.tls_port);
    std::string problem = cfg.tls_certificate_dir.empty()
                              ? std::string("sip.tls_certificate_dir is empty; set it to the folder "
                                            "holding agent.pem and cafile.pem")
                              : tls_directory_problem(cfg.tls_certificate_dir);
    if (problem.empty()) {
      std::string url = "sips:" + where;
      // TPTAG_TLS_VERSION(0): negotiate (TLS 1.2 and 1.3) rather than sofia's
      // default TLS 1.0 only, which OpenSSL 3 refuses.
      if (nta_agent_add_tport(agent, URL_STRING_MAKE(url.c_str()),
                              TPTAG_CERTIFICATE(cfg.tls_certificate_dir.c_str()),
                              TPTAG_TLS_VERSION(0), TAG_END()) < 0)
        problem = "sip.tls_port: cannot listen for TLS on " + where +
                  " (port in use, address not local, or sofia refused the certificates in " +
                  cfg.tls_certificate_dir + "); choose a free port or check the files";
    }
    if (!problem.empty()) {
      log.error("sip: " + problem + "; SIP over TLS is off, UDP and TCP keep serving");
      return;
    }
    tls_bound_port = cfg.tls_port;
    log.info("sip: TLS on " + where + " with certificates from " + cfg.tls_certificate_dir);
  }

  // The periodic check closing idle TCP/TLS connections and holding them
  // under tcp_max_connections. Sofia's own idle timer (TPTAG_IDLE) only
  // starts once a connection has carried a message, so a connection that
  // never sends one (a stalled TLS handshake, a silent flood) would stay.
  void limit_connections(bool tcp) {
    if (tcp) conn_ports.push_back(bound_port_of("tcp"));
    if (tls_bound_port) conn_ports.push_back(tls_bound_port);
    if (conn_ports.empty()) return;
    conn_timer = su_timer_create(su_root_task(root), 250);
    su_timer_set_interval(conn_timer, &Impl::on_connections, this, 250);
  }

  int bound_port_of(const char* proto) {
    tport_t* tp = tport_by_protocol(nta_agent_tports(agent), proto);
    const tp_name_t* name = tp ? tport_name(tp) : nullptr;
    return name && name->tpn_port ? std::atoi(name->tpn_port) : 0;
  }

  void hold_connection(nta_incoming_t* irq, const Source& src) {
    if (src.transport != "tcp" && src.transport != "tls") return;
    tport_t* tp = nta_incoming_transport(agent, irq, nullptr);
    if (!tp) return;
    auto& slot = held[src.text()];
    if (slot) tport_unref(slot);
    slot = tp;
  }

  // The live connection a REGISTER came over (`received`), or null.
  tport_t* connection_of(const std::string& received) {
    auto it = held.find(received);
    if (it == held.end() || tport_is_closed(it->second)) return nullptr;
    return it->second;
  }

  tport_t* connection_for(const std::string& aor, const std::string& contact) {
    auto it = locations.find(aor);
    if (it == locations.end()) return nullptr;
    for (auto& b : it->second)
      if (b.contact == contact) return connection_of(b.received);
    return nullptr;
  }

  static std::string peer_of(const std::string& received) {
    auto first = received.find(':');
    auto last = received.rfind(':');
    if (first == std::string::npos || last == first) return {};
    std::string ip = received.substr(first + 1, last - first - 1);
    if (ip.find(':') != std::string::npos) ip = "[" + ip + "]";
    return ip + ":" + received.substr(last + 1);
  }

  // Four times a second, so a burst of connections is cut back well before
  // the process runs out of descriptors; less often when the scan itself
  // grows costly (thousands of connections), keeping it near 5 % of a core.
  static void on_connections(void* magic, su_timer_t* t, void* arg) {
    auto* self = static_cast<Impl*>(arg);
    auto started = std::chrono::steady_clock::now();
    self->check_connections();
    auto spent = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - started)
                     .count();
    auto next = std::clamp<std::int64_t>(spent * 20, 250, 5000);
    su_timer_set_interval(t, &Impl::on_connections, self, static_cast<su_duration_t>(next));
  }

  void check_connections() {
    // Every 20th check: let go of connections whose registrations are gone.
    if (++conn_ticks % 20 == 0) {
      std::unordered_map<std::string, bool> used;
      for (auto& [aor, bindings] : locations)
        for (auto& b : bindings) used[b.received] = true;
      for (auto it = held.begin(); it != held.end();) {
        if (!used.count(it->first) || tport_is_closed(it->second)) {
          tport_unref(it->second);
          it = held.erase(it);
        } else {
          ++it;
        }
      }
    }
    // Idle times need one more call per connection: read them every 4th check.
    bool idle_check = conn_ticks % 4 == 0;
    auto open = scanner.scan(cfg.host, conn_ports, idle_check);
    std::unordered_map<std::string, bool> registered;
    for (auto& [received, tp] : held)
      if (!tport_is_closed(tp)) registered[peer_of(received)] = true;
    auto keep = [&](const std::string& peer) { return registered.count(peer) > 0; };
    if (idle_check) ConnectionScanner::close_idle(open, cfg.tcp_idle_timeout.count(), keep);
    tcp_open = open.size();
    if (cfg.tcp_max_connections == 0 || open.size() <= cfg.tcp_max_connections) {
      over_limit = false;
      return;
    }
    auto n = ConnectionScanner::shed(open, cfg.tcp_max_connections, keep);
    tcp_open = open.size() - n;
    if (!over_limit)
      log.warn("sip: " + std::to_string(open.size()) +
               " TCP/TLS connections open, above sip.tcp_max_connections (" +
               std::to_string(cfg.tcp_max_connections) + "): closing the newest " +
               std::to_string(n) + " without a registration; raise the limit if these are phones");
    over_limit = true;
  }

  void close_connections() {
    if (conn_timer) su_timer_destroy(conn_timer);
    conn_timer = nullptr;
    for (auto& [_, tp] : held) tport_unref(tp);
    held.clear();
  }

  // ---- qualify and out-of-dialog requests ------------------------------

  // One OPTIONS or NOTIFY outside any dialog, with its own deadline.
  struct OutRequest {
    Impl* self = nullptr;
    std::uint64_t id = 0;
    nta_leg_t* leg = nullptr;
    nta_outgoing_t* orq = nullptr;
    std::int64_t sent_ms = 0;
    std::int64_t deadline_ms = 0;
    bool finished = false;
    std::function<void(int status, int rtt_ms)> done;
  };
  std::unordered_map<std::uint64_t, std::unique_ptr<OutRequest>> out_requests;
  std::uint64_t next_out = 1;
  bool closing = false;  // probes cut short by stop() change no state

  // "udp:1.2.3.4:5060" (Binding::received) -> the next hop URI, so the
  // request reaches a phone behind NAT where its REGISTER came from.
  static std::string route_of(const std::string& received) {
    auto first = received.find(':');
    auto last = received.rfind(':');
    if (first == std::string::npos || last == first) return {};
    std::string transport = received.substr(0, first);
    std::string ip = received.substr(first + 1, last - first - 1);
    if (ip.find(':') != std::string::npos) ip = "[" + ip + "]";
    return "sip:" + ip + ":" + received.substr(last + 1) + ";transport=" + transport;
  }

  static int on_out_leg_request(void*, nta_leg_t*, nta_incoming_t*, const sip_t*) { return 481; }

  // Sends `method` to `uri` through `received`; `done(status, rtt_ms)` runs
  // once on the SIP thread (408 when the deadline passes first, 503 when it
  // could not be sent).
  void send_request(sip_method_t method, const char* method_name, const std::string& uri,
                    const std::string& received, const std::string& to_user,
                    const std::string& headers, std::chrono::milliseconds timeout,
                    std::function<void(int, int)> done) {
    auto req = std::make_unique<OutRequest>();
    OutRequest* r = req.get();
    r->self = this;
    r->id = next_out++;
    r->done = std::move(done);
    std::string from = "<sip:" + cfg.user_agent + "@" + cfg.host + ">";
    std::string to = "<sip:" + to_user + "@" + cfg.host + ">";
    std::string call_id = random_token(20) + "@dialtone";
    r->leg = nta_leg_tcreate(agent, &Impl::on_out_leg_request, nullptr,
                             SIPTAG_FROM_STR(from.c_str()), SIPTAG_TO_STR(to.c_str()),
                             SIPTAG_CALL_ID_STR(call_id.c_str()), TAG_END());
    if (r->leg) nta_leg_tag(r->leg, nullptr);
    // Over TCP and TLS: the phone's own connection, or its Contact once that
    // connection is gone (its source port no longer listens).
    tport_t* via = connection_of(received);
    std::string route = via || stream_transport(received) ? std::string() : route_of(received);
    if (r->leg)
      r->orq = nta_outgoing_tcreate(
          r->leg, &Impl::on_out_response, r, route.empty() ? nullptr : URL_STRING_MAKE(route.c_str()),
          method, method_name, URL_STRING_MAKE(uri.c_str()), TAG_IF(via, NTATAG_TPORT(via)),
          SIPTAG_CONTACT(contact),
          SIPTAG_USER_AGENT_STR(cfg.user_agent.c_str()),
          TAG_IF(!headers.empty(), SIPTAG_HEADER_STR(headers.c_str())), TAG_END());
    if (!r->orq) {
      if (r->leg) nta_leg_destroy(r->leg);
      auto cb = std::move(r->done);
      later([cb] { cb(503, -1); });
      return;
    }
    r->sent_ms = mono_ms();
    r->deadline_ms = r->sent_ms + timeout.count();
    out_requests.emplace(r->id, std::move(req));
  }

  void finish_request(OutRequest& r, int status) {
    if (r.finished) return;
    r.finished = true;
    int rtt = static_cast<int>(mono_ms() - r.sent_ms);
    auto done = std::move(r.done);
    auto id = r.id;
    // Sofia objects are destroyed outside their own callbacks.
    later([this, id] {
      auto it = out_requests.find(id);
      if (it == out_requests.end()) return;
      auto& q = *it->second;
      if (q.orq) nta_outgoing_destroy(q.orq);
      if (q.leg) nta_leg_destroy(q.leg);
      out_requests.erase(it);
    });
    if (done) done(status, rtt);
  }

  static int on_out_response(void* magic, nta_outgoing_t* orq, const sip_t* sip) {
    auto* r = static_cast<OutRequest*>(magic);
    int status = sip && sip->sip_status ? static_cast<int>(sip->sip_status->st_status)
                                        : nta_outgoing_status(orq);
    if (status >= 200) r->self->finish_request(*r, status);
    return 0;
  }

  // Requests past their deadline fail with 408 (checked on each sweep).
  void expire_requests() {
    auto now = mono_ms();
    std::vector<OutRequest*> late;
    for (auto& [_, r] : out_requests)
      if (!r->finished && r->deadline_ms <= now) late.push_back(r.get());
    for (auto* r : late) finish_request(*r, 408);
  }

  // On stop: pending requests fail now, so nobody waits for them.
  void drop_requests() {
    closing = true;
    for (auto& [_, r] : out_requests) {
      if (!r->finished && r->done) r->done(503, -1);
      r->finished = true;
      if (r->orq) nta_outgoing_destroy(r->orq);
      if (r->leg) nta_leg_destroy(r->leg);
    }
    out_requests.clear();
  }

  void qualify_sync(const std::string& aor) {
    std::vector<std::pair<std::string, std::string>> contacts;
    auto it = locations.find(aor);
    if (it != locations.end())
      for (auto& b : it->second) contacts.emplace_back(b.contact, b.received);
    qualify.sync(aor, contacts, mono_ms());
  }

  // Probes the contacts due: any final answer but a local 408/503 (timeout,
  // transport failure) counts as reachable.
  void qualify_tick() {
    for (auto& c : qualify.due(mono_ms())) {
      send_request(sip_method_options, "OPTIONS", c.contact, c.received, c.aor, {},
                   qualify.timeout(), [this, aor = c.aor, contact = c.contact](int status, int rtt) {
                     if (closing) return;
                     bool answered = status != 408 && status != 503;
                     if (auto change = qualify.result(aor, contact, answered, rtt, mono_ms())) {
                       log.info("sip: contact " + contact + " of " + aor + " is " +
                                to_string(change->now.state) +
                                (answered ? " (" + std::to_string(rtt) + " ms)" : ""));
                       backend.reachability_changed(*change);
                     }
                   });
    }
  }

  // ---- trunk qualify -------------------------------------------------------
  // Trunks are probed like registered contacts, under the AOR
  // "trunk:<name>": peer trunks at their address, registering trunks at their
  // registrar. A trunk found unreachable is not rung (its dial fails at once
  // with 503, so an outgoing route goes on to its next trunk) until it
  // answers a probe again.

  std::set<std::string> qualified_trunks;
  // host[:port] as dialed (sip:<number>@<host[:port]>) -> (AOR, contact).
  std::map<std::string, std::pair<std::string, std::string>> trunk_hosts;

  void sync_trunk_qualify() {
    std::map<std::string, std::vector<std::pair<std::string, std::string>>> want;
    std::map<std::string, std::pair<std::string, std::string>> hosts;
    auto add = [&](const std::string& name, const std::string& host, int port) {
      if (host.empty() || host == "dynamic") return;
      std::string hostport = port ? host + ":" + std::to_string(port) : host;
      std::string aor = "trunk:" + name;
      std::string contact = "sip:" + hostport;
      want[aor] = {{contact, "udp:" + host + ":" + std::to_string(port ? port : 5060)}};
      hosts[hostport] = {aor, contact};
    };
    for (auto& t : trunks) add(t.name, t.ip, t.port);
    for (auto& [name, r] : regs) {
      const std::string& h = r->trunk.host;
      auto colon = h.rfind(':');
      bool has_port = colon != std::string::npos && h.find(':') == colon;
      add(name, has_port ? h.substr(0, colon) : h, has_port ? std::atoi(h.c_str() + colon + 1) : 0);
    }
    auto now = mono_ms();
    for (auto& aor : qualified_trunks)
      if (!want.count(aor)) qualify.sync(aor, {}, now);
    qualified_trunks.clear();
    for (auto& [aor, contacts] : want) {
      qualify.sync(aor, contacts, now);
      qualified_trunks.insert(aor);
    }
    trunk_hosts = std::move(hosts);
  }

  // True when `uri` (sip:<number>@<host[:port]>) goes to a trunk that stopped
  // answering its probes.
  bool trunk_unreachable(const std::string& uri) const {
    auto at = uri.find('@');
    if (at == std::string::npos) return false;
    auto end = uri.find_first_of(";>?", at + 1);
    auto it = trunk_hosts.find(uri.substr(at + 1, end == std::string::npos ? end : end - at - 1));
    return it != trunk_hosts.end() && qualify.unreachable(it->second.first, it->second.second);
  }

  // The contacts a NOTIFY for `t` goes to: those registered from the
  // device's IP (the AOR named first if it is among them), or the AOR's
  // when no IP is given. One per source address.
  std::vector<std::pair<std::string, Binding>> notify_targets(const SipStack::NotifyTarget& t) {
    std::vector<std::pair<std::string, Binding>> by_ip, by_user;
    for (auto& [aor, bindings] : locations)
      for (auto& b : bindings) {
        auto first = b.received.find(':');
        auto last = b.received.rfind(':');
        std::string ip = first == std::string::npos || last == first
                             ? std::string()
                             : b.received.substr(first + 1, last - first - 1);
        bool ip_match = !t.device_ip.empty() && ip == t.device_ip;
        if (ip_match && aor == t.username) by_user.emplace_back(aor, b);
        else if (ip_match) by_ip.emplace_back(aor, b);
        else if (t.device_ip.empty() && aor == t.username) by_user.emplace_back(aor, b);
      }
    auto& chosen = by_user.empty() ? by_ip : by_user;
    std::vector<std::pair<std::string, Binding>> out;
    for (auto& c : chosen) {
      bool seen = false;
      for (auto& o : out) seen = seen || o.second.received == c.second.received;
      if (!seen) out.push_back(c);
    }
    return out;
  }

  void notify(const SipStack::NotifyTarget& t, std::function<void(SipStack::NotifyResult)> done) {
    auto targets = notify_targets(t);
    if (targets.empty()) {
      done({404, 0,
            "no registered contact " +
                (t.device_ip.empty() ? "of " + t.username : "from " + t.device_ip)});
      return;
    }
    struct Pending {
      std::size_t left;
      SipStack::NotifyResult result;
      std::function<void(SipStack::NotifyResult)> done;
    };
    auto p = std::make_shared<Pending>();
    p->left = targets.size();
    p->result.contacts = targets.size();
    p->done = std::move(done);
    std::string headers = "Event: " + t.event + "\r\nSubscription-State: terminated";
    for (auto& [aor, b] : targets) {
      std::string where = b.contact + " via " + b.received;
      send_request(sip_method_notify, "NOTIFY", b.contact, b.received, aor, headers,
                   cfg.notify_timeout, [p, where](int status, int) {
                     auto& r = p->result;
                     bool better = r.status == 0 || (status / 100 == 2 && r.status / 100 != 2);
                     if (better) r.status = status;
                     if (!r.detail.empty()) r.detail += ", ";
                     r.detail += where + ": " + std::to_string(status);
                     if (--p->left == 0) p->done(r);
                   });
    }
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
  if (impl->cfg.tls_port == 0) impl->cfg.tls_port = free_port(impl->cfg.host);
  auto& media = impl->cfg.media;
  // A wildcard relay address cannot go in SDP: phones get the SIP address.
  if (media.advertise.empty() && (media.relay.bind == "0.0.0.0" || media.relay.bind == "::"))
    media.advertise = impl->cfg.host;
  impl->relay = std::make_unique<RtpRelay>(media.relay, &impl->log);
  if (auto s = impl->relay->start(); !s) {
    impl->relay.reset();
    return s.error();
  }
  impl->thread = std::thread([impl, port] {
    Impl::current() = impl.get();
    impl->run(port);
  });
  std::unique_lock<std::mutex> lock(impl->start_mutex);
  impl->start_cv.wait(lock, [&] { return impl->start_done; });
  if (!impl->start_error.empty()) {
    lock.unlock();
    impl->thread.join();
    impl->relay.reset();
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
  if (impl->relay) impl->relay->stop();
}

int SipStack::port() const { return impl_->bound_port; }

int SipStack::tls_port() const { return impl_->tls_bound_port; }

std::size_t SipStack::tcp_connections() const { return impl_->tcp_open; }

void SipStack::invalidate_credentials() {
  auto impl = impl_;
  impl->inbox->post([impl] {
    impl->credentials.clear();
    impl->trunks_fetched_ms = -1;
    impl->load_registrations();
    impl->with_trunks([] {});  // the trunks qualified follow the configuration
  });
}

std::size_t SipStack::contact_count(const std::string& aor) const {
  std::lock_guard<std::mutex> lock(impl_->snapshot_mutex);
  auto it = impl_->snapshot.find(aor);
  return it == impl_->snapshot.end() ? 0 : it->second;
}

std::size_t SipStack::active_calls() const { return impl_->call_count; }

RelayStats SipStack::media_totals() const {
  return impl_->relay ? impl_->relay->totals() : RelayStats{};
}

std::size_t SipStack::media_free_pairs() const {
  return impl_->relay ? impl_->relay->free_pairs() : 0;
}

std::size_t SipStack::active_calls_of(const std::vector<std::string>& usernames) const {
  std::lock_guard<std::mutex> lock(impl_->lines_mutex);
  std::size_t n = 0;
  for (auto& u : usernames) {
    auto it = impl_->line_calls.find(u);
    if (it != impl_->line_calls.end()) n += static_cast<std::size_t>(it->second);
  }
  return n;
}

void SipStack::dial(const std::string& call_id, DialRequest req,
                    std::function<void(DialResult)> done) {
  auto impl = impl_;
  auto shared = std::make_shared<std::function<void(DialResult)>>(std::move(done));
  bool posted = impl->inbox->post([impl, call_id, req = std::move(req), shared] {
    impl->dial(call_id, req, std::move(*shared));
  });
  if (!posted) (*shared)(DialResult{"cancelled", 0});
}

}  // namespace dialtone::plugins::backend::sip

namespace dialtone::plugins::backend::sip {

void SipStack::hangup(const std::string& call_id, int status, const std::string& channel) {
  auto impl = impl_;
  impl->inbox->post([impl, call_id, status, channel] { impl->hangup(call_id, status, channel); });
}

std::map<std::string, std::string> SipStack::registrations() const {
  std::lock_guard<std::mutex> lock(impl_->regs_mutex);
  return impl_->reg_states;
}

std::vector<ContactReachability> SipStack::reachability(const std::string& aor) const {
  return impl_->qualify.of(aor);
}

void SipStack::notify(NotifyTarget target, std::function<void(NotifyResult)> done) {
  auto impl = impl_;
  auto shared = std::make_shared<std::function<void(NotifyResult)>>(std::move(done));
  bool posted = impl->inbox->post([impl, target = std::move(target), shared] {
    impl->notify(target, std::move(*shared));
  });
  if (!posted) (*shared)(NotifyResult{503, 0, "the SIP stack is stopped"});
}

}  // namespace dialtone::plugins::backend::sip
