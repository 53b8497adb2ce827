#include "kernel/http/http_server.h"

#include <dialtone/text.h>
#include <dialtone/url.h>

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <exception>
#include <istream>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/ThreadPool.h>

namespace dialtone::kernel {
namespace {

using sdk::HttpResponse;

// An IPv4 address is kept as its IPv4-mapped IPv6 form so one comparison
// covers both families (and clients of a "::" listener arriving as ::ffff:a.b.c.d).
struct Cidr {
  std::array<unsigned char, 16> addr{};
  int bits = 0;
};

std::optional<std::array<unsigned char, 16>> parse_ip(const std::string& s) {
  std::array<unsigned char, 16> out{};
  in_addr v4{};
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    out[10] = out[11] = 0xff;
    std::memcpy(out.data() + 12, &v4, 4);
    return out;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, s.c_str(), &v6) == 1) {
    std::memcpy(out.data(), &v6, 16);
    return out;
  }
  return std::nullopt;
}

std::optional<Cidr> parse_cidr(const std::string& text) {
  auto slash = text.find('/');
  std::string ip = text.substr(0, slash);
  auto a = parse_ip(ip);
  if (!a) return std::nullopt;
  bool v4 = ip.find(':') == std::string::npos;
  int max = v4 ? 32 : 128;
  int bits = max;
  if (slash != std::string::npos) {
    auto p = std::string_view(text).substr(slash + 1);
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), bits);
    if (ec != std::errc() || end != p.data() + p.size() || bits < 0 || bits > max) return std::nullopt;
  }
  return Cidr{*a, v4 ? bits + 96 : bits};
}

bool in_cidr(const std::array<unsigned char, 16>& a, const Cidr& c) {
  int full = c.bits / 8, rest = c.bits % 8;
  if (std::memcmp(a.data(), c.addr.data(), full) != 0) return false;
  if (rest == 0) return true;
  unsigned char mask = static_cast<unsigned char>(0xff << (8 - rest));
  return (a[full] & mask) == (c.addr[full] & mask);
}

std::string display_ip(const std::string& ip) {
  // Clients of a dual-stack listener show as ::ffff:a.b.c.d; log them as a.b.c.d.
  if (ip.rfind("::ffff:", 0) == 0 && ip.find('.') != std::string::npos) return ip.substr(7);
  return ip;
}

using sdk::percent_decode;

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> segs;
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  std::size_t i = 1;
  while (i <= path.size()) {
    auto j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    segs.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  if (path == "/") segs.clear();
  return segs;
}

struct Segment {
  std::string text;  // literal, or the parameter name
  bool param = false;
};

struct CompiledRoute {
  std::string owner;
  sdk::Route route;
  std::vector<Segment> segments;
  std::string shape;           // path with parameter names erased, for duplicates
  std::vector<Segment> acl;    // literal runs and `{name}` substitutions
  unsigned long specificity = 0;  // literal segments weigh more the earlier they are
};

struct RouteTable {
  // Indexed by segment count so a request only tries routes of its own depth.
  std::map<std::size_t, std::vector<std::shared_ptr<const CompiledRoute>>> by_depth;
};

std::optional<std::vector<Segment>> compile_template(std::string_view t) {
  std::vector<Segment> out;
  std::size_t i = 0;
  while (i < t.size()) {
    auto open = t.find('{', i);
    if (open == std::string_view::npos) {
      out.push_back({std::string(t.substr(i)), false});
      break;
    }
    auto close = t.find('}', open);
    if (close == std::string_view::npos || close == open + 1) return std::nullopt;
    if (open > i) out.push_back({std::string(t.substr(i, open - i)), false});
    out.push_back({std::string(t.substr(open + 1, close - open - 1)), true});
    i = close + 1;
  }
  return out;
}

// "Application/JSON; charset=utf-8" -> "application/json"
std::string media_type(std::string_view ct) {
  auto semi = ct.find(';');
  if (semi != std::string_view::npos) ct = ct.substr(0, semi);
  while (!ct.empty() && ct.front() == ' ') ct.remove_prefix(1);
  while (!ct.empty() && ct.back() == ' ') ct.remove_suffix(1);
  return sdk::text::to_lower(ct);
}

