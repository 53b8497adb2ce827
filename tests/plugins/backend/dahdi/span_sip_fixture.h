// SIP phones and two simulated E1 spans in one test host: backend.sip with
// its media in the engine (SipMediaTest), and the DAHDI driver registered
// with the call core, span 1 (pri_cpe, context from-pabx) cabled back to back
// to span 2 (pri_net, context from-extern), and span 3, an FXO line (channel
// 63, context from-line) whose exchange a test plays. Each test starts with
// both D-channels up.
//
// @code
//   class MyTest : public dialtone::testing::SpanSipTest {
//    protected:
//     static void SetUpTestSuite() {
//       make_host({{"alice", "1001"}}, std::filesystem::path(DAHDI_TEST_DIR) / "sip_dahdi_dialplan.lua");
//       start_media();
//     }
//   };
// @endcode
#pragma once

#include <memory>

#include "plugins/backend/dahdi/dahdi_driver.h"
#include "tests/plugins/media/calls/sip_media_fixture.h"

namespace dialtone::testing {

class SpanSipTest : public SipMediaTest {
 protected:
  void SetUp() override {
    start_plugin();
    sdk::Options o({{"span.1.driver", "simulated"}, {"span.1.peer", "2"}, {"span.1.bchan", "1-15,17-31"},
                    {"span.1.dchan", "16"}, {"span.1.signalling", "pri_cpe"}, {"span.1.context", "from-pabx"},
                    {"span.2.driver", "simulated"}, {"span.2.peer", "1"}, {"span.2.bchan", "32-46,48-62"},
                    {"span.2.dchan", "47"}, {"span.2.signalling", "pri_net"}, {"span.2.context", "from-extern"},
                    // An FXO line from the exchange (the test plays the exchange).
                    {"span.3.driver", "simulated"}, {"span.3.signalling", "fxs_ks"}, {"span.3.bchan", "63"},
                    {"span.3.context", "from-line"},
                    {"dahdi.realtime", "false"}});
    auto config = plugins::dahdi::parse_config(o);
    ASSERT_TRUE(config) << config.error().message;
    auto core = host_->services().find<sdk::CallCore>();
    driver_ = std::make_shared<plugins::dahdi::DahdiDriver>(std::move(*config), *host_, core);
    ASSERT_TRUE(driver_->start());
    ASSERT_TRUE(core->register_driver("dahdi", driver_));
    ASSERT_TRUE(eventually([&] {
      for (auto& s : driver_->spans())
        if (!s.dchan_up) return false;
      return true;
    }));
  }
  void TearDown() override {
    host_->calls().unregister_driver("dahdi");
    driver_->stop();
  }

  std::shared_ptr<plugins::dahdi::DahdiDriver> driver_;
};

}  // namespace dialtone::testing
