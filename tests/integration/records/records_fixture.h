// What the call-record tests of tests/integration/records share besides
// tests/integration/support (dialtoned, create_user_line, sql_lines): call
// logs read back as JSON once built, and as XiVO's CSV, with the CSV line
// XiVO writes for a call.
//
// @code
//   auto body = records::wait_call_logs(d, 1);
//   EXPECT_NE(records::csv(d).find(records::expected_csv_line(body, "/items/0", "Bob", "1002", "1001")),
//             std::string::npos);
// @endcode
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/pointer.h>

#include <chrono>
#include <cmath>
#include <string>
#include <thread>

#include "tests/integration/support/dialtoned_fixture.h"

namespace dialtone::testing::records {

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
  eventually(
      [&] {
        body = call_logs(d, path);
        return json_int(body, "/total") >= n;
      },
      std::chrono::seconds(30));
  return body;
}

// GET /1.1/call_logs as an admin's CSV export.
inline std::string csv(Dialtoned& d, const std::string& query = "") {
  return d.http("GET", "confd", "/1.1/call_logs" + query, "", {{"X-Auth-Token", d.token()}}).body;
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
