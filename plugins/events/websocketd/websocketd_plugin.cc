// events.websocketd: bus events over WebSocket (RFC 6455), filtered by the
// token's ACLs (docs/api/events.md). The stream lives as long as its token:
// it is closed (4001) when the token expires or is found revoked, unless the
// client renews it ({"op": "token"}). One bus subscription feeds every client;
// each event is encoded once into its WebSocket frame. The HTTP server's
// threads only authenticate and upgrade; the streams themselves are served by
// websocketd.threads event loops (fanout_loop.h) over non-blocking sockets, so
// the bus delivery thread never waits on a socket and a client costs no
// thread.
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/WebSocket.h>
#include <Poco/ThreadPool.h>
#include <Poco/URI.h>

#include <dialtone/auth.h>
#include <dialtone/bus.h>
#include <dialtone/host.h>
#include <dialtone/plugin.h>
#include <dialtone/services.h>

#include "fanout_loop.h"
#include "ws_frames.h"

namespace dialtone::plugins::events {
namespace {

struct Config {
  std::string listen = "127.0.0.1:9502";
  StreamConfig stream;
  int max_clients = 1000;
  int threads = 1;
};

struct Shared {
  Config cfg;
  std::shared_ptr<sdk::Auth> auth;
  std::atomic<int> clients{0};
  std::vector<std::unique_ptr<FanoutLoop>> loops;
  std::atomic<unsigned> next_loop{0};
  void publish(const sdk::Event& e) {
    if (clients.load(std::memory_order_relaxed) == 0) return;
    auto f = std::make_shared<const EventFrame>(EventFrame{e.topic, event_frame(e.topic, e.json())});
    for (auto& l : loops) l->publish(f);
  }
};

// An HTTP server thread: checks the token, upgrades, and hands the socket to
// a loop.
class Upgrade final : public Poco::Net::HTTPRequestHandler {
 public:
  explicit Upgrade(std::shared_ptr<Shared> s) : s_(std::move(s)) {}
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
    if (s_->clients.fetch_add(1) >= s_->cfg.max_clients) {
      --s_->clients;
      return refuse(Poco::Net::HTTPResponse::HTTP_SERVICE_UNAVAILABLE, "too many event stream clients");
    }
    std::shared_ptr<Poco::Net::WebSocket> ws;
    try {
      ws = std::make_shared<Poco::Net::WebSocket>(req, resp);
    } catch (const Poco::Exception&) {
      --s_->clients;
      return;  // Poco answered 400 (not an upgrade request)
    }
    auto& loop = s_->loops[s_->next_loop++ % s_->loops.size()];
    int fd = ws->impl()->sockfd();
    loop->adopt(fd, std::move(ws), std::move(*t));
  }

 private:
  std::shared_ptr<Shared> s_;
};

class Factory final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit Factory(std::shared_ptr<Shared> s) : s_(std::move(s)) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
    return new Upgrade(s_);
  }

 private:
  std::shared_ptr<Shared> s_;
};

class WebSocketd final : public sdk::Plugin {
 public:
  explicit WebSocketd(sdk::Host& host) : host_(host) {}
  sdk::Status configure(const sdk::Options& o) override {
    cfg_.listen = o.get("websocketd.listen", cfg_.listen);
    cfg_.stream.queue_size = static_cast<std::size_t>(o.get_int("websocketd.queue_size", 1024));
    cfg_.stream.ping_interval = o.get_duration("websocketd.ping_interval", cfg_.stream.ping_interval);
    cfg_.stream.token_check_interval =
        o.get_duration("websocketd.token_check_interval", cfg_.stream.token_check_interval);
    cfg_.stream.socket_buffer = static_cast<int>(o.get_int("websocketd.socket_buffer", 0));
    cfg_.stream.batch_delay = o.get_duration("websocketd.batch_delay", cfg_.stream.batch_delay);
    cfg_.max_clients = static_cast<int>(o.get_int("websocketd.max_clients", 1000));
    cfg_.threads = static_cast<int>(o.get_int("websocketd.threads", 1));
    if (cfg_.threads < 1 || cfg_.threads > 64)
      return sdk::Error::invalid("events.websocketd: websocketd.threads is " + std::to_string(cfg_.threads) +
                                 "; give 1 to 64 event loops");
    return {};
  }
  sdk::Status start() override {
    auto s = std::make_shared<Shared>();
    s->cfg = cfg_;
    s->auth = host_.services().find<sdk::Auth>();
    if (!s->auth) return sdk::Error::invalid("events.websocketd: the kernel auth service is missing");
    for (int i = 0; i < cfg_.threads; ++i) {
      s->loops.push_back(std::make_unique<FanoutLoop>(cfg_.stream, host_.log(), s->auth, host_.executor(), s->clients));
      if (auto st = s->loops.back()->start(); !st) return st;
    }
    try {
      Poco::Net::ServerSocket sock{Poco::Net::SocketAddress(cfg_.listen)};
      auto params = new Poco::Net::HTTPServerParams;
      params->setMaxThreads(4);
      params->setMaxQueued(cfg_.max_clients + 64);  // a dashboard farm connects at once
      pool_ = std::make_unique<Poco::ThreadPool>(1, 4);
      server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(s), *pool_, sock, params);
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
    if (pool_) pool_->joinAll();
    pool_.reset();
    if (shared_)
      for (auto& l : shared_->loops) l->stop();
    shared_.reset();
  }

 private:
  sdk::Host& host_;
  Config cfg_;
  std::shared_ptr<Shared> shared_;
  std::unique_ptr<Poco::ThreadPool> pool_;
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
    {"websocketd.batch_delay", sdk::OptionType::duration, "5ms",
     "events are written this long after the first of them, so that events close together share one write "
     "per client (0ms: at once)"},
    {"websocketd.threads", sdk::OptionType::integer, "1",
     "event loops writing to the clients (each serves its share of them over non-blocking sockets)"},
    {}};

}  // namespace
}  // namespace dialtone::plugins::events

DIALTONE_PLUGIN(dialtone::plugins::events::WebSocketd, "events.websocketd", "events", "1.0.0",
                "bus events streamed over WebSocket, filtered by token ACLs", "", "",
                dialtone::plugins::events::kOptions)
