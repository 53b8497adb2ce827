// backend.dahdi in the real dialtoned: a span configured for hardware on a
// machine without /dev/dahdi is refused with one line at start while the
// simulated spans and the rest of Dialtone (the HTTP APIs) run; a bad value
// in its conf.d file is refused by --check-config with file:line.
#include <fstream>

#include <gtest/gtest.h>

#include "tests/integration/support/dahdi_spans.h"
#include "tests/integration/support/dialtoned_fixture.h"

namespace {

using dialtone::testing::Dialtoned;

using dialtone::testing::e1_span;

// Span 1 wants the kernel module; spans 8 and 9 are simulated, cabled back to back.
const std::string kSpans = "[plugin]\nname = backend.dahdi\n[dahdi]\ndevice = /nonexistent/dahdi\n" +
                           e1_span(1, 1, "pri_cpe", "driver = hardware\ntiming = 1\n") +
                           e1_span(8, 63, "pri_cpe", "driver = simulated\npeer = 9\n") +
                           e1_span(9, 94, "pri_net", "driver = simulated\npeer = 8\n");

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

TEST(DahdiDaemon, AHardwareSpanWithoutTheModuleIsRefusedAloneAndEverythingElseRuns) {
  Dialtoned d({.plugin_files = {{"50-confd.conf", "[plugin]\nname = api.confd\n"}, {"55-dahdi.conf", kSpans}}});
  ASSERT_TRUE(d.ready()) << d.error() << d.output();
  ASSERT_TRUE(d.wait_output("dahdi: span 8: D-channel up", 20)) << d.output();
  ASSERT_TRUE(d.wait_output("dahdi: span 9: D-channel up", 20)) << d.output();
  auto out = d.output();
  EXPECT_EQ(count(out, "refused"), 1u) << out;
  EXPECT_EQ(count(out, "dahdi: span 1 refused: it is configured for hardware (driver = hardware) but "
                       "/nonexistent/dahdi does not exist"),
            1u)
      << out;
  // The rest runs: the configuration and call APIs answer.
  EXPECT_EQ(d.http("GET", "confd", "/1.1/users", "", {{"X-Auth-Token", d.token()}}).status, 200);
  EXPECT_EQ(d.http("GET", "calld", "/1.0/calls", "", {{"X-Auth-Token", d.token()}}).status, 200);
}

TEST(DahdiDaemon, CheckConfigNamesTheFileAndLineOfABadSpanValue) {
  auto dir = std::filesystem::temp_directory_path() / ("dahdi-check-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "55-dahdi.conf") << "[plugin]\nname = backend.dahdi\nenabled = true\n[span.1]\n"
                                          "bchan = 1-15,17-31\ndchan = 16\nsignalling = pri_cpx\n";
  std::string out;
  int rc = dialtone::testing::run_command(dialtone::testing::dialtoned_binary().string() + " --check-config" +
                                              " --config-dir " + dir.string() + " --plugin-dir " +
                                              dialtone::testing::plugin_dir().string() + " 2>&1",
                                          &out);
  std::filesystem::remove_all(dir);
  EXPECT_NE(rc, 0) << out;
  EXPECT_NE(out.find((dir / "55-dahdi.conf").string() + ":7: bad value 'pri_cpx' for span.1.signalling"),
            std::string::npos)
      << out;
}

}  // namespace
