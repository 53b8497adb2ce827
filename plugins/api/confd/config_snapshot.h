// Reads the confd tables into one sdk::ConfigSnapshot (config_service.h
// publishes it). Blocking: runs on the executor, never on a call thread.
#pragma once

#include <memory>

#include <dialtone/config.h>
#include <dialtone/store.h>

namespace dialtone::plugins::api::confd {

// Everything, in one REPEATABLE READ transaction so the snapshot is
// consistent; indexes built. `version` is stamped on it.
sdk::Result<std::shared_ptr<sdk::ConfigSnapshot>> load_snapshot(sdk::Store& store, std::uint64_t version);

}  // namespace dialtone::plugins::api::confd
