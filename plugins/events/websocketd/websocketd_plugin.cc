// events.websocketd: bus events over WebSocket (RFC 6455), filtered by the
// token's ACLs (docs/api/events.md). The stream lives as long as its token:
// it is closed (4001) when the token expires or is found revoked, unless the
// client renews it ({"op": "token"}). One bus subscription feeds every client;
// each event is encoded once into its WebSocket frame, shared by every
// client's bounded queue; each client's writer thread sends what queued in one
// write, so the bus delivery thread never waits on a socket, a lagging client
// costs one system call per batch rather than per event, and a client whose
// queue overflows is closed (1008) instead of growing memory.
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <sys/socket.h>

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/WebSocket.h>
#include <Poco/URI.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <dialtone/auth.h>
#include <dialtone/bus.h>
#include <dialtone/host.h>
#include <dialtone/plugin.h>
#include <dialtone/services.h>

namespace dialtone::plugins::events {
namespace {

// `*` one dotted segment, `#` zero or more (the bus's own rule).
std::vector<std::string_view> segments(std::string_view s) {
  std::vector<std::string_view> out;
  while (!s.empty()) {
    auto d = s.find('.');
    out.push_back(s.substr(0, d));
    if (d == std::string_view::npos) break;
    s = s.substr(d + 1);
  }
  return out;
}
bool match_segs(const std::vector<std::string_view>& p, std::size_t i, const std::vector<std::string_view>& t,
                std::size_t j) {
  if (i == p.size()) return j == t.size();
  if (p[i] == "#") {
    for (std::size_t k = j; k <= t.size(); ++k)
      if (match_segs(p, i + 1, t, k)) return true;
    return false;
  }
  if (j == t.size() || (p[i] != "*" && p[i] != t[j])) return false;
  return match_segs(p, i + 1, t, j + 1);
}
bool matches(std::string_view p, std::string_view t) { return match_segs(segments(p), 0, segments(t), 0); }

std::string reply(const char* op, int code, const std::string& msg = {}) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.StartObject();
  w.Key("op"); w.String(op);
  w.Key("code"); w.Int(code);
  if (!msg.empty()) { w.Key("msg"); w.String(msg.c_str()); }
  w.EndObject();
  return sb.GetString();
}

struct Config {
  std::string listen = "127.0.0.1:9502";
  std::size_t queue_size = 1024;
  std::chrono::milliseconds ping_interval{30000};
  std::chrono::milliseconds token_check_interval{60000};
  int max_clients = 1000;
  int socket_buffer = 0;
};

// One event as the unmasked text frame every client receives (RFC 6455 5.2):
// {"name": topic, "data": body}.
std::string encode_frame(const sdk::Event& e) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.StartObject();
  w.Key("name");
  w.String(e.topic.c_str(), static_cast<rapidjson::SizeType>(e.topic.size()));
  w.Key("data");
  w.RawValue(e.body.empty() ? "null" : e.body.c_str(), e.body.empty() ? 4 : e.body.size(), rapidjson::kObjectType);
  w.EndObject();
  std::size_t n = sb.GetSize();
  std::string f;
  f.reserve(n + 10);
  f.push_back(static_cast<char>(0x81));  // FIN, text
  if (n < 126) {
    f.push_back(static_cast<char>(n));
  } else if (n < 65536) {
    f.push_back(static_cast<char>(126));
    for (int i = 1; i >= 0; --i) f.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  } else {
    f.push_back(static_cast<char>(127));
    for (int i = 7; i >= 0; --i) f.push_back(static_cast<char>((static_cast<std::uint64_t>(n) >> (8 * i)) & 0xff));
  }
  f.append(sb.GetString(), n);
  return f;
}

using Frame = std::shared_ptr<const std::string>;

class Client {
 public:
  Client(sdk::TokenInfo token, std::shared_ptr<sdk::Auth> auth, std::size_t cap, sdk::Logger* log)
      : token_(std::move(token)), auth_(std::move(auth)), cap_(cap), log_(log) {}

