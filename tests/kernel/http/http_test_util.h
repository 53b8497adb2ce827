// Shared by the HTTP and auth tests: a capturing logger and a real HTTP client.
#pragma once

#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/StreamCopier.h>

#include <dialtone/host.h>
#include <dialtone/base64.h>

namespace dialtone::testing {

class CaptureLogger final : public sdk::Logger {
 public:
  void log(sdk::LogLevel level, std::string_view message) override {
    std::lock_guard lock(mu_);
    lines_.emplace_back(message);
  }
  bool enabled(sdk::LogLevel level) const override { return true; }
  std::vector<std::string> lines() const {
    std::lock_guard lock(mu_);
    return lines_;
  }
  bool contains(std::string_view needle) const {
    std::lock_guard lock(mu_);
    for (const auto& l : lines_)
      if (l.find(needle) != std::string::npos) return true;
    return false;
  }
  std::size_t count(std::string_view needle) const {
    std::lock_guard lock(mu_);
    std::size_t n = 0;
    for (const auto& l : lines_)
      if (l.find(needle) != std::string::npos) ++n;
    return n;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> lines_;
};

struct Reply {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;
  std::string header(const std::string& k) const {
    auto it = headers.find(k);
    return it == headers.end() ? "" : it->second;
  }
};

struct Call {
  std::string method = "GET";
  std::string path = "/";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string content_type = "application/json";
  bool chunked = false;
  std::string user, password;  // Basic auth when user is set
};

inline Reply send_on(Poco::Net::HTTPClientSession& s, const Call& c) {
  s.setTimeout(Poco::Timespan(20, 0));
  Poco::Net::HTTPRequest req(c.method, c.path, Poco::Net::HTTPMessage::HTTP_1_1);
  for (const auto& [k, v] : c.headers) req.set(k, v);
  if (!c.user.empty()) {
    req.set("Authorization", "Basic " + dialtone::sdk::base64_encode(c.user + ":" + c.password));
  }
  if (!c.body.empty() || c.chunked) {
    req.setContentType(c.content_type);
    if (c.chunked) req.setChunkedTransferEncoding(true);
    else req.setContentLength(static_cast<std::streamsize>(c.body.size()));
  }
  auto& os = s.sendRequest(req);
  os << c.body;
  Poco::Net::HTTPResponse resp;
  auto& is = s.receiveResponse(resp);
  Reply r;
  r.status = resp.getStatus();
  std::ostringstream body;
  Poco::StreamCopier::copyStream(is, body);
  r.body = body.str();
  for (const auto& [k, v] : resp) r.headers[k] = v;
  return r;
}

inline Reply send(int port, const Call& c) {
  Poco::Net::HTTPClientSession s("127.0.0.1", static_cast<Poco::UInt16>(port));
  return send_on(s, c);
}

inline Reply get(int port, const std::string& path, std::vector<std::pair<std::string, std::string>> headers = {}) {
  Call c;
  c.path = path;
  c.headers = std::move(headers);
  return send(port, c);
}

}  // namespace dialtone::testing
