#include "dialtone/testing/lua_reference.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "dialtone/files.h"
#include "dialtone/lua_reference.h"

namespace dialtone::testing {
namespace {

std::string first_difference(const std::string& have, const std::string& want) {
  std::istringstream a(have), b(want);
  std::string la, lb;
  for (int line = 1;; ++line) {
    const bool more_a = static_cast<bool>(std::getline(a, la)), more_b = static_cast<bool>(std::getline(b, lb));
    if (!more_a && !more_b) return "";
    if (!more_a) la = "(end of section)";
    if (!more_b) lb = "(end of section)";
    if (la != lb || !more_a || !more_b)
      return "line " + std::to_string(line) + " of the section is\n  " + la + "\nwhere the declarations give\n  " + lb;
  }
}

}  // namespace

std::optional<std::string> stale_lua_reference(const std::filesystem::path& doc, std::string_view module,
                                               const std::vector<sdk::LuaFunctionSpec>& functions) {
  const auto read = sdk::read_file(doc);
  if (!read) return "cannot read " + doc.string();
  const std::string& text = *read;
  std::string fresh = sdk::lua_reference_markdown(module, functions);
  while (!fresh.empty() && fresh.back() == '\n') fresh.pop_back();

  const char* update = std::getenv("DIALTONE_UPDATE_DOCS");
  if (update && std::string_view(update) == "1") {
    auto next = sdk::replace_generated_section(text, module, fresh);
    if (!next) return doc.string() + ": " + next.error().message;
    if (*next != text) std::ofstream(doc, std::ios::trunc) << *next;
    return std::nullopt;
  }
  auto have = sdk::generated_section(text, module);
  if (!have)
    return doc.string() + " has no " + sdk::generated_begin(module) + " ... " + sdk::generated_end(module) +
           " section for module `" + std::string(module) + "`";
  if (*have == fresh) return std::nullopt;
  return doc.string() + ": the reference of module `" + std::string(module) +
         "` is out of date; rerun this test with DIALTONE_UPDATE_DOCS=1 to refresh it. " + first_difference(*have, fresh);
}

}  // namespace dialtone::testing
