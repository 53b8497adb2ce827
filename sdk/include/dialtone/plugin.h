// What a plugin is: a manifest the kernel reads before any plugin code runs,
// and a class with a configure -> start -> stop lifecycle.
//
// @code
//   #include <dialtone/plugin.h>
//   #include <dialtone/host.h>
//
//   class Hello final : public dialtone::sdk::Plugin {
//    public:
//     explicit Hello(dialtone::sdk::Host& host) : host_(host) {}
//     dialtone::sdk::Status configure(const dialtone::sdk::Options& o) override {
//       greeting_ = o.get("hello.greeting");
//       return {};
//     }
//     dialtone::sdk::Status start() override { host_.log().info(greeting_); return {}; }
//     void stop() override {}
//    private:
//     dialtone::sdk::Host& host_;
//     std::string greeting_;
//   };
//
//   static constexpr dialtone::sdk::OptionSpec kOptions[] = {
//     {"hello.greeting", dialtone::sdk::OptionType::string, "hello", "what to log"}, {}};
//
//   DIALTONE_PLUGIN(Hello, "example.hello", "example", "1.0.0",
//                   "logs a greeting", /*requires=*/"", /*optional=*/"", kOptions)
// @endcode
//
// Rules the kernel enforces (docs/plugin-guide.md):
//  - `abi_major` must equal the kernel's; `abi_minor` must not be newer.
//  - The C++ ABI contract recorded when the plugin was compiled (compiler
//    family, libstdc++ release, _GLIBCXX_USE_CXX11_ABI) must match the
//    kernel's: std::string, std::map and std::function cross the boundary.
//  - `requires` plugins start before this one; if one is missing or failed,
//    this plugin is not started. `optional` only orders start-up.
//  - Exceptions never leave the plugin: DIALTONE_PLUGIN wraps every entry
//    point and turns an exception into an Error.
#pragma once

#include <cstdint>
#include <exception>
#include <memory>
#include <string>

#include "dialtone/options.h"
#include "dialtone/result.h"

// Bumped on any incompatible change to an SDK header (layout, virtual order).
// 2: sdk::Event carries fields and writes its JSON lazily (dialtone/bus.h).
#define DIALTONE_SDK_ABI_MAJOR 2
// Bumped when something is appended compatibly; a plugin needing a newer
// minor than the kernel provides is refused.
#define DIALTONE_SDK_ABI_MINOR 0

// The C++ ABI contract, as seen by the compiler building this file.
#if defined(__GNUC__)  // GCC and Clang: the Itanium C++ ABI
#define DIALTONE_COMPILER_FAMILY "gnu"
#elif defined(_MSC_VER)
#define DIALTONE_COMPILER_FAMILY "msvc"
#else
#define DIALTONE_COMPILER_FAMILY "other"
#endif
#if defined(_GLIBCXX_RELEASE)
#define DIALTONE_LIBSTDCXX_MAJOR _GLIBCXX_RELEASE
#else
#define DIALTONE_LIBSTDCXX_MAJOR 0  // not libstdc++ (libc++, MSVC STL)
#endif
#if defined(_GLIBCXX_USE_CXX11_ABI)
#define DIALTONE_CXX11_ABI _GLIBCXX_USE_CXX11_ABI
#else
#define DIALTONE_CXX11_ABI 0
#endif
#define DIALTONE_ABI_CONTRACT                                                          \
  dialtone_abi_contract {                                                               \
    sizeof(dialtone_abi_contract), DIALTONE_COMPILER_FAMILY, DIALTONE_LIBSTDCXX_MAJOR, \
        DIALTONE_CXX11_ABI                                                              \
  }

#if defined(_WIN32)
#define DIALTONE_EXPORT __declspec(dllexport)
#else
#define DIALTONE_EXPORT __attribute__((visibility("default")))
#endif

namespace dialtone::sdk {

class Host;

class Plugin {
 public:
  virtual ~Plugin() = default;

  // Receives the validated options. No I/O that can block for long here.
  virtual Status configure(const Options& options) = 0;
  // Open listeners, register services and routes, subscribe to the bus.
  virtual Status start() = 0;
  // Release everything start() acquired. Called in reverse start order.
  virtual void stop() = 0;
  // Apply changed options without restarting. The kernel only calls this when
  // supports_reload() is true; otherwise a changed option is reported as
  // needing a restart of dialtoned.
  virtual bool supports_reload() const { return false; }
  virtual Status reload(const Options& /*options*/) {
    return Error::unsupported("this plugin does not support reload");
  }
};

}  // namespace dialtone::sdk

