// The options of a confd SIP endpoint (confd_endpoints_sip.options: a JSON
// list of [key, value] pairs, or an object), read one key at a time.
//
// @code
//   endpoint_option(R"([["nat","force_rport"]])", "nat");       // "force_rport"
//   endpoint_flag(R"([["direct_media","yes"]])", "direct_media");  // true
//   endpoint_flag(R"({"trustrpid":"maybe"})", "trustrpid");       // nullopt: neither yes nor no
// @endcode
#pragma once

#include <optional>
#include <string>

namespace dialtone::plugins::backend::sip {

// The value of `key` as text (a JSON boolean as yes/no, an integer printed);
// nullopt when absent or when `options_json` is not such a document.
std::optional<std::string> endpoint_option(const std::string& options_json, const std::string& key);

// `key` read as a yes or a no, as conf.d reads a boolean option
// (sdk::parse_boolean); nullopt when absent or neither.
std::optional<bool> endpoint_flag(const std::string& options_json, const std::string& key);

// Whether the endpoint takes T.38 (XiVO's `t38pt_udptl`, or pjsip's
// `t38_udptl`): yes lets Dialtone move its fax calls to T.38 itself.
bool t38_option(const std::string& options_json);

}  // namespace dialtone::plugins::backend::sip