bool is_json_type(std::string_view ct) {
  auto t = media_type(ct);
  return t == "application/json" ||
         (t.starts_with("application/") && t.size() > 5 && t.ends_with("+json"));
}

// Request bodies the kernel lets through to handlers: JSON, and CSV for the
// import routes (confd users, phonebook and personal contacts). A handler
// still rejects a type it does not parse with 400.
bool is_accepted_body_type(std::string_view ct) {
  return is_json_type(ct) || media_type(ct) == "text/csv";
}

// True when the Accept header admits application/json (absent header: yes).
bool accepts_json(std::string_view accept) {
  if (accept.empty()) return true;
  std::vector<std::string_view> items;
  sdk::text::split_into(accept, ',', items);
  for (auto item : items) {
    auto semi = item.find(';');
    auto type = sdk::text::trim_view(item.substr(0, semi));
    bool q_zero = false;
    if (semi != std::string_view::npos) {
      auto params = item.substr(semi);
      auto q = params.find("q=");
      if (q != std::string_view::npos) {
        auto v = params.substr(q + 2);
        q_zero = v.rfind("0", 0) == 0 && v.find_first_of("123456789") == std::string_view::npos;
      }
    }
    // Vendor JSON types (provd's application/vnd.proformatique.provd+json)
    // are JSON too.
    bool json_suffix = type.starts_with("application/") && type.ends_with("+json");
    if (!q_zero && (type == "*/*" || type == "application/*" || type == "application/json" ||
                    json_suffix))
      return true;
  }
  return false;
}

std::optional<long> parse_non_negative(const std::string& s) {
  long v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

using sdk::text::join;

void ensure_ssl_initialized() {
  static std::once_flag once;
  std::call_once(once, [] { Poco::Net::initializeSSL(); });
}

}  // namespace

struct HttpServerImpl::Listener {
  HttpServerImpl* server = nullptr;
  ListenerConfig cfg;
  std::vector<Cidr> subnets;
  std::unique_ptr<Poco::ThreadPool> pool;
  std::unique_ptr<Poco::Net::HTTPServer> http;
  std::atomic<int> bound_port{0};

  mutable std::mutex routes_mu;
  std::shared_ptr<const RouteTable> routes = std::make_shared<RouteTable>();

  std::shared_ptr<const RouteTable> table() const {
    std::lock_guard lock(routes_mu);
    return routes;
  }

  void handle(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp);
};

namespace {

class Dispatcher final : public Poco::Net::HTTPRequestHandler {
 public:
  explicit Dispatcher(HttpServerImpl::Listener& l) : l_(l) {}
  void handleRequest(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) override {
    l_.handle(req, resp);
  }

 private:
  HttpServerImpl::Listener& l_;
};

class Factory final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit Factory(HttpServerImpl::Listener& l) : l_(l) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
    return new Dispatcher(l_);
  }

 private:
  HttpServerImpl::Listener& l_;
};

struct Match {
  std::shared_ptr<const CompiledRoute> route;
  std::set<std::string> allowed;  // methods of every route matching the path
};

Match match(const RouteTable& table, const std::string& method, const std::vector<std::string_view>& segs) {
  Match m;
  auto it = table.by_depth.find(segs.size());
  if (it == table.by_depth.end()) return m;
  std::shared_ptr<const CompiledRoute> best, best_get;
  for (const auto& r : it->second) {
    bool ok = true;
    for (std::size_t i = 0; i < segs.size() && ok; ++i) {
      const auto& s = r->segments[i];
      ok = s.param ? !segs[i].empty() : segs[i] == s.text;
    }
    if (!ok) continue;
    m.allowed.insert(r->route.method);
    if (r->route.method == method) {
      if (!best || r->specificity > best->specificity) best = r;
    } else if (method == "HEAD" && r->route.method == "GET") {
      if (!best_get || r->specificity > best_get->specificity) best_get = r;
    }
  }
  if (m.allowed.count("GET")) m.allowed.insert("HEAD");
  m.route = best ? best : best_get;
  return m;
}

}  // namespace