extern "C" {

// What the C++ types crossing the plugin boundary were compiled as. Filled in
// by DIALTONE_PLUGIN from the compiler's own macros, so it records how the
// plugin was really built.
struct dialtone_abi_contract {
  std::uint32_t struct_size;
  const char* compiler_family;    // "gnu" (GCC, Clang), "msvc", "other"
  std::uint32_t libstdcxx_major;  // _GLIBCXX_RELEASE of the headers; 0: not libstdc++
  std::uint32_t cxx11_abi;        // _GLIBCXX_USE_CXX11_ABI: 1 for the C++11 std::string
};

// Read by the kernel with the library loaded but no plugin code called.
// Fields are only ever appended; struct_size tells the kernel which it has.
struct dialtone_plugin_manifest {
  std::uint32_t struct_size;
  std::uint16_t abi_major;
  std::uint16_t abi_minor;
  const char* id;           // "directory.ldap"
  const char* kind;         // "directory"
  const char* version;      // the plugin's own version, "1.2.0"
  const char* description;  // one line
  const char* requires_;    // comma-separated plugin ids
  const char* optional_;    // comma-separated plugin ids
  const dialtone::sdk::OptionSpec* options;  // ends with an entry whose name is null
  dialtone_abi_contract contract;            // since ABI 1.1
};

// Entry points, each wrapped so that no exception escapes. `out` receives the
// error when a call fails.
struct dialtone_plugin_vtable {
  std::uint32_t struct_size;
  void* (*create)(dialtone::sdk::Host* host, dialtone::sdk::Error* out);
  void (*destroy)(void* self);
  bool (*configure)(void* self, const dialtone::sdk::Options* options, dialtone::sdk::Error* out);
  bool (*start)(void* self, dialtone::sdk::Error* out);
  bool (*stop)(void* self, dialtone::sdk::Error* out);
  bool (*supports_reload)(void* self);
  bool (*reload)(void* self, const dialtone::sdk::Options* options, dialtone::sdk::Error* out);
};

}  // extern "C"

namespace dialtone::sdk::detail {

template <class F>
bool guarded(Error* out, F&& f) noexcept {
  try {
    Status s = f();
    if (!s.ok()) {
      if (out) *out = s.error();
      return false;
    }
    return true;
  } catch (const std::exception& e) {
    if (out) *out = Error::internal(std::string("exception: ") + e.what());
  } catch (...) {
    if (out) *out = Error::internal("unknown exception");
  }
  return false;
}

template <class P>
struct Shim {
  static void* create(Host* host, Error* out) noexcept {
    P* p = nullptr;
    bool ok = guarded(out, [&]() -> Status {
      p = new P(*host);
      return {};
    });
    return ok ? static_cast<Plugin*>(p) : nullptr;
  }
  static void destroy(void* self) noexcept {
    try { delete static_cast<Plugin*>(self); } catch (...) {}
  }
  static bool configure(void* self, const Options* o, Error* out) noexcept {
    return guarded(out, [&] { return static_cast<Plugin*>(self)->configure(*o); });
  }
  static bool start(void* self, Error* out) noexcept {
    return guarded(out, [&] { return static_cast<Plugin*>(self)->start(); });
  }
  static bool stop(void* self, Error* out) noexcept {
    return guarded(out, [&]() -> Status {
      static_cast<Plugin*>(self)->stop();
      return {};
    });
  }
  static bool supports_reload(void* self) noexcept {
    try { return static_cast<Plugin*>(self)->supports_reload(); } catch (...) { return false; }
  }
  static bool reload(void* self, const Options* o, Error* out) noexcept {
    return guarded(out, [&] { return static_cast<Plugin*>(self)->reload(*o); });
  }
  static constexpr dialtone_plugin_vtable vtable{
      sizeof(dialtone_plugin_vtable), &create, &destroy, &configure, &start,
      &stop, &supports_reload, &reload};
};

}  // namespace dialtone::sdk::detail

// Declares the plugin: exports `dialtone_plugin_manifest_v1` (data) and
// `dialtone_plugin_entry_v1` (returns the vtable). CLASS must derive from
// dialtone::sdk::Plugin and be constructible from dialtone::sdk::Host&.
#define DIALTONE_PLUGIN(CLASS, ID, KIND, VERSION, DESCRIPTION, REQUIRES, OPTIONAL, OPTIONS) \
  extern "C" DIALTONE_EXPORT const dialtone_plugin_manifest dialtone_plugin_manifest_v1 = { \
      sizeof(dialtone_plugin_manifest), DIALTONE_SDK_ABI_MAJOR, DIALTONE_SDK_ABI_MINOR,      \
      ID, KIND, VERSION, DESCRIPTION, REQUIRES, OPTIONAL, OPTIONS, DIALTONE_ABI_CONTRACT};   \
  extern "C" DIALTONE_EXPORT const dialtone_plugin_vtable* dialtone_plugin_entry_v1() {      \
    return &::dialtone::sdk::detail::Shim<CLASS>::vtable;                                    \
  }
