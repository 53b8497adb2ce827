// dialtone-lua-reference: prints the generated Markdown reference of the
// functions the Lua host exports by itself, from the same declarations that
// register them and check their arguments.
//
//   dialtone-lua-reference                          # print it
//   dialtone-lua-reference --update docs/lua-dialplan.md
//       # rewrite the section between <!-- BEGIN GENERATED --> and <!-- END GENERATED -->
#include <fstream>
#include <iostream>
#include <string>
#include <string_view>

#include <dialtone/files.h>
#include <dialtone/lua_reference.h>

#include "kernel/lua/lua_host.h"

namespace {

class SilentLogger final : public dialtone::sdk::Logger {
 public:
  void log(dialtone::sdk::LogLevel, std::string_view) override {}
  bool enabled(dialtone::sdk::LogLevel) const override { return false; }
};

int update(const std::string& file, const std::string& reference) {
  auto text = dialtone::sdk::read_file(file);
  if (!text) {
    std::cerr << "dialtone-lua-reference: cannot read " << file << "\n";
    return 1;
  }
  auto doc = dialtone::sdk::replace_generated_section(*text, "", reference);
  if (!doc) {
    std::cerr << "dialtone-lua-reference: " << file << ": " << doc.error().message << "\n";
    return 1;
  }
  std::ofstream(file, std::ios::trunc) << *doc;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  SilentLogger log;
  dialtone::kernel::LuaHostImpl host({}, log);
  const std::string reference = host.reference_markdown();
  if (argc == 3 && std::string_view(argv[1]) == "--update") return update(argv[2], reference);
  if (argc != 1) {
    std::cerr << "usage: dialtone-lua-reference [--update docs/lua-dialplan.md]\n";
    return 2;
  }
  std::cout << reference;
  return 0;
}
