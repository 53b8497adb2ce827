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

std::string kernel_abi();  // "1.1"

// The C++ ABI contract dialtoned was built under, and the check a plugin's
// recorded contract must pass: same compiler family, same
// _GLIBCXX_USE_CXX11_ABI, libstdc++ headers no newer than dialtoned's.
const dialtone_abi_contract& kernel_contract();
sdk::Status check_contract(const dialtone_abi_contract& plugin);
std::string describe_contract(const dialtone_abi_contract& c);  // "gnu libstdc++ 12 _GLIBCXX_USE_CXX11_ABI=1"

}  // namespace dialtone::kernel
