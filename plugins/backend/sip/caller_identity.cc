#include "plugins/backend/sip/caller_identity.h"

#include <dialtone/text.h>

#include <algorithm>
#include <cctype>

namespace dialtone::plugins::backend::sip {

namespace {

using sdk::text::iequals;

// The value of header parameter `name` after the URI (";party=calling"), lower case.
std::string header_param(std::string_view value, std::string_view name) {
  auto close = value.find('>');
  std::string rest = sdk::text::to_lower(close == std::string_view::npos ? value : value.substr(close + 1));
  std::string key = ";" + std::string(name) + "=";
  auto at = rest.find(key);
  if (at == std::string::npos) return {};
  auto from = at + key.size();
  auto end = rest.find_first_of(";, ", from);
  return rest.substr(from, end == std::string::npos ? std::string::npos : end - from);
}

// Splits a header value at the commas outside quotes and <>.
std::vector<std::string_view> elements(std::string_view value) {
  std::vector<std::string_view> out;
  bool quoted = false;
  int angle = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i < value.size(); ++i) {
    char ch = value[i];
    if (ch == '"' && (i == 0 || value[i - 1] != '\\')) quoted = !quoted;
    else if (!quoted && ch == '<') ++angle;
    else if (!quoted && ch == '>') --angle;
    else if (!quoted && angle == 0 && ch == ',') {
      out.push_back(sdk::text::trim_view(value.substr(start, i - start)));
      start = i + 1;
    }
  }
  out.push_back(sdk::text::trim_view(value.substr(start)));
  return out;
}

}  // namespace

std::optional<CallerIdentity> identity_of(std::string_view value) {
  value = sdk::text::trim_view(value);
  CallerIdentity id;
  std::string_view uri = value;
  auto open = value.find('<');
  if (open != std::string_view::npos) {
    auto display = sdk::text::trim_view(value.substr(0, open));
    if (display.size() >= 2 && display.front() == '"' && display.back() == '"')
      display = display.substr(1, display.size() - 2);
    id.name = std::string(display);
    auto close = value.find('>', open);
    uri = value.substr(open + 1, close == std::string_view::npos ? std::string_view::npos : close - open - 1);
  }
  uri = sdk::text::trim_view(uri);
  std::string scheme = sdk::text::to_lower(uri.substr(0, uri.find(':')));
  if (scheme != "sip" && scheme != "sips" && scheme != "tel") return std::nullopt;
  auto user = uri.substr(scheme.size() + 1);
  if (scheme == "tel") {
    user = user.substr(0, user.find_first_of(";?"));
  } else {
    auto at = user.find('@');
    if (at == std::string_view::npos) return std::nullopt;  // no user part: nobody named
    user = user.substr(0, at);
    user = user.substr(0, user.find(';'));  // user parameters (RFC 4967 ;phone-context...)
  }
  if (user.empty()) return std::nullopt;
  id.number = std::string(user);
  return id;
}

std::optional<CallerIdentity> asserted_caller(const HeaderList& headers) {
  std::optional<CallerIdentity> tel;
  for (auto& [name, value] : headers) {
    if (!iequals(name, "P-Asserted-Identity")) continue;
    for (auto element : elements(value)) {
      auto id = identity_of(element);
      if (!id) continue;
      bool is_tel = sdk::text::to_lower(element).find("tel:") != std::string::npos;
      if (!is_tel) {
        if (id->name.empty() && tel) id->name = tel->name;
        return id;
      }
      if (!tel) tel = id;
    }
  }
  if (tel) return tel;
  for (auto& [name, value] : headers) {
    if (!iequals(name, "Remote-Party-ID")) continue;
    for (auto element : elements(value)) {
      auto party = header_param(element, "party");
      if (!party.empty() && party != "calling") continue;
      if (auto id = identity_of(element)) return id;
    }
  }
  return std::nullopt;
}

bool caller_hidden(const HeaderList& headers) {
  for (auto& [name, value] : headers) {
    if (iequals(name, "Privacy")) {
      std::string v = sdk::text::to_lower(value);
      std::size_t start = 0;
      while (start <= v.size()) {
        auto end = v.find_first_of(";,", start);
        auto token = sdk::text::trim_view(std::string_view(v).substr(start, end == std::string::npos ? std::string::npos : end - start));
        if (token == "id" || token == "header" || token == "user") return true;
        if (end == std::string::npos) break;
        start = end + 1;
      }
    } else if (iequals(name, "Remote-Party-ID")) {
      for (auto element : elements(value)) {
        auto party = header_param(element, "party");
        if (!party.empty() && party != "calling") continue;
        auto privacy = header_param(element, "privacy");
        if (privacy == "full" || privacy == "name" || privacy == "uri") return true;
      }
    }
  }
  return false;
}

std::optional<SendIdentity> parse_send_identity(std::string_view text) {
  auto t = sdk::text::to_lower(sdk::text::trim_view(text));
  if (t.empty() || t == "no") return SendIdentity::none;
  if (t == "pai") return SendIdentity::pai;
  if (t == "yes" || t == "rpid") return SendIdentity::rpid;
  return std::nullopt;
}

std::string identity_headers(SendIdentity how, const std::string& name, const std::string& number,
                             const std::string& host, bool hidden) {
  if (how == SendIdentity::none || number.empty()) return {};
  std::string clean = name;
  clean.erase(std::remove(clean.begin(), clean.end(), '"'), clean.end());
  std::string addr = (clean.empty() ? "" : "\"" + clean + "\" ") + "<sip:" + number + "@" + host + ">";
  if (how == SendIdentity::pai) return "P-Asserted-Identity: " + addr + (hidden ? "\r\nPrivacy: id" : "");
  return "Remote-Party-ID: " + addr + ";party=calling;privacy=" + (hidden ? "full" : "off") + ";screen=no";
}

}  // namespace dialtone::plugins::backend::sip
