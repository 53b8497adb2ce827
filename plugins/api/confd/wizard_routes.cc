// XiVO's wizard (/1.1/wizard, seed 3.1.3): on a server with no context yet,
// POST creates the three contexts XiVO's wizard creates (default for
// internal numbers, from-extern for incoming calls, to-extern for outgoing
// ones, default including to-extern) and gives the auth account `root` the
// administrator password, in one transaction. Afterwards, or once any context
// exists, the server is configured: GET says so and POST answers 403.
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <unistd.h>

#include <dialtone/auth.h>
#include <dialtone/services.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "plugins/api/confd/confd_api.h"

namespace dialtone::plugins::api::confd {
namespace {

using sdk::HttpRequest;
using sdk::HttpResponse;

const char* const kConfigured =
    "SELECT (EXISTS (SELECT 1 FROM confd_settings WHERE name = 'wizard') OR EXISTS (SELECT 1 FROM confd_contexts)) "
    "AS configured";

std::string field_error(const std::string& field, const std::string& message) {
  return "Input Error - field '" + field + "': " + message;
}

// A string member matching `pattern`, or `fallback` when absent (required: an error).
std::string text(const rapidjson::Value& obj, const char* key, const std::string& path, const std::regex& pattern,
                 const char* rule, bool required, const std::string& fallback, std::vector<std::string>& errors) {
  if (!obj.HasMember(key) || obj[key].IsNull()) {
    if (required) errors.push_back(field_error(path, "Missing data for required field."));
    return fallback;
  }
  if (!obj[key].IsString()) {
    errors.push_back(field_error(path, "Not a valid string."));
    return fallback;
  }
  std::string v = obj[key].GetString();
  if (!std::regex_match(v, pattern)) errors.push_back(field_error(path, rule));
  return v;
}

const rapidjson::Value* object(const rapidjson::Value& obj, const char* key, bool required,
                               std::vector<std::string>& errors) {
  if (!obj.HasMember(key) || obj[key].IsNull()) {
    if (required) errors.push_back(field_error(key, "Missing data for required field."));
    return nullptr;
  }
  if (!obj[key].IsObject()) {
    errors.push_back(field_error(key, "Not a valid object."));
    return nullptr;
  }
  return &obj[key];
}

// The body, checked as XiVO's wizard schema checks it; every problem listed.
struct Wizard {
  std::string admin_password, language, entity_name, timezone;
  std::string hostname, domain, interface, ip_address, netmask, gateway;
  std::vector<std::string> nameservers;
  std::string internal_name, internal_start, internal_end;
  std::string incall_name, incall_start, incall_end;
  int did_length = 0;
  std::string outcall_name;
};

Wizard parse_wizard(const rapidjson::Document& d) {
  if (!d.IsObject()) throw ApiError{400, {"Input Error - body must be a JSON object"}};
  static const std::regex password(R"([a-zA-Z0-9/:;<=>?@\[\\\]^_`{|}\-]{4,64})");
  static const std::regex ip(R"(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})");
  static const std::regex host("[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?");
  static const std::regex domain("(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\\.)*[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?");
  static const std::regex iface(R"([\w\-:.]{1,64})");
  static const std::regex any(".{0,128}");
  static const std::regex number("[0-9]{1,40}");
  static const std::regex name(".{1,128}");
  std::vector<std::string> e;
  Wizard w;
  w.admin_password = text(d, "admin_password", "admin_password", password,
                          "4 to 64 letters, digits or /:;<=>?@[\\]^_`{|}-", true, "", e);
  if (!d.HasMember("license") || !d["license"].IsBool() || !d["license"].GetBool())
    e.push_back(field_error("license", "The GPLv3 license must be accepted (true)."));
  static const std::regex language("en_US|fr_FR|de_DE|es_ES|fr_CA|it_IT|nl_NL");
  w.language = text(d, "language", "language", language, "Must be one of: de_DE, en_US, es_ES, fr_FR, fr_CA, it_IT, nl_NL.",
                    false, "en_US", e);
  static const std::regex entity(".{3,64}");
  w.entity_name = text(d, "entity_name", "entity_name", entity, "Length must be between 3 and 64.", false, "xivo", e);
  w.timezone = text(d, "timezone", "timezone", any, "Longer than maximum length 128.", true, "", e);
  if (auto* n = object(d, "network", true, e)) {
    w.hostname = text(*n, "hostname", "network.hostname", host, "Must be a host name (a-z, 0-9, -).", true, "", e);
    w.domain = text(*n, "domain", "network.domain", domain, "Must be a domain name.", true, "", e);
    w.interface = text(*n, "interface", "network.interface", iface, "Must be an interface name.", true, "", e);
    w.ip_address = text(*n, "ip_address", "network.ip_address", ip, "Must be an IPv4 address.", true, "", e);
    w.netmask = text(*n, "netmask", "network.netmask", ip, "Must be an IPv4 netmask.", true, "", e);
    w.gateway = text(*n, "gateway", "network.gateway", ip, "Must be an IPv4 address.", true, "", e);
    if (!n->HasMember("nameservers") || !(*n)["nameservers"].IsArray()) {
      e.push_back(field_error("network.nameservers", "Missing data for required field (a list of IPv4 addresses)."));
    } else {
      for (auto& s : (*n)["nameservers"].GetArray())
        if (s.IsString() && std::regex_match(s.GetString(), ip)) w.nameservers.emplace_back(s.GetString());
        else e.push_back(field_error("network.nameservers", "Each item must be an IPv4 address."));
      if (w.nameservers.size() > 3) e.push_back(field_error("network.nameservers", "At most 3 name servers."));
    }
  }
  if (auto* c = object(d, "context_internal", true, e)) {
    w.internal_name = text(*c, "display_name", "context_internal.display_name", name, "Length must be 1 to 128.", false,
                           "Default", e);
    w.internal_start = text(*c, "number_start", "context_internal.number_start", number, "Must be digits.", true, "", e);
    w.internal_end = text(*c, "number_end", "context_internal.number_end", number, "Must be digits.", true, "", e);
  }
  w.incall_name = "Incalls";
  if (auto* c = object(d, "context_incall", false, e)) {
    w.incall_name = text(*c, "display_name", "context_incall.display_name", name, "Length must be 1 to 128.", false,
                         "Incalls", e);
    w.incall_start = text(*c, "number_start", "context_incall.number_start", number, "Must be digits.", false, "", e);
    w.incall_end = text(*c, "number_end", "context_incall.number_end", number, "Must be digits.", false, "", e);
    if (!w.incall_start.empty() || !w.incall_end.empty()) {
      if (!c->HasMember("did_length") || !(*c)["did_length"].IsInt() || (*c)["did_length"].GetInt() < 1 ||
          (*c)["did_length"].GetInt() > 40)
        e.push_back(field_error("context_incall.did_length", "Required with number_start and number_end (1 to 40)."));
      else
        w.did_length = (*c)["did_length"].GetInt();
    }
  }
  w.outcall_name = "Outcalls";
  if (auto* c = object(d, "context_outcall", false, e))
    w.outcall_name = text(*c, "display_name", "context_outcall.display_name", name, "Length must be 1 to 128.", false,
                          "Outcalls", e);
  if (!e.empty()) throw ApiError{400, e};
  return w;
}

std::string read_first_line(const char* path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// What /wizard/discover reads off the host, as XiVO's does: IPv4
// interfaces but lo, default gateways, name servers, time zone.
std::string discover_json() {
  rapidjson::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  std::string h = host, domain;
  if (auto dot = h.find('.'); dot != std::string::npos) {
    domain = h.substr(dot + 1);
    h = h.substr(0, dot);
  }
  d.AddMember("hostname", rapidjson::Value(h.c_str(), a), a);
  d.AddMember("domain", rapidjson::Value(domain.c_str(), a), a);
  std::string tz = read_first_line("/etc/timezone");
  if (tz.empty()) {
    std::error_code ec;
    auto target = std::filesystem::read_symlink("/etc/localtime", ec).string();
    if (auto at = target.find("zoneinfo/"); at != std::string::npos) tz = target.substr(at + 9);
  }
  d.AddMember("timezone", rapidjson::Value(tz.c_str(), a), a);

  rapidjson::Value interfaces(rapidjson::kArrayType);
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) == 0) {
    for (auto* i = list; i; i = i->ifa_next) {
      if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || (i->ifa_flags & IFF_LOOPBACK)) continue;
      char addr[INET_ADDRSTRLEN] = {0}, mask[INET_ADDRSTRLEN] = {0};
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, addr, sizeof addr);
      if (i->ifa_netmask)
        inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_netmask)->sin_addr, mask, sizeof mask);
      rapidjson::Value o(rapidjson::kObjectType);
      o.AddMember("interface", rapidjson::Value(i->ifa_name, a), a);
      o.AddMember("ip_address", rapidjson::Value(addr, a), a);
      o.AddMember("netmask", rapidjson::Value(mask, a), a);
      interfaces.PushBack(o, a);
    }
    freeifaddrs(list);
  }
  d.AddMember("interfaces", interfaces, a);

  // /proc/net/route: Iface Destination Gateway ... (hex, little-endian).
  rapidjson::Value gateways(rapidjson::kArrayType);
  std::ifstream routes("/proc/net/route");
  std::string line;
  std::getline(routes, line);
  while (std::getline(routes, line)) {
    std::istringstream f(line);
    std::string name, dest, gw;
    if (!(f >> name >> dest >> gw) || dest != "00000000") continue;
    in_addr in{};
    in.s_addr = static_cast<in_addr_t>(std::stoul(gw, nullptr, 16));
    char text_gw[INET_ADDRSTRLEN] = {0};
    inet_ntop(AF_INET, &in, text_gw, sizeof text_gw);
    rapidjson::Value o(rapidjson::kObjectType);
    o.AddMember("gateway", rapidjson::Value(text_gw, a), a);
    o.AddMember("interface", rapidjson::Value(name.c_str(), a), a);
    gateways.PushBack(o, a);
  }
  d.AddMember("gateways", gateways, a);

  rapidjson::Value nameservers(rapidjson::kArrayType);
  std::ifstream resolv("/etc/resolv.conf");
  static const std::regex ns(R"(^nameserver\s+(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}).*)");
  while (std::getline(resolv, line)) {
    std::smatch m;
    if (std::regex_match(line, m, ns) && nameservers.Size() < 3) nameservers.PushBack(rapidjson::Value(m[1].str().c_str(), a), a);
  }
  d.AddMember("nameservers", nameservers, a);
  return to_json(d);
}

