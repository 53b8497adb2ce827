// provd's REST API (XiVO provd compatible, seed 12.6 "provd") on listener
// "provd", and the phone-facing routes on listener "provd_phones".
#include <algorithm>
#include <filesystem>
#include <functional>

#include <dialtone/auth.h>
#include <dialtone/services.h>

#include "plugins/provisioning/provd/json_util.h"
#include "plugins/provisioning/provd/provd.h"

namespace dialtone::plugins::provisioning {

extern const char* const kProvdApiSpec;  // api.yml, embedded at build time

namespace fs = std::filesystem;

namespace {

constexpr const char* kMediaType = "application/vnd.proformatique.provd+json";

sdk::HttpResponse reply(int status, std::string body) {
  return {status, kMediaType, std::move(body), {}};
}

sdk::HttpResponse fail(const sdk::Error& e) {
  int status = 500;
  switch (e.code) {
    case sdk::ErrorCode::invalid: status = 400; break;
    case sdk::ErrorCode::not_found: status = 404; break;
    case sdk::ErrorCode::conflict: status = 409; break;
    case sdk::ErrorCode::unavailable: status = 503; break;
    case sdk::ErrorCode::unsupported: status = 501; break;
    default: break;
  }
  return sdk::HttpResponse::error(status, {e.message});
}

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void write_device(Writer& w, const Device& d, const std::vector<std::string>& fields) {
  auto want = [&](const char* f) {
    return fields.empty() || std::find(fields.begin(), fields.end(), f) != fields.end();
  };
  w.StartObject();
  auto s = [&](const char* k, const std::string& v) {
    if (!want(k)) return;
    w.Key(k);
    w.String(v.c_str());
  };
  s("id", d.id);
  s("mac", d.mac);
  s("ip", d.ip);
  s("vendor", d.vendor);
  s("model", d.model);
  s("version", d.version);
  s("plugin", d.plugin);
  s("config", d.config);
  s("added", d.added);
  s("description", d.description);
  if (want("configured")) {
    w.Key("configured");
    w.Bool(d.configured);
  }
  w.EndObject();
}

std::string field(const Device& d, const std::string& k) {
  if (k == "id") return d.id;
  if (k == "mac") return d.mac;
  if (k == "ip") return d.ip;
  if (k == "vendor") return d.vendor;
  if (k == "model") return d.model;
  if (k == "version") return d.version;
  if (k == "plugin") return d.plugin;
  if (k == "config") return d.config;
  if (k == "added") return d.added;
  if (k == "description") return d.description;
  if (k == "configured") return d.configured ? "true" : "false";
  return {};
}

// xivo-provd's selector language on a device's fields: {"key": value} is
// equality, {"key": {"$op": value, ...}} applies every operator ($in, $nin,
// $contains, $gt, $ge, $lt, $le, $ne, $exists). Values compare as text; a
// mac in the selector is normalized like the stored one.
std::optional<std::string> selector_text(const rapidjson::Value& v, const std::string& key) {
  std::string t;
  if (v.IsString()) t = v.GetString();
  else if (v.IsBool()) t = v.GetBool() ? "true" : "false";
  else if (v.IsInt64()) t = std::to_string(v.GetInt64());
  else if (v.IsNumber()) t = std::to_string(v.GetDouble());
  else return std::nullopt;
  if (key == "mac" && !sdk::normalize_mac(t).empty()) t = sdk::normalize_mac(t);
  return t;
}

// One operator set, on whatever texts a document holds under a key: one
// for a plain field, each element of a list (a config's parent_ids), none
// when absent. A list matches when one of its elements does, as in xivo-provd.
using SelectorValues = std::function<std::vector<std::string>(const std::string&)>;

sdk::Result<bool> value_matches(const std::string& key, const std::string& have, const rapidjson::Value& value) {
  bool present = !have.empty();
  if (!value.IsObject()) {
    auto want = selector_text(value, key);
    if (!want) return sdk::Error::invalid("selector value of '" + key + "' must be a string, number or boolean");
    return have == *want;
  }
  for (auto& op : value.GetObject()) {
    std::string o = op.name.GetString();
    if (o == "$exists") {
      if (present != (op.value.IsBool() ? op.value.GetBool() : true)) return false;
      continue;
    }
    if (o == "$in" || o == "$nin") {
      if (!op.value.IsArray()) return sdk::Error::invalid("selector value for " + o + " must be a list");
      bool found = false;
      for (auto& e : op.value.GetArray())
        if (auto t = selector_text(e, key); t && present && *t == have) found = true;
      if (found != (o == "$in")) return false;
      continue;
    }
    auto want = selector_text(op.value, key);
    if (!want) return sdk::Error::invalid("selector value for " + o + " must be a string, number or boolean");
    bool ok;
    if (o == "$ne") ok = !present || have != *want;
    else if (o == "$contains") ok = present && have.find(*want) != std::string::npos;
    else if (o == "$gt") ok = present && have > *want;
    else if (o == "$ge") ok = present && have >= *want;
    else if (o == "$lt") ok = present && have < *want;
    else if (o == "$le") ok = present && have <= *want;
    else return sdk::Error::invalid("invalid operator: " + o + " (use $in, $nin, $contains, $gt, $ge, $lt, $le, $ne, $exists)");
    if (!ok) return false;
  }
  return true;
}

sdk::Result<bool> selector_matches(const SelectorValues& values, const rapidjson::Value& sel) {
  for (auto& m : sel.GetObject()) {
    std::string key = m.name.GetString();
    auto texts = values(key);
    if (texts.empty()) texts.emplace_back();  // absent: "$exists": false and "$ne" still match
    bool any = false;
    for (auto& have : texts) {
      auto ok = value_matches(key, have, m.value);
      if (!ok) return ok;
      any = any || *ok;
    }
    if (!any) return false;
  }
  return true;
}

sdk::Result<bool> selector_matches(const Device& d, const rapidjson::Value& sel) {
  return selector_matches(
      [&](const std::string& key) {
        auto v = field(d, key);
        return v.empty() ? std::vector<std::string>{} : std::vector<std::string>{v};
      },
      sel);
}

// The texts of a config under a selector key: its own fields (X_type and the
// other kept ones too), parent_ids element by element, and raw_config.<name>
// for its raw parameters.
std::vector<std::string> config_values(const Provd::Config& c, const std::string& key) {
  if (key == "id") return {c.id};
  if (key == "role") return c.role.empty() ? std::vector<std::string>{} : std::vector<std::string>{c.role};
  if (key == "deletable") return {c.deletable ? "true" : "false"};
  if (key == "parent_ids") return c.parent_ids;
  bool in_raw = key.rfind("raw_config.", 0) == 0;
  rapidjson::Document doc;
  doc.Parse((in_raw ? c.raw_config : c.extra).c_str());
  if (!doc.IsObject()) return {};
  auto it = doc.FindMember(in_raw ? key.substr(11).c_str() : key.c_str());
  if (it == doc.MemberEnd()) return {};
  if (auto t = selector_text(it->value, key)) return {*t};
  return {};
}


// skip, limit (0 or absent: no limit, as xivo-provd-client sends none) and
// fields of a find.
struct ListQuery {
  long skip = 0;
  long limit = -1;
  std::vector<std::string> fields;
};

ListQuery list_query(const sdk::HttpRequest& r) {
  auto num = [&](const char* k, long fallback) {
    auto it = r.query.find(k);
    if (it == r.query.end()) return fallback;
    try {
      return std::max(0L, std::stol(it->second));
    } catch (...) {
      return fallback;
    }
  };
  ListQuery q;
  q.skip = num("skip", 0);
  q.limit = num("limit", 0);
  if (q.limit == 0) q.limit = -1;  // Mongo's meaning, which xivo-provd kept
  if (auto f = r.query.find("fields"); f != r.query.end()) {
    std::size_t i = 0;
    while (i <= f->second.size()) {
      auto j = f->second.find(',', i);
      if (j == std::string::npos) j = f->second.size();
      if (j > i) q.fields.push_back(f->second.substr(i, j - i));
      i = j + 1;
    }
  }
  return q;
}

// Reads {"device": {...}} into `d` (only the members present).
sdk::Status read_device(const std::string& body, Device& d) {
  rapidjson::Document doc;
  doc.Parse(body.c_str());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("device") || !doc["device"].IsObject())
    return sdk::Error::invalid("body must be {\"device\": {...}}");
  const auto& v = doc["device"];
  auto set = [&](const char* k, std::string& out) {
    if (auto t = sdk::json::text_member(v, k)) out = *t;
  };
  set("id", d.id);
  set("mac", d.mac);
  set("ip", d.ip);
  set("vendor", d.vendor);
  set("model", d.model);
  set("version", d.version);
  set("plugin", d.plugin);
  set("config", d.config);
  set("added", d.added);
  set("description", d.description);
  return {};
}

sdk::Result<Provd::Config> read_config(const std::string& body) {
  rapidjson::Document doc;
  doc.Parse(body.c_str());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("config") || !doc["config"].IsObject())
    return sdk::Error::invalid("body must be {\"config\": {...}}");
  const auto& v = doc["config"];
  Provd::Config c;
  c.id = str_of(v, "id");
  c.role = str_of(v, "role");
  if (auto it = v.FindMember("parent_ids"); it != v.MemberEnd()) {
    if (!it->value.IsArray()) return sdk::Error::invalid("config parent_ids must be a list of ids");
    for (auto& p : it->value.GetArray())
      if (p.IsString()) c.parent_ids.emplace_back(p.GetString());
  }
  if (auto it = v.FindMember("raw_config"); it != v.MemberEnd()) {
    if (!it->value.IsObject()) return sdk::Error::invalid("config raw_config must be an object");
    c.raw_config = to_json(it->value);
  }
  if (auto it = v.FindMember("deletable"); it != v.MemberEnd() && it->value.IsBool())
    c.deletable = it->value.GetBool();
  rapidjson::Document extra(rapidjson::kObjectType);
  for (auto& m : v.GetObject()) {
    std::string_view k(m.name.GetString(), m.name.GetStringLength());
    if (k == "id" || k == "parent_ids" || k == "raw_config" || k == "deletable" || k == "role") continue;
    extra.AddMember(rapidjson::Value(m.name, extra.GetAllocator()), rapidjson::Value(m.value, extra.GetAllocator()),
                    extra.GetAllocator());
  }
  c.extra = to_json(extra);
  return c;
}

