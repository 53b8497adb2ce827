// backend.sip over TCP and TLS: a phone written here (plain socket or
// OpenSSL client) and SIPp over UDP and TCP against the plugin on
// 127.0.0.1, with a throwaway self-signed certificate made by the openssl
// command at test time.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include <dialtone/provisioning.h>

#include "plugins/backend/sip/sip_plugin.h"
#include "plugins/backend/sip/transports.h"
#include "tests/plugins/backend/sip/sip_fixture.h"

namespace sip = dialtone::plugins::backend::sip;
namespace sdk = dialtone::sdk;
using dialtone::testing::run_sipp;
using dialtone::testing::scenario;
using dialtone::testing::eventually;

namespace {

std::string random_hex(std::size_t n) {
  static std::mutex m;
  static std::mt19937_64 rng{std::random_device{}()};
  std::lock_guard<std::mutex> lock(m);
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s += digits[rng() % 16];
  return s;
}

std::string md5_hex(const std::string& in) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  EVP_Digest(in.data(), in.size(), out, &len, EVP_md5(), nullptr);
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (unsigned i = 0; i < len; ++i) {
    s += digits[out[i] >> 4];
    s += digits[out[i] & 15];
  }
  return s;
}

// A folder made fresh for one test, removed after it.
class TempDir {
 public:
  TempDir() {
    static std::atomic<unsigned> n{0};
    path_ = std::filesystem::temp_directory_path() /
            ("dt-tls-" + std::to_string(::getpid()) + "-" + std::to_string(n.fetch_add(1)));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string str() const { return path_.string(); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// A self-signed certificate for 127.0.0.1 in sofia's layout, made as
// docs/admin/sip.md tells admins to.
bool make_certificate(const TempDir& dir) {
  std::string cmd = "cd '" + dir.str() +
                    "' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
                    "-nodes -keyout key.pem -out cert.pem -days 2 -subj /CN=127.0.0.1 "
                    "-addext subjectAltName=IP:127.0.0.1 >openssl.log 2>&1 && "
                    "cat key.pem cert.pem > agent.pem && cp cert.pem cafile.pem";
  return std::system(cmd.c_str()) == 0;
}

struct SipMessage {
  std::string start;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  int status() const {
    return start.rfind("SIP/2.0 ", 0) == 0 ? std::atoi(start.c_str() + 8) : 0;
  }
  std::string method() const { return status() ? std::string() : start.substr(0, start.find(' ')); }
  std::string header(const std::string& name) const {
    for (auto& [k, v] : headers)
      if (strcasecmp(k.c_str(), name.c_str()) == 0) return v;
    return {};
  }
  std::vector<std::string> all(const std::string& name) const {
    std::vector<std::string> out;
    for (auto& [k, v] : headers)
      if (strcasecmp(k.c_str(), name.c_str()) == 0) out.push_back(v);
    return out;
  }
  std::string text() const {
    std::string s = start + "\n";
    for (auto& [k, v] : headers) s += k + ": " + v + "\n";
    return s + body;
  }
};

// "a=b, c=\"d\"" parameter of a digest challenge.
std::string digest_param(const std::string& header, const std::string& name) {
  auto at = header.find(name + "=");
  if (at == std::string::npos) return {};
  at += name.size() + 1;
  if (header[at] == '"') {
    auto end = header.find('"', at + 1);
    return header.substr(at + 1, end - at - 1);
  }
  auto end = header.find_first_of(", ", at);
  return header.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

std::string digest_answer(const std::string& challenge, const std::string& user,
                          const std::string& password, const std::string& method,
                          const std::string& uri) {
  std::string realm = digest_param(challenge, "realm");
  std::string nonce = digest_param(challenge, "nonce");
  std::string cnonce = random_hex(16);
  std::string ha1 = md5_hex(user + ":" + realm + ":" + password);
  std::string ha2 = md5_hex(method + ":" + uri);
  std::string response = md5_hex(ha1 + ":" + nonce + ":00000001:" + cnonce + ":auth:" + ha2);
  return "Digest username=\"" + user + "\", realm=\"" + realm + "\", nonce=\"" + nonce +
         "\", uri=\"" + uri + "\", response=\"" + response +
         "\", algorithm=MD5, qop=auth, nc=00000001, cnonce=\"" + cnonce + "\"";
}

// TLS client context trusting only the test certificate and checking that
// the server presents it for 127.0.0.1.
struct ClientTls {
  SSL_CTX* ctx = nullptr;
  explicit ClientTls(const std::string& cafile) {
    ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_load_verify_locations(ctx, cafile.c_str(), nullptr);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  }
  ~ClientTls() { SSL_CTX_free(ctx); }
};

int connect_loopback(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  // A bound on every blocking read or write, so a stuck test still ends.
  timeval tv{20, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  return fd;
}

// True when the peer closes `fd` (end of stream or reset) within 20 s.
bool closed_by_peer(int fd) {
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  char buf[4096];
  while (std::chrono::steady_clock::now() < until) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return n == 0 || errno != EAGAIN;
  }
  return false;
}

// A phone on one TCP or TLS connection, as desk phones keep it: REGISTER,
// calls and NOTIFYs all go over it.
class StreamPhone {
 public:
  StreamPhone(int port, SSL_CTX* tls, std::string user) : user_(std::move(user)) {
    fd_ = connect_loopback(port);
    if (fd_ < 0) return;
    sockaddr_in a{};
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    local_port_ = ntohs(a.sin_port);
    if (tls) {
      ssl_ = SSL_new(tls);
      SSL_set_fd(ssl_, fd_);
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), "127.0.0.1");
      if (SSL_connect(ssl_) != 1) {
        handshake_error_ = ERR_error_string(ERR_get_error(), nullptr);
        SSL_free(ssl_);
        ssl_ = nullptr;
        ::close(fd_);
        fd_ = -1;
      }
    }
  }
  ~StreamPhone() {
    if (ssl_) {
      SSL_shutdown(ssl_);
      SSL_free(ssl_);
    }
    if (fd_ >= 0) ::close(fd_);
  }

  bool connected() const { return fd_ >= 0; }
  const std::string& handshake_error() const { return handshake_error_; }
  int local_port() const { return local_port_; }
  int fd() const { return fd_; }
  std::string transport() const { return ssl_ ? "TLS" : "TCP"; }
  std::string contact() const {
    return "<sip:" + user_ + "@127.0.0.1:" + std::to_string(local_port_) + ";transport=" +
           (ssl_ ? "tls" : "tcp") + ">";
  }
  std::string via() const {
    return "SIP/2.0/" + transport() + " 127.0.0.1:" + std::to_string(local_port_) +
           ";branch=z9hG4bK" + random_hex(16) + ";rport";
  }

  // RFC 5626 keep-alive: a double-CRLF ping; true when the CRLF pong comes
  // back within 5 s.
  bool ping() {
    if (!send("\r\n\r\n")) return false;
    std::string got;
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (got.size() < 2 && std::chrono::steady_clock::now() < until) {
      if (!(ssl_ && SSL_pending(ssl_) > 0)) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 200) <= 0) continue;
      }
      char b[16];
      int n = ssl_ ? SSL_read(ssl_, b, sizeof b) : static_cast<int>(::recv(fd_, b, sizeof b, 0));
      if (n <= 0) {
        if (ssl_ && SSL_get_error(ssl_, n) == SSL_ERROR_WANT_READ) continue;
        return false;
      }
      got.append(b, static_cast<std::size_t>(n));
    }
    return got == "\r\n";
  }

  bool send(const std::string& text) {
    std::lock_guard<std::mutex> lock(write_mutex_);
    std::size_t done = 0;
    while (done < text.size()) {
      int n = ssl_ ? SSL_write(ssl_, text.data() + done, static_cast<int>(text.size() - done))
                   : static_cast<int>(::send(fd_, text.data() + done, text.size() - done, MSG_NOSIGNAL));
      if (n <= 0) return false;
      done += static_cast<std::size_t>(n);
    }
    return true;
  }

  // The next message, or nothing when the connection ends or 20 s pass.
  std::optional<SipMessage> read() {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    for (;;) {
      while (buf_.rfind("\r\n", 0) == 0) buf_.erase(0, 2);  // keepalives
      auto end = buf_.find("\r\n\r\n");
      if (end != std::string::npos) {
        SipMessage m;
        std::size_t line_start = 0;
        bool first = true;
        while (line_start < end) {
          auto line_end = buf_.find("\r\n", line_start);
          std::string line = buf_.substr(line_start, line_end - line_start);
          line_start = line_end + 2;
          if (first) {
            m.start = line;
            first = false;
            continue;
          }
          auto colon = line.find(':');
          if (colon == std::string::npos) continue;
          std::string value = line.substr(colon + 1);
          while (!value.empty() && value.front() == ' ') value.erase(0, 1);
          m.headers.emplace_back(line.substr(0, colon), value);
        }
        std::string cl = m.header("Content-Length");
        if (cl.empty()) cl = m.header("l");
        std::size_t body = cl.empty() ? 0 : std::stoul(cl);
        if (buf_.size() >= end + 4 + body) {
          m.body = buf_.substr(end + 4, body);
          buf_.erase(0, end + 4 + body);
          return m;
        }
      }
      if (std::chrono::steady_clock::now() >= until) return std::nullopt;
      char chunk[8192];
      int n;
      if (ssl_) {
        if (SSL_pending(ssl_) == 0) {
          pollfd p{fd_, POLLIN, 0};
          if (::poll(&p, 1, 200) == 0) continue;
        }
        n = SSL_read(ssl_, chunk, sizeof chunk);
      } else {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 200) == 0) continue;
        n = static_cast<int>(::recv(fd_, chunk, sizeof chunk, 0));
      }
      if (n <= 0) return std::nullopt;
      buf_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  // The final response to the request with CSeq method `method`; answers
  // requests met on the way (OPTIONS) with 200.
  std::optional<SipMessage> final_response(const std::string& method) {
    for (;;) {
      auto m = read();
      if (!m) return m;
      if (!m->status()) {
        send(response(*m, 200, "OK"));
        continue;
      }
      if (m->status() >= 200 && m->header("CSeq").find(method) != std::string::npos) return m;
    }
  }

  // The next request with `method`; others get 200.
  std::optional<SipMessage> request_of(const std::string& method) {
    for (;;) {
      auto m = read();
      if (!m) return m;
      if (m->status()) continue;
      if (m->method() == method) return m;
      send(response(*m, 200, "OK"));
    }
  }

  std::string response(const SipMessage& req, int code, const std::string& reason,
                       const std::string& extra = {}, const std::string& body = {}) {
    std::string out = "SIP/2.0 " + std::to_string(code) + " " + reason + "\r\n";
    for (auto& v : req.all("Via")) out += "Via: " + v + "\r\n";
    std::string to = req.header("To");
    if (code > 100 && to.find("tag=") == std::string::npos) to += ";tag=" + local_tag_;
    out += "From: " + req.header("From") + "\r\nTo: " + to + "\r\nCall-ID: " + req.header("Call-ID") +
           "\r\nCSeq: " + req.header("CSeq") + "\r\n" + extra;
    if (!body.empty()) out += "Content-Type: application/sdp\r\n";
    out += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    return out;
  }

  std::string request(const std::string& method, const std::string& uri, const std::string& to,
                      const std::string& call_id, int cseq, const std::string& extra = {},
                      const std::string& body = {}) {
    std::string out = method + " " + uri + " SIP/2.0\r\nVia: " + via() +
                      "\r\nMax-Forwards: 70\r\nFrom: <sip:" + user_ + "@127.0.0.1>;tag=" + local_tag_ +
                      "\r\nTo: " + to + "\r\nCall-ID: " + call_id + "\r\nCSeq: " + std::to_string(cseq) +
                      " " + method + "\r\nContact: " + contact() + "\r\n" + extra;
    if (!body.empty()) out += "Content-Type: application/sdp\r\n";
    out += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    return out;
  }

  // REGISTER, 401, REGISTER with digest: the final status (0: no answer).
  int register_line(const std::string& password, int expires = 3600) {
    std::string call_id = random_hex(20) + "@phone";
    std::string uri = "sip:127.0.0.1";
    std::string to = "<sip:" + user_ + "@127.0.0.1>";
    std::string exp = "Expires: " + std::to_string(expires) + "\r\n";
    if (!send(request("REGISTER", uri, to, call_id, ++cseq_, exp))) return 0;
    auto challenge = final_response("REGISTER");
    if (!challenge) return 0;
    if (challenge->status() != 401) return challenge->status();
    std::string auth = "Authorization: " +
                       digest_answer(challenge->header("WWW-Authenticate"), user_, password,
                                     "REGISTER", uri) +
                       "\r\n";
    if (!send(request("REGISTER", uri, to, call_id, ++cseq_, exp + auth))) return 0;
    auto done = final_response("REGISTER");
    return done ? done->status() : 0;
  }

  static std::string sdp(int port) {
    return "v=0\r\no=phone 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
           "m=audio " +
           std::to_string(port) + " RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
  }

  // Calls `exten` with its password through the 407 challenge; returns the
  // final response to the authenticated INVITE (ACKed when 2xx).
  std::optional<SipMessage> call(const std::string& exten, const std::string& password,
                                 std::string* call_id_out) {
    std::string call_id = random_hex(20) + "@phone";
    *call_id_out = call_id;
    std::string uri = "sip:" + exten + "@127.0.0.1";
    std::string to = "<" + uri + ">";
    std::string body = sdp(40000);
    if (!send(request("INVITE", uri, to, call_id, ++cseq_, {}, body))) return std::nullopt;
    auto challenge = final_response("INVITE");
    if (!challenge) return challenge;
    // ACK of a non-2xx: same branch as the INVITE; close enough for a B2BUA
    // whose transaction layer matches on Call-ID and CSeq over a stream.
    send(request("ACK", uri, challenge->header("To"), call_id, cseq_));
    if (challenge->status() != 407) return challenge;
    std::string auth = "Proxy-Authorization: " +
                       digest_answer(challenge->header("Proxy-Authenticate"), user_, password,
                                     "INVITE", uri) +
                       "\r\n";
    if (!send(request("INVITE", uri, to, call_id, ++cseq_, auth, body))) return std::nullopt;
    auto answer = final_response("INVITE");
    if (answer && answer->status() / 100 == 2) {
      dialog_to_ = answer->header("To");
      std::string target = answer->header("Contact");
      target = target.substr(target.find('<') + 1);
      target = target.substr(0, target.find('>'));
      dialog_target_ = target;
      send(request("ACK", dialog_target_, dialog_to_, call_id, cseq_));
    }
    return answer;
  }

  // BYE in the dialog `call` set up; the final status.
  int hangup(const std::string& call_id) {
    if (!send(request("BYE", dialog_target_, dialog_to_, call_id, ++cseq_))) return 0;
    auto r = final_response("BYE");
    return r ? r->status() : 0;
  }

 private:
  std::string user_;
  int fd_ = -1;
  SSL* ssl_ = nullptr;
  int local_port_ = 0;
  std::string buf_;
  std::string handshake_error_;
  std::mutex write_mutex_;
  std::string local_tag_ = random_hex(10);
  int cseq_ = 0;
  std::string dialog_to_;
  std::string dialog_target_;
};

