// POST /provd/dev_mgr/dhcpinfo (seed 12.6): the DHCP server's lease events
// create devices before they ask for a file and keep their addresses current.
#include <arpa/inet.h>

#include <cctype>

#include "plugins/provisioning/provd/json_util.h"
#include "plugins/provisioning/provd/provd.h"

namespace dialtone::plugins::provisioning {

namespace {

// "060" + "59.65.61" -> {60, "Yea"}; nullopt when malformed.
std::optional<std::pair<int, std::string>> parse_option(const std::string& s) {
  if (s.size() < 3 || !std::isdigit(static_cast<unsigned char>(s[0])) ||
      !std::isdigit(static_cast<unsigned char>(s[1])) || !std::isdigit(static_cast<unsigned char>(s[2])))
    return std::nullopt;
  int code = std::stoi(s.substr(0, 3));
  if (code > 255) return std::nullopt;
  std::string bytes;
  std::size_t i = 3;
  while (i < s.size()) {
    auto dot = s.find('.', i);
    auto part = s.substr(i, dot == std::string::npos ? std::string::npos : dot - i);
    if (part.empty() || part.size() > 2) return std::nullopt;
    for (char c : part)
      if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
    bytes += static_cast<char>(std::stoi(part, nullptr, 16));
    if (dot == std::string::npos) break;
    i = dot + 1;
    if (i == s.size()) return std::nullopt;  // trailing '.'
  }
  return std::pair{code, bytes};
}

}  // namespace

sdk::Status Provd::dhcp_info(const DhcpInfo& in) {
  if (in.op != "commit" && in.op != "expiry" && in.op != "release")
    return sdk::Error::invalid("dhcp_info op '" + in.op + "' must be commit, expiry or release");
  in_addr addr{};
  if (inet_pton(AF_INET, in.ip.c_str(), &addr) != 1)
    return sdk::Error::invalid("dhcp_info ip '" + in.ip + "' must be an IPv4 address such as 10.0.0.7");
  auto mac = sdk::normalize_mac(in.mac);
  if (mac.empty())
    return sdk::Error::invalid("dhcp_info mac '" + in.mac + "' must be a MAC address such as 00:11:22:33:44:55");
  std::string vendor_class, user_class;
  for (auto& o : in.options) {
    auto p = parse_option(o);
    if (!p)
      return sdk::Error::invalid("dhcp_info option '" + o +
                                 "' must be the option code in 3 digits then hex bytes joined by '.', "
                                 "e.g. 060 followed by 79.65.61.6c.69.6e.6b");
    if (p->first == 60) vendor_class = p->second;
    if (p->first == 77) user_class = p->second;
  }
  bool nat;
  std::optional<Device> dev;
  {
    std::lock_guard lock(mutex_);
    nat = settings_.nat;
    if (auto it = by_mac_.find(mac); it != by_mac_.end())
      if (auto d = devices_.find(it->second); d != devices_.end()) dev = d->second;
  }

  if (in.op != "commit") {
    // The lease ended: the address may go to another phone.
    if (!dev || dev->ip != in.ip) return {};
    dev->ip.clear();
    return update_device(*dev);
  }

  std::string vendor_id;
  std::optional<sdk::DeviceInfo> info;
  // Option 60 first; some phones identify themselves only in option 77.
  for (auto* cls : {&vendor_class, &user_class}) {
    if (cls->empty()) continue;
    sdk::DeviceRequest r{sdk::DeviceRequest::Protocol::dhcp, "", "", in.ip, *cls};
    info = detect(r, &vendor_id);
    if (info) break;
  }

  if (!nat) {
    // One device per address: a lease given to this MAC takes it from another.
    std::optional<Device> holder;
    {
      std::lock_guard lock(mutex_);
      if (auto it = by_ip_.find(in.ip); it != by_ip_.end() && (!dev || it->second != dev->id))
        if (auto d = devices_.find(it->second); d != devices_.end()) holder = d->second;
    }
    if (holder) {
      holder->ip.clear();
      if (auto s = update_device(*holder); !s) return s;
    }
  }

  if (!dev) {
    auto id = add_device(discovered_device(mac, in.ip, nat, info, vendor_id));
    if (!id) return id.error();
    host_.log().info("provd: device " + *id + " added from DHCP " + in.ip + " " + mac +
                     (info ? " (" + info->vendor + ")" : std::string()));
    return {};
  }
  auto d = *dev;
  if (!nat) d.ip = in.ip;
  if (info && d.plugin.empty()) {
    d.vendor = info->vendor;
    d.plugin = vendor_id;
    if (!info->model.empty()) d.model = info->model;
  }
  if (d.ip == dev->ip && d.plugin == dev->plugin) return {};
  return update_device(d);
}

sdk::HttpResponse Provd::rest_dhcpinfo(const sdk::HttpRequest& r) {
  rapidjson::Document doc;
  doc.Parse(r.body.c_str());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("dhcp_info") || !doc["dhcp_info"].IsObject())
    return sdk::HttpResponse::error(
        400, {"body must be {\"dhcp_info\": {\"op\": \"commit\", \"ip\": ..., \"mac\": ..., \"options\": [...]}}"});
  const auto& v = doc["dhcp_info"];
  DhcpInfo info;
  auto text = [&](const char* k) {
    auto it = v.FindMember(k);
    return it != v.MemberEnd() && it->value.IsString() ? std::string(it->value.GetString()) : std::string();
  };
  info.op = text("op");
  info.ip = text("ip");
  info.mac = text("mac");
  if (auto it = v.FindMember("options"); it != v.MemberEnd()) {
    if (!it->value.IsArray())
      return sdk::HttpResponse::error(400, {"dhcp_info options must be a list of strings"});
    for (auto& o : it->value.GetArray()) {
      if (!o.IsString()) return sdk::HttpResponse::error(400, {"dhcp_info options must be a list of strings"});
      info.options.emplace_back(o.GetString());
    }
  }
  if (auto s = dhcp_info(info); !s) {
    int status = s.error().code == sdk::ErrorCode::invalid ? 400 : 500;
    return sdk::HttpResponse::error(status, {s.error().message});
  }
  return sdk::HttpResponse::empty(204);
}

}  // namespace dialtone::plugins::provisioning
