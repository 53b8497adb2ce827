// Runs the built dialtoned the way an admin would. Nothing here needs a
// database: --check-config, --describe and --list-plugins never open one.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "test_support.h"

namespace dialtone::kernel {
namespace {

using testing::install_fixture;
using testing::TempDir;
using testing::write_file;

struct Run {
  int code = -1;
  std::string out;
};

Run dialtoned(const std::string& args) {
  std::string cmd = std::string(DIALTONED_BIN) + " " + args + " 2>&1";
  Run r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  std::size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

class CliTest : public ::testing::Test {
 protected:
  std::string args() {
    return "--config-dir " + conf_.string() + " --plugin-dir " + plugins_.string() + " --data-dir " +
           (tmp_ / "data").string();
  }
  TempDir tmp_;
  std::filesystem::path conf_ = tmp_ / "conf.d";
  std::filesystem::path plugins_ = tmp_ / "plugins";
};

TEST_F(CliTest, DescribeKernelPrintsItsOptionTable) {
  std::filesystem::create_directories(conf_);
  auto r = dialtoned("--describe kernel " + args());
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("NAME"), std::string::npos);
  EXPECT_NE(r.out.find("http.confd.listen"), std::string::npos);
  EXPECT_NE(r.out.find("127.0.0.1:9486"), std::string::npos);
  EXPECT_NE(r.out.find("auth.token_expiration"), std::string::npos);
  EXPECT_NE(r.out.find("choice(trace|debug|info|warn|error|critical|off)"), std::string::npos);
}

TEST_F(CliTest, DescribePluginHidesSecretDefaults) {
  std::filesystem::create_directories(conf_);
  install_fixture(plugins_, "good");
  auto r = dialtoned("--describe fixture.good " + args());
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("fixture.good 1.2.3 (fixture): a plugin that works"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("good.greeting"), std::string::npos);
  EXPECT_NE(r.out.find("reloadable"), std::string::npos);
  EXPECT_NE(r.out.find("(hidden)"), std::string::npos);
  EXPECT_EQ(r.out.find("s3cr3t-default"), std::string::npos);
}

TEST_F(CliTest, DescribeUnknownPluginFails) {
  std::filesystem::create_directories(conf_);
  auto r = dialtoned("--describe fixture.nope " + args());
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("no plugin 'fixture.nope' in " + plugins_.string()), std::string::npos) << r.out;
}

TEST_F(CliTest, CheckConfigPassesOnAGoodConfiguration) {
  install_fixture(plugins_, "good");
  write_file(conf_ / "00-kernel.conf", "[plugin]\nname = kernel\n[log]\nlevel = debug\n");
  write_file(conf_ / "50-good.conf", "[plugin]\nname = fixture.good\n[good]\ngreeting = hi\n");
  auto r = dialtoned("--check-config " + args());
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("configuration OK: 2 conf.d files, 1 plugins enabled"), std::string::npos) << r.out;
}

TEST_F(CliTest, CheckConfigListsEveryProblemWithFileAndLine) {
  install_fixture(plugins_, "good");
  install_fixture(plugins_, "bad_abi");
  auto kernel = write_file(conf_ / "00-kernel.conf",
                           "[plugin]\nname = kernel\n[http.confd]\nlisten = 127.0.0.1:99999\n[lgo]\nlevel = info\n");
  auto good = write_file(conf_ / "50-good.conf", "[plugin]\nname = fixture.good\n[good]\ngreting = hi\n");
  auto ghost = write_file(conf_ / "60-ghost.conf", "[plugin]\nname = fixture.ghost\n");
  auto r = dialtoned("--check-config " + args());
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find(kernel.string() + ":4: bad value '127.0.0.1:99999' for http.confd.listen (address)"),
            std::string::npos) << r.out;
  EXPECT_NE(r.out.find(kernel.string() + ":6: unknown option 'lgo.level' for plugin kernel; did you mean 'log.level'?"),
            std::string::npos) << r.out;
  EXPECT_NE(r.out.find(good.string() + ":4: unknown option 'good.greting' for plugin fixture.good; did you mean 'good.greeting'?"),
            std::string::npos) << r.out;
  EXPECT_NE(r.out.find(ghost.string() + ":2: plugin 'fixture.ghost' is not installed"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("refused " + (plugins_ / "fixture_bad_abi.so").string() + ": built for SDK ABI 99.0"),
            std::string::npos) << r.out;
  EXPECT_NE(r.out.find("5 problems found"), std::string::npos) << r.out;
}

TEST_F(CliTest, CheckConfigWarnsWhenALaterFileIsIgnored) {
  std::filesystem::create_directories(plugins_);
  auto first = write_file(conf_ / "00-kernel.conf", "[plugin]\nname = kernel\n[log]\nlevel = debug\n");
  auto later = write_file(conf_ / "90-local.conf", "[plugin]\nname = kernel\n[log]\nlevel = error\n");
  auto r = dialtoned("--check-config " + args());
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("warning: " + later.string() + ":4: 'log.level' for kernel is already set at " +
                       first.string() + ":4; the first file in lexical order wins"),
            std::string::npos) << r.out;
}