class SipTransportTest : public dialtone::testing::SipPluginTest {
 protected:
  static void SetUpTestSuite() { make_host({{"alice", "1001"}, {"bob", "1002"}, {"carol", "1003"}}); }

  void SetUp() override { ASSERT_TRUE(make_certificate(certs_)) << "openssl req failed"; }

  // Starts the plugin with `extra` options over the defaults below.
  void start(std::map<std::string, std::string> extra) {
    extra.emplace("sip.tls_port", "0");
    extra.emplace("auth.ban_failures", "1000");
    extra.emplace("qualify.interval", "0");
    extra.emplace("sip.node", "transport-test");
    start_plugin(extra);
  }

  // bob registered over TCP (`bob` connected to the plugin, which serves
  // udp and tcp), then a check-sync with `event` sent to him from this
  // thread; the notifier's outcome, once bob answers or the plugin gives up.
  std::future<sdk::Status> check_sync_over_tcp(StreamPhone& bob, const std::string& event,
                                               std::shared_ptr<sdk::SipNotifier>& notifier) {
    notifier = host_->services().find<sdk::SipNotifier>();
    EXPECT_TRUE(notifier);
    EXPECT_TRUE(bob.connected());
    EXPECT_EQ(bob.register_line("bobpw"), 200);
    auto answer = std::make_shared<std::promise<sdk::Status>>();
    if (notifier)
      notifier->notify_check_sync({"127.0.0.1", "bob", event},
                                  [answer](sdk::Status s) { answer->set_value(std::move(s)); });
    return answer->get_future();
  }

