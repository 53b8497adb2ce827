// Routing per context: context inclusion, outgoing routes attached to
// contexts (context_routing.cc holds the routes, ConfdApi::context_routes).
#pragma once

#include <optional>
#include <string>

namespace dialtone::plugins::api::confd {

// Why an outcall pattern's `regexp` / `target` would fail in the dialplan
// (lib/patterns.lua's grammar), or nullopt when they are usable.
std::optional<std::string> outcall_regexp_problem(const std::string& regexp, const std::string& target);

}  // namespace dialtone::plugins::api::confd
