#include "plugins/directory/ldap/ldap_source.h"

#include <dialtone/text.h>

#define LDAP_DEPRECATED 0
#include <lber.h>
#include <ldap.h>

#include <cstdio>

namespace dialtone::plugins::directory {
namespace {

timeval to_timeval(std::chrono::milliseconds ms) {
  if (ms.count() < 1) ms = std::chrono::milliseconds(1);
  return {static_cast<time_t>(ms.count() / 1000), static_cast<suseconds_t>((ms.count() % 1000) * 1000)};
}

bool connection_lost(int rc) {
  return rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR || rc == LDAP_TIMEOUT ||
         rc == LDAP_UNAVAILABLE || rc == LDAP_BUSY;
}

std::string replace_q(std::string_view filter, std::string_view escaped) {
  std::string out;
  for (std::size_t i = 0; i < filter.size(); ++i) {
    if (filter[i] == '%' && i + 1 < filter.size() && filter[i + 1] == 'Q') {
      out += escaped;
      ++i;
    } else {
      out += filter[i];
    }
  }
  return out;
}

}  // namespace

std::string ldap_escape(std::string_view v) { return sdk::text::ldap_filter_escape(v); }

static std::string custom_part(const LdapConfig& c, std::string_view escaped) {
  if (c.custom_filter.empty()) return {};
  auto f = replace_q(c.custom_filter, escaped);
  if (f.front() != '(') f = "(" + f + ")";
  return f;
}

static std::string combine(const std::string& custom, const std::string& columns) {
  if (custom.empty()) return columns.empty() ? "(objectClass=*)" : columns;
  if (columns.empty()) return custom;
  return "(&" + custom + columns + ")";
}

std::string ldap_search_filter(const LdapConfig& c, std::string_view term) {
  auto q = ldap_escape(term);
  std::string cols;
  if (!c.source.searched_columns.empty()) {
    cols = "(|";
    for (auto& col : c.source.searched_columns) cols += "(" + col + "=" + q + "*)";
    cols += ")";
  }
  return combine(custom_part(c, q), cols);
}

std::string guid_to_string(std::string_view b) {
  if (b.size() != 16) return std::string(b);
  auto u = [&](int i) { return static_cast<unsigned>(static_cast<unsigned char>(b[i])); };
  char buf[40];
  std::snprintf(buf, sizeof buf, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                u(3), u(2), u(1), u(0), u(5), u(4), u(7), u(6), u(8), u(9), u(10), u(11), u(12),
                u(13), u(14), u(15));
  return buf;
}

std::string guid_to_filter_value(std::string_view uuid) {
  std::string hex;
  for (char ch : uuid)
    if (ch != '-') hex += ch;
  if (hex.size() != 32) return ldap_escape(uuid);
  static const int order[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
  std::string out;
  for (int i = 0; i < 16; ++i) {
    out += '\\';
    out += hex.substr(order[i] * 2, 2);
  }
  return out;
}

LdapSource::LdapSource(LdapConfig config, sdk::Logger& log) : config_(std::move(config)), log_(log) {}

LdapSource::~LdapSource() {
  for (auto* ld : idle_) ldap_unbind_ext_s(ld, nullptr, nullptr);
}

sdk::Result<LDAP*> LdapSource::connect() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      auto* ld = idle_.back();
      idle_.pop_back();
      return ld;
    }
  }
  const auto& n = config_.source.name;
  LDAP* ld = nullptr;
  if (int rc = ldap_initialize(&ld, config_.uri.c_str()); rc != LDAP_SUCCESS)
    return sdk::Error::invalid("directory source " + n + ": uri '" + config_.uri +
                               "' is not an LDAP URI (" + ldap_err2string(rc) +
                               "); write e.g. `uri = ldap://ldap.example.org`");
  int version = LDAP_VERSION3;
  ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version);
  ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
  auto net = to_timeval(config_.network_timeout);
  ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &net);
  auto op = to_timeval(config_.search_timeout);
  ldap_set_option(ld, LDAP_OPT_TIMEOUT, &op);
  auto fail = [&](int rc, const std::string& what, const std::string& fix) -> sdk::Error {
    ldap_unbind_ext_s(ld, nullptr, nullptr);
    return sdk::Error::unavailable("directory source " + n + ": " + what + " (" +
                                   ldap_err2string(rc) + "); " + fix);
  };
  if (config_.start_tls) {
    if (int rc = ldap_start_tls_s(ld, nullptr, nullptr); rc != LDAP_SUCCESS)
      return fail(rc, "StartTLS with " + config_.uri + " failed",
                  "check the server certificate or set start_tls = false");
  }
  berval cred{static_cast<ber_len_t>(config_.bind_password.size()),
              const_cast<char*>(config_.bind_password.data())};
  int rc = ldap_sasl_bind_s(ld, config_.bind_dn.empty() ? nullptr : config_.bind_dn.c_str(),
                            LDAP_SASL_SIMPLE, &cred, nullptr, nullptr, nullptr);
  if (rc == LDAP_INVALID_CREDENTIALS)
    return fail(rc, "bind as '" + config_.bind_dn + "' refused",
                "fix source." + n + ".bind_dn / bind_password");
  if (rc != LDAP_SUCCESS)
    return fail(rc, "cannot reach " + config_.uri,
                "check that the server runs and source." + n + ".uri is right");
  return ld;
}

