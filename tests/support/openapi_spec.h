// An OpenAPI 3 file read for the drift tests: every operation as
// "METHOD /path" -> the ACL it requires ("" for a route without a token),
// and what is wrong with the file. Header-only; link yaml-cpp.
//
// @code
//   auto spec = dialtone::testing::read_openapi(served.body);
//   EXPECT_TRUE(spec.problems.empty()) << spec.problems.front();
//   EXPECT_EQ(spec.operations, mounted);   // built with route_key()
// @endcode
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace dialtone::testing {

struct OpenApiSpec {
  std::map<std::string, std::string> operations;
  std::vector<std::string> problems;
};

inline std::string route_key(std::string method, const std::string& path) {
  for (auto& c : method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return method + " " + path;
}

namespace openapi_detail {

// A "#/components/..." reference resolved; undefined when it does not resolve.
inline YAML::Node resolve(const std::string& ref, const YAML::Node& root) {
  if (ref.rfind("#/", 0) != 0) return YAML::Node(YAML::NodeType::Undefined);
  YAML::Node at;
  at.reset(root);
  for (std::size_t b = 2; b <= ref.size();) {
    auto e = ref.find('/', b);
    if (e == std::string::npos) e = ref.size();
    // reset(), not =: assigning a Node would overwrite the node it refers to.
    at.reset(static_cast<const YAML::Node&>(at)[ref.substr(b, e - b)]);
    if (!at.IsDefined()) return at;
    b = e + 1;
  }
  return at;
}

inline void declared_path_params(const YAML::Node& params, const YAML::Node& root, std::set<std::string>& out) {
  if (!params || !params.IsSequence()) return;
  for (const auto& item : params) {
    YAML::Node p;
    p.reset(item["$ref"] ? resolve(item["$ref"].as<std::string>(), root) : YAML::Node(item));
    if (p.IsMap() && p["in"] && p["in"].as<std::string>() == "path" && p["name"] && p["required"] &&
        p["required"].as<bool>())
      out.insert(p["name"].as<std::string>());
  }
}

// Security of an operation: [] means public; a scheme other than the token one
// (HTTP Basic for POST /0.1/token) needs no ACL either.
inline bool needs_token(const YAML::Node& op, const YAML::Node& root) {
  YAML::Node sec = op["security"] ? op["security"] : root["security"];
  if (!sec || !sec.IsSequence() || sec.size() == 0) return false;
  for (const auto& req : sec)
    for (const auto& scheme : req)
      if (scheme.first.as<std::string>() == "token") return true;
  return false;
}

// Every "#/components/..." reference resolves.
inline void check_refs(const YAML::Node& n, const YAML::Node& root, std::vector<std::string>& problems) {
  if (n.IsMap()) {
    for (const auto& kv : n) {
      if (kv.first.as<std::string>() == "$ref" && kv.second.IsScalar()) {
        auto ref = kv.second.as<std::string>();
        bool ok = resolve(ref, root).IsDefined();
        if (!ok) problems.push_back("unresolved $ref " + ref);
      } else {
        check_refs(kv.second, root, problems);
      }
    }
  } else if (n.IsSequence()) {
    for (const auto& c : n) check_refs(c, root, problems);
  }
}

}  // namespace openapi_detail

inline OpenApiSpec read_openapi(const std::string& text) {
  OpenApiSpec out;
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    out.problems.push_back(std::string("not YAML: ") + e.what());
    return out;
  }
  if (!root.IsMap() || !root["openapi"] || root["openapi"].as<std::string>().rfind("3.", 0) != 0)
    out.problems.push_back("no `openapi: 3.x` at the top");
  if (!root["info"] || !root["info"]["title"]) out.problems.push_back("no info.title");
  auto token = root["components"]["securitySchemes"]["token"];
  if (!token || token["type"].as<std::string>("") != "apiKey" || token["in"].as<std::string>("") != "header" ||
      token["name"].as<std::string>("") != "X-Auth-Token")
    out.problems.push_back("components.securitySchemes.token must be the X-Auth-Token apiKey header");
  auto paths = root["paths"];
  if (!paths || !paths.IsMap()) {
    out.problems.push_back("no paths");
    return out;
  }
  openapi_detail::check_refs(root, root, out.problems);
  static const std::set<std::string> kMethods{"get", "put", "post", "delete", "head", "patch", "options"};
  for (const auto& p : paths) {
    auto path = p.first.as<std::string>();
    std::set<std::string> path_level;
    openapi_detail::declared_path_params(p.second["parameters"], root, path_level);
    for (const auto& m : p.second) {
      auto method = m.first.as<std::string>();
      if (!kMethods.count(method)) continue;
      auto key = route_key(method, path);
      const auto& op = m.second;
      bool token_route = openapi_detail::needs_token(op, root);
      std::string acl = op["x-acl"] ? op["x-acl"].as<std::string>() : std::string();
      if (token_route && acl.empty()) out.problems.push_back(key + ": token route without x-acl");
      if (!token_route && !acl.empty()) out.problems.push_back(key + ": x-acl on a route without a token");
      if (!op["responses"] || !op["responses"].IsMap() || op["responses"].size() == 0)
        out.problems.push_back(key + ": no responses");
      auto declared = path_level;
      openapi_detail::declared_path_params(op["parameters"], root, declared);
      for (std::size_t at = path.find('{'); at != std::string::npos; at = path.find('{', at + 1)) {
        auto name = path.substr(at + 1, path.find('}', at) - at - 1);
        if (!declared.count(name)) out.problems.push_back(key + ": path parameter {" + name + "} not declared");
      }
      out.operations[key] = acl;
    }
  }
  return out;
}

}  // namespace dialtone::testing
