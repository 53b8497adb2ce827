#include <gtest/gtest.h>

#include <fstream>

#include "plugins/directory/csv/csv_source.h"
#include "tests/support/test_logger.h"

namespace dialtone::plugins::directory {
namespace {

namespace fs = std::filesystem;

class CsvSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("dird_csv_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    file_ = dir_ / "contacts.csv";
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write(const std::string& text) {
    std::ofstream(file_, std::ios::binary | std::ios::trunc) << text;
  }

  CsvSource make(char delimiter = '|') {
    sdk::Options o(std::map<std::string, std::string>{{"source.dmc.searched_columns", "firstname,lastname,displayname"},
                    {"source.dmc.first_matched_columns", "phone,mobile"},
                    {"source.dmc.unique_column", "id"},
                    {"source.dmc.format_columns", "display_name = {title} {displayname}"}});
    auto sc = read_source_config(o, "dmc");
    return CsvSource(CsvConfig{*sc, file_, delimiter}, log_);
  }

  fs::path dir_, file_;
  dialtone::testing::TestLogger log_;
};

constexpr const char* kSeedFile =
    "id|title|firstname|lastname|displayname|society|phone|mobile|email\n"
    "1|mr|Emmett|Brown|Brown Emmett|DMC|5555551234||emmet.brown@dmc.example.com\n"
    "2|ms|Alice|Wonderland|Wonderland Alice|DMC|5555551235|0612345678|alice@dmc.example.com\n"
    "3|mr|Émile|Zoé|Zoé Émile|DMC|5555551236||emile@dmc.example.com\n";

TEST_F(CsvSourceTest, SearchFindsSubstringInSearchedColumnsIgnoringCaseAndAccents) {
  write(kSeedFile);
  auto src = make();
  auto r = src.search({"ALI"});
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].field("display_name"), "ms Wonderland Alice");
  EXPECT_EQ((*r)[0].unique_id, "2");
  EXPECT_EQ((*r)[0].source, "dmc");

  auto accents = src.search({"emile"});
  ASSERT_TRUE(accents);
  ASSERT_EQ(accents->size(), 1u);
  EXPECT_EQ((*accents)[0].field("firstname"), "Émile");

  auto none = src.search({"dmc.example"});  // email is not a searched column
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST_F(CsvSourceTest, FirstMatchComparesWholeNumbersInAnyFirstMatchedColumn) {
  write(kSeedFile);
  auto src = make();
  auto by_mobile = src.first_match({"06 12 34 56 78"});
  ASSERT_TRUE(by_mobile);
  ASSERT_TRUE(by_mobile->has_value());
  EXPECT_EQ((*by_mobile)->field("firstname"), "Alice");
  auto partial = src.first_match({"555555123"});
  ASSERT_TRUE(partial);
  EXPECT_FALSE(partial->has_value());
}

TEST_F(CsvSourceTest, ReReadsTheFileWhenItChanges) {
  write(kSeedFile);
  auto src = make();
  ASSERT_TRUE(src.search({"Marty"}));
  EXPECT_TRUE(src.search({"Marty"})->empty());
  write(std::string(kSeedFile) + "4|mr|Marty|McFly|McFly Marty|DMC|5555551299||marty@dmc.example.com\n");
  auto r = src.search({"Marty"});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].field("lastname"), "McFly");
}

TEST_F(CsvSourceTest, CommaDelimiterAndListByUniqueId) {
  write("id,firstname,lastname,displayname,phone,mobile\n1,\"Bob, Jr\",Benito,Bob,5551354958,\n"
        "2,Charles,Curie,Charles,5553132479,\n");
  auto src = make(',');
  auto r = src.search({"jr"});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].field("firstname"), "Bob, Jr");
  auto l = src.list({"2"}, {});
  ASSERT_TRUE(l);
  ASSERT_EQ(l->size(), 1u);
  EXPECT_EQ((*l)[0].field("lastname"), "Curie");
}

TEST_F(CsvSourceTest, MissingFileIsAnErrorLoggedOnceNamingTheSource) {
  auto src = make();
  for (int i = 0; i < 3; ++i) {
    auto r = src.search({"a"});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, sdk::ErrorCode::unavailable);
  }
  ASSERT_EQ(log_.lines().size(), 1u);
  EXPECT_TRUE(log_.contains("source.dmc.file"));
}

}  // namespace
}  // namespace dialtone::plugins::directory
