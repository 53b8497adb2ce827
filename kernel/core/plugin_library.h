// One plugin shared object, opened and its manifest read without calling any
// plugin code (the entry function is only called by PluginManager to create
// the plugin).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <dialtone/plugin.h>
#include <dialtone/result.h>

namespace boost::dll {
class shared_library;
}

namespace dialtone::kernel {

inline constexpr const char* kManifestSymbol = "dialtone_plugin_manifest_v1";
inline constexpr const char* kEntrySymbol = "dialtone_plugin_entry_v1";

struct PluginLibrary {
  std::filesystem::path file;
  std::shared_ptr<boost::dll::shared_library> library;
  std::string id, kind, version, description;
  std::vector<std::string> requires_ids, optional_ids;
  const sdk::OptionSpec* options = nullptr;  // lives in the library
  unsigned abi_major = 0, abi_minor = 0;
  using EntryFn = const dialtone_plugin_vtable*();
  EntryFn* entry = nullptr;
};

// Opens `file` (RTLD_NOW | RTLD_LOCAL, so an undefined symbol is reported
// here) and checks the manifest. The error message is the reason only, one
// line, with both ABI versions where they matter.
sdk::Result<PluginLibrary> open_plugin_library(const std::filesystem::path& file);

// Calls the entry point and checks the vtable it returns.
sdk::Result<const dialtone_plugin_vtable*> plugin_vtable(const PluginLibrary& lib);

std::string kernel_abi();  // "1.0"

}  // namespace dialtone::kernel