  // Bus delivery thread: never blocks beyond this client's short lock.
  void offer(const std::string& topic, const Frame& f) {
    std::lock_guard l(m_);
    if (closed_ || overflowed_) return;
    // Subscriptions and the ACL decide once per topic; the cache is cleared
    // when either changes.
    auto it = deliver_.find(topic);
    if (it == deliver_.end()) {
      bool wanted = false;
      for (auto& s : subs_) if (matches(s, topic)) { wanted = true; break; }
      it = deliver_.emplace(topic, wanted && auth_->acl_allows(token_, "events." + topic)).first;
    }
    if (!it->second) return;
    if (q_.size() >= cap_) {
      // Said when it happens: the close frame itself waits until the client
      // reads what its socket already holds.
      overflowed_ = true;
      q_.clear();
      log_->warn("events.websocketd: client " + token_.username +
                 " closed: it read slower than events came (more than " + std::to_string(cap_) +
                 " queued; raise websocketd.queue_size if legitimate)");
    } else {
      q_.push_back(f);
    }
    cv_.notify_one();
  }
  void subscribe(const std::string& name, bool on) {
    std::lock_guard l(m_);
    if (on) subs_.insert(name);
    else subs_.erase(name);
    deliver_.clear();
  }
  std::mutex m_;
  std::condition_variable cv_;
  std::deque<Frame> q_;
  std::set<std::string> subs_;
  std::unordered_map<std::string, bool> deliver_;
  bool closed_ = false, overflowed_ = false;
  // A renewed token ({"op": "token"}) replaces the one of the upgrade.
  void renew(sdk::TokenInfo t) {
    std::lock_guard l(m_);
    token_ = std::move(t);
    deliver_.clear();
    cv_.notify_one();  // the writer's expiry deadline moved
  }
  sdk::TokenInfo token_;
  std::shared_ptr<sdk::Auth> auth_;
  std::size_t cap_;
  sdk::Logger* log_;
};

struct Shared {
  Config cfg;
  sdk::Logger* log = nullptr;
  std::shared_ptr<sdk::Auth> auth;
  std::mutex m;
  std::set<std::shared_ptr<Client>> clients;
  std::atomic<int> count{0};
  void publish(const sdk::Event& e) {
    // One frame per event, shared by every client's queue.
    std::lock_guard l(m);
    if (clients.empty()) return;
    auto frame = std::make_shared<const std::string>(encode_frame(e));
    for (auto& c : clients) c->offer(e.topic, frame);
  }
};

class Session final : public Poco::Net::HTTPRequestHandler {
 public:
  explicit Session(std::shared_ptr<Shared> s) : s_(std::move(s)) {}
  void handleRequest(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) override {
    auto refuse = [&](Poco::Net::HTTPResponse::HTTPStatus st, const std::string& msg) {
      resp.setStatusAndReason(st);
      resp.setContentType("application/json");
      std::string body = sdk::json::array({msg});
      resp.setContentLength(static_cast<std::streamsize>(body.size()));
      resp.send() << body;
    };
    std::string token = req.get("X-Auth-Token", "");
    if (token.empty()) {
      for (auto& [k, v] : Poco::URI(req.getURI()).getQueryParameters())
        if (k == "token") token = v;
    }
    auto t = s_->auth->check(token, "");
    if (!t) return refuse(Poco::Net::HTTPResponse::HTTP_UNAUTHORIZED, "invalid or expired token");
    if (s_->count.load() >= s_->cfg.max_clients)
      return refuse(Poco::Net::HTTPResponse::HTTP_SERVICE_UNAVAILABLE, "too many event stream clients");
    std::unique_ptr<Poco::Net::WebSocket> ws;
    try {
      ws = std::make_unique<Poco::Net::WebSocket>(req, resp);
    } catch (const Poco::Exception& e) {
      return;  // Poco answered 400 (not an upgrade request)
    }
    if (s_->cfg.socket_buffer > 0) ws->setSendBufferSize(s_->cfg.socket_buffer);
    auto c = std::make_shared<Client>(*t, s_->auth, s_->cfg.queue_size, s_->log);
    {
      std::lock_guard l(s_->m);
      s_->clients.insert(c);
    }
    ++s_->count;
    run(*ws, c);
    {
      std::lock_guard l(s_->m);
      s_->clients.erase(c);
    }
    --s_->count;
  }