  void start_tls(std::map<std::string, std::string> extra = {}) {
    extra.emplace("sip.transports", "udp,tcp,tls");
    extra.emplace("sip.tls_certificate_dir", certs_.str());
    start(extra);
  }

  // SIPp as a client of the plugin; `tcp`: over TCP (-t t1).
  int sipp(const std::string& file, std::vector<std::string> extra, std::string* out,
           bool tcp = false) {
    std::vector<std::string> args{target_, "-sf", scenario(file), "-i", "127.0.0.1", "-p",
                                  std::to_string(dialtone::testing::free_port()), "-m", "1",
                                  "-timeout", "25s", "-timeout_error"};
    if (tcp) args.insert(args.end(), {"-t", "t1"});
    args.insert(args.end(), extra.begin(), extra.end());
    return run_sipp(args, out);
  }

  int register_udp(const std::string& user, const std::string& password, int contact_port,
                   std::string* out) {
    return sipp("register.xml",
                {"-au", user, "-ap", password, "-key", "user", user, "-key", "contact_port",
                 std::to_string(contact_port), "-key", "expires", "3600"},
                out);
  }

  // A SIPp UAS running `file` on `port`.
  static std::future<int> uas(const std::string& file, int port, std::string* out, bool tcp = false) {
    return std::async(std::launch::async, [file, port, out, tcp] {
      std::vector<std::string> args{"-sf", scenario(file), "-i", "127.0.0.1", "-p",
                                    std::to_string(port), "-m", "1", "-timeout", "25s",
                                    "-timeout_error"};
      if (tcp) args.insert(args.end(), {"-t", "t1"});
      return run_sipp(args, out);
    });
  }