// Closing a socket with unread input makes the kernel reset the connection,
// which can destroy the error response before the client reads it (a 413 for
// a body still being sent). So read and discard what is still coming, within
// a short time and size budget, before the connection is closed.
static void linger(Poco::Net::HTTPServerRequest& req) {
  try {
    auto& impl = dynamic_cast<Poco::Net::HTTPServerRequestImpl&>(req);
    impl.socket().setReceiveTimeout(Poco::Timespan(0, 200000));
    auto& in = req.stream();
    char buf[8192];
    std::size_t total = 0;
    while (total < (std::size_t{1} << 20) && in.read(buf, sizeof buf).gcount() > 0) total += in.gcount();
  } catch (...) {
    // A timeout or a reset ends the drain; the connection is closed either way.
  }
}

void HttpServerImpl::Listener::handle(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) {
  auto t0 = std::chrono::steady_clock::now();
  sdk::Logger& log = server->log_;
  sdk::HttpRequest r;
  r.method = req.getMethod();
  r.remote_address = display_ip(req.clientAddress().host().toString());
  const std::string& uri = req.getURI();
  auto qpos = uri.find('?');
  std::string_view raw_path = std::string_view(uri).substr(0, qpos);
  bool has_body = req.getChunkedTransferEncoding() ||
                  (req.hasContentLength() && req.getContentLength64() > 0);
  bool body_read = false;
  const CompiledRoute* route_used = nullptr;

  auto send = [&](HttpResponse out) {
    // An unread request body would be parsed as the next request: close instead.
    if (has_body && !body_read) resp.setKeepAlive(false);
    resp.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(out.status));
    if (!out.content_type.empty()) resp.setContentType(out.content_type);
    for (auto& [k, v] : out.headers) resp.set(k, v);
    resp.setContentLength(static_cast<std::streamsize>(out.body.size()));
    if (r.method == "HEAD" || out.status == 204 || out.status == 304) {
      if (out.status == 204 || out.status == 304) resp.setContentLength(Poco::Net::HTTPMessage::UNKNOWN_CONTENT_LENGTH);
      resp.send();
    } else {
      resp.sendBuffer(out.body.data(), out.body.size());
    }
    if (has_body && !body_read) linger(req);
    if (log.enabled(sdk::LogLevel::debug)) {
      auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count();
      // Path only: the query may carry a token.
      log.debug("http " + cfg.name + " " + r.remote_address + " \"" + r.method + " " +
                std::string(raw_path) + "\" " + std::to_string(out.status) + " " +
                std::to_string(out.body.size()) + " " + std::to_string(us) + "us" +
                (route_used ? " " + route_used->owner : std::string()));
    }
  };

  try {
    if (!subnets.empty()) {
      auto ip = parse_ip(req.clientAddress().host().toString());
      bool allowed = false;
      if (ip) {
        for (const auto& c : subnets) {
          if (in_cidr(*ip, c)) {
            allowed = true;
            break;
          }
        }
      }
      if (!allowed) {
        return send(HttpResponse::error(
            403, {"Access denied: " + r.remote_address + " is not in the allowed subnets of listener " + cfg.name}));
      }
    }

    if (raw_path.empty() || raw_path.front() != '/') {
      return send(HttpResponse::error(400, {"Invalid request target: the path must start with /"}));
    }
    r.path = percent_decode(raw_path, false);
    auto segs_raw = split_path(raw_path);
    auto table_ref = table();
    auto m = match(*table_ref, r.method, segs_raw);
    if (!m.route) {
      if (m.allowed.empty()) return send(HttpResponse::error(404, {"No such resource: " + r.path}));
      std::vector<std::string> allow(m.allowed.begin(), m.allowed.end());
      auto out = HttpResponse::error(405, {"Method " + r.method + " not allowed on " + r.path + "; allowed: " +
                                           join(allow, ", ")});
      out.headers.emplace_back("Allow", join(allow, ", "));
      return send(std::move(out));
    }
    const CompiledRoute& cr = *m.route;
    route_used = &cr;
    for (std::size_t i = 0; i < segs_raw.size(); ++i) {
      if (cr.segments[i].param) r.params[cr.segments[i].text] = percent_decode(segs_raw[i], false);
    }

    if (has_body) {
      if (req.hasContentLength() && static_cast<std::uint64_t>(req.getContentLength64()) > cfg.max_body) {
        return send(HttpResponse::error(413, {"Request body too large: limit is " + std::to_string(cfg.max_body) +
                                              " bytes on listener " + cfg.name}));
      }
      // Chunked bodies have no announced size: read at most one byte past the limit.
      std::istream& in = req.stream();
      std::size_t cap = cfg.max_body + 1;
      std::size_t want = req.hasContentLength() ? static_cast<std::size_t>(req.getContentLength64()) : cap;
      r.body.resize(std::min(want, cap));
      std::size_t got = 0;
      while (got < r.body.size() && in) {
        in.read(r.body.data() + got, static_cast<std::streamsize>(r.body.size() - got));
        got += static_cast<std::size_t>(in.gcount());
      }
      r.body.resize(got);
      if (got > cfg.max_body) {
        return send(HttpResponse::error(413, {"Request body too large: limit is " + std::to_string(cfg.max_body) +
                                              " bytes on listener " + cfg.name}));
      }
      body_read = true;
    }

    for (const auto& [name, value] : req) {
      r.headers[sdk::text::to_lower(name)] = value;
    }

    if (qpos != std::string::npos) {
      std::string_view q = std::string_view(uri).substr(qpos + 1);
      std::size_t i = 0;
      while (i < q.size()) {
        auto amp = q.find('&', i);
        if (amp == std::string_view::npos) amp = q.size();
        auto pair = q.substr(i, amp - i);
        if (!pair.empty()) {
          auto eq = pair.find('=');
          std::string key = percent_decode(pair.substr(0, eq), true);
          std::string val = eq == std::string_view::npos ? std::string() : percent_decode(pair.substr(eq + 1), true);
          r.query[std::move(key)] = std::move(val);
        }
        i = amp + 1;
      }
    }

    if (cr.route.auth == sdk::RouteAuth::token) {
      auto it = r.headers.find("x-auth-token");
      if (it == r.headers.end() || it->second.empty()) {
        return send(HttpResponse::error(401, {"Unauthorized: missing X-Auth-Token header"}));
      }
      sdk::Auth* auth = server->auth_.load(std::memory_order_acquire);
      if (!auth) return send(HttpResponse::error(503, {"Authentication service is not available"}));
      std::string acl;
      for (const auto& part : cr.acl) {
        if (!part.param) {
          acl += part.text;
        } else {
          auto p = r.params.find(part.text);
          if (p != r.params.end()) acl += p->second;
        }
      }
      auto checked = auth->check(it->second, acl);
      if (!checked) {
        switch (checked.error().code) {
          case sdk::ErrorCode::unauthorized:
          case sdk::ErrorCode::not_found:
            return send(HttpResponse::error(401, {"Unauthorized: invalid or expired token"}));
          case sdk::ErrorCode::forbidden:
            return send(HttpResponse::error(403, {"Forbidden: the token does not grant " + acl}));
          default:
            return send(HttpResponse::error(503, {"Authentication failed: " + checked.error().message}));
        }
      }
      r.token = std::move(*checked);
    }

    bool mutating = r.method == "POST" || r.method == "PUT" || r.method == "PATCH";
    if (mutating && !r.body.empty() && cr.route.auth != sdk::RouteAuth::basic &&
        !is_accepted_body_type(req.getContentType())) {
      return send(HttpResponse::error(415, {"Unsupported media type '" + req.getContentType() +
                                            "': send the body as Content-Type: application/json "
                                            "(text/csv for imports)"}));
    }

    auto accept_it = r.headers.find("accept");
    bool json_ok = accept_it == r.headers.end() || accepts_json(accept_it->second);
    bool safe = r.method == "GET" || r.method == "HEAD";
    // Mutations are refused before they run; safe methods are refused only if
    // the handler's answer really is JSON (phone-facing routes serve XML, text...).
    if (!json_ok && !safe && cr.route.auth != sdk::RouteAuth::none) {
      return send(HttpResponse::error(406, {"Not acceptable: this resource returns application/json"}));
    }

    if (!cr.route.sort_columns.empty()) {
      sdk::ListQuery lq;
      const auto& cols = cr.route.sort_columns;
      lq.order = cols.front();
      for (const auto& [k, v] : r.query) {
        if (k == "search") {
          lq.search = v;
        } else if (k == "order") {
          if (std::find(cols.begin(), cols.end(), v) == cols.end()) {
            return send(HttpResponse::error(
                400, {"Invalid value for 'order': '" + v + "'; allowed: " + join(cols, ", ")}));
          }
          lq.order = v;
        } else if (k == "direction") {
          if (v != "asc" && v != "desc") {
            return send(HttpResponse::error(400, {"Invalid value for 'direction': '" + v + "'; allowed: asc, desc"}));
          }
          lq.descending = v == "desc";
        } else if (k == "limit" || k == "offset") {
          auto n = parse_non_negative(v);
          if (!n) {
            return send(HttpResponse::error(
                400, {"Invalid value for '" + k + "': '" + v + "'; expected a non-negative integer"}));
          }
          if (k == "limit") lq.limit = *n; else lq.offset = *n;
        } else {
          lq.filters[k] = v;
        }
      }
      r.list = std::move(lq);
    }

    HttpResponse out;
    try {
      out = cr.route.handler(r);
    } catch (const std::exception& e) {
      log.error("http: " + cr.owner + " handler for " + cr.route.method + " " + cr.route.path +
                " failed: " + e.what());
      return send(HttpResponse::error(500, {"Internal server error; see the server log"}));
    } catch (...) {
      log.error("http: " + cr.owner + " handler for " + cr.route.method + " " + cr.route.path +
                " failed with a non-standard exception");
      return send(HttpResponse::error(500, {"Internal server error; see the server log"}));
    }
    if (!json_ok && out.status < 300 && is_json_type(out.content_type)) {
      return send(HttpResponse::error(406, {"Not acceptable: this resource returns application/json"}));
    }
    send(std::move(out));
  } catch (const std::exception& e) {
    // The connection is probably gone (client closed mid-request); nothing to answer.
    log.warn("http " + cfg.name + ": request from " + r.remote_address + " aborted: " + e.what());
  }
}

