#include "plugins/directory/common/directory_common.h"

#include <algorithm>
#include <cstdint>

#include <dialtone/text.h>

namespace dialtone::plugins::directory {
namespace {

using sdk::text::trim;

// U+00C0..U+00FF folded; "\0" entries keep the character.
const char* const kLatin1[64] = {
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
    "d", "n", "o", "o", "o", "o", "o", nullptr, "o", "u", "u", "u", "u", "y", "th", "ss",
    "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
    "d", "n", "o", "o", "o", "o", "o", nullptr, "o", "u", "u", "u", "u", "y", "th", "y"};

// U+0100..U+017F folded to one ASCII letter each.
constexpr std::string_view kLatinExtA =
    "aaaaaa" "cccccccc" "dddd" "eeeeeeeeee" "gggggggg" "hhhh" "iiiiiiiiii" "jj" "jj" "kkk"
    "llllllllll" "nnnnnnnnn" "oooooo" "oo" "rrrrrr" "ssssssss" "tttttt" "uuuuuuuuuuuu" "ww"
    "yyy" "zzzzzz" "s";
static_assert(kLatinExtA.size() == 128);

}  // namespace

sdk::Result<SourceConfig> read_source_config(const sdk::Options& o, const std::string& name) {
  SourceConfig c;
  c.name = name;
  auto key = [&](const char* k) { return "source." + name + "." + k; };
  c.searched_columns = o.get_list(key("searched_columns"));
  c.first_matched_columns = o.get_list(key("first_matched_columns"));
  c.unique_column = trim(o.get(key("unique_column")));
  for (auto& item : o.get_list(key("format_columns"))) {
    auto eq = item.find('=');
    if (eq == std::string::npos || trim(item.substr(0, eq)).empty())
      return sdk::Error::invalid("source " + name + ": format_columns item '" + item +
                                 "' is not `field = template`; write e.g. "
                                 "`display_name = {firstname} {lastname}`");
    c.format_columns.push_back({trim(item.substr(0, eq)), trim(item.substr(eq + 1))});
  }
  return c;
}

std::string render_template(std::string_view t, const std::map<std::string, std::string>& row) {
  std::string out;
  out.reserve(t.size() + 16);
  for (std::size_t i = 0; i < t.size(); ++i) {
    char ch = t[i];
    if (ch == '{' && i + 1 < t.size() && t[i + 1] == '{') { out += '{'; ++i; continue; }
    if (ch == '}' && i + 1 < t.size() && t[i + 1] == '}') { out += '}'; ++i; continue; }
    if (ch == '{') {
      auto end = t.find('}', i + 1);
      if (end == std::string_view::npos) { out.append(t.substr(i)); break; }
      auto it = row.find(std::string(t.substr(i + 1, end - i - 1)));
      if (it != row.end()) out += it->second;
      i = end;
      continue;
    }
    out += ch;
  }
  // "{firstname} {lastname}" with no firstname should not start with a blank.
  return trim(out);
}

sdk::DirectoryEntry make_entry(const SourceConfig& config, std::map<std::string, std::string> row) {
  sdk::DirectoryEntry e;
  e.source = config.name;
  if (!config.unique_column.empty()) {
    auto it = row.find(config.unique_column);
    if (it != row.end()) e.unique_id = it->second;
  }
  std::vector<std::pair<std::string, std::string>> formatted;
  formatted.reserve(config.format_columns.size());
  for (auto& f : config.format_columns) formatted.emplace_back(f.field, render_template(f.templ, row));
  e.fields = std::move(row);
  for (auto& [k, v] : formatted) e.fields[k] = std::move(v);
  return e;
}

std::string fold(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out += sdk::text::to_lower(static_cast<char>(c));
      ++i;
      continue;
    }
    if ((c & 0xE0) == 0xC0 && i + 1 < s.size()) {
      std::uint32_t cp = ((c & 0x1F) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3F);
      if (cp >= 0xC0 && cp <= 0xFF && kLatin1[cp - 0xC0]) {
        out += kLatin1[cp - 0xC0];
        i += 2;
        continue;
      }
      if (cp >= 0x100 && cp <= 0x17F) {
        out += kLatinExtA[cp - 0x100];
        i += 2;
        continue;
      }
      out.append(s.substr(i, 2));
      i += 2;
      continue;
    }
    std::size_t len = (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
    out.append(s.substr(i, std::min(len, s.size() - i)));
    i += len;
  }
  return out;
}

