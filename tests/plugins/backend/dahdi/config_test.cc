// conf.d for backend.dahdi: the kernel's option validator refuses single
// bad values with file:line, parse_config refuses what joins two values,
// and a hardware span without the DAHDI module is refused alone at start.
#include <unistd.h>

#include <fstream>

#include <gtest/gtest.h>

#include "dahdi_host.h"
#include "plugins/backend/dahdi/dahdi_device.h"
#include "kernel/core/conf_dir.h"
#include "kernel/core/option_values.h"

namespace dialtone::testing {
namespace {

namespace fs = std::filesystem;
using plugins::dahdi::kOptions;
using plugins::dahdi::parse_config;

class DahdiConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("dahdi-conf-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // The kernel's reading and validation of one conf.d file.
  kernel::ValidatedOptions load(const std::string& text) {
    std::ofstream(dir_ / "55-dahdi.conf") << "[plugin]\nname = backend.dahdi\nenabled = true\n" << text;
    auto conf = kernel::read_conf_dir(dir_);
    EXPECT_TRUE(conf.errors.empty()) << conf.errors.front();
    return kernel::validate_options("backend.dahdi", kOptions, conf.find("backend.dahdi"), dir_);
  }
  fs::path dir_;
};

TEST_F(DahdiConfigTest, TheShippedFileValidatesAndDescribesTheSeedsPriSpan) {
  auto conf = kernel::read_conf_dir(fs::path(DAHDI_CONF_DIR));
  auto* mine = conf.find("backend.dahdi");
  ASSERT_NE(mine, nullptr);
  auto v = kernel::validate_options("backend.dahdi", kOptions, mine, DAHDI_CONF_DIR);
  ASSERT_TRUE(v.errors.empty()) << v.errors.front();
  auto c = parse_config(v.options);
  ASSERT_TRUE(c) << c.error().message;
  ASSERT_EQ(c->spans.size(), 1u);
  auto& s = c->spans.at(1);
  EXPECT_EQ(s.timing, 1);
  EXPECT_EQ(s.coding, "hdb3");
  EXPECT_EQ(s.bchan.size(), 30u);
  EXPECT_EQ(s.dchan, 16);
  EXPECT_EQ(s.groups, (std::vector<int>{0, 11}));
  EXPECT_EQ(s.context, "from-extern");
  EXPECT_EQ(s.signalling, plugins::dahdi::Signalling::pri_cpe);
  EXPECT_TRUE(s.echocancel);
}

TEST_F(DahdiConfigTest, BadSingleValuesAreRefusedWithFileAndLine) {
  auto v = load("[span.1]\nbchan = 1-15,17-31\ndchan = 16\nsignalling = pri_cpx\ncoding = hbd3\n"
                "group = 0,64\n[span.2]\nbchan = 15-1\ndchan = 16\nbchann = 1\n");
  std::string all;
  for (auto& e : v.errors) all += e + "\n";
  auto file = (dir_ / "55-dahdi.conf").string();
  EXPECT_NE(all.find(file + ":7: bad value 'pri_cpx' for span.1.signalling"), std::string::npos) << all;
  EXPECT_NE(all.find(file + ":8: bad value 'hbd3' for span.1.coding"), std::string::npos) << all;
  EXPECT_NE(all.find(file + ":9: bad value '0,64' for span.1.group"), std::string::npos) << all;
  EXPECT_NE(all.find("'64' is outside 0-63"), std::string::npos) << all;
  EXPECT_NE(all.find(file + ":11: bad value '15-1' for span.2.bchan"), std::string::npos) << all;
  EXPECT_NE(all.find("runs backwards; write it 1-15"), std::string::npos) << all;
  EXPECT_NE(all.find(file + ":13:"), std::string::npos) << "unknown key bchann: " << all;
  EXPECT_EQ(v.errors.size(), 5u) << all;
}

TEST_F(DahdiConfigTest, AnalogOptionsAreCheckedWithFileAndLineAndAgainstTheKindOfPort) {
  auto v = load("[span.5]\nbchan = 1-2\nsignalling = fxs_ks\ncidsignalling = dtmf\ncidstart = polarity_in\n"
                "answeronpolarityswitch = maybe\n");
  std::string all;
  for (auto& e : v.errors) all += e + "\n";
  auto file = (dir_ / "55-dahdi.conf").string();
  EXPECT_NE(all.find(file + ":7: bad value 'dtmf' for span.5.cidsignalling"), std::string::npos) << all;
  EXPECT_NE(all.find(file + ":8: bad value 'polarity_in' for span.5.cidstart"), std::string::npos) << all;
  EXPECT_NE(all.find(file + ":9: bad value 'maybe' for span.5.answeronpolarityswitch"), std::string::npos) << all;
  EXPECT_EQ(v.errors.size(), 3u) << all;
  // An FXO line's options on an FXS span, a phone's on a line: named.
  auto fxs = load("[span.5]\nbchan = 1-2\nsignalling = fxo_ks\ncidstart = polarity\n");
  ASSERT_TRUE(fxs.errors.empty()) << fxs.errors.front();
  auto c = parse_config(fxs.options);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().message, "dahdi: [span.5]: cidstart applies to FXO lines (signalling = fxs_ks); this span is "
                               "fxo_ks: remove it");
  auto fxo = load("[span.6]\nbchan = 3\nsignalling = fxs_ks\ntransfer = no\n");
  ASSERT_TRUE(fxo.errors.empty()) << fxo.errors.front();
  c = parse_config(fxo.options);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("transfer applies to FXS phones (signalling = fxo_ks)"), std::string::npos);
  auto good = load("[span.6]\nbchan = 3-4\nsignalling = fxs_ks\ncidsignalling = bell\ncidstart = polarity\n"
                   "answeronpolarityswitch = yes\nhanguponpolarityswitch = yes\n");
  ASSERT_TRUE(good.errors.empty()) << good.errors.front();
  c = parse_config(good.options);
  ASSERT_TRUE(c) << c.error().message;
  auto& s = c->spans.at(6);
  EXPECT_EQ(s.cidsignalling, "bell");
  EXPECT_EQ(s.cidstart, "polarity");
  EXPECT_TRUE(s.answeronpolarityswitch);
  EXPECT_TRUE(s.hanguponpolarityswitch);
}