  // Whether a registration event of `aor` carried `text` (the bus keeps
  // every test's events).
  static bool published(const std::string& aor, const std::string& text) {
    for (auto& e : host_->test_bus().events())
      if (e.topic == "sip.registration." + aor && e.body.find(text) != std::string::npos) return true;
    return false;
  }

  std::string log_text() {
    std::string all;
    for (auto& l : host_->logger().lines()) all += l + "\n";
    return all;
  }

  TempDir certs_;
};

// ---- TLS ---------------------------------------------------------------------

TEST_F(SipTransportTest, TlsPhoneRegistersWithDigestOverItsConnection) {
  start_tls();
  ASSERT_GT(plugin_->tls_port(), 0);
  ClientTls tls(certs_.file("cafile.pem"));
  StreamPhone phone(plugin_->tls_port(), tls.ctx, "alice");
  ASSERT_TRUE(phone.connected()) << "TLS handshake: " << phone.handshake_error();
  EXPECT_EQ(phone.register_line("alicepw"), 200);
  // The 200 goes out before the binding is published.
  EXPECT_TRUE(eventually([&] { return plugin_->contact_count("alice") == 1; }));
  EXPECT_TRUE(eventually([&] {
    return published("alice", "tls:127.0.0.1:" + std::to_string(phone.local_port()));
  }));
}

