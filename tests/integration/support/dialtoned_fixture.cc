#include "tests/integration/support/dialtoned_fixture.h"

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <rapidjson/document.h>
#include <rapidjson/pointer.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include <dialtone/base64.h>

#include "tests/support/child_process.h"
#include "tests/support/eventually.h"
#include "tests/support/pg_fixture.h"

namespace dialtone::testing {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

fs::path source_dir() { return DIALTONE_SOURCE_DIR; }
fs::path plugin_dir() { return DIALTONE_PLUGIN_DIR; }
fs::path dialtoned_binary() {
  if (const char* e = ::getenv("DIALTONE_INTEGRATION_DIALTONED"); e && *e) return e;
  return DIALTONED_BINARY;
}
std::string sipp_binary() { return SIPP_BINARY; }

int SippPhones::run(const std::string& args, std::string* out) const {
  auto cmd = "cd " + dir.string() + " && timeout -k 5 40 " + sipp_binary() + " 127.0.0.1:" + std::to_string(sip_port) +
             " -i 127.0.0.1 -m 1 -timeout 25s -timeout_error -nostdin " + args;
  return run_command(cmd, out);
}

int SippPhones::client(const std::string& args, std::string* out) const {
  int rc = 0;
  for (int attempt = 0; attempt < 3; ++attempt) {
    rc = run(args + " -p " + std::to_string(free_tcp_udp_port()), out);
    if (out->find("Unable to bind main socket") == std::string::npos) break;
  }
  return rc;
}

int SippPhones::register_line(const std::string& user, const std::string& password, int contact_port,
                              std::string* out) const {
  return client("-sf " + scenario("register.xml") + " -au " + user + " -ap " + password + " -key user " + user +
                    " -key contact_port " + std::to_string(contact_port) + " -key expires 3600",
                out);
}

std::string sip_plugin_conf(int port, const std::string& node, const std::string& extra) {
  return "[plugin]\nname = backend.sip\n\n[sip]\nlisten = 127.0.0.1:" + std::to_string(port) +
         "\ntransports = udp\nnode = " + node + "\n\n[auth]\nban_failures = 0\n" + extra;
}

std::string create_user_line(Dialtoned& d, const std::string& exten, const std::string& user_json,
                             const std::string& username, const std::string& secret, std::string* user_body,
                             const std::string& context) {
  Headers h{{"X-Auth-Token", d.token()}};
  auto user = d.http("POST", "confd", "/1.1/users", user_json, h);
  auto line = d.http("POST", "confd", "/1.1/lines", R"({"context":")" + context + R"("})", h);
  auto sip = d.http("POST", "confd", "/1.1/endpoints/sip",
                    R"({"username":")" + username + R"(","secret":")" + secret + R"("})", h);
  auto ext = d.http("POST", "confd", "/1.1/extensions",
                    R"({"exten":")" + exten + R"(","context":")" + context + R"("})", h);
  if (user.status != 201 || line.status != 201 || sip.status != 201 || ext.status != 201)
    return "creating line " + exten + ": " + user.body + line.body + sip.body + ext.body;
  if (user_body) *user_body = user.body;
  auto lid = json_string(line.body, "/id");
  for (auto& path : {"/1.1/users/" + json_string(user.body, "/id") + "/lines/" + lid,
                     "/1.1/lines/" + lid + "/extensions/" + json_string(ext.body, "/id"),
                     "/1.1/lines/" + lid + "/endpoints/sip/" + json_string(sip.body, "/id")})
    if (auto r = d.http("PUT", "confd", path, "", h); r.status != 204) return path + ": " + r.body;
  return "";
}

std::string sql_lines(const std::string& dsn, const std::string& statement) {
  PGconn* c = PQconnectdb(dsn.c_str());
  std::string out;
  PGresult* r = PQexec(c, statement.c_str());
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    out = PQerrorMessage(c);
  } else {
    for (int i = 0; i < PQntuples(r); ++i) out += std::string(PQgetvalue(r, i, 0)) + "\n";
  }
  PQclear(r);
  PQfinish(c);
  return out;
}

OutputLines::OutputLines(const std::string& command) { f_ = ::popen((command + " 2>&1").c_str(), "r"); }
OutputLines::~OutputLines() {
  if (f_) ::pclose(f_);
}
std::string OutputLines::line() {
  std::string s;
  char buf[4096];
  while (f_ && std::fgets(buf, sizeof buf, f_)) {
    s += buf;
    if (s.back() == '\n') {
      s.pop_back();
      return s;
    }
  }
  return s;
}
std::vector<std::string> OutputLines::rest() {
  std::vector<std::string> out;
  for (auto l = line(); !l.empty(); l = line()) out.push_back(l);
  return out;
}

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const char* kListeners[] = {"confd", "auth", "dird", "phoned", "provd", "provd_phones", "calld"};

}  // namespace