 private:
  void run(Poco::Net::WebSocket& ws, const std::shared_ptr<Client>& c) {
    std::mutex send_m;
    auto send = [&](const std::string& text, int flags = Poco::Net::WebSocket::FRAME_TEXT) {
      std::lock_guard l(send_m);
      ws.sendFrame(text.data(), static_cast<int>(text.size()), flags);
    };
    // Queued event frames, already encoded, go out in one write per batch.
    auto send_raw = [&](const std::string& bytes) {
      std::lock_guard l(send_m);
      const char* p = bytes.data();
      std::size_t left = bytes.size();
      while (left > 0) {
        ssize_t n = ::send(ws.impl()->sockfd(), p, left, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) throw Poco::TimeoutException("events.websocketd: send");
        if (n <= 0) throw Poco::Net::ConnectionResetException("events.websocketd: send");
        p += n;
        left -= static_cast<std::size_t>(n);
      }
    };
    // A client that reads nothing for two ping intervals blocks no thread
    // longer: a send (an event, a reply, a pong) gives up then.
    {
      auto limit = std::chrono::duration_cast<std::chrono::microseconds>(2 * s_->cfg.ping_interval +
                                                                          std::chrono::seconds(1));
      ws.setSendTimeout(Poco::Timespan(limit.count()));
    }
    std::atomic<bool> done{false};
    // Writer: events out, pings, and the overflow close.
    std::thread writer([&] {
      auto close = [&](int code, const std::string& reason) {
        std::string payload;
        payload.push_back(static_cast<char>(code >> 8));
        payload.push_back(static_cast<char>(code & 0xff));
        payload += reason;
        send(payload, static_cast<int>(Poco::Net::WebSocket::FRAME_OP_CLOSE) | Poco::Net::WebSocket::FRAME_FLAG_FIN);
        ws.shutdownSend();
        done = true;
      };
      auto next_ping = std::chrono::steady_clock::now() + s_->cfg.ping_interval;
      auto next_check = std::chrono::steady_clock::now() + s_->cfg.token_check_interval;
      try {
        for (;;) {
          std::deque<Frame> batch;
          bool overflow = false;
          std::string token, user;  // copied under the lock: a renewal replaces them
          std::chrono::system_clock::time_point expires;
          {
            std::unique_lock l(c->m_);
            // The token's expiry is a deadline too: the stream ends with it.
            auto until = std::min(next_ping, next_check);
            if (c->token_.expires_at > 0) {
              auto left = std::chrono::system_clock::from_time_t(c->token_.expires_at) -
                          std::chrono::system_clock::now();
              until = std::min(until, std::chrono::steady_clock::now() +
                                          std::chrono::duration_cast<std::chrono::steady_clock::duration>(left));
            }
            c->cv_.wait_until(l, until, [&] { return c->closed_ || c->overflowed_ || !c->q_.empty(); });
            if (c->closed_) return;
            overflow = c->overflowed_;
            batch.swap(c->q_);
            token = c->token_.token;
            user = c->token_.username;
            expires = std::chrono::system_clock::from_time_t(c->token_.expires_at);
            if (c->token_.expires_at > 0 && std::chrono::system_clock::now() >= expires) {
              c->closed_ = true;
              l.unlock();
              s_->log->info("events.websocketd: client " + user + " closed: its token expired");
              return close(4001, "token expired: connect again with a new token, or renew it with {\"op\": \"token\"}");
            }
          }
          if (overflow) return close(1008, "client too slow: event queue overflowed");  // logged by offer()
          // A token revoked (DELETE /0.1/token) or its account disabled ends the stream too.
          if (std::chrono::steady_clock::now() >= next_check) {
            next_check = std::chrono::steady_clock::now() + s_->cfg.token_check_interval;
            if (!s_->auth->check(token, "")) {
              {
                std::lock_guard l(c->m_);
                c->closed_ = true;
              }
              s_->log->info("events.websocketd: client " + user + " closed: its token was revoked");
              return close(4001, "token revoked or expired: connect again with a new token");
            }
          }
          if (!batch.empty()) {
            std::size_t bytes = 0;
            for (auto& f : batch) bytes += f->size();
            std::string out;
            out.reserve(bytes);
            for (auto& f : batch) out += *f;
            send_raw(out);
          }
          if (std::chrono::steady_clock::now() >= next_ping) {
            send("", static_cast<int>(Poco::Net::WebSocket::FRAME_OP_PING) | Poco::Net::WebSocket::FRAME_FLAG_FIN);
            next_ping = std::chrono::steady_clock::now() + s_->cfg.ping_interval;
          }
        }
      } catch (const Poco::TimeoutException&) {
        std::lock_guard l(c->m_);
        s_->log->info("events.websocketd: client " + c->token_.username +
                      " closed: it read nothing for two ping intervals");
        done = true;
      } catch (const Poco::Exception&) {
        done = true;
      }
    });
    // Reader: this thread. A client silent for two ping intervals is gone.
    ws.setReceiveTimeout(Poco::Timespan(1, 0));
    char buf[4096];
    auto last_heard = std::chrono::steady_clock::now();
    try {
      while (!done) {
        int flags = 0;
        int n = 0;
        try {
          n = ws.receiveFrame(buf, sizeof buf, flags);
        } catch (const Poco::TimeoutException&) {
          if (std::chrono::steady_clock::now() - last_heard > 2 * s_->cfg.ping_interval + std::chrono::seconds(1)) {
            if (!done) {
              std::lock_guard l(c->m_);
              s_->log->info("events.websocketd: client " + c->token_.username +
                            " closed: it answered no ping for two ping intervals");
            }
            break;
          }
          continue;
        }
        last_heard = std::chrono::steady_clock::now();
        int op = flags & Poco::Net::WebSocket::FRAME_OP_BITMASK;
        if (n <= 0 && op != Poco::Net::WebSocket::FRAME_OP_PING && op != Poco::Net::WebSocket::FRAME_OP_PONG) break;
        if (op == Poco::Net::WebSocket::FRAME_OP_CLOSE) break;
        if (op == Poco::Net::WebSocket::FRAME_OP_PING) {
          send(std::string(buf, n), static_cast<int>(Poco::Net::WebSocket::FRAME_OP_PONG) | Poco::Net::WebSocket::FRAME_FLAG_FIN);
          continue;
        }
        if (op != Poco::Net::WebSocket::FRAME_OP_TEXT) continue;
        handle(std::string(buf, n), c, send);
      }
    } catch (const Poco::Exception&) {
    }
    {
      std::lock_guard l(c->m_);
      c->closed_ = true;
    }
    c->cv_.notify_one();
    // A writer still blocked in send (a client that stopped reading) is freed.
    ::shutdown(ws.impl()->sockfd(), SHUT_RDWR);
    writer.join();
  }

