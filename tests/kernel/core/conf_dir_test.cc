#include "kernel/core/conf_dir.h"

#include <gtest/gtest.h>

#include "kernel/core/kernel_options.h"
#include "kernel/core/option_values.h"
#include "test_support.h"

namespace dialtone::kernel {
namespace {

using testing::TempDir;
using testing::write_file;
using sdk::OptionType;

// One option of every type, as a plugin would declare them.
constexpr sdk::OptionSpec kOptions[] = {
    {"ldap.uri", OptionType::string, "ldap://127.0.0.1", "server"},
    {"ldap.port", OptionType::integer, "389", "port", sdk::kNone, nullptr, 1, 65535},
    {"ldap.tls", OptionType::boolean, "false", "use TLS"},
    {"ldap.ratio", OptionType::decimal, "0.5", "ratio"},
    {"ldap.timeout", OptionType::duration, "300ms", "timeout", sdk::kReloadable},
    {"ldap.attrs", OptionType::list, "cn, sn", "attributes"},
    {"ldap.scope", OptionType::choice, "sub", "scope", sdk::kNone, "base|one|sub"},
    {"ldap.ca", OptionType::path, "", "CA file"},
    {"ldap.bind", OptionType::address, "127.0.0.1:389", "bind address"},
    {"ldap.allow", OptionType::subnets, "", "clients"},
    {"ldap.base_dn", OptionType::string, nullptr, "search base", sdk::kRequired},
    {"source.*.uri", OptionType::string, nullptr, "source URI", sdk::kRequired},
    {"source.*.delimiter", OptionType::string, ",", "CSV delimiter"},
    {}};

class ConfDirTest : public ::testing::Test {
 protected:
  std::filesystem::path conf(const std::string& name, const std::string& text) {
    return write_file(dir_ / name, text);
  }
  // Reads conf.d, validates plugin "test.ldap" and returns every error line.
  std::vector<std::string> errors() {
    auto c = read_conf_dir(dir_);
    auto out = c.errors;
    auto v = validate_options("test.ldap", kOptions, c.find("test.ldap"), tmp_.path());
    out.insert(out.end(), v.errors.begin(), v.errors.end());
    options_ = v.options;
    warnings_ = c.warnings;
    return out;
  }
  std::string one_error(const std::string& body) {
    conf("10-ldap.conf", "[plugin]\nname = test.ldap\n[ldap]\nbase_dn = dc=example\n" + body);
    auto e = errors();
    EXPECT_EQ(e.size(), 1u) << ::testing::PrintToString(e);
    return e.empty() ? std::string() : e[0];
  }
  std::string file(const std::string& name) { return (dir_ / name).string(); }

