#include "plugins/common/csv/csv.h"

namespace dialtone::plugins::common::csv {

std::vector<Record> read(std::string_view text, char delimiter, std::size_t* unterminated_at) {
  std::vector<Record> out;
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  Record rec{1, {}};
  std::string cell;
  bool in_quotes = false;
  bool started = false;  // the current cell has content or opened a quote
  std::size_t line = 1;
  auto end_cell = [&] {
    rec.cells.push_back(std::move(cell));
    cell.clear();
    started = false;
  };
  auto end_record = [&] {
    end_cell();
    if (!(rec.cells.size() == 1 && rec.cells[0].empty())) out.push_back(std::move(rec));
    rec = Record{line, {}};
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_quotes) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          cell += '"';
          ++i;
        } else {
          in_quotes = false;
        }
      } else {
        if (c == '\n') ++line;
        cell += c;
      }
    } else if (c == '"' && !started) {
      in_quotes = started = true;
    } else if (c == delimiter) {
      end_cell();
    } else if (c == '\r') {
      continue;
    } else if (c == '\n') {
      ++line;
      end_record();
    } else {
      cell += c;
      started = true;
    }
  }
  if (unterminated_at) *unterminated_at = in_quotes ? rec.line : 0;
  if (started || !cell.empty() || !rec.cells.empty()) end_record();
  return out;
}

std::vector<std::vector<std::string>> read_rows(std::string_view text, char delimiter) {
  std::vector<std::vector<std::string>> rows;
  for (auto& r : read(text, delimiter)) rows.push_back(std::move(r.cells));
  return rows;
}

std::string field(std::string_view value, char delimiter) {
  const char specials[] = {delimiter, '"', '\r', '\n'};
  if (value.find_first_of(std::string_view(specials, 4)) == std::string_view::npos) return std::string(value);
  std::string out = "\"";
  for (char c : value) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

void write_row(std::string& out, const std::vector<std::string>& cells, char delimiter) {
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (i) out += delimiter;
    out += field(cells[i], delimiter);
  }
  out += "\r\n";
}

}  // namespace dialtone::plugins::common::csv