  template <class Send>
  void handle(const std::string& text, const std::shared_ptr<Client>& c, Send& send) {
    rapidjson::Document d;
    d.Parse(text.c_str(), text.size());
    if (d.HasParseError() || !d.IsObject() || !d.HasMember("op") || !d["op"].IsString())
      return send(reply("error", 400, "expected {\"op\": \"subscribe\"|\"unsubscribe\"|\"token\"|\"heartbeat\", ...}"));
    std::string op = d["op"].GetString();
    if (op == "heartbeat") return send(reply("heartbeat", 0));
    if (op == "token") {
      const char* fresh = d.HasMember("data") && d["data"].IsObject() && d["data"].HasMember("token") &&
                                  d["data"]["token"].IsString()
                              ? d["data"]["token"].GetString()
                              : nullptr;
      if (!fresh) return send(reply("token", 400, "expected {\"op\": \"token\", \"data\": {\"token\": \"...\"}}"));
      auto t = s_->auth->check(fresh, "");
      if (!t) return send(reply("token", 401, "invalid or expired token; the current one stays"));
      c->renew(*t);
      return send(reply("token", 0));
    }
    std::string name;
    if (d.HasMember("data") && d["data"].IsObject() && d["data"].HasMember("event_name") &&
        d["data"]["event_name"].IsString())
      name = d["data"]["event_name"].GetString();
    if ((op != "subscribe" && op != "unsubscribe") || name.empty())
      return send(reply(op == "subscribe" || op == "unsubscribe" ? op.c_str() : "error", 400,
                        "expected {\"op\": \"subscribe\"|\"unsubscribe\", \"data\": {\"event_name\": \"...\"}}"));
    c->subscribe(name, op == "subscribe");
    send(reply(op.c_str(), 0));
  }
  std::shared_ptr<Shared> s_;
};