void write_config(Writer& w, const Provd::Config& c, const std::vector<std::string>& fields = {}) {
  auto want = [&](const char* f) {
    return fields.empty() || std::find(fields.begin(), fields.end(), f) != fields.end();
  };
  w.StartObject();
  if (want("id")) {
    w.Key("id");
    w.String(c.id.c_str());
  }
  if (want("parent_ids")) {
    w.Key("parent_ids");
    w.StartArray();
    for (auto& p : c.parent_ids) w.String(p.c_str());
    w.EndArray();
  }
  if (want("raw_config")) {
    w.Key("raw_config");
    w.RawValue(c.raw_config.c_str(), c.raw_config.size(), rapidjson::kObjectType);
  }
  if (want("deletable")) {
    w.Key("deletable");
    w.Bool(c.deletable);
  }
  if (want("role")) {
    w.Key("role");
    w.String(c.role.c_str());
  }
  rapidjson::Document extra;
  extra.Parse(c.extra.c_str());
  if (extra.IsObject())
    for (auto& m : extra.GetObject())
      if (want(m.name.GetString())) {
        w.Key(m.name.GetString(), m.name.GetStringLength());
        m.value.Accept(w);
      }
  w.EndObject();
}

bool is_loopback(const std::string& ip) { return ip.rfind("127.", 0) == 0 || ip == "::1"; }

