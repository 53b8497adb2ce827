// The fake host (sdk/testing) and dialtoned validate options with one
// validator: for every option type, a value one refuses the other refuses in
// the same words (dialtoned adds the conf.d file:line), and a value both take
// reaches the plugin in the same canonical form.
#include <gtest/gtest.h>

#include <dialtone/testing/fake_host.h>

#include "kernel/core/option_values.h"

namespace dialtone::kernel {
namespace {

constexpr sdk::OptionSpec kAll[] = {
    {"t.name", sdk::OptionType::string, "x", "string"},
    {"t.count", sdk::OptionType::integer, "1", "integer", sdk::kNone, nullptr, 1, 10},
    {"t.verbose", sdk::OptionType::boolean, "no", "boolean"},
    {"t.ratio", sdk::OptionType::decimal, "0.5", "decimal"},
    {"t.timeout", sdk::OptionType::duration, "1.5s", "duration"},
    {"t.items", sdk::OptionType::list, "", "list"},
    {"t.mode", sdk::OptionType::choice, "normal", "enum", sdk::kNone, "normal|fail"},
    {"t.dir", sdk::OptionType::path, "/var/lib/dialtone", "path"},
    {"t.listen", sdk::OptionType::address, "127.0.0.1:5060", "address"},
    {"t.allow", sdk::OptionType::subnets, "127.0.0.0/8", "subnets"},
    {"t.chans", sdk::OptionType::ranges, "1-2", "ranges", sdk::kNone, nullptr, 1, 31},
    {"source.*.uri", sdk::OptionType::string, nullptr, "per source"},
    {"source.*.port", sdk::OptionType::integer, "389", "per source"},
    {}};

struct Verdict {
  bool ok;
  std::string text;  // canonical value, or the message without file:line
};

Verdict kernel_says(const std::string& name, const std::string& value) {
  PluginConf conf;
  conf.name = "test.all";
  conf.enabled = true;
  conf.file = "/etc/dialtone/conf.d/10-all.conf";
  conf.line = 1;
  conf.values[name] = {value, conf.file, 4};
  auto v = validate_options("test.all", kAll, &conf, "/etc/dialtone");
  if (!v.errors.empty()) {
    const std::string prefix = conf.file.string() + ":4: ";
    EXPECT_EQ(v.errors[0].rfind(prefix, 0), 0u) << v.errors[0];
    return {false, v.errors[0].substr(prefix.size())};
  }
  return {true, v.options.get(name)};
}

Verdict fake_says(const std::string& name, const std::string& value) {
  auto r = testing::validate_options(kAll, {{name, value}}, "test.all");
  if (!r) return {false, r.error().message};
  return {true, r->get(name)};
}

TEST(OptionParity, EveryTypeIsCheckedTheSameWayByTheFakeHostAndDialtoned) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"t.name", "anything"},        {"t.count", "5"},
      {"t.count", "11"},             {"t.count", "two"},
      {"t.verbose", "on"},           {"t.verbose", "maybe"},
      {"t.ratio", "0.25"},           {"t.ratio", "half"},
      {"t.timeout", "300ms"},        {"t.timeout", "2m"},
      {"t.timeout", "soon"},         {"t.timeout", "-1s"},
      {"t.items", " a, b ,,c "},     {"t.mode", "fail"},
      {"t.mode", "other"},           {"t.dir", "/srv/dialtone/../data"},
      {"t.listen", "127.0.0.1:5060"}, {"t.listen", "[::1]:5061"},
      {"t.listen", "localhost"},     {"t.listen", "127.0.0.1:99999"},
      {"t.listen", "::1:5060"},      {"t.listen", "[::1"},
      {"t.allow", "127.0.0.0/8, ::1/128"}, {"t.allow", "10.0.0.0/33"},
      {"t.allow", "corp"},           {"source.corp.uri", "ldap://127.0.0.1"},
      {"source.corp.port", "x"},     {"t.nmae", "typo"},
      {"t.chans", "17-31,1-15"},     {"t.chans", "1-32"},
      {"t.chans", "5-3"},            {"t.chans", "1-3,3"},
      {"t.chans", "a-b"},
  };
  for (auto& [name, value] : cases) {
    SCOPED_TRACE(name + " = " + value);
    auto k = kernel_says(name, value);
    auto f = fake_says(name, value);
    EXPECT_EQ(k.ok, f.ok);
    EXPECT_EQ(k.text, f.text);
  }
}

TEST(OptionParity, TheFakeHostNowRefusesAddressSubnetsAndUnknownNamesLikeDialtoned) {
  auto bad_port = fake_says("t.listen", "127.0.0.1:99999");
  ASSERT_FALSE(bad_port.ok);
  EXPECT_EQ(bad_port.text,
            "bad value '127.0.0.1:99999' for t.listen (address): port must be 0-65535; expected "
            "host:port, [v6]:port or host");
  auto bad_subnet = fake_says("t.allow", "10.0.0.0/33");
  ASSERT_FALSE(bad_subnet.ok);
  EXPECT_EQ(bad_subnet.text,
            "bad value '10.0.0.0/33' for t.allow (subnets): '10.0.0.0/33' is not a subnet; expected "
            "CIDRs such as 127.0.0.0/8, ::1/128");
  auto typo = fake_says("t.nmae", "x");
  ASSERT_FALSE(typo.ok);
  EXPECT_EQ(typo.text, "unknown option 't.nmae' for plugin test.all; did you mean 't.name'?");
  auto list = fake_says("t.items", " a, b ,,c ");
  ASSERT_TRUE(list.ok);
  EXPECT_EQ(list.text, "a,b,c");
}

TEST(OptionParity, RequiredOptionMissingIsReportedByBoth) {
  constexpr sdk::OptionSpec kRequired[] = {
      {"ldap.base_dn", sdk::OptionType::string, nullptr, "base", sdk::kRequired}, {}};
  auto r = testing::validate_options(kRequired, {}, "test.ldap");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "plugin test.ldap: required option 'ldap.base_dn' is not set; add `base_dn = ...` under [ldap]");
  auto k = validate_options("test.ldap", kRequired, nullptr, "/etc/dialtone");
  ASSERT_EQ(k.errors.size(), 1u);
  EXPECT_EQ(k.errors[0], "conf.d: " + r.error().message);
}

}  // namespace
}  // namespace dialtone::kernel
