#include "plugins/backend/sip/outbound_register.h"

#include <dialtone/text.h>

#include <rapidjson/document.h>

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "plugins/backend/sip/digest.h"

namespace dialtone::plugins::backend::sip {

bool wants_outbound_register(const std::string& options_json) {
  return endpoint_flag(options_json, "outbound_register").value_or(false);
}

std::optional<DigestChallenge> parse_challenge(std::string_view value) {
  auto skip_ws = [&](std::size_t& i) {
    while (i < value.size() && (value[i] == ' ' || value[i] == '\t' || value[i] == ',')) ++i;
  };
  std::size_t i = 0;
  skip_ws(i);
  if (value.size() < i + 6) return std::nullopt;
  if (!sdk::text::iequals(value.substr(i, 6), "digest")) return std::nullopt;
  i += 6;
  DigestChallenge ch;
  while (i < value.size()) {
    skip_ws(i);
    auto eq = value.find('=', i);
    if (eq == std::string_view::npos) break;
    auto key = sdk::text::to_lower(sdk::text::trim_view(value.substr(i, eq - i)));
    i = eq + 1;
    while (i < value.size() && value[i] == ' ') ++i;
    std::string val;
    if (i < value.size() && value[i] == '"') {
      auto end = value.find('"', i + 1);
      if (end == std::string_view::npos) return std::nullopt;
      val = std::string(value.substr(i + 1, end - i - 1));
      i = end + 1;
    } else {
      auto end = value.find(',', i);
      if (end == std::string_view::npos) end = value.size();
      val = std::string(value.substr(i, end - i));
      while (!val.empty() && val.back() == ' ') val.pop_back();
      i = end;
    }
    if (key == "realm") ch.realm = val;
    else if (key == "nonce") ch.nonce = val;
    else if (key == "opaque") ch.opaque = val;
    else if (key == "algorithm") ch.algorithm = val;
    else if (key == "stale") ch.stale = val == "true" || val == "TRUE";
    else if (key == "qop") {
      // "auth,auth-int": only auth is answered.
      std::size_t p = 0;
      while (p <= val.size()) {
        auto comma = val.find(',', p);
        std::string one = val.substr(p, comma == std::string::npos ? std::string::npos : comma - p);
        one.erase(std::remove(one.begin(), one.end(), ' '), one.end());
        if (one == "auth") ch.qop = "auth";
        if (comma == std::string::npos) break;
        p = comma + 1;
      }
    }
  }
  if (ch.nonce.empty()) return std::nullopt;
  return ch;
}

std::optional<std::string> digest_authorization(const DigestChallenge& ch, const std::string& username,
                                                const std::string& secret, const std::string& method,
                                                const std::string& uri, unsigned nonce_count,
                                                const std::string& cnonce) {
  auto algorithm = digest_algorithm(ch.algorithm);
  if (!algorithm) return std::nullopt;
  DigestCredentials c;
  c.username = username;
  c.realm = ch.realm;
  c.nonce = ch.nonce;
  c.uri = uri;
  c.algorithm = ch.algorithm;
  c.opaque = ch.opaque;
  if (!ch.qop.empty()) {
    char nc[9];
    std::snprintf(nc, sizeof nc, "%08x", nonce_count);
    c.nc = nc;
    c.cnonce = cnonce;
    c.qop = ch.qop;
  }
  std::string out = "Digest username=\"" + username + "\", realm=\"" + ch.realm + "\", nonce=\"" +
                    ch.nonce + "\", uri=\"" + uri + "\", response=\"" +
                    digest_response(*algorithm, c, secret, method) + "\"";
  if (!ch.algorithm.empty()) out += ", algorithm=" + ch.algorithm;
  if (!ch.opaque.empty()) out += ", opaque=\"" + ch.opaque + "\"";
  if (!ch.qop.empty()) out += ", qop=auth, nc=" + c.nc + ", cnonce=\"" + cnonce + "\"";
  return out;
}

std::chrono::milliseconds refresh_delay(int granted_seconds) {
  auto ms = static_cast<long long>(granted_seconds) * 900;
  return std::chrono::milliseconds(std::max<long long>(ms, 1000));
}

std::chrono::milliseconds retry_delay(int failures) {
  long long ms = 5000;
  for (int i = 1; i < failures && ms < 300000; ++i) ms *= 2;
  return std::chrono::milliseconds(std::min<long long>(ms, 300000));
}

}  // namespace dialtone::plugins::backend::sip