std::string id_from(const std::string& body) {
  rapidjson::Document doc;
  doc.Parse(body.c_str());
  return doc.IsObject() ? str_of(doc, "id") : std::string();
}

// xivo-provd's list of one link: [{"rel": rel, "href": href}].
sdk::json::Raw links_json(std::string_view rel, const std::string& href) {
  return sdk::json::Raw{sdk::json::array({sdk::json::Raw{sdk::json::object({{"rel", rel}, {"href", href}})}})};
}

}  // namespace

void Provd::mount_phone_routes() {
  auto handler = [this](const sdk::HttpRequest& req) {
    sdk::DeviceRequest r;
    r.protocol = sdk::DeviceRequest::Protocol::http;
    r.path = req.path;
    r.user_agent = req.header("user-agent");
    r.remote_ip = req.remote_address;
    auto a = serve(r);
    return sdk::HttpResponse::text(a.status, std::move(a.body), a.content_type);
  };
  for (auto* path : {"/{file}", "/{dir}/{file}"}) {
    sdk::Route route;
    route.method = "GET";
    route.path = path;
    route.auth = sdk::RouteAuth::none;
    route.summary = "Configuration file for a phone";
    route.handler = handler;
    auto s = http_->mount("provd_phones", std::move(route));
    if (!s) host_.log().error("provd: cannot mount " + std::string(path) + ": " + s.error().message);
  }
}

// XiVO's DHCP server hook pushes leases to provd from the PBX itself with no
// token (xivo-provd's REST API had none). That one route stays open to callers
// on the loopback address; any other caller needs the token and ACL as before,
// checked here because the kernel checks only routes mounted with a token.
void Provd::open_to_loopback(sdk::Route& route) {
  route.auth = sdk::RouteAuth::none;
  route.handler = [this, acl = route.acl, inner = std::move(route.handler)](const sdk::HttpRequest& r) {
    if (is_loopback(r.remote_address)) return inner(r);
    auto token = r.header("x-auth-token");
    if (token.empty())
      return sdk::HttpResponse::error(401, {"Unauthorized: missing X-Auth-Token header (only callers on the "
                                            "loopback address may omit it)"});
    auto auth = host_.services().find<sdk::Auth>();
    if (!auth) return sdk::HttpResponse::error(503, {"Authentication service is not available"});
    auto checked = auth->check(token, acl);
    if (!checked) {
      if (checked.error().code == sdk::ErrorCode::forbidden)
        return sdk::HttpResponse::error(403, {"Forbidden: the token does not grant " + acl});
      return sdk::HttpResponse::error(401, {"Unauthorized: invalid or expired token"});
    }
    return inner(r);
  };
}

