// xivo-confd's /1.1/devices on the "confd" listener: provd's devices in
// confd's shape, so a script written for XiVO (xivo-confd-client's devices,
// lines(l).add_device) manages phones where XiVO's confd proxied provd.
// The line side (PUT /1.1/lines/{id}/devices/{device_id}) is api.confd's.
#include <algorithm>

#include <dialtone/text.h>

#include <dialtone/config.h>
#include <dialtone/services.h>

#include "plugins/provisioning/provd/json_util.h"
#include "plugins/provisioning/provd/provd.h"

namespace dialtone::plugins::provisioning {

extern const char* const kConfdDevicesSpec;  // confd_devices.yml, embedded at build time

namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

// autoprov: waiting for a provisioning code; configured: a line's config;
// not_configured: neither (a device made by hand, no line yet).
const char* status_of(const Device& d) {
  if (d.config == "autoprov") return "autoprov";
  return d.configured ? "configured" : "not_configured";
}

void write_device(Writer& w, const Device& d, const std::string& host) {
  auto s = [&](const char* k, const std::string& v) {
    w.Key(k);
    w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
  };
  w.StartObject();
  s("id", d.id);
  s("mac", d.mac);
  s("ip", d.ip);
  s("sn", "");
  s("vendor", d.vendor);
  s("model", d.model);
  s("version", d.version);
  s("plugin", d.plugin);
  s("description", d.description);
  s("status", status_of(d));
  s("template_id", "");
  w.Key("options");
  w.StartObject();
  w.EndObject();
  w.Key("links");
  w.StartArray();
  w.StartObject();
  s("rel", "devices");
  s("href", host + "/1.1/devices/" + d.id);
  w.EndObject();
  w.EndArray();
  w.EndObject();
}

std::string base_of(const sdk::HttpRequest& r) {
  auto host = r.header("host");
  if (host.empty()) return {};
  auto proto = r.header("x-forwarded-proto", "http");
  return proto + "://" + host;
}

std::string text(const std::string& field, const Device& d) {
  if (field == "id") return d.id;
  if (field == "mac") return d.mac;
  if (field == "ip") return d.ip;
  if (field == "vendor") return d.vendor;
  if (field == "model") return d.model;
  if (field == "version") return d.version;
  if (field == "plugin") return d.plugin;
  if (field == "description") return d.description;
  if (field == "status") return status_of(d);
  return {};
}

// The members of a confd device body present in `v`, over `d`; unknown
// members are ignored, as xivo-confd ignores them.
sdk::Status read_into(const rapidjson::Value& v, Device& d) {
  if (!v.IsObject()) return sdk::Error::invalid("the body must be a JSON object");
  for (const char* k : {"mac", "ip", "vendor", "model", "version", "plugin", "description"}) {
    auto it = v.FindMember(k);
    if (it == v.MemberEnd() || it->value.IsNull()) continue;
    if (!it->value.IsString()) return sdk::Error::invalid(std::string("Input Error - field '") + k + "': Not a valid string.");
    std::string value = it->value.GetString();
    if (std::string(k) == "mac") d.mac = value;
    else if (std::string(k) == "ip") d.ip = value;
    else if (std::string(k) == "vendor") d.vendor = value;
    else if (std::string(k) == "model") d.model = value;
    else if (std::string(k) == "version") d.version = value;
    else if (std::string(k) == "plugin") d.plugin = value;
    else d.description = value;
  }
  return {};
}

sdk::HttpResponse error(const sdk::Error& e) {
  int status = e.code == sdk::ErrorCode::not_found ? 404 : e.code == sdk::ErrorCode::unavailable ? 503 : 400;
  return sdk::HttpResponse::error(status, {e.message});
}

}  // namespace

