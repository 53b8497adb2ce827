// The real dialtoned for end-to-end tests: a temp conf.d (kernel listeners on
// free 127.0.0.1 ports, store.dsn = a fresh test database, the plugin files a
// test chooses), started as a child process, ready once its listener lines
// and admin-password line are on stdout; stopped with SIGTERM by the
// destructor (SIGKILL after 15 s), so a failing test never leaves it behind.
//
// @code
//   dialtone::testing::Dialtoned d({.plugin_files = {{"50-confd.conf", "[plugin]\nname = api.confd\n"}}});
//   ASSERT_TRUE(d.ready()) << d.error();
//   auto r = d.http("GET", "confd", "/1.1/users", "", {{"X-Auth-Token", d.token()}});
// @endcode
//
// DIALTONE_INTEGRATION_DIALTONED=<path> runs another dialtoned binary;
// DIALTONE_KEEP_INTEGRATION_DIR=1 keeps the temp folder (conf.d, logs).
#pragma once

#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "tests/support/eventually.h"  // eventually(): the end-to-end tests wait through it

namespace dialtone::testing {

struct HttpAnswer {
  int status = 0;  // 0: no answer (connection refused, timeout)
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
};

using Headers = std::map<std::string, std::string>;

// One HTTP/1.1 request to 127.0.0.1:port (30 s timeout).
HttpAnswer http_request(const std::string& method, int port, const std::string& path,
                        const std::string& body = "", const Headers& headers = {});

// Sends `bytes` as they are (no framing) and returns the status line's code
// of whatever the server answers within 10 s (0: none). Write errors after the
// server answered early (e.g. 413 before the body) are not failures.
int raw_http_status(int port, const std::string& bytes);

// A port on 127.0.0.1 free for both TCP and UDP at the time of the call.
int free_tcp_udp_port();

// Runs `cmd` through /bin/sh; returns the exit status and fills `out` with stdout+stderr.
int run_command(const std::string& cmd, std::string* out = nullptr);

struct DialtonedOptions {
  // file name -> content, written next to the generated 00-kernel.conf.
  std::map<std::string, std::string> plugin_files{};
  // Extra lines appended to the kernel conf (e.g. "[http.phoned]\nsubnets = ...").
  std::string kernel_extra{};
  // Empty: a fresh database from test_dsn().
  std::string dsn{};
  // Empty: the repository's lua-dialplan/extensions.lua.
  std::string lua_script{};
  std::string log_level = "info";
  int pool_size = 8;
  long max_body = 1048576;
};

class Dialtoned {
 public:
  explicit Dialtoned(DialtonedOptions options);
  ~Dialtoned();
  Dialtoned(const Dialtoned&) = delete;
  Dialtoned& operator=(const Dialtoned&) = delete;

  bool ready() const { return ready_; }
  const std::string& error() const { return error_; }
  // Port of a kernel listener (confd, auth, dird, phoned, provd, provd_phones, calld); 0 if unknown.
  int port(const std::string& listener) const;
  const std::string& dsn() const { return dsn_; }
  const std::filesystem::path& dir() const { return dir_; }
  const std::string& admin_password() const { return admin_password_; }
  // An admin token (ACL #), fetched once.
  const std::string& token();
  // A token for any auth user, valid `expiration` seconds; empty on failure.
  std::string token_for(const std::string& username, const std::string& password, int expiration = 3600) const;
  HttpAnswer http(const std::string& method, const std::string& listener, const std::string& path,
                  const std::string& body = "", Headers headers = {}) const;
  // stdout + stderr of dialtoned so far.
  std::string output() const;
  // Waits up to `seconds` for `needle` in the output.
  bool wait_output(const std::string& needle, double seconds = 10) const;
  // SIGTERM and wait; returns the exit status (-1 if it had to be killed).
  int stop();
  int pid() const { return pid_; }

 private:
  void start(const DialtonedOptions& o);
  std::filesystem::path dir_;
  std::string dsn_;
  std::string error_;
  std::string admin_password_;
  std::string token_;
  std::map<std::string, int> ports_;
  int pid_ = 0;
  bool ready_ = false;
};

// Paths of the build and the source tree (compile definitions).
std::filesystem::path source_dir();
std::filesystem::path plugin_dir();
std::filesystem::path dialtoned_binary();
std::string sipp_binary();

// SIPp phones against a running dialtoned on 127.0.0.1:`sip_port`, one call
// each, run from `dir` (where the scenarios' injection files are).
//
//   SippPhones phones{lua_dir, sip_port, INTEGRATION_SCENARIOS};
//   ASSERT_EQ(phones.register_line("u1000", "pw1000", contact_port, &out), 0) << out;
//   phones.client("-sf " + phones.scenario("uac_call_hangup.xml") + " -s 1001 -au u1000 -ap pw1000", &out);
struct SippPhones {
  std::filesystem::path dir;
  int sip_port = 0;
  std::filesystem::path scenarios;  // folder of the .xml scenarios

  std::string scenario(const std::string& name) const { return (scenarios / name).string(); }
  // SIPp with `args` (its own -p, if any); its exit status, its output in `out`.
  int run(const std::string& args, std::string* out) const;
  // SIPp as a client on a free local port; another process may take the
  // port between the probe and SIPp's bind, so a bind failure is retried.
  int client(const std::string& args, std::string* out) const;
  // Registers `user` (register.xml) with its contact on `contact_port`.
  int register_line(const std::string& user, const std::string& password, int contact_port, std::string* out) const;
};

// backend.sip's conf.d file for a test: UDP on 127.0.0.1:`port`, node
// `node`, no ban on failed authentications; `extra` (more sections) appended.
std::string sip_plugin_conf(int port, const std::string& node, const std::string& extra = "");

// A user with a SIP line over confd's REST API: the user (`user_json`), a
// line in `context`, its SIP endpoint (`username`, `secret`) and extension
// `exten` there, associated. "" or what failed; `user_body` gets the user's
// JSON (id, uuid).
std::string create_user_line(Dialtoned& d, const std::string& exten, const std::string& user_json,
                             const std::string& username, const std::string& secret,
                             std::string* user_body = nullptr, const std::string& context = "default");

// The first column of `statement`'s rows, one line each, on the database of
// `dsn`; the error message when it fails.
std::string sql_lines(const std::string& dsn, const std::string& statement);

// A command whose output (stdout and stderr) is read line by line as it
// comes, e.g. a WebSocket client following the event stream.
class OutputLines {
 public:
  explicit OutputLines(const std::string& command);
  ~OutputLines();
  OutputLines(const OutputLines&) = delete;
  OutputLines& operator=(const OutputLines&) = delete;
  // The next line, "" at the end of the output.
  std::string line();
  // Every line up to the end of the output.
  std::vector<std::string> rest();

 private:
  FILE* f_ = nullptr;
};

// Minimal JSON helpers for assertions (RapidJSON underneath).
std::string json_string(const std::string& json, const std::string& pointer);  // "/data/token"
long json_int(const std::string& json, const std::string& pointer, long fallback = -1);
std::size_t json_size(const std::string& json, const std::string& pointer);  // array length

}  // namespace dialtone::testing