HttpAnswer http_request(const std::string& method, int port, const std::string& path,
                        const std::string& body, const Headers& headers) {
  HttpAnswer a;
  try {
    Poco::Net::HTTPClientSession s("127.0.0.1", static_cast<Poco::UInt16>(port));
    s.setTimeout(Poco::Timespan(30, 0));
    Poco::Net::HTTPRequest req(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    bool has_type = false;
    for (auto& [k, v] : headers) {
      req.set(k, v);
      std::string lk = k;
      std::transform(lk.begin(), lk.end(), lk.begin(), ::tolower);
      if (lk == "content-type") has_type = true;
    }
    if (!body.empty() || method == "POST" || method == "PUT") {
      if (!has_type) req.setContentType("application/json");
      req.setContentLength(static_cast<std::streamsize>(body.size()));
    }
    auto& os = s.sendRequest(req);
    os << body;
    Poco::Net::HTTPResponse res;
    auto& is = s.receiveResponse(res);
    std::stringstream ss;
    ss << is.rdbuf();
    a.status = static_cast<int>(res.getStatus());
    a.body = ss.str();
    for (auto& [k, v] : res) {
      std::string lk = k;
      std::transform(lk.begin(), lk.end(), lk.begin(), ::tolower);
      a.headers[lk] = v;
    }
  } catch (const Poco::Exception& e) {
    a.status = 0;
    a.body = e.displayText();
  } catch (const std::exception& e) {
    a.status = 0;
    a.body = e.what();
  }
  return a;
}

int raw_http_status(int port, const std::string& bytes) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return 0;
  }
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    auto n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  std::string got;
  char buf[4096];
  while (got.find("\r\n") == std::string::npos) {
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  auto sp = got.find(' ');
  return got.rfind("HTTP/", 0) == 0 && sp != std::string::npos ? std::atoi(got.c_str() + sp + 1) : 0;
}