TEST_F(SipTransportTest, TlsWrongPasswordGets403AndAFail2banLine) {
  start_tls();
  ClientTls tls(certs_.file("cafile.pem"));
  StreamPhone phone(plugin_->tls_port(), tls.ctx, "alice");
  ASSERT_TRUE(phone.connected()) << phone.handshake_error();
  EXPECT_EQ(phone.register_line("not-the-password"), 403);
  EXPECT_EQ(plugin_->contact_count("alice"), 0u);
  EXPECT_TRUE(host_->logger().contains("sip: auth failed for \"alice\" from 127.0.0.1"));
}

TEST_F(SipTransportTest, TlsPhoneCallsAUdpPhoneAnswersAndHangsUp) {
  start_tls();
  std::string uas_out, out;
  int bob_port = dialtone::testing::free_port();
  auto bob = uas("uas_answer.xml", bob_port, &uas_out);
  ASSERT_EQ(register_udp("bob", "bobpw", bob_port, &out), 0) << out;

  ClientTls tls(certs_.file("cafile.pem"));
  StreamPhone alice(plugin_->tls_port(), tls.ctx, "alice");
  ASSERT_TRUE(alice.connected()) << alice.handshake_error();
  ASSERT_EQ(alice.register_line("alicepw"), 200);
  std::string call_id;
  auto answer = alice.call("1002", "alicepw", &call_id);
  ASSERT_TRUE(answer);
  ASSERT_EQ(answer->status(), 200) << answer->text();
  EXPECT_NE(answer->body.find("m=audio"), std::string::npos) << answer->text();
  EXPECT_TRUE(eventually([&] { return plugin_->active_calls() == 1; }));
  EXPECT_EQ(alice.hangup(call_id), 200);
  EXPECT_EQ(bob.get(), 0) << uas_out;
  EXPECT_TRUE(eventually([&] { return plugin_->active_calls() == 0; }));
}

TEST_F(SipTransportTest, UdpCallReachesTheTlsPhoneOverItsConnection) {
  start_tls();
  ClientTls tls(certs_.file("cafile.pem"));
  StreamPhone carol(plugin_->tls_port(), tls.ctx, "carol");
  ASSERT_TRUE(carol.connected()) << carol.handshake_error();
  ASSERT_EQ(carol.register_line("carolpw"), 200);

  std::string caller_out;
  auto caller = std::async(std::launch::async, [&] {
    return sipp("uac_call_hangup.xml", {"-s", "1003", "-au", "alice", "-ap", "alicepw", "-key",
                                        "user", "alice"},
                &caller_out);
  });
  auto invite = carol.request_of("INVITE");
  ASSERT_TRUE(invite) << "no INVITE on the TLS connection";
  EXPECT_EQ(invite->header("Via").rfind("SIP/2.0/TLS", 0), 0u) << invite->text();
  carol.send(carol.response(*invite, 180, "Ringing", "Contact: " + carol.contact() + "\r\n"));
  carol.send(carol.response(*invite, 200, "OK", "Contact: " + carol.contact() + "\r\n",
                            StreamPhone::sdp(40100)));
  auto ack = carol.request_of("ACK");
  ASSERT_TRUE(ack) << "no ACK on the TLS connection";
  auto bye = carol.request_of("BYE");
  ASSERT_TRUE(bye) << "no BYE on the TLS connection";
  carol.send(carol.response(*bye, 200, "OK"));
  EXPECT_EQ(caller.get(), 0) << caller_out;
  EXPECT_TRUE(eventually([&] { return plugin_->active_calls() == 0; }));
}

