// A started media engine on loopback, event collection and waiting helpers
// shared by the media engine tests.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "plugins/media/engine/engine.h"
#include "tests/plugins/media/engine/rtp_peer.h"
#include "tests/support/eventually.h"  // eventually(): the media tests wait through it
#include "tests/support/udp_ports.h"
#include "tests/support/test_logger.h"

namespace dialtone::testing::media {

namespace sm = sdk::media;

class Events {
 public:
  sm::EventHandler handler() {
    return [this](const sm::MediaEvent& e) {
      std::lock_guard lk(m_);
      events_.push_back(e);
    };
  }
  std::vector<sm::MediaEvent> all() const {
    std::lock_guard lk(m_);
    return events_;
  }
  std::size_t count(sm::EventType t) const {
    std::lock_guard lk(m_);
    std::size_t n = 0;
    for (auto& e : events_) n += e.type == t;
    return n;
  }
  std::string digits(sm::DtmfSource src) const {
    std::lock_guard lk(m_);
    std::string d;
    for (auto& e : events_)
      if (e.type == sm::EventType::dtmf && e.dtmf_source == src) d += e.digit;
    return d;
  }

 private:
  mutable std::mutex m_;
  std::vector<sm::MediaEvent> events_;
};

class MediaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("dialtone-media-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    plugins::media::EngineConfig cfg;
    cfg.address = "127.0.0.1";
    cfg.port_min = kTestEnginePortMin;
    cfg.port_max = kTestEnginePortMax;
    cfg.threads = 2;
    cfg.sounds_path = sounds_path();
    cfg.language = "en";
    cfg.country = "fr";
    engine_ = std::make_unique<plugins::media::Engine>(cfg, log_);
    ASSERT_TRUE(engine_->start().ok());
  }
  void TearDown() override {
    engine_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  virtual std::filesystem::path sounds_path() const { return "/usr/share/asterisk/sounds"; }

  // An endpoint sending to `peer` with one codec; the peer sends back to it.
  std::shared_ptr<sm::Endpoint> endpoint_for(RtpPeer& peer, sm::Codec codec, std::uint8_t pt,
                                             std::uint8_t event_pt = 101,
                                             std::function<void(sm::EndpointConfig&)> tweak = {}) {
    sm::EndpointConfig c;
    c.formats = {{codec, pt}};
    c.telephone_event_pt = event_pt;
    c.remote = peer.address();
    if (tweak) tweak(c);
    auto ep = engine_->create_endpoint(c);
    EXPECT_TRUE(ep.ok()) << (ep.ok() ? "" : ep.error().message);
    if (!ep.ok()) return nullptr;
    peer.set_remote((*ep)->local_port());
    return *ep;
  }

  sm::MediaEngine& media() { return *engine_; }

  TestLogger log_;
  std::unique_ptr<plugins::media::Engine> engine_;
  std::filesystem::path dir_;
};

}  // namespace dialtone::testing::media
