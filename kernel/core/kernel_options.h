// The kernel's own options, declared as data like a plugin's: they come from
// the conf.d file whose `[plugin] name = kernel` (conf.d/00-kernel.conf).
#pragma once

#include <string_view>

#include <dialtone/options.h>

namespace dialtone::kernel {

inline constexpr std::string_view kKernelId = "kernel";

// Listener names the kernel knows, with XiVO's default ports (seed 3.1.2).
struct ListenerDefault {
  const char* name;
  const char* listen;
};
inline constexpr ListenerDefault kListenerDefaults[] = {
    {"confd", "127.0.0.1:9486"},  {"auth", "127.0.0.1:9497"},  {"dird", "127.0.0.1:9489"},
    {"phoned", "127.0.0.1:9498"}, {"provd", "127.0.0.1:8666"}, {"provd_phones", "127.0.0.1:8667"},
    {"calld", "127.0.0.1:9500"},
};

// Ends with an entry whose name is null.
extern const sdk::OptionSpec kKernelOptions[];

}  // namespace dialtone::kernel
