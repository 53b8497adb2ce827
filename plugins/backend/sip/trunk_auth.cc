#include "plugins/backend/sip/trunk_auth.h"

#include <dialtone/text.h>

#include <algorithm>
#include <cctype>

#include "plugins/backend/sip/digest.h"

namespace dialtone::plugins::backend::sip {

bool FailoverCodes::matches(int status) const {
  return std::find(codes.begin(), codes.end(), status) != codes.end() ||
         std::find(classes.begin(), classes.end(), status / 100) != classes.end();
}

std::optional<FailoverCodes> parse_failover_codes(std::string_view text) {
  FailoverCodes out;
  std::size_t i = 0;
  while (i <= text.size()) {
    auto end = text.find_first_of(", ", i);
    if (end == std::string_view::npos) end = text.size();
    std::string_view token = text.substr(i, end - i);
    i = end + 1;
    if (token.empty()) continue;
    if (token.size() != 3 || token[0] < '4' || token[0] > '6') return std::nullopt;
    if (sdk::text::iequals(token.substr(1), "xx")) {
      out.classes.push_back(token[0] - '0');
    } else if (std::isdigit(static_cast<unsigned char>(token[1])) &&
               std::isdigit(static_cast<unsigned char>(token[2]))) {
      out.codes.push_back((token[0] - '0') * 100 + (token[1] - '0') * 10 + (token[2] - '0'));
    } else {
      return std::nullopt;
    }
  }
  if (out.codes.empty() && out.classes.empty()) return std::nullopt;
  return out;
}

const FailoverCodes& default_failover_codes() {
  static const FailoverCodes codes = *parse_failover_codes(kDefaultFailoverCodes);
  return codes;
}

std::optional<DigestChallenge> pick_challenge(const std::vector<std::string>& offered,
                                              const std::string& realm) {
  for (auto& value : offered) {
    auto ch = parse_challenge(value);
    if (!ch || !digest_algorithm(ch->algorithm)) continue;
    if (!realm.empty() && ch->realm != realm) continue;
    return ch;
  }
  return std::nullopt;
}

bool answered_realm(const std::vector<std::string>& sent, const std::string& realm) {
  for (auto& value : sent)
    if (auto c = parse_digest(value); c && c->realm == realm) return true;
  return false;
}

}  // namespace dialtone::plugins::backend::sip
