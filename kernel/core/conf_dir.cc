#include "kernel/core/conf_dir.h"

#include <algorithm>
#include <sstream>

#include <boost/program_options/options_description.hpp>
#include <boost/program_options/parsers.hpp>
#include <dialtone/files.h>
#include <dialtone/text.h>

#include "kernel/core/option_values.h"

namespace dialtone::kernel {
namespace {

namespace po = boost::program_options;

using sdk::text::trim;

struct Entry {
  std::string key;  // "section.key"
  std::string value;
  int line = 0;
};

std::string at(const std::filesystem::path& file, int line) {
  return file.string() + ":" + std::to_string(line);
}

// Boost's INI parser gives keys and values but no line numbers: index the
// lines with the same rules (`#` starts a comment, `[section]`, `key = value`)
// and pair the n-th occurrence of a key in both.
bool index_lines(const std::filesystem::path& file, const std::string& text,
                 std::vector<Entry>& entries, int& plugin_section_line,
                 std::vector<std::string>& errors) {
  std::istringstream in(text);
  std::string raw, section;
  int n = 0;
  bool ok = true;
  while (std::getline(in, raw)) {
    ++n;
    auto hash = raw.find('#');
    auto s = trim(hash == std::string::npos ? raw : raw.substr(0, hash));
    if (s.empty()) continue;
    if (s.front() == '[') {
      if (s.back() != ']' || trim(s.substr(1, s.size() - 2)).empty()) {
        errors.push_back(at(file, n) + ": bad section header '" + s + "'; write [section]");
        ok = false;
        continue;
      }
      section = trim(s.substr(1, s.size() - 2));
      if (section == "plugin" && plugin_section_line == 0) plugin_section_line = n;
      continue;
    }
    auto eq = s.find('=');
    if (eq == std::string::npos || trim(s.substr(0, eq)).empty()) {
      errors.push_back(at(file, n) + ": expected `key = value` or `[section]`, got '" + s + "'");
      ok = false;
      continue;
    }
    if (section.empty()) {
      errors.push_back(at(file, n) + ": '" + trim(s.substr(0, eq)) +
                       "' is outside any section; put it under [plugin] or the plugin's [section]");
      ok = false;
      continue;
    }
    entries.push_back({section + "." + trim(s.substr(0, eq)), trim(s.substr(eq + 1)), n});
  }
  return ok;
}

// Parses with Boost.Program_options and attaches line numbers from `index`.
std::vector<Entry> parse_with_program_options(const std::string& text, std::vector<Entry> index) {
  std::istringstream in(text);
  po::options_description none;
  auto parsed = po::parse_config_file(in, none, /*allow_unregistered=*/true);
  std::map<std::string, std::size_t> seen;
  std::vector<Entry> out;
  for (auto& opt : parsed.options) {
    Entry e;
    e.key = opt.string_key;
    e.value = opt.value.empty() ? std::string() : opt.value.front();
    std::size_t nth = seen[e.key]++;
    for (auto& i : index) {
      if (i.key == e.key && nth-- == 0) {
        e.line = i.line;
        break;
      }
    }
    out.push_back(std::move(e));
  }
  return out;
}

void merge_file(ConfDir& conf, const std::filesystem::path& file) {
  const auto read = sdk::read_file(file);
  if (!read) {
    conf.errors.push_back(file.string() + ": cannot be read; check its permissions");
    return;
  }
  const std::string& text = *read;

  std::vector<Entry> index;
  int plugin_line = 0;
  if (!index_lines(file, text, index, plugin_line, conf.errors)) return;
  std::vector<Entry> entries;
  try {
    entries = parse_with_program_options(text, index);
  } catch (const std::exception& e) {
    conf.errors.push_back(file.string() + ": " + e.what());
    return;
  }

  // [plugin] first, whatever its position in the file.
  const Entry* name = nullptr;
  for (auto& e : entries)
    if (e.key == "plugin.name") {
      name = &e;
      break;
    }
  if (!name || name->value.empty()) {
    conf.errors.push_back(at(file, plugin_line ? plugin_line : 1) +
                          ": missing `name = <plugin id>` under [plugin]; every conf.d file "
                          "names the plugin it configures");
    return;
  }
  const std::string id = name->value;
  auto [it, fresh] = conf.plugins.try_emplace(id);
  PluginConf& pc = it->second;
  if (fresh) {
    pc.name = id;
    pc.file = file;
    pc.line = name->line;
  }
  std::map<std::string, int> set_here;  // key -> line, for duplicates within this file
  for (auto& e : entries) {
    if (e.key == "plugin.name") {
      if (&e != name)
        conf.warnings.push_back(at(file, e.line) + ": second `name` under [plugin] ignored; " +
                                at(file, name->line) + " names " + id);
      continue;
    }
    bool is_plugin_key = e.key.rfind("plugin.", 0) == 0;
    if (is_plugin_key && e.key != "plugin.enabled" && e.key != "plugin.log_level") {
      conf.errors.push_back(at(file, e.line) + ": unknown key '" + e.key.substr(7) +
                            "' in [plugin]; expected name, enabled or log_level");
      continue;
    }
    if (is_plugin_key) {
      auto k = e.key.substr(7);
      if (k == "enabled") {
        sdk::OptionSpec spec{"enabled", sdk::OptionType::boolean};
        auto b = normalize_option(spec, e.value, {});
        if (!b) {
          conf.errors.push_back(at(file, e.line) + ": bad value '" + e.value +
                                "' for enabled (boolean): " + b.error().message);
          continue;
        }
      } else {
        sdk::OptionSpec spec{"log_level", sdk::OptionType::choice, nullptr, "", sdk::kNone,
                             "trace|debug|info|warn|error|critical|off"};
        auto l = normalize_option(spec, e.value, {});
        if (!l) {
          conf.errors.push_back(at(file, e.line) + ": bad value '" + e.value +
                                "' for log_level (choice): " + l.error().message);
          continue;
        }
      }
    }
    auto dup_here = set_here.find(e.key);
    if (dup_here != set_here.end()) {
      conf.warnings.push_back(at(file, e.line) + ": '" + e.key + "' for " + id +
                              " is already set at " + at(file, dup_here->second) +
                              "; the first one wins, this value is ignored");
      continue;
    }
    auto prev = pc.values.find(e.key);
    if (prev != pc.values.end()) {
      conf.warnings.push_back(at(file, e.line) + ": '" + e.key + "' for " + id +
                              " is already set at " + at(prev->second.file, prev->second.line) +
                              "; the first file in lexical order wins, this value is ignored");
      continue;
    }
    set_here[e.key] = e.line;
    pc.values[e.key] = ConfValue{e.value, file, e.line};
  }
}

}  // namespace

std::filesystem::path conf_root(const std::filesystem::path& conf_dir) {
  auto abs = std::filesystem::absolute(conf_dir).lexically_normal();
  if (!abs.has_filename()) abs = abs.parent_path();  // "conf.d/" -> "conf.d"
  return abs.parent_path();
}

ConfDir read_conf_dir(const std::filesystem::path& dir) {
  ConfDir conf;
  conf.dir = dir;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    conf.errors.push_back(dir.string() + ": configuration directory not found; pass --config-dir");
    return conf;
  }
  for (auto& de : std::filesystem::directory_iterator(dir, ec)) {
    auto name = de.path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    if (de.path().extension() != ".conf") continue;
    if (!de.is_regular_file(ec)) continue;
    conf.files.push_back(de.path());
  }
  std::sort(conf.files.begin(), conf.files.end(),
            [](auto& a, auto& b) { return a.filename().string() < b.filename().string(); });
  for (auto& f : conf.files) merge_file(conf, f);

  // `[plugin]` keys live in the values map while merging so that the
  // first-wins rule covers them too; move them to their fields.
  for (auto& [id, pc] : conf.plugins) {
    pc.enabled = true;  // naming a plugin in a drop-in file enables it unless it says otherwise
    if (auto it = pc.values.find("plugin.enabled"); it != pc.values.end()) {
      sdk::OptionSpec spec{"enabled", sdk::OptionType::boolean};
      pc.enabled = *normalize_option(spec, it->second.value, {}) == "true";
      pc.values.erase(it);
    }
    if (auto it = pc.values.find("plugin.log_level"); it != pc.values.end()) {
      pc.log_level = it->second.value;
      pc.values.erase(it);
    }
  }
  return conf;
}

}  // namespace dialtone::kernel