TEST_F(SipTransportTest, GarbageAndAStalledHandshakeOnTheTlsPortDoNotStopService) {
  start_tls({{"sip.tcp_idle_timeout", "2s"}});
  // Not TLS at all.
  int garbage = connect_loopback(plugin_->tls_port());
  ASSERT_GE(garbage, 0);
  std::string junk = "REGISTER sip:127.0.0.1 SIP/2.0\r\n\r\n" + std::string(512, '\x7f');
  ASSERT_GT(::send(garbage, junk.data(), junk.size(), MSG_NOSIGNAL), 0);
  // A handshake record announced at 512 bytes of which 6 are sent.
  int stalled = connect_loopback(plugin_->tls_port());
  ASSERT_GE(stalled, 0);
  const char partial[] = "\x16\x03\x01\x02\x00\x01";
  ASSERT_GT(::send(stalled, partial, 6, MSG_NOSIGNAL), 0);

  // Other phones are served meanwhile, over TLS and UDP.
  ClientTls tls(certs_.file("cafile.pem"));
  StreamPhone alice(plugin_->tls_port(), tls.ctx, "alice");
  ASSERT_TRUE(alice.connected()) << alice.handshake_error();
  EXPECT_EQ(alice.register_line("alicepw"), 200);
  std::string out;
  EXPECT_EQ(register_udp("bob", "bobpw", 5999, &out), 0) << out;
  EXPECT_EQ(plugin_->contact_count("bob"), 1u);

  // Connections that never say anything close after sip.tcp_idle_timeout.
  for (int port : {plugin_->port(), plugin_->tls_port()}) {
    int silent = connect_loopback(port);
    EXPECT_TRUE(closed_by_peer(silent)) << "a silent connection to " << port << " stays open";
    ::close(silent);
  }
  EXPECT_TRUE(closed_by_peer(garbage)) << "the garbage connection stays open";
  EXPECT_TRUE(closed_by_peer(stalled)) << "the stalled handshake outlives sip.tcp_idle_timeout";
  ::close(garbage);
  ::close(stalled);
  // The registered phone's connection is kept past the idle timeout.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  EXPECT_EQ(alice.register_line("alicepw"), 200);
}

TEST_F(SipTransportTest, MissingCertificateFolderLeavesTlsOffWithOneLineAndUdpServing) {
  start({{"sip.transports", "udp,tcp,tls"}, {"sip.tls_certificate_dir", certs_.file("nowhere")}});
  EXPECT_EQ(plugin_->tls_port(), 0);
  EXPECT_TRUE(host_->logger().contains(
      "sip: sip.tls_certificate_dir: '" + certs_.file("nowhere") + "' is not a folder"))
      << log_text();
  std::string out;
  EXPECT_EQ(register_udp("bob", "bobpw", 5999, &out), 0) << out;
}

TEST_F(SipTransportTest, TlsPortInUseLeavesTlsOffWithOneLineAndUdpServing) {
  // Another program holds the TLS port.
  int taken = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(taken, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(taken, 4), 0);
  socklen_t len = sizeof a;
  ::getsockname(taken, reinterpret_cast<sockaddr*>(&a), &len);
  std::string port = std::to_string(ntohs(a.sin_port));
  start_tls({{"sip.tls_port", port}});
  EXPECT_EQ(plugin_->tls_port(), 0);
  EXPECT_TRUE(host_->logger().contains("sip: sip.tls_port: cannot listen for TLS on 127.0.0.1:" +
                                        port))
      << log_text();
  std::string out;
  EXPECT_EQ(register_udp("bob", "bobpw", 5999, &out), 0) << out;
  ::close(taken);
}

TEST_F(SipTransportTest, BadCertificateFilesAreNamedWithTheFix) {
  // Each broken layout and the line an admin gets.
  struct Case {
    std::string setup;
    std::string expected;
  } cases[] = {
      {"rm agent.pem", "cannot read {dir}/agent.pem"},
      {"cp cert.pem agent.pem", "holds no usable private key"},
      {"cp key.pem agent.pem", "holds no PEM certificate"},
      {"echo garbage > agent.pem", "holds no usable private key"},
      {"rm cafile.pem", "cannot read {dir}/cafile.pem"},
      {"echo garbage > cafile.pem", "cafile.pem holds no PEM certificate"},
  };
  for (auto& c : cases) {
    TempDir dir;
    ASSERT_TRUE(make_certificate(dir));
    ASSERT_EQ(std::system(("cd '" + dir.str() + "' && " + c.setup).c_str()), 0);
    std::string problem = sip::tls_directory_problem(dir.str());
    std::string expected = c.expected;
    if (auto at = expected.find("{dir}"); at != std::string::npos) expected.replace(at, 5, dir.str());
    EXPECT_NE(problem.find(expected), std::string::npos) << c.setup << ": " << problem;
    EXPECT_EQ(problem.rfind("sip.tls_certificate_dir: ", 0), 0u) << problem;
  }
  EXPECT_EQ(sip::tls_directory_problem(certs_.str()), "");

  // Through the plugin: one error line, TLS off, UDP still answering.
  ASSERT_EQ(std::system(("cd '" + certs_.str() + "' && cp cert.pem agent.pem").c_str()), 0);
  start_tls();
  EXPECT_EQ(plugin_->tls_port(), 0);
  std::size_t lines = 0;
  for (auto& l : host_->logger().lines())
    if (l.find("agent.pem holds no usable private key") != std::string::npos) ++lines;
  EXPECT_EQ(lines, 1u) << log_text();
  EXPECT_TRUE(host_->logger().contains("SIP over TLS is off, UDP and TCP keep serving"));
  std::string out;
  EXPECT_EQ(register_udp("bob", "bobpw", 5999, &out), 0) << out;
}

