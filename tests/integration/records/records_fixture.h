// What the call-record tests of tests/integration/records share: users with a
// SIP line and an extension made through confd, call logs read back as JSON
// and as XiVO's CSV, and SQL on dialtoned's own database.
//
// @code
//   records::UserLine alice;
//   ASSERT_EQ(records::create_user_line(d, "1001", R"({"firstname":"Alice"})", "alice", "alicepw", &alice), "");
//   auto body = records::wait_call_logs(d, 1);
//   EXPECT_NE(records::csv(d).find(records::expected_csv_line(body, "/items/0", "Bob", "1002", "1001")),
//             std::string::npos);
// @endcode
#pragma once

#include <libpq-fe.h>

#include <rapidjson/document.h>
#include <rapidjson/pointer.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "tests/integration/support/dialtoned_fixture.h"

namespace dialtone::testing::records {

// The repository's lua-dialplan copied into `where`, with the route_call
// entry point the call core asks for; the path of its extensions.lua.
inline std::string dialplan_copy(const std::filesystem::path& where) {
  namespace fs = std::filesystem;
  fs::copy(source_dir() / "lua-dialplan", where, fs::copy_options::recursive);
  auto script = where / "extensions.lua";
  std::stringstream ss;
  ss << std::ifstream(script).rdbuf();
  if (ss.str().find("function route_call") == std::string::npos)
    std::ofstream(script, std::ios::app)
        << "\nlocal calls = require(\"calls\")\nfunction route_call(call) return calls.route(call) end\n";
  return script.string();
}

struct UserLine {
  std::string id, uuid;
};

// A user (`user_json`, confd's body) with a SIP line `username`/`secret` and
// extension `exten` in context `default`; "" or what went wrong.
inline std::string create_user_line(Dialtoned& d, const std::string& exten, const std::string& user_json,
                                    const std::string& username, const std::string& secret, UserLine* out) {
  Headers h{{"X-Auth-Token", d.token()}};
  auto user = d.http("POST", "confd", "/1.1/users", user_json, h);
  auto line = d.http("POST", "confd", "/1.1/lines", R"({"context":"default"})", h);
  auto sip = d.http("POST", "confd", "/1.1/endpoints/sip",
                    R"({"username":")" + username + R"(","secret":")" + secret + R"("})", h);
  auto ext = d.http("POST", "confd", "/1.1/extensions", R"({"exten":")" + exten + R"(","context":"default"})", h);
  if (user.status != 201 || line.status != 201 || sip.status != 201 || ext.status != 201)
    return "creating line " + exten + ": " + user.body + line.body + sip.body + ext.body;
  out->id = json_string(user.body, "/id");
  out->uuid = json_string(user.body, "/uuid");
  auto lid = json_string(line.body, "/id");
  for (auto& path : {"/1.1/users/" + out->id + "/lines/" + lid,
                     "/1.1/lines/" + lid + "/extensions/" + json_string(ext.body, "/id"),
                     "/1.1/lines/" + lid + "/endpoints/sip/" + json_string(sip.body, "/id")})
    if (auto r = d.http("PUT", "confd", path, "", h); r.status != 204) return path + ": " + r.body;
  return "";
}

// GET `path` on confd as JSON, with `token` (default: the admin's).
inline std::string call_logs(Dialtoned& d, const std::string& path, const std::string& token = "") {
  return d
      .http("GET", "confd", path, "", {{"X-Auth-Token", token.empty() ? d.token() : token}, {"Accept", "application/json"}})
      .body;
}

// The call logs (`path`, JSON) once their total reaches `n`: CEL is written
// in batches and call logs are built after it, both off the call path.
inline std::string wait_call_logs(Dialtoned& d, long n, const std::string& path = "/1.1/call_logs?order=date") {
  std::string body;
  for (int i = 0; i < 300; ++i) {
    body = call_logs(d, path);
    if (json_int(body, "/total") >= n) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return body;
}

// GET /1.1/call_logs as an admin's CSV export.
inline std::string csv(Dialtoned& d, const std::string& query = "") {
  return d.http("GET", "confd", "/1.1/call_logs" + query, "", {{"X-Auth-Token", d.token()}}).body;
}

// The rows of one text column of `statement`, each followed by a line break
// (or the error).
inline std::string sql_rows(const Dialtoned& d, const std::string& statement) {
  PGconn* c = PQconnectdb(d.dsn().c_str());
  std::string out;
  PGresult* r = PQexec(c, statement.c_str());
  if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK) out = PQerrorMessage(c);
  else
    for (int i = 0; i < PQntuples(r); ++i) out += std::string(PQgetvalue(r, i, 0)) + "\n";
  PQclear(r);
  PQfinish(c);
  return out;
}

// A JSON number (seconds), -1 when absent.
inline double number(const std::string& json, const std::string& pointer) {
  rapidjson::Document d;
  d.Parse(json.c_str());
  auto* v = rapidjson::Pointer(pointer.c_str()).Get(d);
  return v && v->IsNumber() ? v->GetDouble() : -1;
}

// One CSV field as seed 5.6.1 writes it: in double quotes when it holds a
// comma (or a quote, doubled).
inline std::string csv_field(const std::string& v) {
  if (v.find_first_of(",\"\r\n") == std::string::npos) return v;
  std::string out = "\"";
  for (char c : v) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

// The line XiVO's export gives for a call (seed 5.6.1: `Call Date,Caller,
// Called,Period,user Field`): the date to the second, the caller as
// `name (number)`, the number called, the period in whole seconds.
inline std::string xivo_csv_line(const std::string& date, const std::string& caller_name,
                                 const std::string& caller_number, const std::string& called, long period,
                                 const std::string& user_field = "") {
  return csv_field(date.substr(0, 19)) + "," + csv_field(caller_name + " (" + caller_number + ")") + "," +
         csv_field(called) + "," + std::to_string(period) + "," + csv_field(user_field) + "\r\n";
}

// That line for call log `at` of `json` (its date and duration: the times
// are the call's), with the caller and the number called the test knows.
inline std::string expected_csv_line(const std::string& json, const std::string& at, const std::string& caller_name,
                                     const std::string& caller_number, const std::string& called) {
  return xivo_csv_line(json_string(json, at + "/date"), caller_name, caller_number, called,
                       std::lround(number(json, at + "/duration")));
}

}  // namespace dialtone::testing::records