HttpServerImpl::HttpServerImpl(std::vector<ListenerConfig> listeners, sdk::Logger& log) : log_(log) {
  for (auto& c : listeners) {
    auto l = std::make_unique<Listener>();
    l->server = this;
    l->cfg = std::move(c);
    listeners_.push_back(std::move(l));
  }
}

HttpServerImpl::~HttpServerImpl() { stop(); }

void HttpServerImpl::set_auth(sdk::Auth* auth) { auth_.store(auth, std::memory_order_release); }

HttpServerImpl::Listener* HttpServerImpl::find(std::string_view name) const {
  for (const auto& l : listeners_)
    if (l->cfg.name == name) return l.get();
  return nullptr;
}

sdk::Status HttpServerImpl::mount(std::string_view listener, sdk::Route route) {
  return mount_as("kernel", listener, std::move(route));
}

sdk::Status HttpServerImpl::mount_as(std::string owner, std::string_view listener, sdk::Route route) {
  Listener* l = find(listener);
  if (!l) {
    std::vector<std::string> names;
    for (const auto& x : listeners_) names.push_back(x->cfg.name);
    return sdk::Error::not_found("no HTTP listener named '" + std::string(listener) + "' for " + route.method + " " +
                                 route.path + "; configured listeners: " + join(names, ", "));
  }
  static const std::set<std::string> kMethods = {"GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS"};
  if (!kMethods.count(route.method)) {
    return sdk::Error::invalid("route " + route.path + ": unknown method '" + route.method +
                               "'; use GET, POST, PUT, DELETE, HEAD, PATCH or OPTIONS");
  }
  if (route.path.empty() || route.path.front() != '/') {
    return sdk::Error::invalid("route '" + route.path + "': the path must start with /");
  }
  if (!route.handler) return sdk::Error::invalid("route " + route.method + " " + route.path + " has no handler");

  auto cr = std::make_shared<CompiledRoute>();
  cr->owner = std::move(owner);
  for (auto seg : split_path(route.path)) {
    Segment s;
    if (seg.size() >= 2 && seg.front() == '{' && seg.back() == '}') {
      s.param = true;
      s.text = std::string(seg.substr(1, seg.size() - 2));
      cr->shape += "/{}";
    } else if (seg.find_first_of("{}") != std::string_view::npos) {
      return sdk::Error::invalid("route " + route.path + ": a {name} parameter must be a whole segment");
    } else {
      s.text = percent_decode(seg, false);
      cr->shape += "/" + std::string(seg);
    }
    cr->segments.push_back(std::move(s));
  }
  if (cr->shape.empty()) cr->shape = "/";
  for (std::size_t i = 0; i < cr->segments.size(); ++i) {
    if (!cr->segments[i].param && i < 63) cr->specificity |= 1UL << (62 - i);
  }
  auto acl = compile_template(route.acl);
  if (!acl) return sdk::Error::invalid("route " + route.path + ": malformed ACL template '" + route.acl + "'");
  for (const auto& part : *acl) {
    if (!part.param) continue;
    bool known = std::any_of(cr->segments.begin(), cr->segments.end(),
                             [&](const Segment& s) { return s.param && s.text == part.text; });
    if (!known) {
      return sdk::Error::invalid("route " + route.path + ": ACL '" + route.acl + "' uses {" + part.text +
                                 "} which is not a path parameter");
    }
  }
  cr->acl = std::move(*acl);
  cr->route = std::move(route);

  std::lock_guard lock(l->routes_mu);
  auto next = std::make_shared<RouteTable>(*l->routes);
  auto& bucket = next->by_depth[cr->segments.size()];
  for (const auto& other : bucket) {
    if (other->route.method == cr->route.method && other->shape == cr->shape) {
      return sdk::Error::conflict(cr->route.method + " " + cr->route.path + " is already mounted on listener " +
                                  l->cfg.name + " by " + other->owner);
    }
  }
  bucket.push_back(std::move(cr));
  l->routes = std::move(next);
  return {};
}