TEST_F(DahdiConfigTest, RangesAreNormalizedAscending) {
  auto v = load("[span.1]\nbchan = 17-31, 1-15\ndchan = 16\n");
  ASSERT_TRUE(v.errors.empty()) << v.errors.front();
  EXPECT_EQ(v.options.get("span.1.bchan"), "1-15,17-31");
  auto c = parse_config(v.options);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->spans.at(1).bchan.front(), 1);
  EXPECT_EQ(c->spans.at(1).bchan.back(), 31);
}

struct Refusal {
  const char* text;
  const char* says;
};

TEST_F(DahdiConfigTest, ValuesThatContradictEachOtherAreRefusedNamingTheSpan) {
  const Refusal cases[] = {
      {"[span.1]\nbchan = 1-31\ndchan = 16\n", "[span.1]: D-channel 16 is also in bchan"},
      {"[span.1]\nbchan = 1-15,17-31\n", "[span.1]: pri_cpe needs a D-channel: dchan = 16"},
      {"[span.1]\nbchan = 1-3\nhardhdlc = 4\nsignalling = bri_cpe\n", "has 3 bchan; a BRI port has 2"},
      {"[span.1]\nbchan = 1-15,17-31\ndchan = 16\n[span.2]\nbchan = 31-45\ndchan = 46\n",
       "channel 31 is also used by span 1"},
      {"[span.first]\nbchan = 1-2\nhardhdlc = 3\nsignalling = bri_cpe\n", "write [span.1]"},
      {"[span.1]\ndriver = simulated\npeer = 2\nbchan = 1-2\nhardhdlc = 3\nsignalling = bri_cpe\n",
       "a simulated span needs peer"},
      {"[span.1]\ndriver = simulated\npeer = 2\nbchan = 1-15,17-31\ndchan = 16\n"
       "[span.2]\ndriver = simulated\npeer = 1\nbchan = 32-46,48-62\ndchan = 47\n",
       "both user side; one end is pri_net"},
  };
  for (auto& c : cases) {
    auto v = load(c.text);
    ASSERT_TRUE(v.errors.empty()) << c.text << v.errors.front();
    auto r = parse_config(v.options);
    ASSERT_FALSE(r) << c.text;
    EXPECT_NE(r.error().message.find(c.says), std::string::npos) << r.error().message;
  }
}

TEST_F(DahdiConfigTest, BriModesOfTheSeedParse) {
  auto v = load("[span.1]\nframing = ccs\ncoding = ami\nbchan = 1-2\nhardhdlc = 3\nsignalling = bri_cpe_ptmp\n"
                "layer1_presence = ignore\nlayer2_persistence = leave_down\n"
                "[span.2]\ncoding = ami\nbchan = 4-5\nhardhdlc = 6\nsignalling = bri_cpe\n");
  ASSERT_TRUE(v.errors.empty()) << v.errors.front();
  auto c = parse_config(v.options);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_FALSE(c->spans.at(1).layer1_required);
  EXPECT_EQ(c->spans.at(1).layer2_persistence, "leave_down");
  EXPECT_EQ(c->spans.at(2).span_channel(4), 1) << "BRI port 2's channels count from 1 within the span";
  EXPECT_EQ(c->spans.at(2).span_channel(6), 3);
}