  TempDir tmp_;
  std::filesystem::path dir_ = tmp_ / "conf.d";
  sdk::Options options_;
  std::vector<std::string> warnings_;
};

TEST_F(ConfDirTest, ValuesAreNormalizedAndDefaultsFilled) {
  conf("10-ldap.conf",
       "# comment\n[plugin]\nname = test.ldap\nenabled = yes\nlog_level = debug\n\n"
       "[ldap]\nbase_dn = dc=example,dc=com\ntls = on\ntimeout = 1.5s\nca = certs/ca.pem\n"
       "attrs = cn ,  mail,, sn\nallow = 127.0.0.0/8, ::1/128\n"
       "[source.corp]\nuri = ldap://corp\n");
  ASSERT_TRUE(errors().empty());
  auto c = read_conf_dir(dir_);
  ASSERT_TRUE(c.find("test.ldap"));
  EXPECT_TRUE(c.find("test.ldap")->enabled);
  EXPECT_EQ(c.find("test.ldap")->log_level, "debug");
  EXPECT_EQ(options_.get("ldap.tls"), "true");
  EXPECT_EQ(options_.get_duration("ldap.timeout").count(), 1500);
  EXPECT_EQ(options_.get("ldap.ca"), (dir_ / "certs/ca.pem").string());
  EXPECT_EQ(options_.get("ldap.attrs"), "cn,mail,sn");
  EXPECT_EQ(options_.get("ldap.allow"), "127.0.0.0/8,::1/128");
  EXPECT_EQ(options_.get("ldap.port"), "389");
  EXPECT_EQ(options_.get("ldap.scope"), "sub");
  EXPECT_EQ(options_.get("source.corp.uri"), "ldap://corp");
  EXPECT_EQ(options_.get("source.corp.delimiter"), ",");  // wildcard default per instance
  EXPECT_EQ(options_.instances("source"), std::vector<std::string>{"corp"});
}

TEST_F(ConfDirTest, DurationsInEveryUnit) {
  sdk::OptionSpec d{"x.d", OptionType::duration};
  EXPECT_EQ(*normalize_option(d, "300ms", {}), "300");
  EXPECT_EQ(*normalize_option(d, "1.5s", {}), "1500");
  EXPECT_EQ(*normalize_option(d, "2m", {}), "120000");
  EXPECT_EQ(*normalize_option(d, "1h", {}), "3600000");
  EXPECT_EQ(*normalize_option(d, "7", {}), "7000");  // bare number: seconds
}

// One bad line in 10-ldap.conf: one error naming the file, the line, the
// option, its type and what is expected (after "10-ldap.conf:<line>: ").
struct BadLine {
  const char* name;
  const char* body;  // after [ldap] base_dn = ... (line 5 on)
  int line;
  const char* error;
};

void PrintTo(const BadLine& b, std::ostream* os) { *os << b.name; }

class BadConfLine : public ConfDirTest, public ::testing::WithParamInterface<BadLine> {};

TEST_P(BadConfLine, IsOneErrorNamingLineAndFix) {
  auto& c = GetParam();
  EXPECT_EQ(one_error(c.body), file("10-ldap.conf") + ":" + std::to_string(c.line) + ": " + c.error);
}

INSTANTIATE_TEST_SUITE_P(
    ConfDir, BadConfLine,
    ::testing::Values(
        BadLine{"UnknownKey", "timout = 2s\n", 5,
                "unknown option 'ldap.timout' for plugin test.ldap; did you mean 'ldap.timeout'?"},
        BadLine{"UnknownKeyInInstance", "[source.corp]\nuri = x\nurl = y\n", 7,
                "unknown option 'source.corp.url' for plugin test.ldap; did you mean 'source.corp.uri'?"},
        BadLine{"BadInteger", "port = 38x\n", 5, "bad value '38x' for ldap.port (integer): expected a whole number"},
        BadLine{"IntegerBelowMinimum", "port = 0\n", 5, "bad value '0' for ldap.port (integer): 0 is below the minimum 1"},
        BadLine{"IntegerAboveMaximum", "port = 65536\n", 5,
                "bad value '65536' for ldap.port (integer): 65536 is above the maximum 65535"},
        BadLine{"BadBoolean", "tls = maybe\n", 5,
                "bad value 'maybe' for ldap.tls (boolean): expected true or false (also yes/no, on/off, 1/0)"},
        BadLine{"BadDecimal", "ratio = half\n", 5, "bad value 'half' for ldap.ratio (decimal): expected a number such as 0.5"},
        BadLine{"BadDuration", "timeout = 5 parsecs\n", 5,
                "bad value '5 parsecs' for ldap.timeout (duration): expected a duration such as 300ms, 1.5s, 2m or 1h"},
        BadLine{"BadChoice", "scope = all\n", 5, "bad value 'all' for ldap.scope (choice): expected one of base, one, sub"},
        BadLine{"BadAddressPort", "bind = 127.0.0.1:99999\n", 5,
                "bad value '127.0.0.1:99999' for ldap.bind (address): port must be 0-65535; expected host:port, [v6]:port or host"},
        BadLine{"BadAddressBareIpv6", "bind = ::1:389\n", 5,
                "bad value '::1:389' for ldap.bind (address): write an IPv6 address as [v6]:port; expected host:port, [v6]:port or host"},
        BadLine{"BadSubnet", "allow = 10.0.0.0/8, 192.168.1.0/33\n", 5,
                "bad value '10.0.0.0/8, 192.168.1.0/33' for ldap.allow (subnets): '192.168.1.0/33' is not a subnet; expected CIDRs such as 127.0.0.0/8, ::1/128"},
        BadLine{"MissingRequiredInInstance", "[source.corp]\ndelimiter = ;\n", 2,
                "plugin test.ldap: required option 'source.corp.uri' is not set; add `uri = ...` under [source.corp]"}),
    [](const ::testing::TestParamInfo<BadLine>& i) { return std::string(i.param.name); });

TEST_F(ConfDirTest, AddressesInEveryForm) {
  sdk::OptionSpec a{"x.a", OptionType::address};
  EXPECT_TRUE(normalize_option(a, "[::1]:5060", {}).ok());
  EXPECT_TRUE(normalize_option(a, "pbx.example.com", {}).ok());
}

TEST_F(ConfDirTest, MissingRequired) {
  conf("10-ldap.conf", "[plugin]\nname = test.ldap\n[ldap]\nport = 1\n");
  auto e = errors();
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0], file("10-ldap.conf") + ":2: plugin test.ldap: required option 'ldap.base_dn' is not set; add `base_dn = ...` under [ldap]");
}

TEST_F(ConfDirTest, MissingPluginName) {
  conf("10-ldap.conf", "[plugin]\nenabled = true\n[ldap]\nport = 1\n");
  auto c = read_conf_dir(dir_);
  ASSERT_EQ(c.errors.size(), 1u);
  EXPECT_EQ(c.errors[0], file("10-ldap.conf") + ":1: missing `name = <plugin id>` under [plugin]; every conf.d file names the plugin it configures");
}

TEST_F(ConfDirTest, SyntaxErrorsNameTheLine) {
  conf("10-ldap.conf", "[plugin]\nname = test.ldap\nport 1\n");
  auto c = read_conf_dir(dir_);
  ASSERT_EQ(c.errors.size(), 1u);
  EXPECT_EQ(c.errors[0], file("10-ldap.conf") + ":3: expected `key = value` or `[section]`, got 'port 1'");
}