void HttpServerImpl::unmount_all(std::string_view owner) {
  for (auto& l : listeners_) {
    std::lock_guard lock(l->routes_mu);
    auto next = std::make_shared<RouteTable>();
    for (const auto& [depth, bucket] : l->routes->by_depth) {
      for (const auto& r : bucket)
        if (r->owner != owner) next->by_depth[depth].push_back(r);
    }
    l->routes = std::move(next);
  }
}

std::vector<HttpServerImpl::RouteInfo> HttpServerImpl::routes() const {
  std::vector<RouteInfo> out;
  for (const auto& l : listeners_) {
    auto t = l->table();
    for (const auto& [depth, bucket] : t->by_depth)
      for (const auto& r : bucket)
        out.push_back({l->cfg.name, r->owner, r->route.method, r->route.path, r->route.acl, r->route.summary});
  }
  std::sort(out.begin(), out.end(), [](const RouteInfo& a, const RouteInfo& b) {
    return std::tie(a.listener, a.path, a.method) < std::tie(b.listener, b.path, b.method);
  });
  return out;
}

int HttpServerImpl::port(std::string_view listener) const {
  Listener* l = find(listener);
  return l ? l->bound_port.load() : 0;
}

sdk::Status HttpServerImpl::start() {
  std::lock_guard lock(start_mu_);
  if (started_) return {};
  auto teardown = [this] { stop_unlocked(); };
  for (auto& l : listeners_) {
    const auto& c = l->cfg;
    std::string where = "HTTP listener '" + c.name + "' (" + c.host + ":" + std::to_string(c.port) + ")";
    l->subnets.clear();
    for (const auto& s : c.subnets) {
      auto cidr = parse_cidr(s);
      if (!cidr) {
        teardown();
        return sdk::Error::invalid(where + ": subnet '" + s +
                                   "' is not a CIDR; write it like 10.0.0.0/8, 192.168.1.10 or fd00::/8");
      }
      l->subnets.push_back(*cidr);
    }
    if (c.port < 0 || c.port > 65535) {
      teardown();
      return sdk::Error::invalid(where + ": port must be between 0 and 65535");
    }
    std::unique_ptr<Poco::Net::ServerSocket> socket;
    std::string failure;
    try {
      Poco::Net::SocketAddress addr(c.host, static_cast<Poco::UInt16>(c.port));
      if (!c.tls_cert.empty() || !c.tls_key.empty()) {
        if (c.tls_cert.empty() || c.tls_key.empty()) {
          failure = where + ": TLS needs both tls_cert and tls_key; set both or neither";
        } else {
          ensure_ssl_initialized();
          Poco::Net::Context::Ptr ctx;
          try {
            ctx = new Poco::Net::Context(Poco::Net::Context::SERVER_USE, c.tls_key, c.tls_cert, "",
                                         Poco::Net::Context::VERIFY_NONE, 9, false,
                                         "HIGH:!aNULL:!MD5:!RC4:@STRENGTH");
            ctx->disableProtocols(Poco::Net::Context::PROTO_SSLV2 | Poco::Net::Context::PROTO_SSLV3 |
                                  Poco::Net::Context::PROTO_TLSV1 | Poco::Net::Context::PROTO_TLSV1_1);
          } catch (const Poco::Exception& e) {
            failure = where + ": cannot load TLS certificate '" + c.tls_cert + "' / key '" + c.tls_key +
                      "': " + e.displayText() + "; check both files exist, are PEM and readable by dialtoned";
          }
          if (failure.empty()) socket = std::make_unique<Poco::Net::SecureServerSocket>(ctx);
        }
      } else {
        socket = std::make_unique<Poco::Net::ServerSocket>();
      }
      if (socket) {
        // SO_REUSEPORT off: a second process on the same port must fail, not share it.
        socket->bind(addr, true, false);
        socket->listen(c.max_queued);
      }
    } catch (const Poco::Exception& e) {
      int code = e.code();
      std::string text = e.displayText();
      if (code == EADDRINUSE || text.find("already in use") != std::string::npos) {
        failure = where + ": address already in use; stop the process holding the port (ss -ltnp 'sport = :" +
                  std::to_string(c.port) + "') or set another port for this listener";
      } else if (code == EACCES || text.find("ermission denied") != std::string::npos) {
        failure = where + ": permission denied; ports below 1024 need root or CAP_NET_BIND_SERVICE, "
                  "choose a port above 1023";
      } else if (code == EADDRNOTAVAIL || text.find("not available") != std::string::npos ||
                 text.find("resolve") != std::string::npos || text.find("Host not found") != std::string::npos) {
        failure = where + ": address not available on this machine (" + text +
                  "); set host to an address of this machine, 127.0.0.1 or 0.0.0.0";
      } else {
        failure = where + ": cannot listen: " + text;
      }
    }
    if (!failure.empty()) {
      teardown();
      return sdk::Error::unavailable(failure);
    }
    auto params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(c.max_threads);
    params->setMaxQueued(c.max_queued);
    params->setKeepAlive(true);
    params->setMaxKeepAliveRequests(0);  // unlimited; idle connections still time out
    params->setKeepAliveTimeout(Poco::Timespan(15, 0));
    params->setTimeout(Poco::Timespan(30, 0));
    params->setServerName("dialtoned");
    l->pool = std::make_unique<Poco::ThreadPool>(2, c.max_threads + 1, 60);
    l->http = std::make_unique<Poco::Net::HTTPServer>(new Factory(*l), *l->pool, *socket, params);
    l->bound_port = socket->address().port();
    l->http->start();
    log_.info("http: listener " + c.name + " on " + (c.tls_cert.empty() ? "http://" : "https://") + c.host + ":" +
              std::to_string(l->bound_port.load()));
  }
  started_ = true;
  return {};
}

void HttpServerImpl::stop() {
  std::lock_guard lock(start_mu_);
  stop_unlocked();
}

void HttpServerImpl::stop_unlocked() {
  for (auto& l : listeners_) {
    if (!l->http) continue;
    l->http->stopAll(true);
    l->pool->joinAll();
    l->http.reset();
    l->pool.reset();
    l->bound_port = 0;
  }
  started_ = false;
}

}  // namespace dialtone::kernel
