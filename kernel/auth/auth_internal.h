// Helpers shared by the auth service's files (auth_service.cc, accounts_api.cc,
// ldap_backend.cc); not part of any interface.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <dialtone/auth.h>

namespace dialtone::kernel::auth_detail {

std::int64_t now_unix();
std::string new_uuid();
bool is_uuid(std::string_view s);
// The xivo-auth token answer {"data": {...}}.
std::string token_json(const sdk::TokenInfo& t);

}  // namespace dialtone::kernel::auth_detail
