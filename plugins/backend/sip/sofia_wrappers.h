// sofia-sip for the SIP stack's own files: the magic types every callback
// carries, sofia's headers, and small RAII wrappers and helpers over them.
// Private to plugins/backend/sip: sofia's headers clash with Poco and others,
// so the plugin glue, the tests and other translation units see sip_stack.h
// only. Include this first, before any other sofia header.
#pragma once

#define NTA_AGENT_MAGIC_T void
#define NTA_LEG_MAGIC_T void
#define NTA_OUTGOING_MAGIC_T void
#define NTA_INCOMING_MAGIC_T void
#define SU_ROOT_MAGIC_T void
#define SU_WAKEUP_ARG_T void
#define SU_TIMER_ARG_T void
#define SRES_CONTEXT_T void

#include <sofia-sip/msg_addr.h>
#include <sofia-sip/nta.h>
#include <sofia-sip/nta_stateless.h>
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
#include <sofia-sip/sresolv.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <chrono>
#include <cstdint>
#include <string>

#include <dialtone/random.h>

namespace dialtone::plugins::backend::sip {

inline std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
inline std::int64_t mono_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

inline std::string str(const char* s) { return s ? std::string(s) : std::string(); }

// SIP UDP socket buffers (SO_RCVBUF/SO_SNDBUF; capped by net.core.rmem_max
// and wmem_max unless the process may force them).
constexpr unsigned kUdpBuffer = 8u << 20;

constexpr const char* kAllow = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, UPDATE, INFO, REFER, NOTIFY, SUBSCRIBE";
// The extensions an INVITE may require: session timers and PRACK.
constexpr const char* kSupported = "timer, 100rel";

using sdk::random_token;

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

// The sender of `msg` (TLS shows as "tcp": only the transport object knows).
inline Source source_of(msg_t* msg) {
  Source s;
  if (!msg) return s;
  su_addrinfo_t* ai = msg_addrinfo(msg);
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

// The sender of a request taken without a transaction; TLS told apart by the
// transport that delivered it.
inline Source source_of(nta_agent_t* agent, msg_t* msg) {
  Source s = source_of(msg);
  if (tport_t* tp = tport_delivered_by(nta_agent_tports(agent), msg)) {
    const tp_name_t* name = tport_name(tp);
    if (name && name->tpn_proto && su_casematch(name->tpn_proto, "tls")) s.transport = "tls";
  }
  return s;
}

inline Source source_of(nta_incoming_t* irq) {
  MsgRef msg(nta_incoming_getrequest(irq));
  Source s = source_of(msg.get());
  if (!msg.get()) return s;
  // TLS runs over TCP too: only the transport object tells them apart.
  if (tport_t* tp = nta_incoming_transport(nullptr, irq, nullptr)) {
    const tp_name_t* name = tport_name(tp);
    if (name && name->tpn_proto && su_casematch(name->tpn_proto, "tls")) s.transport = "tls";
    tport_unref(tp);
  }
  return s;
}

inline std::string url_string(const url_t* u) {
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
inline std::string auth_text(const msg_auth_t* au) {
  std::string out = str(au->au_scheme);
  bool first = true;
  for (auto p = au->au_params; p && *p; ++p) {
    out += first ? " " : ", ";
    out += *p;
    first = false;
  }
  return out;
}

// Names one request (Call-ID, CSeq, method, top Via branch) in 32 bits
// (never 0): its retransmissions have the same fingerprint.
inline std::uint32_t request_fingerprint(const sip_t* sip) {
  std::uint32_t h = 2166136261u;
  auto mix = [&h](const char* s) {
    for (; s && *s; ++s) h = (h ^ static_cast<unsigned char>(*s)) * 16777619u;
    h = (h ^ 0xff) * 16777619u;
  };
  if (sip->sip_call_id) mix(sip->sip_call_id->i_id);
  if (sip->sip_cseq) {
    mix(std::to_string(sip->sip_cseq->cs_seq).c_str());
    mix(sip->sip_cseq->cs_method_name);
  }
  if (sip->sip_via) mix(sip->sip_via->v_branch);
  return h ? h : 1;
}

// The key of a server transaction (RFC 3261 17.2.3: the top Via's branch and
// sent-by, and the method), with the Call-ID and CSeq for requests from
// RFC 2543 clients that send no branch.
inline std::string transaction_key(const sip_t* sip) {
  std::string k;
  auto add = [&k](const char* s) {
    if (s) k += s;
    k += '\n';
  };
  if (const sip_via_t* v = sip->sip_via) {
    add(v->v_branch);
    add(v->v_host);
    add(v->v_port);
  }
  add(sip->sip_call_id ? sip->sip_call_id->i_id : nullptr);
  if (sip->sip_cseq) {
    k += std::to_string(sip->sip_cseq->cs_seq);
    add(sip->sip_cseq->cs_method_name);
  }
  return k;
}

}  // namespace dialtone::plugins::backend::sip