void Provd::mount_rest_routes() {
  struct R {
    const char* method;
    const char* path;
    const char* acl;
    const char* summary;
    std::function<sdk::HttpResponse(const sdk::HttpRequest&)> h;
  };
  auto bind = [this](sdk::HttpResponse (Provd::*f)(const sdk::HttpRequest&)) {
    return [this, f](const sdk::HttpRequest& r) { return (this->*f)(r); };
  };
  const R routes[] = {
      {"GET", "/provd", "provd.read", "provd manager links",
       [](const sdk::HttpRequest&) {
         return reply(200, R"({"links":[{"rel":"dev","href":"/provd/dev_mgr"},{"rel":"cfg","href":"/provd/cfg_mgr"},{"rel":"pg","href":"/provd/pg_mgr"},{"rel":"srv.configure","href":"/provd/configure"}]})");
       }},
      {"GET", "/provd/dev_mgr/devices", "provd.dev_mgr.devices.read", "List devices", bind(&Provd::rest_devices_list)},
      {"POST", "/provd/dev_mgr/devices", "provd.dev_mgr.devices.create", "Create a device", bind(&Provd::rest_device_create)},
      {"GET", "/provd/dev_mgr/devices/{id}", "provd.dev_mgr.devices.{id}.read", "Read a device", bind(&Provd::rest_device_get)},
      {"PUT", "/provd/dev_mgr/devices/{id}", "provd.dev_mgr.devices.{id}.update", "Update a device", bind(&Provd::rest_device_put)},
      {"DELETE", "/provd/dev_mgr/devices/{id}", "provd.dev_mgr.devices.{id}.delete", "Delete a device", bind(&Provd::rest_device_delete)},
      {"GET", "/provd/dev_mgr/devices/{id}/preview", "provd.dev_mgr.devices.{id}.read", "Files of a device, rendered now", bind(&Provd::rest_preview)},
      {"POST", "/provd/dev_mgr/reconfigure", "provd.dev_mgr.reconfigure", "Regenerate a device's files", bind(&Provd::rest_reconfigure)},
      {"POST", "/provd/dev_mgr/synchronize", "provd.dev_mgr.synchronize", "Make a device re-fetch its files", bind(&Provd::rest_synchronize)},
      {"POST", "/provd/dev_mgr/dhcpinfo", "provd.dev_mgr.dhcpinfo", "Push DHCP lease information", bind(&Provd::rest_dhcpinfo)},
      {"GET", "/provd/dev_mgr/synchronize/{op}", "provd.dev_mgr.synchronize", "Synchronize operation status", bind(&Provd::rest_operation)},
      {"DELETE", "/provd/dev_mgr/synchronize/{op}", "provd.dev_mgr.synchronize", "Forget a synchronize operation", bind(&Provd::rest_operation_delete)},
      {"GET", "/provd/cfg_mgr/configs", "provd.cfg_mgr.configs.read", "List configs", bind(&Provd::rest_configs_list)},
      {"POST", "/provd/cfg_mgr/configs", "provd.cfg_mgr.configs.create", "Create a config", bind(&Provd::rest_config_create)},
      {"GET", "/provd/cfg_mgr/configs/{id}", "provd.cfg_mgr.configs.{id}.read", "Read a config", bind(&Provd::rest_config_get)},
      {"PUT", "/provd/cfg_mgr/configs/{id}", "provd.cfg_mgr.configs.{id}.update", "Update a config", bind(&Provd::rest_config_put)},
      {"DELETE", "/provd/cfg_mgr/configs/{id}", "provd.cfg_mgr.configs.{id}.delete", "Delete a config", bind(&Provd::rest_config_delete)},
      {"GET", "/provd/cfg_mgr/configs/{id}/raw", "provd.cfg_mgr.configs.{id}.read", "A config merged with its parents", bind(&Provd::rest_config_raw)},
      {"POST", "/provd/cfg_mgr/autocreate", "provd.cfg_mgr.autocreate", "Create a config from the autocreate role", bind(&Provd::rest_autocreate)},
      {"GET", "/provd/pg_mgr/plugins", "provd.pg_mgr.plugins.read", "Loaded vendor plugins", bind(&Provd::rest_plugins)},
      {"GET", "/provd/pg_mgr/plugins/{id}/info", "provd.pg_mgr.plugins.{id}.read", "A vendor plugin's models", bind(&Provd::rest_plugin_info)},
      {"POST", "/provd/pg_mgr/install/install", "provd.pg_mgr.install", "Install a plugin from the repository",
       [this](const sdk::HttpRequest& r) { return rest_plugin_install(r, "install"); }},
      {"POST", "/provd/pg_mgr/install/upgrade", "provd.pg_mgr.install", "Upgrade a plugin from the repository",
       [this](const sdk::HttpRequest& r) { return rest_plugin_install(r, "upgrade"); }},
      {"GET", "/provd/pg_mgr/install/install/{op}", "provd.pg_mgr.install", "Install operation status", bind(&Provd::rest_operation)},
      {"DELETE", "/provd/pg_mgr/install/install/{op}", "provd.pg_mgr.install", "Forget an install operation", bind(&Provd::rest_operation_delete)},
      {"GET", "/provd/pg_mgr/install/upgrade/{op}", "provd.pg_mgr.install", "Upgrade operation status", bind(&Provd::rest_operation)},
      {"DELETE", "/provd/pg_mgr/install/upgrade/{op}", "provd.pg_mgr.install", "Forget an upgrade operation", bind(&Provd::rest_operation_delete)},
      {"GET", "/provd/pg_mgr/install/installed", "provd.pg_mgr.install.read", "Installed plugins", bind(&Provd::rest_plugins_installed)},
      {"GET", "/provd/pg_mgr/install/installable", "provd.pg_mgr.install.read", "Plugins the repository offers", bind(&Provd::rest_plugins_installable)},
      {"GET", "/provd/pg_mgr/plugins/{id}", "provd.pg_mgr.plugins.{id}.read", "A loaded plugin's services", bind(&Provd::rest_plugin_get)},
      {"POST", "/provd/pg_mgr/reload", "provd.pg_mgr.reload", "Reload a plugin", bind(&Provd::rest_plugin_reload)},
      {"POST", "/provd/pg_mgr/install/uninstall", "provd.pg_mgr.install", "Uninstall a plugin",
       [this](const sdk::HttpRequest& r) { return rest_plugin_install(r, "uninstall"); }},
      {"GET", "/provd/configure", "provd.configure.read", "provd parameters", bind(&Provd::rest_configure_list)},
      {"GET", "/provd/configure/{param}", "provd.configure.{param}.read", "A provd parameter", bind(&Provd::rest_configure_get)},
      {"PUT", "/provd/configure/{param}", "provd.configure.{param}.update", "Set a provd parameter", bind(&Provd::rest_configure_put)},
  };
  for (auto& r : routes) {
    sdk::Route route;
    route.method = r.method;
    route.path = r.path;
    route.acl = r.acl;
    route.summary = r.summary;
    route.handler = r.h;
    if (route.path == "/provd/dev_mgr/dhcpinfo") open_to_loopback(route);
    auto s = http_->mount("provd", std::move(route));
    if (!s) host_.log().error("provd: cannot mount " + std::string(r.path) + ": " + s.error().message);
  }
  sdk::Route api;
  api.method = "GET";
  api.path = "/provd/api/api.yml";
  api.auth = sdk::RouteAuth::none;
  api.summary = "OpenAPI description of this API";
  api.handler = [](const sdk::HttpRequest&) {
    return sdk::HttpResponse::text(200, kProvdApiSpec, "application/x-yaml");
  };
  if (auto s = http_->mount("provd", std::move(api)); !s)
    host_.log().error("provd: cannot mount /provd/api/api.yml: " + s.error().message);
}