TEST_F(ConfDirTest, KeyOutsideSection) {
  conf("10-ldap.conf", "name = test.ldap\n");
  auto c = read_conf_dir(dir_);
  ASSERT_EQ(c.errors.size(), 1u);
  EXPECT_EQ(c.errors[0], file("10-ldap.conf") + ":1: 'name' is outside any section; put it under [plugin] or the plugin's [section]");
}

TEST_F(ConfDirTest, UnknownPluginKeyAndBadEnabled) {
  conf("10-ldap.conf", "[plugin]\nname = test.ldap\nenable = true\nenabled = sure\n");
  auto c = read_conf_dir(dir_);
  ASSERT_EQ(c.errors.size(), 2u);
  EXPECT_EQ(c.errors[0], file("10-ldap.conf") + ":3: unknown key 'enable' in [plugin]; expected name, enabled or log_level");
  EXPECT_EQ(c.errors[1], file("10-ldap.conf") + ":4: bad value 'sure' for enabled (boolean): expected true or false (also yes/no, on/off, 1/0)");
}

TEST_F(ConfDirTest, DotfilesAndOtherNamesIgnored) {
  conf(".01-hidden.conf", "[plugin]\nname = test.ldap\n[ldap]\nport = 1\n");
  conf("02-old.conf.dpkg-old", "[plugin]\nname = test.ldap\n[ldap]\nport = 2\n");
  conf("10-ldap.conf", "[plugin]\nname = test.ldap\n[ldap]\nbase_dn = x\nport = 3\n");
  ASSERT_TRUE(errors().empty());
  EXPECT_EQ(options_.get("ldap.port"), "3");
  auto c = read_conf_dir(dir_);
  ASSERT_EQ(c.files.size(), 1u);
  EXPECT_EQ(c.files[0].filename(), "10-ldap.conf");
}

TEST_F(ConfDirTest, FirstFileInLexicalOrderWins) {
  // XiVO's rule: 10-debug beats 20-nodebug.
  conf("20-nodebug.conf", "[plugin]\nname = test.ldap\nenabled = false\n[ldap]\nport = 20\ntls = true\n");
  conf("10-debug.conf", "[plugin]\nname = test.ldap\n[ldap]\nbase_dn = x\nport = 10\n");
  ASSERT_TRUE(errors().empty());
  EXPECT_EQ(options_.get("ldap.port"), "10");
  EXPECT_EQ(options_.get("ldap.tls"), "true");  // set only in the later file: still applies
  auto c = read_conf_dir(dir_);
  EXPECT_FALSE(c.find("test.ldap")->enabled);   // only the later file says enabled
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_EQ(warnings_[0], file("20-nodebug.conf") + ":5: 'ldap.port' for test.ldap is already set at " +
                              file("10-debug.conf") + ":5; the first file in lexical order wins, this value is ignored");
}

TEST_F(ConfDirTest, SameKeyTwiceInOneFileFirstWins) {
  conf("10-ldap.conf", "[plugin]\nname = test.ldap\n[ldap]\nbase_dn = x\nport = 1\nport = 2\n");
  ASSERT_TRUE(errors().empty());
  EXPECT_EQ(options_.get("ldap.port"), "1");
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_EQ(warnings_[0], file("10-ldap.conf") + ":6: 'ldap.port' for test.ldap is already set at " +
                              file("10-ldap.conf") + ":5; the first one wins, this value is ignored");
}

TEST_F(ConfDirTest, KernelDefaultsAreValid) {
  auto v = validate_options("kernel", kKernelOptions, nullptr, "/etc/dialtone");
  EXPECT_TRUE(v.errors.empty()) << ::testing::PrintToString(v.errors);
  EXPECT_EQ(v.options.get("http.confd.listen"), "127.0.0.1:9486");
  EXPECT_EQ(v.options.get("http.provd_phones.listen"), "127.0.0.1:8667");
  EXPECT_EQ(v.options.get_duration("auth.token_expiration").count(), 7200000);
  EXPECT_EQ(v.options.get("lua.script"), "/etc/dialtone/lua-dialplan/extensions.lua");
  EXPECT_EQ(v.options.get("kernel.plugin_dir"), "");
}

TEST_F(ConfDirTest, DescribeHidesSecretDefaults) {
  constexpr sdk::OptionSpec table[] = {
      {"db.password", OptionType::string, "hunter2", "password", sdk::kSecret},
      {"db.port", OptionType::integer, "5432", "port", sdk::kReloadable, nullptr, 1, 65535},
      {}};
  auto text = describe_options(table);
  EXPECT_EQ(text.find("hunter2"), std::string::npos);
  EXPECT_NE(text.find("(hidden)"), std::string::npos);
  EXPECT_NE(text.find("integer[1..65535]"), std::string::npos);
  EXPECT_NE(text.find("reloadable"), std::string::npos);
}

}  // namespace
}  // namespace dialtone::kernel