void Provd::mount_confd_device_routes() {
  auto not_found = [](const std::string& id) {
    return sdk::HttpResponse::error(404, {"Resource Not Found - Device was not found ('id': '" + id + "')"});
  };
  std::vector<sdk::Route> routes;
  sdk::Route list{"GET", "/1.1/devices", "confd.devices.read", sdk::RouteAuth::token, "List devices (provd's)",
                  {"mac", "ip", "vendor", "model", "version", "plugin", "description", "status", "id"}, {}};
  list.handler = [this](const sdk::HttpRequest& r) {
    auto all = devices();
    const auto& q = r.list ? *r.list : sdk::ListQuery{};
    std::vector<Device> kept;
    for (auto& d : all) {
      bool ok = true;
      for (auto& [k, v] : q.filters)
        if (text(k, d) != v && !(k == "mac" && sdk::normalize_mac(v) == d.mac)) ok = false;
      if (ok && !q.search.empty()) {
        auto needle = sdk::text::to_lower(q.search);
        bool hit = false;
        for (auto* f : {"mac", "ip", "vendor", "model", "plugin", "description"}) {
          if (sdk::text::to_lower(text(f, d)).find(needle) != std::string::npos) hit = true;
        }
        ok = hit;
      }
      if (ok) kept.push_back(d);
    }
    std::string order = q.order.empty() ? "mac" : q.order;
    std::stable_sort(kept.begin(), kept.end(), [&](const Device& a, const Device& b) {
      return q.descending ? text(order, a) > text(order, b) : text(order, a) < text(order, b);
    });
    rapidjson::StringBuffer buf;
    Writer w(buf);
    w.StartObject();
    w.Key("total");
    w.Uint64(kept.size());
    w.Key("items");
    w.StartArray();
    long n = 0;
    for (std::size_t i = static_cast<std::size_t>(q.offset); i < kept.size(); ++i) {
      if (q.limit && n >= *q.limit) break;
      write_device(w, kept[i], base_of(r));
      ++n;
    }
    w.EndArray();
    w.EndObject();
    return sdk::HttpResponse::json(200, buf.GetString());
  };
  routes.push_back(std::move(list));

  routes.push_back({"POST", "/1.1/devices", "confd.devices.create", sdk::RouteAuth::token, "Create a device", {},
                    [this](const sdk::HttpRequest& r) {
                      rapidjson::Document doc;
                      doc.Parse(r.body.c_str());
                      Device d;
                      d.added = "manual";
                      // Waiting in autoprov until a line takes it, as a phone found on the network.
                      d.config = config("autoprov") ? "autoprov" : "";
                      if (auto s = read_into(doc, d); !s) return error(s.error());
                      auto id = add_device(d);
                      if (!id) {
                        if (id.error().code == sdk::ErrorCode::conflict)
                          return sdk::HttpResponse::error(400, {"Resource Error - Device already exists (" + id.error().message + ")"});
                        return error(id.error());
                      }
                      auto made = device(*id);
                      rapidjson::StringBuffer buf;
                      Writer w(buf);
                      write_device(w, *made, base_of(r));
                      return sdk::HttpResponse::json(201, buf.GetString());
                    }});
  routes.push_back({"GET", "/1.1/devices/{id}", "confd.devices.{id}.read", sdk::RouteAuth::token, "Read a device", {},
                    [this, not_found](const sdk::HttpRequest& r) {
                      auto d = device(r.params.at("id"));
                      if (!d) return not_found(r.params.at("id"));
                      rapidjson::StringBuffer buf;
                      Writer w(buf);
                      write_device(w, *d, base_of(r));
                      return sdk::HttpResponse::json(200, buf.GetString());
                    }});
  routes.push_back({"PUT", "/1.1/devices/{id}", "confd.devices.{id}.update", sdk::RouteAuth::token,
                    "Update a device (the fields given; status, options and links are read-only)", {},
                    [this, not_found](const sdk::HttpRequest& r) {
                      auto d = device(r.params.at("id"));
                      if (!d) return not_found(r.params.at("id"));
                      rapidjson::Document doc;
                      doc.Parse(r.body.c_str());
                      Device n = *d;
                      if (auto s = read_into(doc, n); !s) return error(s.error());
                      if (auto s = update_device(n); !s) return error(s.error());
                      return sdk::HttpResponse::empty(204);
                    }});
  routes.push_back({"DELETE", "/1.1/devices/{id}", "confd.devices.{id}.delete", sdk::RouteAuth::token, "Delete a device", {},
                    [this, not_found](const sdk::HttpRequest& r) {
                      if (!device(r.params.at("id"))) return not_found(r.params.at("id"));
                      if (auto s = remove_device(r.params.at("id")); !s) return error(s.error());
                      return sdk::HttpResponse::empty(204);
                    }});
  routes.push_back({"GET", "/1.1/devices/{id}/synchronize", "confd.devices.{id}.synchronize.read", sdk::RouteAuth::token,
                    "Make the phone fetch its files again (check-sync); answered before the phone does", {},
                    [this, not_found](const sdk::HttpRequest& r) {
                      const auto id = r.params.at("id");
                      if (!device(id)) return not_found(id);
                      host_.executor().post([this, id] {
                        synchronize(id, [this, id](sdk::Status s) {
                          if (!s) host_.log().warn("provd: synchronize of device " + id + ": " + s.error().message);
                        });
                      });
                      return sdk::HttpResponse::empty(204);
                    }});
  routes.push_back({"GET", "/1.1/devices/{id}/autoprov", "confd.devices.{id}.autoprov.read", sdk::RouteAuth::token,
                    "Send the device back to autoprov", {},
                    [this, not_found](const sdk::HttpRequest& r) {
                      const auto id = r.params.at("id");
                      if (!device(id)) return not_found(id);
                      if (auto s = reset_to_autoprov(id); !s) return error(s.error());
                      return sdk::HttpResponse::empty(204);
                    }});
  routes.push_back({"GET", "/1.1/devices/{id}/lines", "confd.devices.{id}.lines.read", sdk::RouteAuth::token,
                    "The lines using the device", {},
                    [this, not_found](const sdk::HttpRequest& r) {
                      const auto id = r.params.at("id");
                      if (!device(id)) return not_found(id);
                      auto config = host_.services().find<sdk::ConfigService>();
                      auto snap = config ? config->snapshot() : nullptr;
                      rapidjson::StringBuffer buf;
                      Writer w(buf);
                      w.StartObject();
                      std::vector<std::int64_t> lines;
                      if (snap)
                        for (auto& [lid, l] : snap->lines)
                          if (l.device_id && *l.device_id == id) lines.push_back(lid);
                      w.Key("total");
                      w.Uint64(lines.size());
                      w.Key("items");
                      w.StartArray();
                      for (auto lid : lines) {
                        w.StartObject();
                        w.Key("line_id");
                        w.Int64(lid);
                        w.Key("device_id");
                        w.String(id.c_str());
                        w.EndObject();
                      }
                      w.EndArray();
                      w.EndObject();
                      return sdk::HttpResponse::json(200, buf.GetString());
                    }});
  routes.push_back({"GET", "/1.1/api/devices.yml", "", sdk::RouteAuth::none,
                    "OpenAPI description of /1.1/devices", {}, [](const sdk::HttpRequest&) {
                      return sdk::HttpResponse::text(200, kConfdDevicesSpec, "application/x-yaml");
                    }});
  for (auto& route : routes) {
    auto path = route.path;
    if (auto s = http_->mount("confd", std::move(route)); !s) {
      host_.log().warn("provd: " + path + " is not served on the confd listener: " + s.error().message);
      return;
    }
  }
}

}  // namespace dialtone::plugins::provisioning
