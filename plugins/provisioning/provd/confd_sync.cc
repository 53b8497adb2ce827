// Configs driven by the configuration API (api.confd): every device a confd
// line points to (confd_lines.device_id = provd device id) gets a config of
// the same id holding its lines and function keys (XiVO raw_config keys);
// devices no line points to any more go back to autoprov.
#include <algorithm>
#include <map>
#include <optional>
#include <string>

#include <dialtone/config.h>
#include <dialtone/presence.h>

#include "plugins/provisioning/provd/json_util.h"
#include "plugins/provisioning/provd/provd.h"

namespace dialtone::plugins::provisioning {

namespace {

// Resources whose changes can alter a device's lines or keys.
bool relevant(std::string_view topic) {
  static constexpr std::string_view kResources[] = {
      "user", "line", "line_device", "user_line", "line_extension", "extension",
      "endpoint_sip", "line_endpoint_sip", "user_funckey", "context", "extension_feature", "paging"};
  auto rest = topic.substr(topic.find('.') + 1);  // after "config."
  auto dot = rest.rfind('.');
  if (dot == std::string_view::npos) return false;
  auto resource = rest.substr(0, dot);
  return std::find(std::begin(kResources), std::end(kResources), resource) != std::end(kResources);
}

constexpr const char* kLinesSql = R"SQL(
SELECT l.device_id, l.position, coalesce(l.caller_id_name, '') AS caller_id_name,
       e.username, e.secret, coalesce(u.id::text, '') AS user_id,
       coalesce(u.firstname, '') AS firstname, coalesce(u.lastname, '') AS lastname,
       coalesce((SELECT x.exten FROM confd_line_extensions le
                 JOIN confd_extensions x ON x.id = le.extension_id
                 WHERE le.line_id = l.id ORDER BY x.id LIMIT 1), '') AS exten
FROM confd_lines l
JOIN confd_endpoints_sip e ON e.id = l.endpoint_sip_id
LEFT JOIN confd_user_lines ul ON ul.line_id = l.id AND ul.main_user
LEFT JOIN confd_users u ON u.id = ul.user_id
WHERE coalesce(l.device_id, '') <> ''
ORDER BY l.device_id, l.position, l.id)SQL";

// Keys of the users on devices; a "user" destination resolves to that
// user's first extension (BLF or speed dial on it), a "forward" or "service"
// one to the feature code the dialplan answers (lua-dialplan/lib/features.lua).
constexpr const char* kFunckeysSql = R"SQL(
SELECT f.user_id::text AS user_id, f.position, f.blf, coalesce(f.label, '') AS label,
       f.destination->>'type' AS type,
       coalesce(f.destination->>'exten', f.destination->>'position', '') AS value,
       coalesce(f.destination->>'forward', '') AS forward,
       coalesce(f.destination->>'service', '') AS service,
       coalesce((SELECT x.exten FROM confd_user_lines ul2
                 JOIN confd_line_extensions le ON le.line_id = ul2.line_id
                 JOIN confd_extensions x ON x.id = le.extension_id
                 WHERE (f.destination->>'user_id') ~ '^[0-9]{1,9}$'
                   AND ul2.user_id = (f.destination->>'user_id')::int
                 ORDER BY ul2.main_line DESC, x.id LIMIT 1), '') AS user_exten,
       coalesce((SELECT x.exten FROM confd_group_extensions ge
                 JOIN confd_extensions x ON x.id = ge.extension_id
                 WHERE (f.destination->>'group_id') ~ '^[0-9]{1,9}$'
                   AND ge.group_id = (f.destination->>'group_id')::int
                 ORDER BY x.id LIMIT 1), '') AS group_exten,
       coalesce(f.destination->>'filter_member_id', '') AS filter_member,
       coalesce((SELECT p.number FROM confd_pagings p
                 WHERE (f.destination->>'paging_id') ~ '^[0-9]{1,9}$'
                   AND p.id = (f.destination->>'paging_id')::int), '') AS paging_number
FROM confd_user_funckeys f
WHERE f.user_id IN (SELECT ul.user_id FROM confd_user_lines ul
                    JOIN confd_lines l ON l.id = ul.line_id
                    WHERE ul.main_user AND coalesce(l.device_id, '') <> '')
ORDER BY f.user_id, f.position)SQL";

// The XiVO feature a key dials (its code is confd's,
// /1.1/extensions/features), with the label a key gets when the admin gave
// none.
struct FeatureCode {
  const char* feature;
  const char* label;
  // backend.sip serves this code's state to a BLF key (the kernel's
  // presence service): a supervised key subscribes to it and lights.
  bool supervised = true;
};

