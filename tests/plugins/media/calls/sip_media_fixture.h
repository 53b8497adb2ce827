// SIP tests whose calls need the media engine: the suite's SipTestHost with an
// engine and its call verbs set up as the media plugin does in dialtoned
// (digits to the call core, the engine provided as "default", the verbs
// registered with the call core).
//
// @code
//   class PromptTest : public dialtone::testing::SipMediaTest {
//    protected:
//     static void SetUpTestSuite() {
//       make_host({{"alice", "1001"}}, "media_dialplan.lua");
//       start_media();
//     }
//     void SetUp() override { start_plugin(); }
//   };
// @endcode
#pragma once

#include <memory>

#include <dialtone/calls.h>
#include <dialtone/media.h>

#include "plugins/media/engine/call_verbs.h"
#include "plugins/media/engine/engine.h"
#include "tests/plugins/backend/sip/sip_fixture.h"
#include "tests/support/udp_ports.h"

namespace dialtone::testing {

class SipMediaTest : public SipPluginTest {
 protected:
  // `moh_path`: the music-on-hold classes (empty: the engine's default).
  static void start_media(const std::filesystem::path& moh_path = {}) {
    plugins::media::EngineConfig cfg;
    if (!moh_path.empty()) cfg.moh_path = moh_path;
    cfg.port_min = kTestEnginePortMin;
    cfg.port_max = kTestEnginePortMax;
    cfg.threads = 1;
    cfg.realtime = false;
    engine_ = std::make_shared<plugins::media::Engine>(cfg, host_->log());
    ASSERT_TRUE(engine_->start());
    auto core = host_->services().find<sdk::CallCore>();
    ASSERT_TRUE(core);
    engine_->set_dtmf_sink([core](const std::string& ch, char d, sdk::media::DtmfSource s) {
      (void)core->dtmf_received(ch, d, s == sdk::media::DtmfSource::rfc4733 ? "rfc4733" : "inband");
    });
    ASSERT_TRUE(host_->services().provide<sdk::media::MediaEngine>("default", engine_));
    verbs_ = std::make_shared<plugins::media::CallVerbs>(engine_, &host_->executor(), &host_->log());
    for (auto& v : verbs_->functions()) ASSERT_TRUE(core->register_verb(std::move(v)));
  }

  static void TearDownTestSuite() {
    if (verbs_) verbs_->rebind(nullptr);
    if (engine_) engine_->stop();
    SipPluginTest::TearDownTestSuite();
    engine_.reset();
  }

  static inline std::shared_ptr<plugins::media::Engine> engine_;
  static inline std::shared_ptr<plugins::media::CallVerbs> verbs_;
};

}  // namespace dialtone::testing