sdk::HttpResponse Provd::rest_devices_list(const sdk::HttpRequest& r) {
  auto all = devices();
  auto q = r.query.find("q");
  if (q != r.query.end() && !q->second.empty()) {
    rapidjson::Document sel;
    sel.Parse(q->second.c_str());
    if (sel.HasParseError() || !sel.IsObject())
      return sdk::HttpResponse::error(400, {"q must be a JSON object selector, e.g. {\"mac\": \"00:11:22:33:44:55\"}"});
    std::vector<Device> kept;
    for (auto& d : all) {
      auto ok = selector_matches(d, sel);
      if (!ok) return sdk::HttpResponse::error(400, {ok.error().message});
      if (*ok) kept.push_back(d);
    }
    all = std::move(kept);
  }
  std::string sort = r.query.count("sort") ? r.query.at("sort") : "id";
  bool desc = r.query.count("sort_ord") && r.query.at("sort_ord") == "DESC";
  std::stable_sort(all.begin(), all.end(), [&](const Device& a, const Device& b) {
    return desc ? field(a, sort) > field(b, sort) : field(a, sort) < field(b, sort);
  });
  auto [skip, limit, fields] = list_query(r);
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("devices");
  w.StartArray();
  long n = 0;
  for (std::size_t i = static_cast<std::size_t>(skip); i < all.size(); ++i) {
    if (limit >= 0 && n >= limit) break;
    write_device(w, all[i], fields);
    ++n;
  }
  w.EndArray();
  w.EndObject();
  return reply(200, buf.GetString());
}

sdk::HttpResponse Provd::rest_device_create(const sdk::HttpRequest& r) {
  Device d;
  d.added = "manual";
  if (auto s = read_device(r.body, d); !s) return fail(s.error());
  auto id = add_device(d);
  if (!id) return fail(id.error());
  auto resp = reply(201, sdk::json::object({{"id", *id}}));
  resp.headers.emplace_back("Location", "/provd/dev_mgr/devices/" + *id);
  return resp;
}

sdk::HttpResponse Provd::rest_device_get(const sdk::HttpRequest& r) {
  auto d = device(r.params.at("id"));
  if (!d) return sdk::HttpResponse::error(404, {"device " + r.params.at("id") + " was not found"});
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("device");
  write_device(w, *d, {});
  w.EndObject();
  return reply(200, buf.GetString());
}

sdk::HttpResponse Provd::rest_device_put(const sdk::HttpRequest& r) {
  auto d = device(r.params.at("id"));
  if (!d) return sdk::HttpResponse::error(404, {"device " + r.params.at("id") + " was not found"});
  Device n = *d;
  if (auto s = read_device(r.body, n); !s) return fail(s.error());
  n.id = d->id;
  if (auto s = update_device(n); !s) return fail(s.error());
  return sdk::HttpResponse::empty(204);
}

sdk::HttpResponse Provd::rest_device_delete(const sdk::HttpRequest& r) {
  if (auto s = remove_device(r.params.at("id")); !s) return fail(s.error());
  return sdk::HttpResponse::empty(204);
}