std::optional<FeatureCode> forward_code(const std::string& forward) {
  if (forward == "unconditional") return FeatureCode{"fwdunc", "Unconditional forward"};
  if (forward == "noanswer") return FeatureCode{"fwdrna", "No-answer forward"};
  if (forward == "busy") return FeatureCode{"fwdbusy", "Busy forward"};
  return std::nullopt;
}

// Services with a feature code the dialplan answers; the others stay off
// the phone.
std::optional<FeatureCode> service_code(const std::string& service) {
  if (service == "enablednd") return FeatureCode{"enablednd", "DND"};
  if (service == "incallfilter") return FeatureCode{"incallfilter", "Call screening"};
  if (service == "pickup") return FeatureCode{"pickup", "Pickup", false};
  if (service == "fwdundoall") return FeatureCode{"fwdundoall", "Forwards off", false};
  if (service == "callrecord") return FeatureCode{"callrecord", "Call recording", false};
  if (service == "enablevm") return FeatureCode{"enablevm", "Voicemail", false};
  if (service == "vmusermsg") return FeatureCode{"vmusermsg", "Voicemail", false};
  if (service == "phonestatus") return FeatureCode{"phonestatus", "Phone status", false};
  return std::nullopt;
}

// feature -> the digits that dial it ("" when turned off): confd's feature
// extensions over XiVO's defaults.
std::map<std::string, std::string> feature_codes(sdk::Store& store) {
  std::map<std::string, std::string> out;
  for (auto& d : sdk::kDefaultFeatureExtensions)
    out[d.feature] = d.enabled ? sdk::ConfigFeatureExtension{0, d.feature, d.exten, true}.code() : "";
  auto q = store.exec("SELECT feature, exten, enabled FROM confd_feature_extensions");
  if (!q) return out;
  for (std::size_t i = 0; i < q->rows.size(); ++i)
    out[q->get(i, "feature")] = q->get(i, "enabled") == "t"
                                    ? sdk::ConfigFeatureExtension{0, "", q->get(i, "exten"), true}.code()
                                    : "";
  return out;
}

bool same_json(const std::string& a, const std::string& b) {
  rapidjson::Document x, y;
  x.Parse(a.c_str());
  y.Parse(b.c_str());
  return !x.HasParseError() && !y.HasParseError() && x == y;
}

}  // namespace

void Provd::watch_confd() {
  sync_guard_ = std::make_shared<SyncGuard>();
  // Touches only the guard until it holds the guard's lock with the Provd alive.
  auto trigger = [guard = sync_guard_, self = this, executor = &host_.executor()] {
    if (guard->pending.exchange(true)) return;
    executor->post([guard, self] {
      std::lock_guard lock(guard->mutex);
      if (!guard->alive) return;
      guard->pending = false;
      (void)self->sync_from_confd();
    });
  };
  confd_bus_ = host_.bus().subscribe("config.#", [trigger](const sdk::Event& e) {
    if (relevant(e.topic)) trigger();
  });
  // NOTIFY reaches provd also when api.confd runs in another process.
  confd_listen_ = store_.listen("dialtone_config", [trigger](const std::string& payload) {
    auto colon = payload.find(':');
    if (relevant("config." + payload.substr(0, colon))) trigger();
  });
  // Catches up with changes made while provd was down.
  trigger();
}

void Provd::unwatch_confd() {
  confd_bus_.reset();
  confd_listen_.reset();
  std::lock_guard lock(sync_guard_->mutex);
  sync_guard_->alive = false;
}

