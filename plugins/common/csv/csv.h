// CSV as RFC 4180 writes it, for every plugin that reads or writes a file of
// records: the csv and csv_ws directory sources, the phonebook and personal
// imports and exports, confd's users import and export.
//
// @code
//   #include "plugins/common/csv/csv.h"
//   namespace csv = dialtone::plugins::common::csv;
//   for (auto& r : csv::read("name,number\r\n\"Doe, John\",101\r\n"))
//     use(r.line, r.cells);  // line 1: {"name", "number"}; line 2: {"Doe, John", "101"}
//   std::string out;
//   csv::write_row(out, {"Doe, John", "say \"hi\""});  // "\"Doe, John\",\"say \"\"hi\"\"\"\r\n"
// @endcode
//
// Reading: fields are separated by `delimiter` and records by CRLF or LF; a
// field in double quotes may hold the delimiter, line breaks and doubled
// quotes; a UTF-8 byte order mark (spreadsheets write one) and blank lines are
// skipped; the last record may end without a line break. An unterminated
// quoted field runs to the end of the input; `unterminated_at` then receives
// the line where its record starts (0 when every quote is closed).
// Writing: a field is quoted when it holds the delimiter, a quote, CR or LF;
// every record ends in CRLF.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace dialtone::plugins::common::csv {

struct Record {
  std::size_t line = 0;  // line of the input where the record starts (first line is 1)
  std::vector<std::string> cells;
};

std::vector<Record> read(std::string_view text, char delimiter = ',', std::size_t* unterminated_at = nullptr);
// The same, cells only (header first when the file has one).
std::vector<std::vector<std::string>> read_rows(std::string_view text, char delimiter = ',');

// One field, quoted when it must be.
std::string field(std::string_view value, char delimiter = ',');

// Appends one record and its CRLF to `out`.
void write_row(std::string& out, const std::vector<std::string>& cells, char delimiter = ',');

}  // namespace dialtone::plugins::common::csv