int free_tcp_udp_port() {
  for (int attempt = 0; attempt < 50; ++attempt) {
    int t = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(t, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(t, reinterpret_cast<sockaddr*>(&a), &len);
    int u = ::socket(AF_INET, SOCK_DGRAM, 0);
    bool ok = ::bind(u, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    int port = ntohs(a.sin_port);
    ::close(u);
    ::close(t);
    if (ok) return port;
  }
  return 0;
}

int run_command(const std::string& cmd, std::string* out) {
  std::string full = cmd + " 2>&1";
  FILE* p = ::popen(full.c_str(), "r");
  if (!p) return -1;
  std::string text;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) text.append(buf, n);
  int rc = ::pclose(p);
  if (out) *out = text;
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

Dialtoned::Dialtoned(DialtonedOptions options) {
  static std::mt19937_64 rng{std::random_device{}()};
  dir_ = fs::temp_directory_path() / ("dt-int-" + std::to_string(::getpid()) + "-" + std::to_string(rng() % 1000000));
  fs::create_directories(dir_ / "conf.d");
  fs::create_directories(dir_ / "data");
  start(options);
}

Dialtoned::~Dialtoned() {
  stop();
  if (!::getenv("DIALTONE_KEEP_INTEGRATION_DIR")) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

void Dialtoned::start(const DialtonedOptions& o) {
  dsn_ = o.dsn.empty() ? test_dsn() : o.dsn;
  auto script = o.lua_script.empty() ? (source_dir() / "lua-dialplan" / "extensions.lua").string() : o.lua_script;
  {
    std::ofstream k(dir_ / "conf.d" / "00-kernel.conf");
    k << "[plugin]\nname = kernel\n\n[kernel]\ndata_dir = " << (dir_ / "data").string() << "\n\n[log]\nlevel = "
      << o.log_level << "\n\n[store]\ndsn = " << dsn_ << "\npool_size = " << o.pool_size << "\n\n[lua]\nscript = "
      << script << "\n\n";
    for (auto* l : kListeners) {
      k << "[http." << l << "]\nlisten = 127.0.0.1:0\n";
      if (std::string(l) == "confd") k << "max_body = " << o.max_body << "\n";
      k << "\n";
    }
    k << o.kernel_extra << "\n";
  }
  for (auto& [name, content] : o.plugin_files) std::ofstream(dir_ / "conf.d" / name) << content;

  pid_t pid = ::fork();
  if (pid < 0) {
    error_ = "fork failed";
    return;
  }
  if (pid == 0) {
    int out = ::open((dir_ / "stdout.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = ::open((dir_ / "stderr.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(out, 1);
    ::dup2(err, 2);
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    auto bin = dialtoned_binary().string();
    auto conf = (dir_ / "conf.d").string();
    auto plugins = plugin_dir().string();
    auto data = (dir_ / "data").string();
    ::execl(bin.c_str(), bin.c_str(), "--config-dir", conf.c_str(), "--plugin-dir", plugins.c_str(), "--data-dir",
            data.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  pid_ = pid;
  pid_t running = pid_;
  wait_file_holds(running, dir_ / "stdout.log", "admin password in ", 45s);
  if (running <= 0) {
    pid_ = 0;
    error_ = "dialtoned exited during start-up:\n" + output();
    return;
  }
  std::string text = read_file(dir_ / "stdout.log");
  std::istringstream lines(text);
  std::string line;
  std::string password_file;
  while (std::getline(lines, line)) {
    if (line.rfind("listening: ", 0) == 0) {
      auto name_end = line.find(' ', 11);
      auto colon = line.rfind(':');
      ports_[line.substr(11, name_end - 11)] = std::atoi(line.c_str() + colon + 1);
    }
    auto at = line.find("admin password in ");
    if (at != std::string::npos) {
      auto from = at + 18;
      password_file = line.substr(from, line.find(' ', from) - from);
    }
  }
  if (password_file.empty()) {
    error_ = "dialtoned did not print its admin-password line within 45 s:\n" + output();
    return;
  }
  admin_password_ = read_file(password_file);
  while (!admin_password_.empty() && std::isspace(static_cast<unsigned char>(admin_password_.back())))
    admin_password_.pop_back();
  ready_ = !admin_password_.empty() && port("confd") > 0 && port("auth") > 0;
  if (!ready_) error_ = "listeners or admin password missing:\n" + output();
}

int Dialtoned::port(const std::string& listener) const {
  auto it = ports_.find(listener);
  return it == ports_.end() ? 0 : it->second;
}

std::string Dialtoned::token_for(const std::string& username, const std::string& password, int expiration) const {
  auto r = http_request("POST", port("auth"), "/0.1/token", "{\"expiration\": " + std::to_string(expiration) + "}",
                        {{"Authorization", "Basic " + sdk::base64_encode(username + ":" + password)}});
  if (r.status != 200) return "";
  return json_string(r.body, "/data/token");
}

const std::string& Dialtoned::token() {
  if (token_.empty()) token_ = token_for("admin", admin_password_);
  return token_;
}

HttpAnswer Dialtoned::http(const std::string& method, const std::string& listener, const std::string& path,
                           const std::string& body, Headers headers) const {
  return http_request(method, port(listener), path, body, headers);
}

std::string Dialtoned::output() const {
  return "== stdout\n" + read_file(dir_ / "stdout.log") + "== stderr\n" + read_file(dir_ / "stderr.log");
}

bool Dialtoned::wait_output(const std::string& needle, double seconds) const {
  return eventually([&] { return output().find(needle) != std::string::npos; },
                    std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::duration<double>(seconds)));
}

int Dialtoned::stop() {
  if (pid_ <= 0) return 0;
  ::kill(pid_, SIGTERM);
  pid_t running = pid_;
  int code = wait_exit(running, 15s);
  if (running > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    code = -1;
  }
  pid_ = 0;
  return code;
}

std::string json_string(const std::string& json, const std::string& pointer) {
  rapidjson::Document d;
  if (d.Parse(json.c_str()).HasParseError()) return "";
  auto* v = rapidjson::Pointer(pointer.c_str()).Get(d);
  if (!v) return "";
  if (v->IsString()) return v->GetString();
  if (v->IsInt64()) return std::to_string(v->GetInt64());
  if (v->IsBool()) return v->GetBool() ? "true" : "false";
  return "";
}

long json_int(const std::string& json, const std::string& pointer, long fallback) {
  rapidjson::Document d;
  if (d.Parse(json.c_str()).HasParseError()) return fallback;
  auto* v = rapidjson::Pointer(pointer.c_str()).Get(d);
  if (!v || !v->IsInt64()) return fallback;
  return static_cast<long>(v->GetInt64());
}

std::size_t json_size(const std::string& json, const std::string& pointer) {
  rapidjson::Document d;
  if (d.Parse(json.c_str()).HasParseError()) return 0;
  auto* v = rapidjson::Pointer(pointer.c_str()).Get(d);
  return v && v->IsArray() ? v->Size() : 0;
}

}  // namespace dialtone::testing
