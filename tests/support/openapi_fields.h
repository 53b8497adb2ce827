// The field contract of an OpenAPI 3 file against a real answer: every
// property the 200 (or 201) answer's schema declares is in the body, down
// through $ref, nested objects, array items and additionalProperties.
// writeOnly properties must be absent; a property marked `x-optional: true`
// (present only in some answers, e.g. an operation's failure label) is
// checked only when present. Header-only; link yaml-cpp and
// RapidJSON.
//
// @code
//   auto spec = YAML::Load(served_yaml);
//   EXPECT_EQ(dialtone::testing::missing_fields(spec, "GET", "/0.1/token/{token}", body), "");
// @endcode
#pragma once

#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <rapidjson/document.h>
#include <yaml-cpp/yaml.h>

#include "tests/support/openapi_spec.h"

namespace dialtone::testing {

namespace openapi_detail {

inline YAML::Node deref(const YAML::Node& n, const YAML::Node& root) {
  YAML::Node at;
  at.reset(n);
  for (int i = 0; i < 8 && at.IsMap() && at["$ref"]; ++i) at.reset(resolve(at["$ref"].as<std::string>(), root));
  return at;
}

// Appends "<where>.<name>" for each declared property missing from `v`.
inline void walk_fields(const YAML::Node& schema_in, const rapidjson::Value& v, const YAML::Node& root,
                        const std::string& where, std::string& missing) {
  auto schema = deref(schema_in, root);
  if (!schema.IsMap()) return;
  if (schema["allOf"]) {
    for (const auto& part : schema["allOf"]) walk_fields(part, v, root, where, missing);
  }
  if (v.IsObject()) {
    if (auto props = schema["properties"]; props && props.IsMap()) {
      for (const auto& p : props) {
        auto name = p.first.as<std::string>();
        auto prop = deref(p.second, root);
        bool write_only = prop.IsMap() && prop["writeOnly"] && prop["writeOnly"].as<bool>();
        auto it = v.FindMember(name.c_str());
        if (write_only) {
          if (it != v.MemberEnd()) missing += where + "." + name + " (writeOnly, returned) ";
          continue;
        }
        bool optional = prop.IsMap() && prop["x-optional"] && prop["x-optional"].as<bool>();
        if (it == v.MemberEnd()) {
          if (!optional) missing += where + "." + name + " ";
          continue;
        }
        walk_fields(prop, it->value, root, where + "." + name, missing);
      }
    }
    if (auto extra = schema["additionalProperties"]; extra && extra.IsMap()) {
      for (auto m = v.MemberBegin(); m != v.MemberEnd(); ++m)
        walk_fields(extra, m->value, root, where + "." + m->name.GetString(), missing);
    }
  } else if (v.IsArray() && schema["items"]) {
    for (rapidjson::SizeType i = 0; i < v.Size(); ++i)
      walk_fields(schema["items"], v[i], root, where + "[" + std::to_string(i) + "]", missing);
  }
}

}  // namespace openapi_detail

// The declared response fields of `method path` missing from `body` (a JSON
// text), separated by spaces; "" when none. A route or answer the file does
// not declare, or a body that is not JSON, is reported too.
inline std::string missing_fields(const YAML::Node& root, const std::string& method, const std::string& path,
                                  const std::string& body, int status = 200) {
  std::string m = method;
  for (auto& c : m) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto op = root["paths"][path][m];
  if (!op) return "undeclared route " + route_key(method, path);
  auto resp = openapi_detail::deref(op["responses"][std::to_string(status)], root);
  if (!resp || !resp["content"]) return "no declared " + std::to_string(status) + " body for " + route_key(method, path);
  YAML::Node schema;
  for (const auto& c : resp["content"]) {
    if (c.second["schema"]) {
      schema.reset(c.second["schema"]);
      break;
    }
  }
  if (!schema) return "no schema for " + route_key(method, path);
  rapidjson::Document d;
  d.Parse(body.c_str());
  if (d.HasParseError()) return "not JSON: " + body.substr(0, 80);
  std::string missing;
  openapi_detail::walk_fields(schema, d, root, "", missing);
  return missing;
}

// One request of a field-contract walk: `target` answers the route the
// file declares as `declared`; a body not starting with '{' is sent as CSV.
struct AnswerCheck {
  const char* method;
  const char* declared;
  std::string target;
  std::string body;
};

// Sends each check through `http` (the SDK's FakeHttp or anything with its
// call()) and fails, naming the request, on an error status or a declared
// field missing from the answer.
template <class Http>
void expect_declared_fields(Http& http, const YAML::Node& spec, const std::vector<AnswerCheck>& checks) {
  for (const auto& c : checks) {
    std::map<std::string, std::string> headers;
    if (!c.body.empty() && c.body[0] != '{') headers["content-type"] = "text/csv";
    auto r = http.call(c.method, c.target, c.body, headers);
    ASSERT_LT(r.status, 300) << c.method << " " << c.target << ": " << r.body;
    EXPECT_EQ(missing_fields(spec, c.method, c.declared, r.body, r.status), "")
        << c.method << " " << c.target << ": " << r.body;
  }
}

}  // namespace dialtone::testing