std::string ranges(const std::string& start, const std::string& end, int did_length) {
  if (start.empty() && end.empty()) return "[]";
  rapidjson::Document d(rapidjson::kArrayType);
  auto& a = d.GetAllocator();
  rapidjson::Value r(rapidjson::kObjectType);
  r.AddMember("start", rapidjson::Value(start.c_str(), a), a);
  r.AddMember("end", rapidjson::Value((end.empty() ? start : end).c_str(), a), a);
  if (did_length > 0) r.AddMember("did_length", did_length, a);
  d.PushBack(r, a);
  return to_json(d);
}

}  // namespace

void ConfdApi::wizard_routes(const AddRoute& add) {
  auto configured = [this] { return read(engine_->store(), kConfigured).get(0, "configured") == "t"; };
  auto already = [] {
    return ApiError{403, {"Resource Error - XiVO is already configured (the wizard runs on a server without any "
                          "context; this one has its configuration)"}};
  };

  add("GET", "/wizard", "confd.wizard.read", "Whether the server is configured (wizard passed or contexts exist)",
      [configured](const HttpRequest&) {
        return HttpResponse::json(200, sdk::json::object({{"configured", configured()}}));
      });

  add("GET", "/wizard/discover", "confd.wizard.discover.read", "Host name, interfaces, gateways, name servers",
      [configured, already](const HttpRequest&) {
        if (configured()) throw already();
        return HttpResponse::json(200, discover_json());
      });

  add("POST", "/wizard", "confd.wizard.create",
      "Initial configuration: the contexts default, from-extern and to-extern, and the root account's password",
      [this, configured, already](const HttpRequest& req) {
        if (configured()) throw already();
        auto doc = parse_body(req.body);
        Wizard w = parse_wizard(doc);
        auto accounts = host_.services().find<sdk::Accounts>();
        if (!accounts)
          throw ApiError{503, {"Resource Error - the kernel's account service (kernel.auth.accounts) is not running"}};
        const Resource* contexts = nullptr;
        for (auto& r : resources_)
          if (r->path == "contexts") contexts = r.get();
        return engine_->write([&](sdk::Transaction& tx) {
          // Serialises two wizards: the second sees the first's contexts.
          run(tx, "LOCK TABLE confd_contexts IN SHARE ROW EXCLUSIVE MODE");
          if (run(tx, kConfigured).get(0, "configured") == "t") throw already();
          auto make = [&](const char* name, const std::string& label, const char* type, const char* range_field,
                          const std::string& range_json) {
            rapidjson::Document c(rapidjson::kObjectType);
            auto& a = c.GetAllocator();
            c.AddMember("name", rapidjson::StringRef(name), a);
            c.AddMember("label", rapidjson::Value(label.c_str(), a), a);
            c.AddMember("type", rapidjson::StringRef(type), a);
            c.AddMember("description", "Wizard", a);
            rapidjson::Document rj;
            rj.Parse(range_json.c_str());
            c.AddMember(rapidjson::StringRef(range_field), rapidjson::Value(rj, a), a);
            if (auto errs = Engine::validate(*contexts, c, true); !errs.empty()) {
              for (auto& m : errs) m = std::string("context ") + name + ": " + m;
              throw ApiError{400, errs};
            }
            long id = engine_->upsert(tx, *contexts, c, -1);
            engine_->notify(tx, contexts->event, "created", id, engine_->id_json(tx, *contexts, id));
            return id;
          };
          long internal = make("default", w.internal_name, "internal", "user_ranges",
                               ranges(w.internal_start, w.internal_end, 0));
          make("from-extern", w.incall_name, "incall", "incall_ranges", ranges(w.incall_start, w.incall_end, w.did_length));
          long outcall = make("to-extern", w.outcall_name, "outcall", "user_ranges", "[]");
          run(tx, "INSERT INTO confd_context_includes (context_id, included_id, position) VALUES ($1, $2, 1)",
              {std::to_string(internal), std::to_string(outcall)});
          engine_->notify(tx, "context_contexts", "edited", internal,
                          sdk::json::object({{"context_id", internal}}));

          rapidjson::Document out(rapidjson::kObjectType);
          auto& a = out.GetAllocator();
          auto str = [&](const char* k, const std::string& v) {
            out.AddMember(rapidjson::StringRef(k), rapidjson::Value(v.c_str(), a), a);
          };
          str("xivo_uuid", run(tx, "SELECT value #>> '{}' AS uuid FROM confd_settings WHERE name = 'uuid'").get(0, "uuid"));
          str("admin_username", "root");
          out.AddMember("license", true, a);
          str("language", w.language);
          str("entity_name", w.entity_name);
          str("timezone", w.timezone);
          rapidjson::Value net(rapidjson::kObjectType);
          auto nstr = [&](const char* k, const std::string& v) {
            net.AddMember(rapidjson::StringRef(k), rapidjson::Value(v.c_str(), a), a);
          };
          nstr("hostname", w.hostname);
          nstr("domain", w.domain);
          nstr("interface", w.interface);
          nstr("ip_address", w.ip_address);
          nstr("netmask", w.netmask);
          nstr("gateway", w.gateway);
          rapidjson::Value ns(rapidjson::kArrayType);
          for (auto& s : w.nameservers) ns.PushBack(rapidjson::Value(s.c_str(), a), a);
          net.AddMember("nameservers", ns, a);
          out.AddMember("network", net, a);
          auto ctx = [&](const char* k, const std::string& label, const std::string& start, const std::string& end,
                         int did) {
            rapidjson::Value o(rapidjson::kObjectType);
            o.AddMember("display_name", rapidjson::Value(label.c_str(), a), a);
            if (!start.empty()) o.AddMember("number_start", rapidjson::Value(start.c_str(), a), a);
            if (!end.empty()) o.AddMember("number_end", rapidjson::Value(end.c_str(), a), a);
            if (did > 0) o.AddMember("did_length", did, a);
            out.AddMember(rapidjson::StringRef(k), o, a);
          };
          ctx("context_internal", w.internal_name, w.internal_start, w.internal_end, 0);
          ctx("context_incall", w.incall_name, w.incall_start, w.incall_end, w.did_length);
          ctx("context_outcall", w.outcall_name, "", "", 0);
          std::string body = to_json(out);
          run(tx, "INSERT INTO confd_settings VALUES ('wizard', $1::jsonb)", {body});
          // Last, so a refused account leaves no context behind (the transaction rolls back).
          auto root = accounts->set_account("root", w.admin_password, {"#"});
          if (!root) throw ApiError{503, {"Resource Error - cannot set the root account: " + root.error().message}};
          engine_->notify(tx, "wizard", "created", 0, body);
          return HttpResponse::json(201, body);
        });
      });
}

}  // namespace dialtone::plugins::api::confd
