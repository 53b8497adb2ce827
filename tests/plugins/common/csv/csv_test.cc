// plugins/common/csv/csv.h: RFC 4180 reading and writing, shared by the directory
// sources, the phonebook and personal imports and confd's users import/export.
#include "plugins/common/csv/csv.h"

#include <gtest/gtest.h>

namespace csv = dialtone::plugins::common::csv;

namespace {

TEST(Csv, QuotedFieldsHoldDelimitersQuotesAndLineBreaks) {
  std::size_t unterminated = 99;
  auto recs = csv::read("a|b|c\r\n\"x|y\"|\"say \"\"hi\"\"\"|\n1|\"two\r\nlines\"|3", '|', &unterminated);
  EXPECT_EQ(unterminated, 0u);
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[1].cells, (std::vector<std::string>{"x|y", "say \"hi\"", ""}));
  EXPECT_EQ(recs[2].cells, (std::vector<std::string>{"1", "two\r\nlines", "3"}));
  EXPECT_EQ(recs[0].line, 1u);
  EXPECT_EQ(recs[1].line, 2u);
  EXPECT_EQ(recs[2].line, 3u);
}

TEST(Csv, ByteOrderMarkAndBlankLinesAreSkippedAndLinesCountedAcrossThem) {
  auto recs = csv::read("\xEF\xBB\xBFname,number\r\n\r\nAlice,101\n\n\"Bob\nB\",102\nCarol,103");
  ASSERT_EQ(recs.size(), 4u);
  EXPECT_EQ(recs[0].cells[0], "name");
  EXPECT_EQ(recs[1].line, 3u);
  EXPECT_EQ(recs[2].line, 5u);
  EXPECT_EQ(recs[2].cells[0], "Bob\nB");
  EXPECT_EQ(recs[3].line, 7u);
  EXPECT_EQ(recs[3].cells, (std::vector<std::string>{"Carol", "103"}));
}

TEST(Csv, UnterminatedQuoteReportsTheLineItsRecordStartsOn) {
  std::size_t unterminated = 0;
  auto recs = csv::read("a,b\n1,2\n3,\"open\n4,5\n", ',', &unterminated);
  EXPECT_EQ(unterminated, 3u);
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[2].cells[1], "open\n4,5\n");
}

TEST(Csv, EmptyFieldsAreKept) {
  auto rows = csv::read_rows(",,\n\"\",x,");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"", "", ""}));
  EXPECT_EQ(rows[1], (std::vector<std::string>{"", "x", ""}));
}

TEST(Csv, WritingQuotesOnlyWhatMustBeAndEndsRecordsInCrlf) {
  EXPECT_EQ(csv::field("plain"), "plain");
  EXPECT_EQ(csv::field("x|y", '|'), "\"x|y\"");
  EXPECT_EQ(csv::field("x|y"), "x|y");
  EXPECT_EQ(csv::field("a\nb"), "\"a\nb\"");
  std::string out;
  csv::write_row(out, {"Doe, John", "say \"hi\"", ""});
  EXPECT_EQ(out, "\"Doe, John\",\"say \"\"hi\"\"\",\r\n");
}

TEST(Csv, WhatIsWrittenReadsBackTheSame) {
  std::vector<std::vector<std::string>> rows = {
      {"name", "note"}, {"Zoé \"Z\"", "line1\r\nline2"}, {"", ",;|"}, {"x", ""}};
  std::string out;
  for (auto& r : rows) csv::write_row(out, r);
  EXPECT_EQ(csv::read_rows(out), rows);
}

}  // namespace
