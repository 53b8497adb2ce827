#include "dialtone/provisioning/described_vendor.h"

#include <dialtone/text.h>

#include <cstdio>
#include <regex>

#include <dialtone/mustache.h>

#include "plugins/provisioning/common/vendor_util.h"

namespace dialtone::plugins::provisioning {
namespace {

std::string group(const std::smatch& m, int i) {
  if (i <= 0 || static_cast<std::size_t>(i) >= m.size() || !m[i].matched) return {};
  return m[i].str();
}

std::string without(std::string s, std::string_view drop) {
  if (drop.empty()) return s;
  std::string out;
  for (char c : s)
    if (drop.find(c) == std::string_view::npos) out += c;
  return out;
}

std::string lookup(const std::vector<std::pair<std::string, std::string>>& table,
                   std::string_view key, const std::string& fallback) {
  for (auto& [k, v] : table)
    if (k == key) return v;
  return fallback;
}

// "+1", "-5", "+5:30": the offset as most phones' menus write it.
std::string offset_hours(int m) {
  char buf[16];
  int a = m < 0 ? -m : m;
  if (a % 60)
    std::snprintf(buf, sizeof buf, "%c%d:%02d", m < 0 ? '-' : '+', a / 60, a % 60);
  else
    std::snprintf(buf, sizeof buf, "%c%d", m < 0 ? '-' : '+', a / 60);
  return buf;
}

// "http://host:8667" -> {"host", "8667"}; port 80 when absent.
std::pair<std::string, std::string> host_port(const std::string& url) {
  auto start = url.find("//");
  auto hp = url.substr(start == std::string::npos ? 0 : start + 2);
  hp = hp.substr(0, hp.find('/'));
  auto colon = hp.rfind(':');
  if (colon == std::string::npos) return {hp, "80"};
  return {hp.substr(0, colon), hp.substr(colon + 1)};
}

// Replaces {{name}} in a file path; false when a placeholder has no value
// (or is unknown), so the file is not produced for this device.
bool expand_path(const std::string& pattern,
                 const std::vector<std::pair<std::string, std::string>>& values, std::string& out) {
  out.clear();
  std::size_t i = 0;
  while (i < pattern.size()) {
    auto open = pattern.find("{{", i);
    if (open == std::string::npos) {
      out += pattern.substr(i);
      break;
    }
    auto close = pattern.find("}}", open + 2);
    if (close == std::string::npos) return false;
    out += pattern.substr(i, open - i);
    auto name = pattern.substr(open + 2, close - open - 2);
    auto value = lookup(values, name, "");
    if (value.empty()) return false;
    out += value;
    i = close + 2;
  }
  return true;
}

}  // namespace

struct DescribedVendor::Patterns {
  std::vector<std::regex> user_agents, paths;
};

DescribedVendor::DescribedVendor(VendorDescription description) : d_(std::move(description)) {
  constexpr auto flags = std::regex::ECMAScript | std::regex::icase | std::regex::optimize;
  auto p = std::make_unique<Patterns>();
  for (auto& x : d_.user_agents) p->user_agents.emplace_back(x.regex, flags);
  for (auto& x : d_.paths) p->paths.emplace_back(x.regex, flags);
  patterns_ = std::move(p);
  for (auto& prefix : d_.mac_prefixes) prefix = sdk::text::to_lower(prefix);
}

DescribedVendor::~DescribedVendor() = default;

sdk::Status DescribedVendor::check(const VendorDescription& d) {
  auto refuse = [&d](const std::string& what) {
    return sdk::Error::invalid(d.id + ": " + what + "; fix the vendor description");
  };
  auto pattern = [&](const std::string& regex, std::initializer_list<int> groups) -> sdk::Status {
    try {
      std::regex re(regex, std::regex::ECMAScript | std::regex::icase);
      for (int g : groups)
        if (g < 0 || static_cast<unsigned>(g) > re.mark_count())
          return refuse("pattern '" + regex + "' has no group " + std::to_string(g));
    } catch (const std::regex_error& e) {
      return refuse("pattern '" + regex + "' does not compile: " + e.what());
    }
    return {};
  };
  for (auto& p : d.user_agents)
    if (auto ok = pattern(p.regex, {p.model, p.version, p.mac}); !ok) return ok;
  for (auto& p : d.paths)
    if (auto ok = pattern(p.regex, {p.mac, p.model, p.model_code}); !ok) return ok;
  for (auto& f : d.files) {
    bool bundled = false;
    for (auto& t : d.templates) bundled = bundled || t.name == f.template_name;
    if (!bundled) return refuse("file '" + f.path + "' uses template '" + f.template_name +
                                "', which is not bundled");
  }
  for (auto& t : d.templates) {
    mustache::Template parsed(t.content, sdk::Escape::text);
    if (!parsed.error().empty())
      return refuse("template '" + t.name + "' does not parse: " + parsed.error());
  }
  return {};
}

std::vector<sdk::ModelInfo> DescribedVendor::models() const {
  std::vector<sdk::ModelInfo> out;
  out.reserve(d_.models.size());
  for (auto& m : d_.models) out.push_back({m.name, m.lines, m.function_keys});
  return out;
}

const VendorModel* DescribedVendor::model(std::string_view name) const {
  for (auto& m : d_.models)
    if (m.name.size() == name.size() && ifind(m.name, name) == 0) return &m;
  return nullptr;
}

const VendorModel* DescribedVendor::model_by_code(std::string_view code) const {
  for (auto& m : d_.models)
    if (!m.code.empty() && m.code == code) return &m;
  return nullptr;
}

bool DescribedVendor::known_prefix(std::string_view mac) const {
  for (auto& p : d_.mac_prefixes)
    if (mac.substr(0, p.size()) == p) return true;
  return false;
}

std::optional<sdk::DeviceInfo> DescribedVendor::from_path(std::string_view file) const {
  std::string name(file);
  for (std::size_t i = 0; i < patterns_->paths.size(); ++i) {
    std::smatch m;
    if (!std::regex_match(name, m, patterns_->paths[i])) continue;
    auto& p = d_.paths[i];
    sdk::DeviceInfo d{d_.vendor, "", "", ""};
    if (p.mac) {
      d.mac = sdk::normalize_mac(group(m, p.mac));
      if (d.mac.empty() || (p.known_prefix && !known_prefix(d.mac))) continue;
    }
    if (p.model) {
      auto* known = model(group(m, p.model));
      if (p.known_model && !known) continue;
      d.model = known ? known->name : group(m, p.model);
    }
    if (p.model_code)
      if (auto* known = model_by_code(group(m, p.model_code))) d.model = known->name;
    return d;
  }
  return std::nullopt;
}

std::optional<sdk::DeviceInfo> DescribedVendor::from_user_agent(const sdk::DeviceRequest& r) const {
  for (std::size_t i = 0; i < patterns_->user_agents.size(); ++i) {
    std::smatch m;
    if (!std::regex_search(r.user_agent, m, patterns_->user_agents[i])) continue;
    auto& p = d_.user_agents[i];
    sdk::DeviceInfo d{d_.vendor, "", group(m, p.version), ""};
    auto name = without(group(m, p.model), p.model_drop);
    auto* known = model(name);
    d.model = known ? known->name : name;
    d.mac = sdk::normalize_mac(group(m, p.mac));
    if (d.mac.empty()) {
      // The file name tells the MAC, unless it is a common file: a model
      // code such as y000000000028.cfg must not become 00:00:00:00:00:28.
      auto file = basename(r.path);
      if (auto from_file = from_path(file))
        d.mac = from_file->mac;
      else
        d.mac = sdk::mac_in(file);
    }
    return d;
  }
  return std::nullopt;
}

std::optional<sdk::DeviceInfo> DescribedVendor::detect(const sdk::DeviceRequest& r) const {
  if (!r.user_agent.empty())
    if (auto d = from_user_agent(r)) return d;
  auto file = basename(r.path);
  if (auto d = from_path(file)) return d;
  if (!d_.mac_prefixes.empty()) {
    auto mac = sdk::mac_in(file);
    if (!mac.empty() && known_prefix(mac)) return sdk::DeviceInfo{d_.vendor, "", "", mac};
  }
  if (!d_.dhcp_vendor_class.empty() && istarts_with(r.dhcp_vendor_class, d_.dhcp_vendor_class))
    return sdk::DeviceInfo{d_.vendor, "", "", ""};
  return std::nullopt;
}

sdk::TemplateData DescribedVendor::context(const sdk::DeviceConfig& c) const {
  auto ctx = sdk::standard_context(c);
  auto* m = model(c.device.model);
  ctx.set("model_code", m ? m->code : std::string()).set("firmware", m ? m->firmware : std::string());
  ctx.set("has_firmware", sdk::TemplateData::boolean(m && !m->firmware.empty()));
  ctx.set("vendor_language",
          lookup(d_.languages, std::string_view(c.locale).substr(0, 2), d_.default_language));
  int offset = utc_offset_minutes(c.timezone).value_or(0);
  ctx.set("tz_name", lookup(d_.tz_names, c.timezone, d_.default_tz_name));
  ctx.set("tz_hours", offset_hours(offset)).set("tz_hhmm", utc_offset_hhmm(offset));
  ctx.set("tz_seconds", offset * 60);
  ctx.set("transport_code", c.sip_transport == "tcp"   ? d_.transports[1]
                            : c.sip_transport == "tls" ? d_.transports[2]
                                                       : d_.transports[0]);
  ctx.set("ntp_disabled", c.ntp_server.empty() ? "1" : "0");
  auto [host, port] = host_port(c.provisioning_url);
  ctx.set("provisioning_host", host).set("provisioning_port", port);
  ctx.set("provisioning_host_port", host + ":" + port);
  ctx.set("domain", c.lines.empty() ? std::string() : c.lines.front().proxy_ip);
  if (!d_.view.empty()) {
    auto input = c.directory_url(d_.view);
    ctx.set("directory_url", input);
    // The results route sits beside the form: .../directories/lookup/<profile>/<view>.
    auto lookup_url = input;
    if (auto i = lookup_url.find("/directories/input/"); i != std::string::npos)
      lookup_url.replace(i, 19, "/directories/lookup/");
    ctx.set("directory_lookup_url", lookup_url);
  }
  if (auto* keys = ctx.find("function_keys")) {
    auto list = sdk::TemplateData::list();
    const std::string* codes[] = {&d_.key_types.speed_dial, &d_.key_types.blf, &d_.key_types.park,
                                  &d_.key_types.forward};
    for (std::size_t i = 0; i < keys->items().size(); ++i) {
      auto k = keys->items()[i];
      k.set("key_type", *codes[static_cast<int>(c.function_keys[i].type)]);
      list.push(std::move(k));
    }
    ctx.set("function_keys", std::move(list));
  }
  if (d_.extend) d_.extend(ctx, c);
  return ctx;
}

sdk::Result<std::vector<sdk::ProvisioningFile>> DescribedVendor::files(
    const sdk::DeviceConfig& c, const sdk::TemplateRenderer& renderer) const {
  std::vector<sdk::ProvisioningFile> out;
  if (d_.files.empty()) return out;
  auto* m = model(c.device.model);
  const std::vector<std::pair<std::string, std::string>> values = {
      {"mac_plain", sdk::mac_plain(c.device.mac)},
      {"MAC_PLAIN", sdk::mac_plain(c.device.mac, true)},
      {"model", m ? m->name : c.device.model},
      {"model_code", m ? m->code : std::string()}};
  auto ctx = context(c);
  for (auto& f : d_.files) {
    std::string path;
    if (!expand_path(f.path, values, path)) continue;
    auto body = renderer.render(f.template_name, ctx, f.escape);
    if (!body) return body.error();
    out.push_back({std::move(path), std::move(*body), f.sensitive, f.content_type});
  }
  return out;
}

}  // namespace dialtone::plugins::provisioning