TEST_F(SipTransportTest, TlsWithoutACertificateFolderIsAConfigurationError) {
  sip::SipPlugin plugin(*host_);
  auto s = plugin.configure(sdk::Options(std::map<std::string, std::string>{
      {"sip.listen", "127.0.0.1:0"}, {"sip.transports", "udp,tls"}}));
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("sip.tls_certificate_dir is empty"), std::string::npos)
      << s.error().message;
}

// ---- CRLF keep-alive (RFC 5626 3.5.1) -----------------------------------------

// A phone behind NAT keeps its connection's binding alive with double-CRLF
// pings; over TCP the PBX answers each with a CRLF pong, and SIP goes on
// after it. Sofia's TLS transport reads pings as blank lines and answers
// none (docs/admin/sip.md): the connection and its SIP go on.
TEST_F(SipTransportTest, DoubleCrlfPingGetsAPongOverTcpAndLeavesTlsServing) {
  start_tls();
  StreamPhone tcp(plugin_->port(), nullptr, "alice");
  ASSERT_TRUE(tcp.connected());
  ASSERT_EQ(tcp.register_line("alicepw"), 200);
  EXPECT_TRUE(tcp.ping()) << "no CRLF pong over TCP";
  EXPECT_TRUE(tcp.ping()) << "no second pong over TCP";
  EXPECT_EQ(tcp.register_line("alicepw"), 200);
  ClientTls tls(certs_.file("cafile.pem"));
  StreamPhone secure(plugin_->tls_port(), tls.ctx, "alice");
  ASSERT_TRUE(secure.connected()) << "TLS handshake: " << secure.handshake_error();
  ASSERT_EQ(secure.register_line("alicepw"), 200);
  ASSERT_TRUE(secure.send("\r\n\r\n"));
  EXPECT_EQ(secure.register_line("alicepw"), 200);
}

// ---- TCP ---------------------------------------------------------------------

TEST_F(SipTransportTest, SippOverTcpRegistersAndCallsAnsweredAndHungUp) {
  start({{"sip.transports", "udp,tcp"}});
  std::string out, uas_out;
  int bob_port = dialtone::testing::free_port();
  auto bob = uas("uas_answer_tcp.xml", bob_port, &uas_out, true);
  ASSERT_EQ(sipp("register_tcp.xml",
                 {"-au", "bob", "-ap", "bobpw", "-key", "user", "bob", "-key", "contact_port",
                  std::to_string(bob_port), "-key", "expires", "3600"},
                 &out, true),
            0)
      << out;
  EXPECT_EQ(plugin_->contact_count("bob"), 1u);
  EXPECT_TRUE(eventually([&] { return published("bob", "\"received\":\"tcp:127.0.0.1:"); }));
  EXPECT_EQ(sipp("uac_call_hangup.xml",
                 {"-s", "1002", "-au", "alice", "-ap", "alicepw", "-key", "user", "alice"}, &out,
                 true),
            0)
      << out;
  EXPECT_EQ(bob.get(), 0) << uas_out;
  EXPECT_TRUE(eventually([&] { return plugin_->active_calls() == 0; }));
}

TEST_F(SipTransportTest, CheckSyncNotifyGoesBackOverThePhonesTcpConnection) {
  start({{"sip.transports", "udp,tcp"}});
  StreamPhone bob(plugin_->port(), nullptr, "bob");
  // Sent from this thread, which then plays the phone: a notifier that
  // waited for the answer would never see it.
  std::shared_ptr<sdk::SipNotifier> notifier;
  auto sent = check_sync_over_tcp(bob, "check-sync;reboot=false", notifier);
  ASSERT_TRUE(notifier);
  auto notify = bob.request_of("NOTIFY");
  ASSERT_TRUE(notify) << "no NOTIFY on the TCP connection";
  EXPECT_EQ(notify->header("Event"), "check-sync;reboot=false");
  EXPECT_EQ(notify->header("Via").rfind("SIP/2.0/TCP", 0), 0u) << notify->text();
  bob.send(bob.response(*notify, 200, "OK"));
  auto s = sent.get();
  EXPECT_TRUE(s) << s.error().message;
  EXPECT_TRUE(host_->logger().contains("sip: check-sync (check-sync;reboot=false) accepted by"));
}