void LdapSource::release(LDAP* ld, bool healthy) {
  if (!healthy) {
    ldap_unbind_ext_s(ld, nullptr, nullptr);
    return;
  }
  std::lock_guard lock(mu_);
  idle_.push_back(ld);
}

sdk::Result<std::vector<sdk::DirectoryEntry>> LdapSource::run(const std::string& filter, int limit,
                                                              const sdk::DirectoryQuery& q) {
  const auto& n = config_.source.name;
  std::vector<char*> attrs{const_cast<char*>("*")};
  if (!config_.source.unique_column.empty())
    attrs.push_back(const_cast<char*>(config_.source.unique_column.c_str()));
  attrs.push_back(nullptr);

  for (int attempt = 0; attempt < 2; ++attempt) {
    auto budget = config_.search_timeout;
    if (q.deadline != std::chrono::steady_clock::time_point::max()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          q.deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return sdk::Error::timeout("directory source " + n + ": deadline passed");
      budget = std::min(budget, left);
    }
    auto ld = connect();
    if (!ld) {
      failures_.failed(log_, ld.error().message);
      return ld.error();
    }
    auto tv = to_timeval(budget);
    LDAPMessage* res = nullptr;
    int rc = ldap_search_ext_s(*ld, config_.base_dn.c_str(), LDAP_SCOPE_SUBTREE, filter.c_str(),
                               attrs.data(), 0, nullptr, nullptr, &tv, limit, &res);
    if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED && rc != LDAP_TIMELIMIT_EXCEEDED) {
      if (res) ldap_msgfree(res);
      release(*ld, false);
      // A kept connection may have been closed by the server: retry once on a fresh one.
      if (connection_lost(rc) && attempt == 0) continue;
      sdk::Error e = connection_lost(rc)
                         // Worded as connect() words it, so one outage logs one line
                         // whether a kept or a new connection noticed it first.
                         ? sdk::Error::unavailable("directory source " + n + ": cannot reach " +
                                                   config_.uri + " (" + ldap_err2string(rc) +
                                                   "); check that the server runs and source." + n +
                                                   ".uri is right")
                         : sdk::Error::invalid("directory source " + n + ": search failed (" +
                                               ldap_err2string(rc) + ") with filter " + filter +
                                               "; check source." + n + ".custom_filter and base_dn");
      failures_.failed(log_, e.message);
      return e;
    }
    std::vector<sdk::DirectoryEntry> out;
    for (LDAPMessage* m = ldap_first_entry(*ld, res); m; m = ldap_next_entry(*ld, m)) {
      std::map<std::string, std::string> row;
      if (char* dn = ldap_get_dn(*ld, m)) {
        row["dn"] = dn;
        ldap_memfree(dn);
      }
      BerElement* ber = nullptr;
      for (char* a = ldap_first_attribute(*ld, m, &ber); a; a = ldap_next_attribute(*ld, m, ber)) {
        if (berval** vals = ldap_get_values_len(*ld, m, a)) {
          if (vals[0]) {
            std::string v(vals[0]->bv_val, vals[0]->bv_len);
            if (config_.binary_uuid && a == config_.source.unique_column) v = guid_to_string(v);
            row[a] = std::move(v);
          }
          ldap_value_free_len(vals);
        }
        ldap_memfree(a);
      }
      if (ber) ber_free(ber, 0);
      out.push_back(make_entry(config_.source, std::move(row)));
    }
    ldap_msgfree(res);
    release(*ld, true);
    failures_.succeeded(log_, n);
    return out;
  }
  return sdk::Error::unavailable("directory source " + n + ": " + config_.uri + " is unreachable");
}

sdk::Result<std::vector<sdk::DirectoryEntry>> LdapSource::search(const sdk::DirectoryQuery& q) {
  if (config_.source.searched_columns.empty() && config_.custom_filter.empty())
    return std::vector<sdk::DirectoryEntry>{};
  return run(ldap_search_filter(config_, q.term), config_.size_limit, q);
}

sdk::Result<std::optional<sdk::DirectoryEntry>> LdapSource::first_match(const sdk::DirectoryQuery& q) {
  if (config_.source.first_matched_columns.empty() || q.term.empty())
    return std::optional<sdk::DirectoryEntry>{};
  auto v = ldap_escape(q.term);
  std::string cols = "(|";
  for (auto& c : config_.source.first_matched_columns) cols += "(" + c + "=" + v + ")";
  cols += ")";
  auto r = run(combine(custom_part(config_, v), cols), 1, q);
  if (!r) return r.error();
  if (r->empty()) return std::optional<sdk::DirectoryEntry>{};
  return std::optional<sdk::DirectoryEntry>(std::move(r->front()));
}

sdk::Result<std::vector<sdk::DirectoryEntry>> LdapSource::list(const std::vector<std::string>& ids,
                                                               const sdk::DirectoryQuery& q) {
  const auto& uc = config_.source.unique_column;
  if (uc.empty())
    return sdk::Error::unsupported("directory source " + config_.source.name +
                                   " has no unique_column; set `unique_column = entryUUID`");
  if (ids.empty()) return std::vector<sdk::DirectoryEntry>{};
  std::string f = "(|";
  for (auto& id : ids)
    f += "(" + uc + "=" + (config_.binary_uuid ? guid_to_filter_value(id) : ldap_escape(id)) + ")";
  f += ")";
  return run(f, static_cast<int>(ids.size()), q);
}

}  // namespace dialtone::plugins::directory
