#include "kernel/core/option_values.h"

#include <algorithm>
#include <sstream>

#include <dialtone/text.h>

namespace dialtone::kernel {
namespace {

using sdk::text::join;

std::string where(const ConfValue& v) { return v.file.string() + ":" + std::to_string(v.line); }

std::string where(const PluginConf* conf) {
  if (!conf) return "conf.d";
  return conf->file.string() + ":" + std::to_string(conf->line);
}

}  // namespace

std::string_view type_name(sdk::OptionType type) { return sdk::option_type_name(type); }

ValidatedOptions validate_options(std::string_view plugin_id, const sdk::OptionSpec* table,
                                  const PluginConf* conf,
                                  const std::filesystem::path& default_base) {
  std::map<std::string, sdk::OptionValue> given;
  if (conf) {
    for (auto& [name, v] : conf->values) given[name] = {v.value, where(v), v.file.parent_path()};
  }
  auto checked = sdk::check_options(plugin_id, table, given, where(conf), default_base);
  return {std::move(checked.options), std::move(checked.errors)};
}

std::string describe_options(const sdk::OptionSpec* table) {
  struct Row {
    std::string name, type, def, flags, help;
  };
  std::vector<Row> rows;
  for (auto* s = table; s && s->name; ++s) {
    Row r;
    r.name = s->name;
    r.type = std::string(type_name(s->type));
    if (s->type == sdk::OptionType::choice && s->choices) r.type += "(" + std::string(s->choices) + ")";
    if (s->type == sdk::OptionType::integer && (s->min != INT64_MIN || s->max != INT64_MAX)) {
      r.type += "[" + (s->min == INT64_MIN ? std::string() : std::to_string(s->min)) + ".." +
                (s->max == INT64_MAX ? std::string() : std::to_string(s->max)) + "]";
    }
    if ((s->flags & sdk::kSecret) && s->default_value && *s->default_value) r.def = "(hidden)";
    else if (!s->default_value) r.def = "-";
    else if (!*s->default_value) r.def = "\"\"";
    else r.def = s->default_value;
    std::vector<std::string> f;
    if (s->flags & sdk::kRequired) f.push_back("required");
    if (s->flags & sdk::kReloadable) f.push_back("reloadable");
    if (s->flags & sdk::kSecret) f.push_back("secret");
    r.flags = f.empty() ? "-" : join(f, ",");
    r.help = s->help ? s->help : "";
    rows.push_back(std::move(r));
  }
  Row head{"NAME", "TYPE", "DEFAULT", "FLAGS", "HELP"};
  std::size_t w[4] = {head.name.size(), head.type.size(), head.def.size(), head.flags.size()};
  for (auto& r : rows) {
    w[0] = std::max(w[0], r.name.size());
    w[1] = std::max(w[1], r.type.size());
    w[2] = std::max(w[2], r.def.size());
    w[3] = std::max(w[3], r.flags.size());
  }
  std::ostringstream os;
  auto line = [&](const Row& r) {
    auto pad = [](const std::string& s, std::size_t n) { return s + std::string(n - s.size() + 2, ' '); };
    os << pad(r.name, w[0]) << pad(r.type, w[1]) << pad(r.def, w[2]) << pad(r.flags, w[3]) << r.help
       << "\n";
  };
  line(head);
  for (auto& r : rows) line(r);
  if (rows.empty()) os << "(no options)\n";
  return os.str();
}

}  // namespace dialtone::kernel