sdk::Result<std::size_t> Provd::sync_from_confd() {
  std::lock_guard serial(sync_mutex_);
  auto present = store_.exec("SELECT to_regclass('confd_lines') IS NOT NULL AS ok");
  if (!present) return present.error();
  if (present->get(0, "ok") != "t") return std::size_t{0};  // api.confd never ran here
  auto lines = store_.exec(kLinesSql);
  if (!lines) {
    host_.log().error("provd: cannot read the lines of the configuration API: " + lines.error().message);
    return lines.error();
  }
  auto keys = store_.exec(kFunckeysSql);
  if (!keys) {
    host_.log().error("provd: cannot read the function keys of the configuration API: " + keys.error().message);
    return keys.error();
  }

  auto codes = feature_codes(store_);
  // device id -> raw_config, first user of the device (its function keys).
  struct Wanted {
    rapidjson::Document raw{rapidjson::kObjectType};
    std::string user_id;
  };
  std::map<std::string, Wanted> wanted;
  std::string proxy;
  {
    std::lock_guard lock(mutex_);
    proxy = settings_.sip_proxy;
    if (auto it = params_.find("sip_proxy"); it != params_.end() && !it->second.empty()) proxy = it->second;
  }
  for (std::size_t i = 0; i < lines->rows.size(); ++i) {
    std::string ref = lines->get(i, "device_id");
    std::string id = ref;
    {
      std::lock_guard lock(mutex_);
      if (!devices_.count(ref)) {
        // A MAC is accepted for a device id: the device it names.
        auto m = sdk::normalize_mac(ref);
        auto it = m.empty() ? by_mac_.end() : by_mac_.find(m);
        if (it == by_mac_.end()) {
          if (unknown_confd_devices_.insert(ref).second)
            host_.log().warn("provd: a line of the configuration API points to device '" + ref +
                             "', which provd does not know; use an id from GET /provd/dev_mgr/devices");
          continue;
        }
        id = it->second;
      }
    }
    auto& w = wanted[id];
    auto& a = w.raw.GetAllocator();
    if (!w.raw.HasMember("sip_lines")) w.raw.AddMember("sip_lines", rapidjson::Value(rapidjson::kObjectType), a);
    auto pos = lines->get(i, "position");
    auto& sip_lines = w.raw["sip_lines"];
    if (sip_lines.HasMember(pos.c_str())) continue;  // two lines at one position: the first wins
    std::string name = lines->get(i, "firstname");
    if (auto last = lines->get(i, "lastname"); !last.empty()) name += (name.empty() ? "" : " ") + last;
    if (name.empty()) name = lines->get(i, "caller_id_name");
    auto user = lines->get(i, "username");
    if (name.empty()) name = user;
    rapidjson::Value line(rapidjson::kObjectType);
    auto put = [&](const char* k, const std::string& v) {
      line.AddMember(rapidjson::StringRef(k), rapidjson::Value(v.c_str(), a), a);
    };
    put("proxy_ip", proxy);
    put("username", user);
    put("auth_username", user);
    put("password", lines->get(i, "secret"));
    put("display_name", name);
    put("number", lines->get(i, "exten"));
    sip_lines.AddMember(rapidjson::Value(pos.c_str(), a), line, a);
    if (w.user_id.empty()) w.user_id = lines->get(i, "user_id");
  }
  for (auto& [id, w] : wanted) {
    auto& a = w.raw.GetAllocator();
    // XiVO's exten_pickup_call: the phone's directed pickup code, which a
    // BLF key pressed while its line rings dials before the extension.
    if (!codes["pickup"].empty())
      w.raw.AddMember("exten_pickup_call", rapidjson::Value(codes["pickup"].c_str(), a), a);
    if (w.user_id.empty()) continue;
    rapidjson::Value fk(rapidjson::kObjectType);
    for (std::size_t i = 0; i < keys->rows.size(); ++i) {
      if (keys->get(i, "user_id") != w.user_id) continue;
      auto type = keys->get(i, "type");
      auto label = keys->get(i, "label");
      std::string value, kind;
      if (type == "forward") {
        // A speed dial on *21<exten> etc.; without exten the code toggles.
        // Supervised, a BLF on that code: lit while the forward is on (to
        // that destination when the key names one, seed 5.33.3).
        auto f = forward_code(keys->get(i, "forward"));
        if (f && !codes[f->feature].empty()) {
          value = codes[f->feature] + keys->get(i, "value");
          kind = keys->get(i, "blf") == "t" ? "blf" : "forward";
          if (label.empty())
            label = std::string(f->label) + (keys->get(i, "value").empty() ? "" : " " + keys->get(i, "value"));
        }
      } else if (type == "service") {
        auto f = service_code(keys->get(i, "service"));
        if (f && !codes[f->feature].empty()) {
          value = codes[f->feature];
          kind = keys->get(i, "blf") == "t" && f->supervised ? "blf" : "speeddial";
          if (label.empty()) label = f->label;
        }
      } else if (type == "user") {
        value = keys->get(i, "user_exten");
        kind = keys->get(i, "blf") == "t" ? "blf" : "speeddial";
      } else if (type == "custom") {
        value = keys->get(i, "value");
        kind = keys->get(i, "blf") == "t" ? "blf" : "speeddial";
      } else if (type == "park_position") {
        value = keys->get(i, "value");
        kind = "park";
      } else if (type == "group") {
        // The group's extension: supervised, lit while its members' lines ring or talk.
        value = keys->get(i, "group_exten");
        kind = keys->get(i, "blf") == "t" ? "blf" : "speeddial";
      } else if (type == "onlinerec") {
        // XiVO's online recording code, pressed during a call; supervised,
        // lit while a call of the user is recorded that way.
        value = std::string(sdk::kOnlineRecordingCode);
        kind = keys->get(i, "blf") == "t" ? "blf" : "speeddial";
        if (label.empty()) label = "Online recording";
      } else if (type == "bsfilter") {
        // *37<member id> toggles that member's filter; supervised, lit while it is on.
        auto member = keys->get(i, "filter_member");
        if (!member.empty() && member.find_first_not_of("0123456789") == std::string::npos &&
            !codes["bsfilter"].empty()) {
          value = codes["bsfilter"] + member;
          kind = keys->get(i, "blf") == "t" ? "blf" : "speeddial";
          if (label.empty()) label = "Call filter";
        }
      } else if (type == "paging") {
        // *11<number> pages the group; supervised, lit while a page to it runs.
        auto number = keys->get(i, "paging_number");
        if (!number.empty() && !codes["paging"].empty()) {
          value = codes["paging"] + number;
          kind = keys->get(i, "blf") == "t" ? "blf" : "speeddial";
          if (label.empty()) label = "Paging " + number;
        }
      }
      // Other destinations (queues, agents...) have no extension or feature
      // code the dialplan answers yet: not on the phone.
      if (value.empty()) continue;
      rapidjson::Value k(rapidjson::kObjectType);
      k.AddMember("type", rapidjson::Value(kind.c_str(), a), a);
      k.AddMember("value", rapidjson::Value(value.c_str(), a), a);
      k.AddMember("label", rapidjson::Value(label.c_str(), a), a);
      k.AddMember("line", "1", a);
      fk.AddMember(rapidjson::Value(keys->get(i, "position").c_str(), a), k, a);
    }
    if (fk.MemberCount()) w.raw.AddMember("funckeys", fk, a);
  }

  std::size_t changed = 0;
  for (auto& [id, w] : wanted) {
    auto raw = to_json(w.raw);
    auto existing = config(id);
    bool content_changed = false;
    if (!existing) {
      Config c{id, {"base", "defaultconfigdevice"}, raw, true, kConfdRole};
      if (auto r = add_config(c); !r) {
        host_.log().error("provd: cannot create the config of device " + id + ": " + r.error().message);
        continue;
      }
      content_changed = true;
    } else if (existing->role != kConfdRole) {
      host_.log().warn("provd: config " + id + " was not created from the configuration API; "
                       "delete it so that device " + id + " gets its lines");
      continue;
    } else if (!same_json(existing->raw_config, raw)) {
      auto c = *existing;
      c.raw_config = raw;
      if (auto s = update_config(c); !s) {
        host_.log().error("provd: cannot update the config of device " + id + ": " + s.error().message);
        continue;
      }
      content_changed = true;
    }
    auto d = device(id);
    if (!d) continue;
    if (d->config != id) {
      d->config = id;
      if (auto s = update_device(*d); !s) {
        host_.log().error("provd: cannot assign config " + id + " to its device: " + s.error().message);
        continue;
      }
      content_changed = true;
    }
    if (!content_changed) continue;
    ++changed;
    regenerate(id);
  }

  // Configs of devices no line points to any more: the devices go back to autoprov.
  for (auto& c : configs()) {
    if (c.role != kConfdRole || wanted.count(c.id)) continue;
    for (auto& d : devices()) {
      if (d.config != c.id) continue;
      auto back = d;
      back.config = "autoprov";
      if (auto s = update_device(back); !s) {
        host_.log().error("provd: cannot reset device " + d.id + " to autoprov: " + s.error().message);
        continue;
      }
      ++changed;
      regenerate(d.id);
    }
    if (auto s = remove_config(c.id); !s)
      host_.log().error("provd: cannot remove config " + c.id + ": " + s.error().message);
  }
  if (changed)
    host_.log().info("provd: " + std::to_string(changed) +
                     " device(s) regenerated from the configuration API");
  return changed;
}

void Provd::regenerate(const std::string& device_id) {
  invalidate(device_id);
  auto d = device(device_id);
  if (!d) return;
  (void)rendered(*d);
  synchronize(device_id, [this, device_id](sdk::Status s) {
    if (!s) host_.log().debug("provd: device " + device_id + " regenerated, not synchronized: " + s.error().message);
  });
}

}  // namespace dialtone::plugins::provisioning