TEST_F(CliTest, ListPluginsShowsEveryState) {
  for (auto f : {"good", "bad_abi", "throws_in_create", "needs_missing", "fails_configure", "cycle_a"})
    install_fixture(plugins_, f);
  write_file(conf_ / "10-good.conf", "[plugin]\nname = fixture.good\n");
  write_file(conf_ / "20-create.conf", "[plugin]\nname = fixture.throws_in_create\n");
  write_file(conf_ / "30-needs.conf", "[plugin]\nname = fixture.needs_missing\n");
  write_file(conf_ / "40-conf.conf", "[plugin]\nname = fixture.fails_configure\nenabled = false\n");
  auto r = dialtoned("--list-plugins --log-level off " + args());
  EXPECT_EQ(r.code, 0) << r.out;
  auto line_of = [&](const std::string& file) {
    auto pos = r.out.find(file);
    if (pos == std::string::npos) return std::string();
    auto b = r.out.rfind('\n', pos) + 1;
    return r.out.substr(b, r.out.find('\n', pos) - b);
  };
  EXPECT_NE(line_of("fixture_good.so").find("fixture.good"), std::string::npos);
  EXPECT_NE(line_of("fixture_good.so").find("1.2.3"), std::string::npos);
  EXPECT_NE(line_of("fixture_good.so").find("configured"), std::string::npos) << r.out;
  EXPECT_NE(line_of("fixture_bad_abi.so").find("refused"), std::string::npos) << r.out;
  EXPECT_NE(line_of("fixture_throws_in_create.so").find("(failed: create: exception: boom in constructor)"),
            std::string::npos) << r.out;
  EXPECT_NE(line_of("fixture_needs_missing.so").find("(refused: requires fixture.nowhere which is not installed)"),
            std::string::npos) << r.out;
  EXPECT_NE(line_of("fixture_fails_configure.so").find("disabled"), std::string::npos) << r.out;
  EXPECT_NE(line_of("fixture_cycle_a.so").find("(disabled: no conf.d file enables it)"), std::string::npos) << r.out;
}

// The SIP relay and the media engine both bind UDP ports from a range: the
// shipped conf.d keeps them apart, and an overlap is a configuration error
// naming both ranges.
class RtpRangesTest : public CliTest {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(plugins_);
    std::filesystem::create_directories(conf_);
    for (auto so : {"backend_sip.so", "media_engine.so"})
      std::filesystem::create_symlink(std::filesystem::path(DIALTONE_PLUGIN_BUILD_DIR) / so, plugins_ / so);
    for (auto conf : {"40-sip.conf", "45-media.conf"})
      std::filesystem::copy_file(std::filesystem::path(DIALTONE_SOURCE_DIR) / "conf.d" / conf, conf_ / conf);
  }
};

TEST_F(RtpRangesTest, ShippedRangesAreDisjoint) {
  auto r = dialtoned("--check-config " + args());
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out.find("overlaps"), std::string::npos) << r.out;
}

TEST_F(RtpRangesTest, AnOverlapFailsCheckConfigNamingBothRanges) {
  // media.engine's shipped default is 40000-50000.
  std::ifstream in(conf_ / "40-sip.conf");
  std::stringstream sip;
  sip << in.rdbuf();
  std::string text = sip.str();
  const auto at = text.find("port_max = 30000\n");
  ASSERT_NE(at, std::string::npos) << "40-sip.conf no longer sets rtp.port_max = 30000";
  write_file(conf_ / "40-sip.conf", text.replace(at, 16, "port_max = 40003"));
  auto r = dialtoned("--check-config " + args());
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("media.engine rtp.port_min-rtp.port_max (40000-50000) overlaps backend.sip "
                       "rtp.port_min-rtp.port_max (10000-40003)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("make the two ranges disjoint"), std::string::npos) << r.out;
}

// A relayed call where neither phone multiplexes RTCP takes four ports (a
// pair per leg): the relay's range, as shipped in conf.d and as the option
// table's default, holds at least 5,000 of them.
TEST_F(RtpRangesTest, ShippedRelayRangeHoldsFiveThousandCallsWithoutRtcpMux) {
  auto value_after = [](const std::string& text, const std::string& key) {
    auto at = text.find(key);
    return at == std::string::npos ? -1 : std::atoi(text.c_str() + text.find_first_of("0123456789", at + key.size()));
  };
  std::ifstream in(conf_ / "40-sip.conf");
  std::stringstream sip;
  sip << in.rdbuf();
  int conf_min = value_after(sip.str(), "\nport_min ="), conf_max = value_after(sip.str(), "\nport_max =");
  ASSERT_GT(conf_min, 0) << sip.str();
  EXPECT_GE((conf_max - conf_min + 1) / 4, 5000) << "40-sip.conf: " << conf_min << "-" << conf_max;
  auto r = dialtoned("--describe backend.sip " + args());
  ASSERT_EQ(r.code, 0) << r.out;
  // The default, past the "integer[1024..65535]" type column.
  auto table_default = [&](const std::string& key) {
    auto type_end = r.out.find(']', r.out.find(key));
    return type_end == std::string::npos ? -1 : value_after(r.out.substr(type_end), "]");
  };
  int table_min = table_default("rtp.port_min"), table_max = table_default("rtp.port_max");
  EXPECT_GE((table_max - table_min + 1) / 4, 5000) << "option table: " << table_min << "-" << table_max << "\n"
                                                   << r.out;
}

TEST_F(CliTest, BadCommandLineNamesTheFix) {
  auto r = dialtoned("--no-such-flag");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("see dialtoned --help"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace dialtone::kernel
