// dialtone-lua-reference: prints the generated Markdown reference of the
// functions the Lua host exports by itself.
#include <iostream>
#include <string_view>

#include "kernel/lua/lua_host.h"

namespace {

class SilentLogger final : public dialtone::sdk::Logger {
 public:
  void log(dialtone::sdk::LogLevel, std::string_view) override {}
  bool enabled(dialtone::sdk::LogLevel) const override { return false; }
};

}  // namespace

int main() {
  SilentLogger log;
  dialtone::kernel::LuaHostImpl host({}, log);
  std::cout << host.reference_markdown();
  return 0;
}
