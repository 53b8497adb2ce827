// The configuration schema owned by api.confd, applied as store migrations.
#pragma once

#include <span>

#include <dialtone/store.h>

namespace dialtone::plugins::api::confd {

inline constexpr const char* kOwner = "api.confd";
std::span<const sdk::Migration> migrations();

}  // namespace dialtone::plugins::api::confd
