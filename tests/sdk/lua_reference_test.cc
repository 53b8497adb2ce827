// dialtone/lua_reference.h and dialtone/testing/lua_reference.h: rendering a
// module's table, finding and replacing its section, telling a stale one.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include <dialtone/lua_reference.h>
#include <dialtone/testing/lua_reference.h>

namespace {

using dialtone::sdk::LuaFunctionSpec;

std::vector<LuaFunctionSpec> greeter() {
  return {{"greet", "name: string, times?: integer", "text: string", "Greets `name`.", nullptr},
          {"reset", "", "", "Forgets every greeting.", nullptr}};
}

const char* kDoc =
    "# Doc\n\nBefore.\n\n<!-- BEGIN GENERATED hello -->\nold text\n<!-- END GENERATED hello -->\n\nAfter.\n"
    "<!-- BEGIN GENERATED -->\nkernel\n<!-- END GENERATED -->\n";

TEST(LuaReference, RendersEachFunctionWithItsSignatureReturnsAndDoc) {
  EXPECT_EQ(dialtone::sdk::lua_reference_markdown("hello", greeter()),
            "### Module `hello`\n"
            "\n#### `hello.greet(name: string, times?: integer)`\n\n- Returns: `text: string`\n\nGreets `name`.\n"
            "\n#### `hello.reset()`\n\n- Returns: `nothing`\n\nForgets every greeting.\n");
}

TEST(LuaReference, NamedAndUnnamedSectionsAreFoundAndReplacedAlone) {
  EXPECT_EQ(dialtone::sdk::generated_section(kDoc, "hello"), "old text");
  EXPECT_EQ(dialtone::sdk::generated_section(kDoc, ""), "kernel");
  EXPECT_FALSE(dialtone::sdk::generated_section(kDoc, "other"));
  auto next = dialtone::sdk::replace_generated_section(kDoc, "hello", "new\ntext\n\n");
  ASSERT_TRUE(next);
  EXPECT_EQ(*next,
            "# Doc\n\nBefore.\n\n<!-- BEGIN GENERATED hello -->\nnew\ntext\n<!-- END GENERATED hello -->\n\nAfter.\n"
            "<!-- BEGIN GENERATED -->\nkernel\n<!-- END GENERATED -->\n");
  auto missing = dialtone::sdk::replace_generated_section(kDoc, "other", "x");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("<!-- BEGIN GENERATED other -->"), std::string::npos)
      << missing.error().message;
}

class StaleReference : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "dt-luaref-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
    std::ofstream(dir_ / "doc.md") << kDoc;
  }
  void TearDown() override {
    unsetenv("DIALTONE_UPDATE_DOCS");
    std::filesystem::remove_all(dir_);
  }
  std::string doc() {
    std::ifstream in(dir_ / "doc.md");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  std::filesystem::path dir_;
};

TEST_F(StaleReference, NamesTheModuleTheLineAndTheRefresh) {
  auto stale = dialtone::testing::stale_lua_reference(dir_ / "doc.md", "hello", greeter());
  ASSERT_TRUE(stale);
  EXPECT_NE(stale->find("module `hello` is out of date"), std::string::npos) << *stale;
  EXPECT_NE(stale->find("line 1 of the section is\n  old text\nwhere the declarations give\n  ### Module `hello`"),
            std::string::npos)
      << *stale;
  EXPECT_NE(stale->find("DIALTONE_UPDATE_DOCS=1"), std::string::npos) << *stale;
  auto missing = dialtone::testing::stale_lua_reference(dir_ / "doc.md", "other", greeter());
  ASSERT_TRUE(missing);
  EXPECT_NE(missing->find("has no <!-- BEGIN GENERATED other -->"), std::string::npos) << *missing;
}

TEST_F(StaleReference, UpdateRewritesTheSectionThenItIsCurrent) {
  setenv("DIALTONE_UPDATE_DOCS", "1", 1);
  EXPECT_FALSE(dialtone::testing::stale_lua_reference(dir_ / "doc.md", "hello", greeter()));
  unsetenv("DIALTONE_UPDATE_DOCS");
  EXPECT_FALSE(dialtone::testing::stale_lua_reference(dir_ / "doc.md", "hello", greeter()));
  EXPECT_NE(doc().find("#### `hello.reset()`"), std::string::npos);
  EXPECT_NE(doc().find("<!-- BEGIN GENERATED -->\nkernel\n"), std::string::npos) << "another section changed";
}

}  // namespace
