#include "kernel/core/plugin_library.h"

#include <dlfcn.h>

#include <dialtone/text.h>

#include <cstddef>

#include "kernel/core/dll.h"

namespace dialtone::kernel {
namespace {

std::vector<std::string> split_ids(const char* s) { return s ? sdk::text::split_list(s) : std::vector<std::string>{}; }

std::string abi(unsigned major, unsigned minor) {
  return std::to_string(major) + "." + std::to_string(minor);
}

std::string single_line(std::string s) {
  for (auto& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}

}  // namespace

std::string kernel_abi() { return abi(DIALTONE_SDK_ABI_MAJOR, DIALTONE_SDK_ABI_MINOR); }

sdk::Result<PluginLibrary> open_plugin_library(const std::filesystem::path& file) {
  namespace dll = boost::dll;
  auto lib = std::make_shared<dll::shared_library>();
  std::error_code ec;
  dlerror();
  lib->load(file, ec, dll::load_mode::rtld_now | dll::load_mode::rtld_local);
  if (ec || !lib->is_loaded()) {
    const char* why = dlerror();
    std::string text = why ? why : ec.message();
    return sdk::Error::invalid("cannot be loaded: " + single_line(text));
  }
  if (!lib->has(kManifestSymbol))
    return sdk::Error::invalid(std::string("not a Dialtone plugin (no ") + kManifestSymbol +
                               " symbol)");

  const auto& m = lib->get<const dialtone_plugin_manifest>(kManifestSymbol);
  constexpr std::size_t abi_end = offsetof(dialtone_plugin_manifest, abi_minor) + sizeof(m.abi_minor);
  if (m.struct_size < abi_end)
    return sdk::Error::invalid("manifest struct_size " + std::to_string(m.struct_size) +
                               " is too small to hold an ABI version; rebuild the plugin against "
                               "the SDK for ABI " + kernel_abi());
  const std::string plugin_abi = abi(m.abi_major, m.abi_minor);
  if (m.abi_major != DIALTONE_SDK_ABI_MAJOR)
    return sdk::Error::invalid("built for SDK ABI " + plugin_abi + " but the kernel provides ABI " +
                               kernel_abi() + " (major versions must match); rebuild the plugin "
                               "against this SDK");
  if (m.abi_minor > DIALTONE_SDK_ABI_MINOR)
    return sdk::Error::invalid("built for SDK ABI " + plugin_abi + ", newer than the kernel's ABI " +
                               kernel_abi() + "; upgrade dialtoned or rebuild the plugin against "
                               "this SDK");
  if (m.struct_size < sizeof(dialtone_plugin_manifest))
    return sdk::Error::invalid("manifest struct_size " + std::to_string(m.struct_size) +
                               " is smaller than the " + std::to_string(sizeof(dialtone_plugin_manifest)) +
                               " bytes of ABI " + plugin_abi + "; rebuild the plugin against this SDK");
  if (!m.id || !*m.id) return sdk::Error::invalid("manifest has no plugin id");
  if (!lib->has(kEntrySymbol))
    return sdk::Error::invalid(std::string("missing entry symbol ") + kEntrySymbol +
                               " (declare the plugin with DIALTONE_PLUGIN)");

  PluginLibrary out;
  out.file = file;
  out.id = m.id;
  out.kind = m.kind ? m.kind : "";
  out.version = m.version ? m.version : "";
  out.description = m.description ? m.description : "";
  out.requires_ids = split_ids(m.requires_);
  out.optional_ids = split_ids(m.optional_);
  out.options = m.options;
  out.abi_major = m.abi_major;
  out.abi_minor = m.abi_minor;
  out.entry = &lib->get<PluginLibrary::EntryFn>(kEntrySymbol);
  out.library = std::move(lib);
  return out;
}

sdk::Result<const dialtone_plugin_vtable*> plugin_vtable(const PluginLibrary& lib) {
  const dialtone_plugin_vtable* vt = nullptr;
  try {
    vt = lib.entry();
  } catch (...) {
    return sdk::Error::internal(std::string(kEntrySymbol) + " threw an exception");
  }
  if (!vt) return sdk::Error::internal(std::string(kEntrySymbol) + " returned null");
  if (vt->struct_size < sizeof(dialtone_plugin_vtable))
    return sdk::Error::invalid("entry table struct_size " + std::to_string(vt->struct_size) +
                               " is smaller than the " + std::to_string(sizeof(dialtone_plugin_vtable)) +
                               " bytes of ABI " + kernel_abi());
  if (!vt->create || !vt->destroy || !vt->configure || !vt->start || !vt->stop)
    return sdk::Error::invalid("entry table has a null function");
  return vt;
}

}  // namespace dialtone::kernel