sdk::HttpResponse Provd::rest_preview(const sdk::HttpRequest& r) {
  auto files = preview(r.params.at("id"));
  if (!files) return fail(files.error());
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("files");
  w.StartArray();
  for (auto& f : *files) {
    w.StartObject();
    w.Key("path");
    w.String(f.path.c_str());
    w.Key("sensitive");
    w.Bool(f.sensitive);
    w.Key("content");
    w.String(f.content.c_str(), static_cast<rapidjson::SizeType>(f.content.size()));
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return reply(200, buf.GetString());
}

sdk::HttpResponse Provd::rest_reconfigure(const sdk::HttpRequest& r) {
  auto id = id_from(r.body);
  auto d = device(id);
  if (!d) return sdk::HttpResponse::error(404, {"device '" + id + "' was not found"});
  invalidate(id);
  auto files = rendered(*d);
  if (!files->status) return fail(files->status.error());
  return sdk::HttpResponse::empty(204);
}

sdk::HttpResponse Provd::rest_synchronize(const sdk::HttpRequest& r) {
  auto id = id_from(r.body);
  if (!device(id)) return sdk::HttpResponse::error(404, {"device '" + id + "' was not found"});
  std::string op;
  {
    std::lock_guard lock(ops_mutex_);
    op = std::to_string(next_op_++);
    operations_[op] = R"({"status":"progress"})";
    if (operations_.size() > 1000) operations_.erase(operations_.begin());
  }
  // Device lookups may read the store: off the HTTP thread. The phone's
  // answer completes the operation later; nothing waits for it.
  host_.executor().post([this, id, op] {
    synchronize(id, [this, op](sdk::Status s) {
      std::string st = s ? R"({"status":"success"})"
                         : sdk::json::object({{"status", "fail"}, {"label", s.error().message}});
      std::lock_guard lock(ops_mutex_);
      operations_[op] = st;
    });
  });
  auto resp = reply(201, "{}");
  resp.headers.emplace_back("Location", "/provd/dev_mgr/synchronize/" + op);
  return resp;
}

sdk::HttpResponse Provd::rest_operation(const sdk::HttpRequest& r) {
  std::lock_guard lock(ops_mutex_);
  auto it = operations_.find(r.params.at("op"));
  if (it == operations_.end()) return sdk::HttpResponse::error(404, {"operation was not found"});
  return reply(200, it->second);
}

// xivo-provd-client's config_manager.find(selector, fields, skip, limit,
// sort): q, fields, skip, limit, sort and sort_ord, as for devices.
sdk::HttpResponse Provd::rest_operation_delete(const sdk::HttpRequest& r) {
  std::lock_guard lock(ops_mutex_);
  if (operations_.erase(r.params.at("op")) == 0) return sdk::HttpResponse::error(404, {"operation was not found"});
  return sdk::HttpResponse::empty(204);
}

sdk::HttpResponse Provd::rest_configs_list(const sdk::HttpRequest& r) {
  auto all = configs();
  if (auto q = r.query.find("q"); q != r.query.end() && !q->second.empty()) {
    rapidjson::Document sel;
    sel.Parse(q->second.c_str());
    if (sel.HasParseError() || !sel.IsObject())
      return sdk::HttpResponse::error(400, {"q must be a JSON object selector, e.g. {\"parent_ids\": \"base\"}"});
    std::vector<Config> kept;
    for (auto& c : all) {
      auto ok = selector_matches([&](const std::string& k) { return config_values(c, k); }, sel);
      if (!ok) return sdk::HttpResponse::error(400, {ok.error().message});
      if (*ok) kept.push_back(c);
    }
    all = std::move(kept);
  }
  std::string sort = r.query.count("sort") ? r.query.at("sort") : "id";
  bool desc = r.query.count("sort_ord") && r.query.at("sort_ord") == "DESC";
  auto first = [&](const Config& c) {
    auto v = config_values(c, sort);
    return v.empty() ? std::string() : v.front();
  };
  std::stable_sort(all.begin(), all.end(),
                   [&](const Config& a, const Config& b) { return desc ? first(a) > first(b) : first(a) < first(b); });
  auto q = list_query(r);
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("configs");
  w.StartArray();
  long n = 0;
  for (std::size_t i = static_cast<std::size_t>(q.skip); i < all.size(); ++i) {
    if (q.limit >= 0 && n >= q.limit) break;
    write_config(w, all[i], q.fields);
    ++n;
  }
  w.EndArray();
  w.EndObject();
  return reply(200, buf.GetString());
}

sdk::HttpResponse Provd::rest_config_create(const sdk::HttpRequest& r) {
  auto c = read_config(r.body);
  if (!c) return fail(c.error());
  auto id = add_config(*c);
  if (!id) return fail(id.error());
  auto resp = reply(201, sdk::json::object({{"id", *id}}));
  resp.headers.emplace_back("Location", "/provd/cfg_mgr/configs/" + *id);
  return resp;
}

sdk::HttpResponse Provd::rest_config_get(const sdk::HttpRequest& r) {
  auto c = config(r.params.at("id"));
  if (!c) return sdk::HttpResponse::error(404, {"config " + r.params.at("id") + " was not found"});
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("config");
  write_config(w, *c);
  w.EndObject();
  return reply(200, buf.GetString());
}

sdk::HttpResponse Provd::rest_config_put(const sdk::HttpRequest& r) {
  auto c = read_config(r.body);
  if (!c) return fail(c.error());
  c->id = r.params.at("id");
  if (auto s = update_config(*c); !s) return fail(s.error());
  return sdk::HttpResponse::empty(204);
}

sdk::HttpResponse Provd::rest_config_delete(const sdk::HttpRequest& r) {
  if (auto s = remove_config(r.params.at("id")); !s) return fail(s.error());
  return sdk::HttpResponse::empty(204);
}

sdk::HttpResponse Provd::rest_config_raw(const sdk::HttpRequest& r) {
  auto raw = raw_config(r.params.at("id"));
  if (!raw) return fail(raw.error());
  return reply(200, sdk::json::object({{"raw_config", sdk::json::Raw{*raw}}}));
}

sdk::HttpResponse Provd::rest_autocreate(const sdk::HttpRequest&) {
  std::string parent;
  for (auto& c : configs())
    if (c.role == "autocreate") parent = c.id;
  if (parent.empty()) return sdk::HttpResponse::error(404, {"no config has the autocreate role"});
  Config c;
  c.parent_ids = {parent};
  auto id = add_config(c);
  if (!id) return fail(id.error());
  return reply(201, sdk::json::object({{"id", *id}}));
}

sdk::HttpResponse Provd::rest_plugins(const sdk::HttpRequest&) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("plugins");
  w.StartObject();
  for (auto& [name, v] : host_.services().all<sdk::ProvisioningVendor>()) {
    w.Key(std::string(v->id()).c_str());
    w.StartObject();
    w.Key("version");
    w.String(std::string(v->version()).c_str());
    w.Key("vendor");
    w.String(std::string(v->vendor()).c_str());
    w.EndObject();
  }
  w.EndObject();
  w.EndObject();
  return reply(200, buf.GetString());
}