TEST_F(SipTransportTest, CheckSyncStillUnansweredWhenTheBackendStopsFailsAsUnavailable) {
  start({{"sip.transports", "udp,tcp"}});
  StreamPhone bob(plugin_->port(), nullptr, "bob");
  std::shared_ptr<sdk::SipNotifier> notifier;
  auto sent = check_sync_over_tcp(bob, "check-sync", notifier);
  ASSERT_TRUE(notifier);
  ASSERT_TRUE(bob.request_of("NOTIFY")) << "no NOTIFY on the TCP connection";
  plugin_->stop();  // the phone never answers
  auto s = sent.get();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, sdk::ErrorCode::unavailable) << s.error().message;
  // Later requests are refused at once.
  std::optional<sdk::Status> late;
  notifier->notify_check_sync({"127.0.0.1", "bob", "check-sync"}, [&](sdk::Status st) { late = st; });
  ASSERT_TRUE(late.has_value());
  EXPECT_EQ(late->error().code, sdk::ErrorCode::unavailable);
}

TEST_F(SipTransportTest, MalformedMessageOverTcpClosesThatConnectionOnly) {
  start({{"sip.transports", "udp,tcp"}});
  StreamPhone alice(plugin_->port(), nullptr, "alice");
  ASSERT_TRUE(alice.connected());
  ASSERT_EQ(alice.register_line("alicepw"), 200);
  int bad = connect_loopback(plugin_->port());
  ASSERT_GE(bad, 0);
  std::string junk =
      "INVITE sip:1002@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bKx\r\n"
      "Content-Length: nonsense\r\nCSeq: x\r\n\r\n\x01\x02\x03 not sip\r\n\r\n";
  ASSERT_GT(::send(bad, junk.data(), junk.size(), MSG_NOSIGNAL), 0);
  EXPECT_TRUE(closed_by_peer(bad)) << "the malformed connection stays open";
  ::close(bad);
  // The registered phone's connection still carries requests.
  EXPECT_EQ(alice.register_line("alicepw"), 200);
  EXPECT_TRUE(eventually([&] { return plugin_->contact_count("alice") == 1; }));
}

// ---- connection ceiling --------------------------------------------------------

TEST_F(SipTransportTest, ConnectionsPastTheCeilingAreClosedAndUdpKeepsServing) {
  start_tls({{"sip.tcp_max_connections", "20"}});
  // A TLS phone registered first keeps its connection through the flood.
  ClientTls tls(certs_.file("cafile.pem"));
  StreamPhone carol(plugin_->tls_port(), tls.ctx, "carol");
  ASSERT_TRUE(carol.connected()) << carol.handshake_error();
  ASSERT_EQ(carol.register_line("carolpw"), 200);

  std::vector<int> flood;
  for (int i = 0; i < 80; ++i) {
    int fd = connect_loopback(i % 2 ? plugin_->port() : plugin_->tls_port());
    if (fd >= 0) flood.push_back(fd);
  }
  ASSERT_EQ(flood.size(), 80u);
  // 81 open for a ceiling of 20: 61 of the flood are closed by the server.
  auto closed = [&] {
    std::size_t n = 0;
    for (int fd : flood) {
      pollfd p{fd, POLLIN, 0};
      char c;
      if (::poll(&p, 1, 0) > 0 && ::recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK) <= 0) ++n;
    }
    return n;
  };
  EXPECT_TRUE(eventually([&] { return closed() >= 61; })) << closed() << " closed";
  EXPECT_EQ(closed(), 61u);
  EXPECT_TRUE(eventually([&] { return plugin_->tcp_connections() == 20; }))
      << plugin_->tcp_connections() << " connections open";
  // The sockets close inside the shedding pass, before its warning is logged.
  EXPECT_TRUE(eventually([&] { return host_->logger().contains("above sip.tcp_max_connections (20)"); }))
      << log_text();

  std::string out;
  EXPECT_EQ(register_udp("bob", "bobpw", 5999, &out), 0) << out;
  EXPECT_EQ(plugin_->contact_count("bob"), 1u);
  EXPECT_EQ(carol.register_line("carolpw"), 200);
  for (int fd : flood) ::close(fd);
}

}  // namespace