// A hardware span 3 on `device` beside a simulated BRI pair (spans 1, 2);
// the driver started, and the lines that refuse a span.
struct HardwareBesidePair {
  explicit HardwareBesidePair(const std::string& device) {
    driver = host.start_dahdi({
        {"dahdi.device", device},
        {"span.3.driver", "hardware"}, {"span.3.bchan", "63-77,79-93"}, {"span.3.dchan", "78"},
        {"span.1.driver", "simulated"}, {"span.1.peer", "2"}, {"span.1.bchan", "1-2"}, {"span.1.hardhdlc", "3"},
        {"span.1.signalling", "bri_cpe"},
        {"span.2.driver", "simulated"}, {"span.2.peer", "1"}, {"span.2.bchan", "4-5"}, {"span.2.hardhdlc", "6"},
        {"span.2.signalling", "bri_net"},
    });
    for (auto& l : host.logger().lines())
      if (l.find("refused") != std::string::npos) refusals.push_back(l);
  }
  bool pair_up() {
    return eventually([&] {
      int up = 0;
      for (auto& s : driver->spans()) up += s.dchan_up;
      return up == 2;
    });
  }
  DahdiTestHost host;
  std::shared_ptr<plugins::dahdi::DahdiDriver> driver;
  std::vector<std::string> refusals;
};

TEST(DahdiStartTest, AHardwareSpanWithoutTheDahdiModuleIsRefusedAloneWithOneLine) {
  HardwareBesidePair t("/nonexistent/dahdi");
  ASSERT_EQ(t.refusals.size(), 1u);
  EXPECT_NE(t.refusals[0].find("dahdi: span 3 refused: it is configured for hardware (driver = hardware) but "
                               "/nonexistent/dahdi does not exist: load the card's DAHDI kernel module"),
            std::string::npos)
      << t.refusals[0];
  // The simulated BRI pair runs: both D-channels up, and a call crosses.
  ASSERT_TRUE(t.pair_up());
  for (auto& s : t.driver->spans()) {
    if (s.number == 3) {
      EXPECT_FALSE(s.running);
    }
  }
  auto d = t.host.dial({"dahdi/1/140001017"});
  auto o = DahdiTestHost::wait_outcome(*d);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->q850, 17) << "busy, across the BRI pair: " << o->status;
}

// With a device present the hardware span driver runs its ioctls: a
// /dev/dahdi whose channel node is not DAHDI's (here a plain file, as on a
// machine where the module did not load) refuses that span with the
// channel, what DAHDI said and the fix; the simulated pair runs.
TEST(DahdiStartTest, AHardwareSpanWhoseDeviceIsNotDahdiIsRefusedNamingTheChannel) {
  auto dev = std::filesystem::temp_directory_path() / ("dahdi-dev-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dev);
  std::ofstream(dev / "channel") << "";
  HardwareBesidePair t(dev.string());
  ASSERT_EQ(t.refusals.size(), 1u);
  std::string want = plugins::dahdi::device_support_built()
                         ? "dahdi: span 3 refused: D-channel 78: " + (dev / "channel").string() +
                               " is not a DAHDI channel device (DAHDI_SPECIFY: "
                         : std::string("dahdi: span 3 refused: this dialtoned was built without the DAHDI headers");
  EXPECT_NE(t.refusals[0].find(want), std::string::npos) << t.refusals[0];
  EXPECT_NE(t.refusals[0].find("the other spans run"), std::string::npos) << t.refusals[0];
  EXPECT_TRUE(t.pair_up());
  std::filesystem::remove_all(dev);
}

}  // namespace
}  // namespace dialtone::testing

namespace dialtone::testing {
namespace {

// The seed's first BRI mode, point to multipoint: the user side asks the
// network side for a TEI (Q.921 TEI management) before its first call.
TEST(DahdiStartTest, APointToMultipointBriPairCarriesACall) {
  DahdiTestHost host;
  auto driver = host.start_dahdi({
      {"span.1.driver", "simulated"}, {"span.1.peer", "2"}, {"span.1.bchan", "1-2"}, {"span.1.hardhdlc", "3"},
      {"span.1.coding", "ami"}, {"span.1.signalling", "bri_cpe_ptmp"}, {"span.1.layer1_presence", "ignore"},
      {"span.1.layer2_persistence", "leave_down"},
      {"span.2.driver", "simulated"}, {"span.2.peer", "1"}, {"span.2.bchan", "4-5"}, {"span.2.hardhdlc", "6"},
      {"span.2.coding", "ami"}, {"span.2.signalling", "bri_net_ptmp"},
  });
  auto d = host.dial({"dahdi/1/140001017"});
  auto o = DahdiTestHost::wait_outcome(*d);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->q850, 17) << "busy, across the PTMP BRI pair: " << o->status;
  auto d2 = host.dial({"dahdi/1/140001000"});
  auto o2 = DahdiTestHost::wait_outcome(*d2);
  ASSERT_TRUE(o2);
  EXPECT_EQ(o2->status, "answered");
  (void)host.calls().hangup_channel(d2->origin, 16);
}

}  // namespace
}  // namespace dialtone::testing