// {"pkgs": {id: {"version", "description"}}} as xivo-provd's install service.
namespace {
std::string pkgs_json(const std::vector<std::pair<std::string, std::pair<std::string, std::string>>>& pkgs) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("pkgs");
  w.StartObject();
  for (auto& [id, vd] : pkgs) {
    w.Key(id.c_str());
    w.StartObject();
    w.Key("version");
    w.String(vd.first.c_str());
    w.Key("description");
    w.String(vd.second.c_str());
    w.EndObject();
  }
  w.EndObject();
  w.EndObject();
  return buf.GetString();
}
}  // namespace

sdk::HttpResponse Provd::rest_plugins_installed(const sdk::HttpRequest&) {
  std::vector<std::pair<std::string, std::pair<std::string, std::string>>> pkgs;
  for (auto& [name, v] : host_.services().all<sdk::ProvisioningVendor>())
    pkgs.push_back({std::string(v->id()), {std::string(v->version()), std::string(v->vendor()) + " phones"}});
  std::sort(pkgs.begin(), pkgs.end());
  return reply(200, pkgs_json(pkgs));
}

// The repository's plugin_<name>.so files not loaded now (empty without
// pg_mgr.repository).
sdk::HttpResponse Provd::rest_plugins_installable(const sdk::HttpRequest&) {
  std::vector<std::pair<std::string, std::pair<std::string, std::string>>> pkgs;
  std::error_code ec;
  if (!settings_.plugin_repository.empty() && fs::is_directory(settings_.plugin_repository, ec)) {
    for (auto& e : fs::directory_iterator(settings_.plugin_repository, ec)) {
      auto stem = e.path().stem().string();
      if (e.path().extension() != ".so" || stem.rfind("provisioning_", 0) != 0) continue;
      std::string id = "provisioning." + stem.substr(13);
      if (vendor(id)) continue;
      pkgs.push_back({id, {"", "from " + settings_.plugin_repository.string()}});
    }
  }
  std::sort(pkgs.begin(), pkgs.end());
  return reply(200, pkgs_json(pkgs));
}

sdk::HttpResponse Provd::rest_plugin_get(const sdk::HttpRequest& r) {
  const auto& id = r.params.at("id");
  if (!vendor(id)) return sdk::HttpResponse::error(404, {"plugin " + id + " is not loaded"});
  std::string href = "/provd/pg_mgr/plugins/" + id + "/info";
  return reply(200, sdk::json::object({{"id", id}, {"links", links_json("pg.info", href)}}));
}

// Plugins are shared objects loaded at start: a reload re-renders the files
// of the plugin's devices (what a reload changes for them in xivo-provd).
sdk::HttpResponse Provd::rest_plugin_reload(const sdk::HttpRequest& r) {
  auto id = id_from(r.body);
  auto v = vendor(id);
  if (!v) return sdk::HttpResponse::error(404, {"plugin " + id + " is not loaded"});
  invalidate_all();
  return sdk::HttpResponse::empty(204);
}

sdk::HttpResponse Provd::rest_plugin_info(const sdk::HttpRequest& r) {
  auto v = vendor(r.params.at("id"));
  if (!v) return sdk::HttpResponse::error(404, {"plugin " + r.params.at("id") + " is not loaded"});
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("plugin_info");
  w.StartObject();
  w.Key("vendor");
  w.String(std::string(v->vendor()).c_str());
  w.Key("version");
  w.String(std::string(v->version()).c_str());
  w.Key("capabilities");
  w.StartObject();
  for (auto& m : v->models()) {
    w.Key((std::string(v->vendor()) + ", " + m.name).c_str());
    w.StartObject();
    w.Key("sip.lines");
    w.Int(m.lines);
    w.Key("function_keys");
    w.Int(m.function_keys);
    w.EndObject();
  }
  w.EndObject();
  w.EndObject();
  w.EndObject();
  return reply(200, buf.GetString());
}

