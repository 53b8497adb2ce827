#include "plugins/provisioning/provd/provd.h"

#include <dialtone/random.h>
#include <dialtone/text.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include <dialtone/files.h>
#include <dialtone/json.h>
#include <dialtone/services.h>

#include "plugins/provisioning/provd/json_util.h"
#include "plugins/provisioning/provd/tftp_server.h"

namespace dialtone::plugins::provisioning {

namespace fs = std::filesystem;

namespace {

constexpr sdk::Migration kMigrations[] = {
    {1, "create provd tables", R"(
CREATE TABLE provd_config (
  id text PRIMARY KEY,
  parent_ids jsonb NOT NULL DEFAULT '[]',
  raw_config jsonb NOT NULL DEFAULT '{}',
  deletable boolean NOT NULL DEFAULT true,
  role text NOT NULL DEFAULT '');
CREATE TABLE provd_device (
  id text PRIMARY KEY,
  mac text NOT NULL DEFAULT '',
  ip text NOT NULL DEFAULT '',
  vendor text NOT NULL DEFAULT '',
  model text NOT NULL DEFAULT '',
  version text NOT NULL DEFAULT '',
  plugin text NOT NULL DEFAULT '',
  config text NOT NULL DEFAULT '',
  added text NOT NULL DEFAULT 'auto',
  configured boolean NOT NULL DEFAULT false,
  description text NOT NULL DEFAULT '');
CREATE UNIQUE INDEX provd_device_mac ON provd_device (mac) WHERE mac <> '';
CREATE TABLE provd_param (key text PRIMARY KEY, value text NOT NULL);
)"},
    // xivo-provd keeps a config's other fields (X_type, label, proxy_main, ...)
    // as given; xivo-confd finds its registrars by X_type.
    {2, "config fields beyond the known ones", R"(
ALTER TABLE provd_config ADD COLUMN extra jsonb NOT NULL DEFAULT '{}';
)"},
};

std::string random_hex(std::size_t n) { return sdk::random_token(n, "0123456789abcdef"); }

std::string parents_json(const std::vector<std::string>& p) {
  rapidjson::Document d(rapidjson::kArrayType);
  for (auto& x : p) d.PushBack(rapidjson::Value(x.c_str(), d.GetAllocator()), d.GetAllocator());
  return to_json(d);
}

sdk::FunctionKeyType key_type(const std::string& t) {
  if (t == "blf") return sdk::FunctionKeyType::blf;
  if (t == "park") return sdk::FunctionKeyType::park;
  if (t == "forward") return sdk::FunctionKeyType::forward;
  return sdk::FunctionKeyType::speed_dial;
}

int to_int(const std::string& s, int fallback) {
  try {
    return std::stoi(s);
  } catch (...) {
    return fallback;
  }
}

bool safe_path(const std::string& p) {
  if (p.empty() || p.size() > 255) return false;
  if (p.find("..") != std::string::npos || p.find('\\') != std::string::npos) return false;
  for (unsigned char c : p)
    if (c < 0x20) return false;
  return true;
}

}  // namespace

Provd::Provd(sdk::Host& host, sdk::Store& store, sdk::HttpServer* http, ProvdSettings settings)
    : host_(host),
      store_(store),
      http_(http),
      settings_(std::move(settings)),
      templates_(settings_.templates_dir.empty() ? host.data_dir() / "templates"
                                                 : settings_.templates_dir) {
  if (settings_.static_dir.empty()) settings_.static_dir = host.data_dir() / "static";
  if (settings_.phoned_host.empty()) settings_.phoned_host = settings_.phones_host;
  if (settings_.sip_proxy.empty()) settings_.sip_proxy = settings_.phones_host;
}

Provd::~Provd() { stop(); }

sdk::Status Provd::start() {
  if (auto s = store_.migrate("provisioning.provd", kMigrations); !s) return s;
  if (auto s = load(); !s) return s;
  if (auto s = ensure_default_configs(); !s) return s;
  templates_.ensure_layout();
  std::error_code ec;
  fs::create_directories(settings_.static_dir, ec);
  if (http_) {
    mount_phone_routes();
    mount_rest_routes();
    mount_confd_device_routes();
  }
  running_ = true;
  if (settings_.tftp_enabled) {
    tftp_ = std::make_unique<TftpServer>(
        host_.log(), [this](const sdk::DeviceRequest& r) { return serve(r); },
        settings_.tftp_max_transfers);
    if (auto s = tftp_->start(settings_.tftp_host, settings_.tftp_port); !s) {
      // HTTP provisioning keeps working; the admin fixes tftp.listen.
      host_.log().error(s.error().message);
      tftp_.reset();
    }
  }
  schedule_template_check();
  watch_confd();
  host_.log().info("provd: " + std::to_string(devices_.size()) + " devices, " +
                   std::to_string(configs_.size()) + " configs, templates in " +
                   templates_.root().string());
  return {};
}

void Provd::stop() {
  running_ = false;
  unwatch_confd();
  if (auto t = timer_.exchange(0)) host_.executor().cancel(t);
  if (tftp_) tftp_->stop();
  tftp_.reset();
}

int Provd::tftp_port() const { return tftp_ ? tftp_->port() : 0; }

void Provd::schedule_template_check() {
  if (settings_.template_check.count() <= 0 || !running_) return;
  timer_ = host_.executor().after(settings_.template_check, [this] {
    if (!running_) return;
    check_templates();
    schedule_template_check();
  });
}

bool Provd::check_templates() {
  if (!templates_.changed()) return false;
  host_.log().info("provd: templates changed under " + templates_.root().string() +
                   ", files will be regenerated");
  invalidate_all();
  return true;
}

sdk::Status Provd::load() {
  auto c = store_.exec(
      "SELECT id, parent_ids::text AS p, raw_config::text AS r, deletable, role, extra::text AS x FROM provd_config");
  if (!c) return c.error();
  auto d = store_.exec(
      "SELECT id, mac, ip, vendor, model, version, plugin, config, added, configured, description "
      "FROM provd_device");
  if (!d) return d.error();
  auto p = store_.exec("SELECT key, value FROM provd_param");
  if (!p) return p.error();
  std::lock_guard lock(mutex_);
  configs_.clear();
  devices_.clear();
  by_mac_.clear();
  by_ip_.clear();
  for (std::size_t i = 0; i < c->rows.size(); ++i) {
    Config x;
    x.id = c->get(i, "id");
    rapidjson::Document pd;
    pd.Parse(c->get(i, "p", "[]").c_str());
    if (pd.IsArray())
      for (auto& v : pd.GetArray())
        if (v.IsString()) x.parent_ids.emplace_back(v.GetString());
    x.raw_config = c->get(i, "r", "{}");
    x.deletable = c->get(i, "deletable") == "t";
    x.role = c->get(i, "role");
    x.extra = c->get(i, "x", "{}");
    configs_[x.id] = std::move(x);
  }
  for (std::size_t i = 0; i < d->rows.size(); ++i) {
    Device x;
    x.id = d->get(i, "id");
    x.mac = d->get(i, "mac");
    x.ip = d->get(i, "ip");
    x.vendor = d->get(i, "vendor");
    x.model = d->get(i, "model");
    x.version = d->get(i, "version");
    x.plugin = d->get(i, "plugin");
    x.config = d->get(i, "config");
    x.added = d->get(i, "added");
    x.configured = d->get(i, "configured") == "t";
    x.description = d->get(i, "description");
    if (!x.mac.empty()) by_mac_[x.mac] = x.id;
    if (!x.ip.empty()) by_ip_[x.ip] = x.id;
    devices_[x.id] = std::move(x);
  }
  for (std::size_t i = 0; i < p->rows.size(); ++i) params_[p->get(i, "key")] = p->get(i, "value");
  if (auto it = params_.find("NAT"); it != params_.end()) settings_.nat = it->second == "1";
  if (auto it = params_.find("locale"); it != params_.end()) settings_.locale = it->second;
  return {};
}

sdk::Status Provd::ensure_default_configs() {
  auto host = settings_.phones_host;
  rapidjson::Document base(rapidjson::kObjectType);
  auto& a = base.GetAllocator();
  auto put = [&](const char* k, const std::string& v) {
    base.AddMember(rapidjson::StringRef(k), rapidjson::Value(v.c_str(), a), a);
  };
  put("ip", host);
  put("http_port", std::to_string(settings_.phones_port));
  put("tftp_port", std::to_string(settings_.tftp_port));
  put("sip_proxy_ip", settings_.sip_proxy);
  put("sip_proxy_port", std::to_string(settings_.sip_port));
  put("X_xivo_phonebook_ip", settings_.phoned_host);
  put("X_xivo_phonebook_port", std::to_string(settings_.phoned_port));
  put("locale", settings_.locale);
  put("timezone", settings_.timezone);
  if (!settings_.ntp_server.empty()) put("ntp_ip", settings_.ntp_server);
  put("ntp_enabled", settings_.ntp_server.empty() ? "false" : "true");
  put("admin_username", "admin");
  // A fresh random admin password per installation: phones never ship with a known one.
  put("admin_password", random_hex(12));
  put("user_username", "user");
  put("user_password", random_hex(8));

  struct Default {
    const char* id;
    std::vector<std::string> parents;
    std::string raw;
    const char* role;
  };
  namespace json = sdk::json;
  const std::string autoprov_line = json::object({{"username", "autoprov"},
                                                  {"display_name", "Autoprov"},
                                                  {"number", "autoprov"},
                                                  {"password", random_hex(16)}});
  const std::string autoprov_raw =
      json::object({{"X_autoprov", true}, {"sip_lines", json::Raw{json::object({{"1", json::Raw{autoprov_line}}})}}});
  const Default defaults[] = {
      {"base", {}, to_json(base), ""},
      {"defaultconfigdevice", {"base"}, "{}", "default"},
      {"autoprov", {"base"}, autoprov_raw, "autocreate"},
  };
  for (auto& d : defaults) {
    if (config(d.id)) continue;
    Config c{d.id, d.parents, d.raw, false, d.role};
    if (auto r = add_config(c); !r) return r.error();
  }
  return {};
}

// Dialtone's ids ("provisioning.yealink") and xivo-provd's plugin names, which
// devices made by XiVO tools carry: "null", "zero", "xivo-yealink-v80",
// "xivo-cisco-spa-7.5.5" (the longest loaded provisioning.<a>_<b> prefix).
std::shared_ptr<sdk::ProvisioningVendor> Provd::vendor(const std::string& id) const {
  std::vector<std::string> wanted{id, "provisioning." + id};
  if (id.rfind("xivo-", 0) == 0) {
    std::string name;
    std::size_t i = 5;
    while (i < id.size()) {
      auto j = id.find('-', i);
      if (j == std::string::npos) j = id.size();
      name += (name.empty() ? "" : "_") + id.substr(i, j - i);
      wanted.insert(wanted.begin() + 2, "provisioning." + name);
      i = j + 1;
    }
  }
  auto vendors = host_.services().all<sdk::ProvisioningVendor>();
  for (auto& want : wanted)
    for (auto& [name, v] : vendors) {
      try {
        if (v && std::string(v->id()) == want) return v;
      } catch (...) {
      }
    }
  return nullptr;
}

std::optional<sdk::DeviceInfo> Provd::detect(const sdk::DeviceRequest& r, std::string* vendor_id) {
  auto vendors = host_.services().all<sdk::ProvisioningVendor>();
  std::sort(vendors.begin(), vendors.end(), [](auto& x, auto& y) { return x.first < y.first; });
  for (auto& [name, v] : vendors) {
    try {
      auto d = v->detect(r);
      if (d && !d->vendor.empty()) {
        *vendor_id = std::string(v->id());
        return d;
      }
    } catch (const std::exception& e) {
      host_.log().error("provd: vendor plugin " + name + " failed to detect " + r.path + ": " +
                        e.what());
    } catch (...) {
      host_.log().error("provd: vendor plugin " + name + " failed to detect " + r.path);
    }
  }
  return std::nullopt;
}

bool Provd::rate_limited(const std::string& ip) {
  auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(rate_mutex_);
  auto& q = unknown_[ip];
  while (!q.empty() && now - q.front() > settings_.unknown_window) q.pop_front();
  if (static_cast<int>(q.size()) >= settings_.unknown_limit) return true;
  q.push_back(now);
  if (unknown_.size() > 10000) {
    // Forget idle addresses so a scan cannot grow the table without bound.
    for (auto it = unknown_.begin(); it != unknown_.end();)
      it = (it->second.empty() || now - it->second.back() > settings_.unknown_window)
               ? unknown_.erase(it)
               : std::next(it);
  }
  return false;
}

PhoneAnswer Provd::static_file(const std::string& path) const {
  auto p = settings_.static_dir / path;
  auto bytes = sdk::read_file(p);
  if (!bytes) return {404, "not found", "text/plain"};
  return {200, std::move(*bytes), "application/octet-stream"};
}

PhoneAnswer Provd::serve(const sdk::DeviceRequest& request) {
  sdk::DeviceRequest r = request;
  while (!r.path.empty() && r.path.front() == '/') r.path.erase(0, 1);
  if (!safe_path(r.path)) return {404, "not found", "text/plain"};
  const std::string& ip = r.remote_ip;
  bool nat;
  {
    std::lock_guard lock(mutex_);
    nat = settings_.nat;
  }

  std::string vendor_id;
  auto info = detect(r, &vendor_id);
  // A vendor that recognises the request knows whether its file name holds
  // a MAC: Yealink's common y000000000028.cfg is a model code, and reading
  // it as 00:00:00:00:00:28 would make a second device of the same phone.
  std::string mac = info ? info->mac : sdk::mac_in(r.path);

  std::optional<Device> dev;
  {
    std::unique_lock lock(mutex_);
    auto find = [&](const std::map<std::string, std::string>& idx,
                    const std::string& key) -> Device* {
      auto it = idx.find(key);
      if (it == idx.end()) return nullptr;
      auto d = devices_.find(it->second);
      return d == devices_.end() ? nullptr : &d->second;
    };
    Device* d = mac.empty() ? nullptr : find(by_mac_, mac);
    if (!d && !nat) {
      Device* by_ip = find(by_ip_, ip);
      // A device first seen without its MAC (e.g. Polycom's 000000000000.cfg).
      if (by_ip && (mac.empty() || by_ip->mac.empty()) && (!info || info->vendor == by_ip->vendor))
        d = by_ip;
    }
    if (d) {
      Device updated = *d;
      bool dirty = false;
      if (updated.mac.empty() && !mac.empty()) updated.mac = mac, dirty = true;
      if (updated.ip.empty() && !nat) updated.ip = ip, dirty = true;
      // A device known only from DHCP or the REST API takes the plugin that recognised it.
      if (info && updated.plugin.empty() && !vendor_id.empty()) {
        updated.vendor = info->vendor;
        updated.plugin = vendor_id;
        dirty = true;
      }
      if (info && info->vendor == updated.vendor) {
        if (!info->model.empty() && updated.model != info->model) updated.model = info->model, dirty = true;
        if (!info->version.empty() && updated.version != info->version)
          updated.version = info->version, dirty = true;
      }
      lock.unlock();
      if (dirty) {
        if (auto s = update_device(updated); !s)
          host_.log().warn("provd: could not update device " + updated.id + ": " + s.error().message);
      }
      dev = updated;
    }
  }

  if (!dev) {
    if (!info) {
      auto st = static_file(r.path);
      if (st.status == 200) return st;
      host_.log().info("provd: unknown device request from " + ip + ": " + r.path);
      if (rate_limited(ip)) return {429, "too many requests", "text/plain"};
      return {404, "not found", "text/plain"};
    }
    host_.log().info("provd: unknown device request from " + ip + ": " + r.path);
    if (rate_limited(ip)) {
      host_.log().warn("provd: too many unknown device requests from " + ip + ", refusing " + r.path);
      return {429, "too many requests", "text/plain"};
    }
    Device d = discovered_device(mac, ip, nat, info, vendor_id);
    auto id = add_device(d);
    if (!id) {
      host_.log().warn("provd: could not add device for " + ip + ": " + id.error().message);
      return {500, "could not add device", "text/plain"};
    }
    d.id = *id;
    dev = d;
  }

  auto v = vendor(dev->plugin);
  if (!v) {
    auto st = static_file(r.path);
    if (st.status == 200) return st;
    host_.log().warn("provd: device " + dev->id + " uses plugin '" + dev->plugin +
                     "' which is not loaded; enable it in conf.d or assign another plugin");
    return {404, "not found", "text/plain"};
  }
  if (v->policy() == sdk::ServePolicy::refuse) return {404, "not found", "text/plain"};

  auto files = rendered(*dev);
  if (!files->status) {
    auto st = static_file(r.path);
    if (st.status == 200) return st;
    return {500, "configuration could not be generated", "text/plain"};
  }
  const sdk::ProvisioningFile* hit = nullptr;
  for (auto& f : files->files)
    if (f.path == r.path) hit = &f;
  if (!hit) {
    auto base = r.path.substr(r.path.find_last_of('/') == std::string::npos
                                  ? 0
                                  : r.path.find_last_of('/') + 1);
    for (auto& f : files->files)
      if (sdk::text::iequals(f.path, base))
        hit = &f;
  }
  if (!hit) return static_file(r.path);
  if (hit->sensitive) {
    if (!dev->ip.empty() && dev->ip != ip && !nat) {
      host_.log().warn("provd: refused sensitive file " + r.path + " of device " + dev->id +
                       " to " + ip + " (device address is " + dev->ip + ")");
      return {403, "forbidden", "text/plain"};
    }
    host_.log().info("provd: sensitive file served to " + ip + ": " + r.path);
  }
  return {200, hit->content, hit->content_type};
}

Provd::RenderedPtr Provd::rendered(const Device& d) {
  {
    std::lock_guard lock(cache_mutex_);
    auto it = cache_.find(d.id);
    if (it != cache_.end()) return it->second;
  }
  auto r = render(d);
  std::lock_guard lock(cache_mutex_);
  cache_[d.id] = r;
  return r;
}

Provd::RenderedPtr Provd::render(const Device& d) {
  auto out = std::make_shared<Rendered>();
  auto v = vendor(d.plugin);
  if (!v) {
    out->status = sdk::Error::not_found("plugin " + d.plugin + " is not loaded");
    return out;
  }
  auto cfg = device_config(d);
  if (!cfg) {
    out->status = cfg.error();
    host_.log().error("provd: device " + d.id + ": " + cfg.error().message);
    return out;
  }
  try {
    if (cfg->autoprov) *cfg = v->autoprov_config(std::move(*cfg));
    TemplateScope scope{std::string(v->id()), d.model, d.mac.empty() ? d.id : sdk::mac_plain(d.mac)};
    MustacheRenderer renderer(templates_, scope, v->templates());
    auto files = v->files(*cfg, renderer);
    if (!files) {
      out->status = files.error();
    } else {
      out->files = std::move(*files);
    }
  } catch (const std::exception& e) {
    out->status = sdk::Error::internal(std::string("exception: ") + e.what());
  } catch (...) {
    out->status = sdk::Error::internal("unknown exception");
  }
  if (!out->status)
    host_.log().error("provd: " + std::string(v->id()) + " could not generate the files of device " +
                      d.id + ": " + out->status.error().message);
  return out;
}

sdk::Result<std::vector<sdk::ProvisioningFile>> Provd::preview(const std::string& id) {
  auto d = device(id);
  if (!d) return sdk::Error::not_found("device " + id + " was not found");
  auto r = render(*d);
  if (!r->status) return r->status.error();
  return r->files;
}

std::size_t Provd::regenerate_all() {
  auto all = devices();
  std::map<std::string, RenderedPtr> fresh;
  for (auto& d : all) fresh[d.id] = render(d);
  std::lock_guard lock(cache_mutex_);
  cache_ = std::move(fresh);
  return all.size();
}

void Provd::invalidate(const std::string& id) {
  std::lock_guard lock(cache_mutex_);
  cache_.erase(id);
}

void Provd::invalidate_all() {
  std::lock_guard lock(cache_mutex_);
  cache_.clear();
}

sdk::Result<std::string> Provd::raw_config(const std::string& id) const {
  std::lock_guard lock(mutex_);
  // Parents first (the first parent wins over later ones), then the config itself.
  std::function<sdk::Status(const std::string&, rapidjson::Document&, int)> merge =
      [&](const std::string& cid, rapidjson::Document& out, int depth) -> sdk::Status {
    if (depth > 16) return sdk::Error::invalid("config " + id + " has a parent cycle");
    auto it = configs_.find(cid);
    if (it == configs_.end()) return sdk::Error::not_found("config " + cid + " was not found");
    for (auto p = it->second.parent_ids.rbegin(); p != it->second.parent_ids.rend(); ++p)
      if (auto s = merge(*p, out, depth + 1); !s) return s;
    rapidjson::Document own;
    own.Parse(it->second.raw_config.c_str());
    if (own.HasParseError() || !own.IsObject())
      return sdk::Error::invalid("config " + cid + " has a raw_config that is not a JSON object");
    deep_merge(out, own, out.GetAllocator());
    return {};
  };
  rapidjson::Document out(rapidjson::kObjectType);
  if (auto s = merge(id, out, 0); !s) return s.error();
  return to_json(out);
}

sdk::Result<sdk::DeviceConfig> Provd::device_config(const Device& d) const {
  std::string cid = d.config.empty() ? "defaultconfigdevice" : d.config;
  auto raw = raw_config(cid);
  if (!raw) return raw.error();
  rapidjson::Document doc;
  doc.Parse(raw->c_str());
  sdk::DeviceConfig c;
  c.device_id = d.id;
  c.config_id = cid;
  c.device = {d.vendor, d.model, d.version, d.mac};
  c.autoprov = bool_of(doc, "X_autoprov");
  auto host = str_of(doc, "ip", settings_.phones_host);
  c.provisioning_url = "http://" + host + ":" + str_of(doc, "http_port", std::to_string(settings_.phones_port));
  auto phoned = str_of(doc, "X_xivo_phonebook_ip");
  if (!phoned.empty())
    c.directory_base_url = "http://" + phoned + ":" +
                           str_of(doc, "X_xivo_phonebook_port", std::to_string(settings_.phoned_port)) +
                           "/0.1/directories/input/default";
  c.timezone = str_of(doc, "timezone", settings_.timezone);
  c.locale = str_of(doc, "locale", settings_.locale);
  if (bool_of(doc, "ntp_enabled")) c.ntp_server = str_of(doc, "ntp_ip");
  c.admin_username = str_of(doc, "admin_username");
  c.admin_password = str_of(doc, "admin_password");
  c.user_username = str_of(doc, "user_username");
  c.user_password = str_of(doc, "user_password");
  c.sip_transport = str_of(doc, "sip_transport", "udp");
  c.dtmf_mode = str_of(doc, "sip_dtmf_mode", "RTP-out-of-band");
  c.pickup_code = str_of(doc, "exten_pickup_call");
  auto proxy = str_of(doc, "sip_proxy_ip", settings_.sip_proxy);
  int proxy_port = to_int(str_of(doc, "sip_proxy_port", "5060"), 5060);
  auto backup = str_of(doc, "sip_backup_proxy_ip");
  auto registrar = str_of(doc, "sip_registrar_ip");
  if (auto it = doc.FindMember("sip_lines"); it != doc.MemberEnd() && it->value.IsObject()) {
    for (auto& m : it->value.GetObject()) {
      if (!m.value.IsObject()) continue;
      sdk::SipLine l;
      l.position = to_int(m.name.GetString(), 0);
      if (l.position <= 0) continue;
      const auto& v = m.value;
      l.proxy_ip = str_of(v, "proxy_ip", proxy);
      l.proxy_port = to_int(str_of(v, "proxy_port", std::to_string(proxy_port)), 5060);
      l.backup_proxy_ip = str_of(v, "backup_proxy_ip", backup);
      l.registrar_ip = str_of(v, "registrar_ip", registrar);
      l.username = str_of(v, "username");
      l.auth_username = str_of(v, "auth_username");
      l.password = str_of(v, "password");
      l.display_name = str_of(v, "display_name");
      l.number = str_of(v, "number");
      l.voicemail = str_of(v, "voicemail");
      c.lines.push_back(std::move(l));
    }
    std::sort(c.lines.begin(), c.lines.end(),
              [](auto& a, auto& b) { return a.position < b.position; });
  }
  if (auto it = doc.FindMember("funckeys"); it != doc.MemberEnd() && it->value.IsObject()) {
    for (auto& m : it->value.GetObject()) {
      if (!m.value.IsObject()) continue;
      sdk::FunctionKey k;
      k.position = to_int(m.name.GetString(), 0);
      if (k.position <= 0) continue;
      k.type = key_type(str_of(m.value, "type", "speeddial"));
      k.value = str_of(m.value, "value");
      k.label = str_of(m.value, "label");
      k.line = to_int(str_of(m.value, "line", "1"), 1);
      c.function_keys.push_back(std::move(k));
    }
    std::sort(c.function_keys.begin(), c.function_keys.end(),
              [](auto& a, auto& b) { return a.position < b.position; });
  }
  for (auto& m : doc.GetObject()) {
    std::string k = m.name.GetString();
    if (k.rfind("X_", 0) == 0 && k != "X_autoprov" && !m.value.IsObject())
      c.extra.emplace_back(k, str_of(doc, k.c_str()));
  }
  return c;
}

std::optional<Device> Provd::device(const std::string& id) const {
  std::lock_guard lock(mutex_);
  auto it = devices_.find(id);
  if (it == devices_.end()) return std::nullopt;
  return it->second;
}

std::vector<Device> Provd::devices() const {
  std::lock_guard lock(mutex_);
  std::vector<Device> out;
  out.reserve(devices_.size());
  for (auto& [_, d] : devices_) out.push_back(d);
  return out;
}

sdk::Status Provd::persist(const Device& d, bool insert) {
  sdk::Params p{d.id, d.mac, d.ip, d.vendor, d.model, d.version, d.plugin, d.config, d.added,
                d.configured ? "true" : "false", d.description};
  auto r = insert
               ? store_.exec("INSERT INTO provd_device (id, mac, ip, vendor, model, version, plugin, "
                             "config, added, configured, description) VALUES "
                             "($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
                             p)
               : store_.exec("UPDATE provd_device SET mac=$2, ip=$3, vendor=$4, model=$5, version=$6, "
                             "plugin=$7, config=$8, added=$9, configured=$10, description=$11 "
                             "WHERE id=$1",
                             p);
  if (!r) return r.error();
  return {};
}

Device Provd::discovered_device(const std::string& mac, const std::string& ip, bool nat,
                               const std::optional<sdk::DeviceInfo>& info, const std::string& vendor_id) {
  Device d;
  d.mac = mac;
  d.ip = nat ? std::string() : ip;  // behind NAT every device shares one address
  if (info) {
    d.vendor = info->vendor;
    d.model = info->model;
    d.version = info->version;
    d.plugin = vendor_id;
  }
  d.config = "autoprov";
  d.added = "auto";
  return d;
}

sdk::Result<std::string> Provd::add_device(Device d) {
  if (!d.mac.empty()) {
    auto m = sdk::normalize_mac(d.mac);
    if (m.empty()) return sdk::Error::invalid("device mac '" + d.mac + "' is not a MAC address");
    d.mac = m;
  }
  if (d.id.empty()) d.id = random_hex(32);
  if (d.added.empty()) d.added = "manual";
  d.configured = !d.config.empty() && d.config != "autoprov";
  {
    std::lock_guard lock(mutex_);
    if (devices_.count(d.id)) return sdk::Error::conflict("device " + d.id + " already exists");
    if (!d.mac.empty() && by_mac_.count(d.mac))
      return sdk::Error::conflict("a device with mac " + d.mac + " already exists");
  }
  if (auto s = persist(d, true); !s) return s.error();
  std::lock_guard lock(mutex_);
  if (!d.mac.empty()) by_mac_[d.mac] = d.id;
  if (!d.ip.empty()) {
    // One device per source address unless NAT: the newest owns the address.
    if (!settings_.nat) {
      auto old = by_ip_.find(d.ip);
      if (old != by_ip_.end() && old->second != d.id) {
        auto od = devices_.find(old->second);
        if (od != devices_.end()) {
          od->second.ip.clear();
          (void)store_.exec("UPDATE provd_device SET ip='' WHERE id=$1", {od->first});
        }
      }
    }
    by_ip_[d.ip] = d.id;
  }
  devices_[d.id] = d;
  return d.id;
}

sdk::Status Provd::update_device(const Device& in) {
  Device d = in;
  if (!d.mac.empty()) {
    auto m = sdk::normalize_mac(d.mac);
    if (m.empty()) return sdk::Error::invalid("device mac '" + d.mac + "' is not a MAC address");
    d.mac = m;
  }
  d.configured = !d.config.empty() && d.config != "autoprov";
  Device old;
  {
    std::lock_guard lock(mutex_);
    auto it = devices_.find(d.id);
    if (it == devices_.end()) return sdk::Error::not_found("device " + d.id + " was not found");
    old = it->second;
    if (!d.mac.empty() && d.mac != old.mac && by_mac_.count(d.mac))
      return sdk::Error::conflict("a device with mac " + d.mac + " already exists");
  }
  if (auto s = persist(d, false); !s) return s;
  {
    std::lock_guard lock(mutex_);
    if (old.mac != d.mac) {
      by_mac_.erase(old.mac);
      if (!d.mac.empty()) by_mac_[d.mac] = d.id;
    }
    if (old.ip != d.ip) {
      if (by_ip_.count(old.ip) && by_ip_[old.ip] == d.id) by_ip_.erase(old.ip);
      if (!d.ip.empty()) by_ip_[d.ip] = d.id;
    }
    devices_[d.id] = d;
  }
  invalidate(d.id);
  return {};
}

sdk::Status Provd::remove_device(const std::string& id) {
  auto r = store_.exec("DELETE FROM provd_device WHERE id=$1", {id});
  if (!r) return r.error();
  if (r->affected == 0) return sdk::Error::not_found("device " + id + " was not found");
  {
    std::lock_guard lock(mutex_);
    auto it = devices_.find(id);
    if (it != devices_.end()) {
      if (by_mac_.count(it->second.mac) && by_mac_[it->second.mac] == id) by_mac_.erase(it->second.mac);
      if (by_ip_.count(it->second.ip) && by_ip_[it->second.ip] == id) by_ip_.erase(it->second.ip);
      devices_.erase(it);
    }
  }
  invalidate(id);
  return {};
}

sdk::Result<std::string> Provd::add_config(Config c) {
  if (c.id.empty()) c.id = random_hex(32);
  rapidjson::Document raw;
  raw.Parse(c.raw_config.c_str());
  if (raw.HasParseError() || !raw.IsObject())
    return sdk::Error::invalid("config " + c.id + ": raw_config must be a JSON object");
  {
    std::lock_guard lock(mutex_);
    if (configs_.count(c.id)) return sdk::Error::conflict("config " + c.id + " already exists");
    for (auto& p : c.parent_ids)
      if (!configs_.count(p)) return sdk::Error::invalid("config " + c.id + ": parent " + p + " does not exist");
  }
  auto r = store_.exec(
      "INSERT INTO provd_config (id, parent_ids, raw_config, deletable, role, extra) "
      "VALUES ($1,$2::jsonb,$3::jsonb,$4,$5,$6::jsonb)",
      {c.id, parents_json(c.parent_ids), c.raw_config, c.deletable ? "true" : "false", c.role, c.extra});
  if (!r) return r.error();
  std::lock_guard lock(mutex_);
  configs_[c.id] = c;
  return c.id;
}

sdk::Status Provd::update_config(const Config& in) {
  Config c = in;
  rapidjson::Document raw;
  raw.Parse(c.raw_config.c_str());
  if (raw.HasParseError() || !raw.IsObject())
    return sdk::Error::invalid("config " + c.id + ": raw_config must be a JSON object");
  {
    std::lock_guard lock(mutex_);
    auto it = configs_.find(c.id);
    if (it == configs_.end()) return sdk::Error::not_found("config " + c.id + " was not found");
    c.deletable = it->second.deletable;
    for (auto& p : c.parent_ids)
      if (!configs_.count(p) || p == c.id)
        return sdk::Error::invalid("config " + c.id + ": parent " + p + " does not exist");
  }
  auto r = store_.exec(
      "UPDATE provd_config SET parent_ids=$2::jsonb, raw_config=$3::jsonb, role=$4, extra=$5::jsonb WHERE id=$1",
      {c.id, parents_json(c.parent_ids), c.raw_config, c.role, c.extra});
  if (!r) return r.error();
  std::vector<std::string> users;
  // Devices without a config use defaultconfigdevice.
  bool parent = c.id == "defaultconfigdevice";
  {
    std::lock_guard lock(mutex_);
    configs_[c.id] = c;
    for (auto& [_, other] : configs_)
      for (auto& p : other.parent_ids) parent = parent || p == c.id;
    for (auto& [id, d] : devices_)
      if (d.config == c.id) users.push_back(id);
  }
  // Children inherit from it: then every device may change.
  if (parent) {
    invalidate_all();
  } else {
    for (auto& id : users) invalidate(id);
  }
  return {};
}

sdk::Status Provd::remove_config(const std::string& id) {
  {
    std::lock_guard lock(mutex_);
    auto it = configs_.find(id);
    if (it == configs_.end()) return sdk::Error::not_found("config " + id + " was not found");
    if (!it->second.deletable) return sdk::Error::conflict("config " + id + " is not deletable");
    for (auto& [cid, c] : configs_)
      for (auto& p : c.parent_ids)
        if (p == id) return sdk::Error::conflict("config " + id + " is the parent of config " + cid);
  }
  auto r = store_.exec("DELETE FROM provd_config WHERE id=$1", {id});
  if (!r) return r.error();
  std::vector<Device> orphans;
  {
    std::lock_guard lock(mutex_);
    configs_.erase(id);
    for (auto& [_, d] : devices_)
      if (d.config == id) orphans.push_back(d);
  }
  // Devices lose their lines, as in XiVO: they go back to autoprov.
  for (auto& d : orphans) {
    d.config = "autoprov";
    (void)update_device(d);
  }
  return {};
}

std::optional<Provd::Config> Provd::config(const std::string& id) const {
  std::lock_guard lock(mutex_);
  auto it = configs_.find(id);
  if (it == configs_.end()) return std::nullopt;
  return it->second;
}

std::vector<Provd::Config> Provd::configs() const {
  std::lock_guard lock(mutex_);
  std::vector<Config> out;
  for (auto& [_, c] : configs_) out.push_back(c);
  return out;
}

sdk::Result<std::string> Provd::device_for_ip(std::string_view ip) {
  std::lock_guard lock(mutex_);
  auto it = by_ip_.find(std::string(ip));
  if (it == by_ip_.end()) return sdk::Error::not_found("no device is known at " + std::string(ip));
  return it->second;
}

sdk::Status Provd::assign_config(std::string_view device_id, std::string_view config_id) {
  auto d = device(std::string(device_id));
  if (!d) return sdk::Error::not_found("device " + std::string(device_id) + " was not found");
  if (!config(std::string(config_id)))
    return sdk::Error::not_found("config " + std::string(config_id) + " was not found");
  d->config = std::string(config_id);
  if (auto s = update_device(*d); !s) return s;
  // The new config is in place; the phone's answer only says whether it
  // fetched it now or will at its next reboot.
  synchronize(d->id, [this, id = d->id](sdk::Status s) {
    if (!s) host_.log().warn("provd: device " + id + " has a new config but was not resynchronized: " +
                             s.error().message);
  });
  return {};
}

sdk::Status Provd::reset_to_autoprov(std::string_view device_id) {
  return assign_config(device_id, "autoprov");
}

void Provd::synchronize(const std::string& id, sdk::SyncDone done) {
  auto d = device(id);
  if (!d) return done(sdk::Error::not_found("device " + id + " was not found"));
  auto v = vendor(d->plugin);
  if (!v) return done(sdk::Error::not_found("plugin " + d->plugin + " of device " + id + " is not loaded"));
  auto event = v->sync_event({d->vendor, d->model, d->version, d->mac});
  if (!event) return done(sdk::Error::unsupported("device " + id + " cannot be synchronized remotely"));
  auto notifier = host_.services().find<sdk::SipNotifier>();
  if (!notifier)
    return done(sdk::Error::unavailable("no SIP backend provides provisioning.sip_notifier: enable backend.sip"));
  std::string user;
  if (auto cfg = device_config(*d); cfg && !cfg->lines.empty()) user = cfg->lines.front().username;
  notifier->notify_check_sync({d->ip, user, *event},
                              [alive = std::weak_ptr<int>(alive_), done = std::move(done)](sdk::Status s) {
                                if (alive.lock()) done(std::move(s));
                              });
}

}  // namespace dialtone::plugins::provisioning
