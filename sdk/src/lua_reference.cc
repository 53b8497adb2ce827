#include "dialtone/lua_reference.h"

namespace dialtone::sdk {
namespace {

std::string without_trailing_newlines(std::string s) {
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

}  // namespace

std::string lua_reference_markdown(std::string_view module, const std::vector<LuaFunctionSpec>& functions) {
  std::string out = "### Module `" + std::string(module) + "`\n";
  for (const auto& f : functions) {
    out += "\n#### `" + std::string(module) + "." + f.name + "(" + f.args + ")`\n\n";
    out += "- Returns: `" + (f.returns.empty() ? std::string("nothing") : f.returns) + "`\n\n";
    out += f.doc + "\n";
  }
  return out;
}

std::string generated_begin(std::string_view name) {
  return name.empty() ? "<!-- BEGIN GENERATED -->" : "<!-- BEGIN GENERATED " + std::string(name) + " -->";
}

std::string generated_end(std::string_view name) {
  return name.empty() ? "<!-- END GENERATED -->" : "<!-- END GENERATED " + std::string(name) + " -->";
}

std::optional<std::string> generated_section(std::string_view doc, std::string_view name) {
  const std::string begin = generated_begin(name) + "\n", end = generated_end(name);
  const auto b = doc.find(begin);
  if (b == std::string_view::npos) return std::nullopt;
  const auto e = doc.find(end, b + begin.size());
  if (e == std::string_view::npos) return std::nullopt;
  return without_trailing_newlines(std::string(doc.substr(b + begin.size(), e - b - begin.size())));
}

Result<std::string> replace_generated_section(std::string_view doc, std::string_view name, std::string_view body) {
  const std::string begin = generated_begin(name) + "\n", end = generated_end(name);
  const auto b = doc.find(begin);
  const auto e = b == std::string_view::npos ? b : doc.find(end, b + begin.size());
  if (e == std::string_view::npos)
    return Error::not_found("no " + generated_begin(name) + " ... " + end + " section; add the two lines where the reference goes");
  std::string out(doc.substr(0, b + begin.size()));
  out += without_trailing_newlines(std::string(body)) + "\n";
  out += doc.substr(e);
  return out;
}

}  // namespace dialtone::sdk