sdk::HttpResponse Provd::rest_plugin_install(const sdk::HttpRequest& r, const std::string& action) {
  auto id = id_from(r.body);
  // "provisioning.yealink" -> provisioning_yealink.so (+ its templates folder, if any)
  std::string so = id;
  std::replace(so.begin(), so.end(), '.', '_');
  if (id.empty() || so.find('/') != std::string::npos || so.find("..") != std::string::npos)
    return sdk::HttpResponse::error(400, {"body must be {\"id\": \"provisioning.<vendor>\"}"});
  if (settings_.plugin_dir.empty() || (action != "uninstall" && settings_.plugin_repository.empty()))
    return sdk::HttpResponse::error(
        503, {"plugin installation is disabled: set pg_mgr.repository and pg_mgr.plugin_dir in "
              "conf.d/60-provisioning.conf"});
  std::error_code ec;
  auto target = settings_.plugin_dir / (so + ".so");
  if (action == "uninstall") {
    if (!fs::remove(target, ec)) return sdk::HttpResponse::error(404, {"plugin " + id + " is not installed"});
    host_.log().info("provd: uninstalled " + id + "; custom templates under " +
                     templates_.root().string() + " are kept; restart dialtoned to unload it");
    return sdk::HttpResponse::empty(204);
  }
  auto source = settings_.plugin_repository / (so + ".so");
  if (!fs::exists(source, ec))
    return sdk::HttpResponse::error(404, {"plugin " + id + " is not in the repository " +
                                          settings_.plugin_repository.string()});
  if (action == "install" && fs::exists(target, ec))
    return sdk::HttpResponse::error(409, {"plugin " + id + " is already installed; use upgrade"});
  fs::create_directories(settings_.plugin_dir, ec);
  fs::copy_file(source, target, fs::copy_options::overwrite_existing, ec);
  if (ec) return sdk::HttpResponse::error(500, {"cannot copy " + source.string() + ": " + ec.message()});
  host_.log().info("provd: " + action + " of " + id + " done; restart dialtoned to load it");
  // xivo-provd answers 201 with the operation to poll: the copy is already
  // done, so the operation is born successful.
  std::string op;
  {
    std::lock_guard lock(ops_mutex_);
    op = std::to_string(next_op_++);
    operations_[op] = R"({"status":"success"})";
    if (operations_.size() > 1000) operations_.erase(operations_.begin());
  }
  auto resp = reply(201, "{}");
  resp.headers.emplace_back("Location", "/provd/pg_mgr/install/" + action + "/" + op);
  return resp;
}

sdk::HttpResponse Provd::rest_configure_list(const sdk::HttpRequest&) {
  std::lock_guard lock(mutex_);
  std::vector<sdk::json::Value> params;
  const std::pair<const char*, const char*> known[] = {
      {"NAT", "1 if all devices are behind NAT (one device per address otherwise)"},
      {"locale", "default locale of the devices"},
      {"plugin_server", "the plugin repository"},
      {"sip_proxy", "default SIP proxy of the devices"}};
  for (auto& [k, desc] : known) {
    auto it = params_.find(k);
    std::string v = it != params_.end() ? it->second
                    : std::string(k) == "NAT" ? (settings_.nat ? "1" : "0")
                    : std::string(k) == "locale" ? settings_.locale
                    : std::string(k) == "sip_proxy" ? settings_.sip_proxy
                                                    : settings_.plugin_repository.string();
    // xivo-provd-client's configure_service.infos() pops each param's links.
    std::string href = std::string("/provd/configure/") + k;
    params.emplace_back(sdk::json::Raw{sdk::json::object(
        {{"id", k}, {"description", desc}, {"value", v}, {"links", links_json("srv.configure.param", href)}})});
  }
  return reply(200, sdk::json::object({{"params", sdk::json::Raw{sdk::json::array(params)}}}));
}

sdk::HttpResponse Provd::rest_configure_get(const sdk::HttpRequest& r) {
  auto k = r.params.at("param");
  std::lock_guard lock(mutex_);
  std::string v;
  if (auto it = params_.find(k); it != params_.end()) v = it->second;
  else if (k == "NAT") v = settings_.nat ? "1" : "0";
  else if (k == "locale") v = settings_.locale;
  else if (k == "sip_proxy") v = settings_.sip_proxy;
  else if (k == "plugin_server") v = settings_.plugin_repository.string();
  else return sdk::HttpResponse::error(404, {"parameter " + k + " does not exist"});
  return reply(200, sdk::json::object({{"param", sdk::json::Raw{sdk::json::object({{"value", v}})}}}));
}

sdk::HttpResponse Provd::rest_configure_put(const sdk::HttpRequest& r) {
  auto k = r.params.at("param");
  if (k != "NAT" && k != "locale" && k != "plugin_server" && k != "sip_proxy")
    return sdk::HttpResponse::error(404, {"parameter " + k + " does not exist"});
  rapidjson::Document doc;
  doc.Parse(r.body.c_str());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("param") || !doc["param"].IsObject())
    return sdk::HttpResponse::error(400, {"body must be {\"param\": {\"value\": ...}}"});
  auto v = str_of(doc["param"], "value");
  if (k == "NAT" && v != "0" && v != "1")
    return sdk::HttpResponse::error(400, {"NAT must be 0 or 1"});
  auto s = store_.exec(
      "INSERT INTO provd_param (key, value) VALUES ($1,$2) ON CONFLICT (key) DO UPDATE SET value=$2", {k, v});
  if (!s) return fail(s.error());
  {
    std::lock_guard lock(mutex_);
    params_[k] = v;
    if (k == "NAT") settings_.nat = v == "1";
    if (k == "locale") settings_.locale = v;
    if (k == "sip_proxy") settings_.sip_proxy = v;
    if (k == "plugin_server") settings_.plugin_repository = v;
  }
  invalidate_all();
  return sdk::HttpResponse::empty(204);
}

}  // namespace dialtone::plugins::provisioning
