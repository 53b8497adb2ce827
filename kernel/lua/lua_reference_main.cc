// dialtone-lua-reference: prints the generated Markdown reference of the
// functions the kernel exports to the dialplan (the Lua host's own
// `dialtone` module and the call core's `channel` module, the methods of
// `call`), from the same declarations that register them and check their
// arguments.
//
//   dialtone-lua-reference                          # print it
//   dialtone-lua-reference --update docs/lua-dialplan.md
//       # rewrite the section between <!-- BEGIN GENERATED --> and <!-- END GENERATED -->
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>

#include "kernel/calls/call_core.h"
#include "kernel/lua/lua_host.h"

namespace {

class SilentLogger final : public dialtone::sdk::Logger {
 public:
  void log(dialtone::sdk::LogLevel, std::string_view) override {}
  bool enabled(dialtone::sdk::LogLevel) const override { return false; }
};

// The call core publishes nothing here: it only declares its functions.
class NullBus final : public dialtone::sdk::EventBus {
 public:
  using dialtone::sdk::EventBus::publish;
  void publish(std::shared_ptr<const dialtone::sdk::Event>) override {}
  std::unique_ptr<dialtone::sdk::Subscription> subscribe(std::string, dialtone::sdk::EventHandler,
                                                         dialtone::sdk::SubscribeOptions) override {
    return nullptr;
  }
};

constexpr std::string_view kBegin = "<!-- BEGIN GENERATED -->\n";
constexpr std::string_view kEnd = "<!-- END GENERATED -->";

int update(const std::string& file, const std::string& reference) {
  std::ifstream in(file);
  if (!in) {
    std::cerr << "dialtone-lua-reference: cannot read " << file << "\n";
    return 1;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string doc = ss.str();
  const auto b = doc.find(kBegin), e = doc.find(kEnd);
  if (b == std::string::npos || e == std::string::npos || e < b) {
    std::cerr << "dialtone-lua-reference: " << file << " has no " << kBegin.substr(0, kBegin.size() - 1)
              << " ... " << kEnd << " section\n";
    return 1;
  }
  std::string body = reference;
  while (!body.empty() && body.back() == '\n') body.pop_back();
  doc.replace(b + kBegin.size(), e - b - kBegin.size(), body + "\n");
  std::ofstream(file, std::ios::trunc) << doc;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  SilentLogger log;
  dialtone::kernel::LuaHostImpl host({}, log);
  NullBus bus;
  dialtone::kernel::CallCoreImpl calls(bus, log);
  if (auto s = calls.export_lua(host); !s) {
    std::cerr << "dialtone-lua-reference: " << s.error().message << "\n";
    return 1;
  }
  calls.stop();
  const std::string reference = host.reference_markdown();
  if (argc == 3 && std::string_view(argv[1]) == "--update") return update(argv[2], reference);
  if (argc != 1) {
    std::cerr << "usage: dialtone-lua-reference [--update docs/lua-dialplan.md]\n";
    return 2;
  }
  std::cout << reference;
  return 0;
}