int match_rank(std::string_view text, std::string_view term) {
  if (term.empty()) return 3;
  auto is_word = [](char ch) {
    auto c = static_cast<unsigned char>(ch);
    return c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '_';
  };
  int best = 3;
  for (std::size_t pos = text.find(term); pos != std::string_view::npos;
       pos = text.find(term, pos + 1)) {
    bool starts = pos == 0 || !is_word(text[pos - 1]) || !is_word(term.front());
    bool ends = pos + term.size() == text.size() || !is_word(text[pos + term.size()]) ||
                !is_word(term.back());
    int r = starts ? (ends ? 0 : 1) : 2;
    best = std::min(best, r);
    if (best == 0) break;
  }
  return best;
}

std::string normalize_number(std::string_view n) {
  std::string out;
  for (char ch : n)
    if (ch != ' ' && ch != '.' && ch != '-' && ch != '(' && ch != ')') out += ch;
  return out;
}

RowTable::RowTable(std::vector<std::vector<std::string>> rows, const SourceConfig& config) {
  if (rows.empty()) return;
  header_ = std::move(rows.front());
  for (auto& h : header_) h = trim(h);
  rows_.assign(std::make_move_iterator(rows.begin() + 1), std::make_move_iterator(rows.end()));
  auto index = [&](const std::string& col) {
    auto it = std::find(header_.begin(), header_.end(), col);
    return it == header_.end() ? -1 : static_cast<int>(it - header_.begin());
  };
  for (auto& c : config.searched_columns) searched_idx_.push_back(index(c));
  for (auto& c : config.first_matched_columns) first_idx_.push_back(index(c));
  if (!config.unique_column.empty()) unique_idx_ = index(config.unique_column);
  folded_.reserve(rows_.size());
  for (auto& r : rows_) {
    r.resize(header_.size());
    std::string f;
    for (int idx : searched_idx_) {
      if (idx < 0) continue;
      f += fold(r[idx]);
      f += '\x1f';
    }
    folded_.push_back(std::move(f));
    for (int idx : first_idx_)
      if (idx >= 0)
        if (auto n = normalize_number(r[idx]); !n.empty()) by_number_.emplace(std::move(n), folded_.size() - 1);
  }
}

sdk::DirectoryEntry RowTable::entry(const SourceConfig& config, std::size_t i) const {
  std::map<std::string, std::string> row;
  for (std::size_t c = 0; c < header_.size(); ++c) row.emplace(header_[c], rows_[i][c]);
  return make_entry(config, std::move(row));
}

std::vector<sdk::DirectoryEntry> RowTable::search(const SourceConfig& config,
                                                  std::string_view term) const {
  std::vector<sdk::DirectoryEntry> out;
  if (searched_idx_.empty()) return out;
  auto t = fold(term);
  for (std::size_t i = 0; i < rows_.size(); ++i)
    if (folded_[i].find(t) != std::string::npos) out.push_back(entry(config, i));
  return out;
}

std::optional<sdk::DirectoryEntry> RowTable::first_match(const SourceConfig& config,
                                                         std::string_view number) const {
  auto n = normalize_number(number);
  if (n.empty()) return std::nullopt;
  auto it = by_number_.find(n);
  if (it == by_number_.end()) return std::nullopt;
  return entry(config, it->second);
}

std::vector<sdk::DirectoryEntry> RowTable::list(const SourceConfig& config,
                                                const std::vector<std::string>& ids) const {
  std::vector<sdk::DirectoryEntry> out;
  if (unique_idx_ < 0) return out;
  for (std::size_t i = 0; i < rows_.size(); ++i)
    if (std::find(ids.begin(), ids.end(), rows_[i][unique_idx_]) != ids.end())
      out.push_back(entry(config, i));
  return out;
}

void FailureLog::failed(sdk::Logger& log, const std::string& message) {
  std::lock_guard lock(mu_);
  if (message == last_) return;
  last_ = message;
  log.error(message);
}

void FailureLog::succeeded(sdk::Logger& log, const std::string& source_name) {
  std::lock_guard lock(mu_);
  if (last_.empty()) return;
  last_.clear();
  log.info("directory source " + source_name + " answers again");
}

}  // namespace dialtone::plugins::directory