class Factory final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit Factory(std::shared_ptr<Shared> s) : s_(std::move(s)) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
    return new Session(s_);
  }
 private:
  std::shared_ptr<Shared> s_;
};

class WebSocketd final : public sdk::Plugin {
 public:
  explicit WebSocketd(sdk::Host& host) : host_(host) {}
  sdk::Status configure(const sdk::Options& o) override {
    cfg_.listen = o.get("websocketd.listen", cfg_.listen);
    cfg_.queue_size = static_cast<std::size_t>(o.get_int("websocketd.queue_size", 1024));
    cfg_.ping_interval = o.get_duration("websocketd.ping_interval", cfg_.ping_interval);
    cfg_.token_check_interval = o.get_duration("websocketd.token_check_interval", cfg_.token_check_interval);
    cfg_.max_clients = static_cast<int>(o.get_int("websocketd.max_clients", 1000));
    cfg_.socket_buffer = static_cast<int>(o.get_int("websocketd.socket_buffer", 0));
    return {};
  }
  sdk::Status start() override {
    auto s = std::make_shared<Shared>();
    s->cfg = cfg_;
    s->log = &host_.log();
    s->auth = host_.services().find<sdk::Auth>();
    if (!s->auth) return sdk::Error::invalid("events.websocketd: the kernel auth service is missing");
    try {
      Poco::Net::ServerSocket sock{Poco::Net::SocketAddress(cfg_.listen)};
      auto params = new Poco::Net::HTTPServerParams;
      params->setMaxThreads(cfg_.max_clients + 4);
      params->setMaxQueued(64);
      server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(s), sock, params);
      server_->start();
      host_.log().info("events.websocketd: listening on " + sock.address().toString());
    } catch (const Poco::Exception& e) {
      return sdk::Error::invalid("events.websocketd: cannot listen on " + cfg_.listen + ": " + e.displayText() +
                                 " (set websocketd.listen to a free address)");
    }
    shared_ = s;
    sub_ = host_.bus().subscribe("#", [s](const sdk::Event& e) { s->publish(e); },
                                 {.queue_capacity = 65536, .name = "events.websocketd"});
    return {};
  }
  void stop() override {
    sub_.reset();
    if (server_) server_->stopAll(true);
    server_.reset();
    shared_.reset();
  }

 private:
  sdk::Host& host_;
  Config cfg_;
  std::shared_ptr<Shared> shared_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
  std::unique_ptr<sdk::Subscription> sub_;
};

constexpr sdk::OptionSpec kOptions[] = {
    {"websocketd.listen", sdk::OptionType::address, "127.0.0.1:9502", "address the event stream listens on"},
    {"websocketd.queue_size", sdk::OptionType::integer, "1024",
     "events queued per client; a client with more waiting is closed (1008)"},
    {"websocketd.ping_interval", sdk::OptionType::duration, "30s",
     "a ping is sent this often; a client silent for two intervals is closed"},
    {"websocketd.token_check_interval", sdk::OptionType::duration, "60s",
     "each client's token is checked again this often; a revoked token closes the stream (4001)"},
    {"websocketd.max_clients", sdk::OptionType::integer, "1000", "clients beyond this are refused with 503"},
    {"websocketd.socket_buffer", sdk::OptionType::integer, "0",
     "kernel send buffer per client in bytes (0: the system's); small values cut slow clients sooner"},
    {}};

}  // namespace
}  // namespace dialtone::plugins::events

DIALTONE_PLUGIN(dialtone::plugins::events::WebSocketd, "events.websocketd", "events", "1.0.0",
                "bus events streamed over WebSocket, filtered by token ACLs", "", "",
                dialtone::plugins::events::kOptions)
