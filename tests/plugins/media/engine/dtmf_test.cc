// DTMF in and out, RFC 4733 and in-band, with a real RTP peer.
extern "C" {
#include <spandsp.h>
}

#include "tests/plugins/media/engine/media_fixture.h"

namespace dialtone::testing::media {
namespace {

using DtmfTest = MediaTest;

std::vector<std::int16_t> inband(const std::string& digits) {
  dtmf_tx_state_t* tx = dtmf_tx_init(nullptr);
  dtmf_tx_put(tx, digits.c_str(), static_cast<int>(digits.size()));
  std::vector<std::int16_t> out;
  std::int16_t buf[160];
  int n;
  while ((n = dtmf_tx(tx, buf, 160)) > 0) out.insert(out.end(), buf, buf + n);
  dtmf_tx_free(tx);
  out.resize(out.size() + 1600);  // trailing silence so the last digit ends
  return out;
}

std::string detect(const std::vector<std::int16_t>& audio) {
  std::string got;
  auto cb = [](void* user, const char* d, int len) { static_cast<std::string*>(user)->append(d, len); };
  dtmf_rx_state_t* rx = dtmf_rx_init(nullptr, cb, &got);
  dtmf_rx(rx, audio.data(), static_cast<int>(audio.size()));
  dtmf_rx_free(rx);
  return got;
}

TEST_F(DtmfTest, Rfc4733DigitsAreDetected) {
  RtpPeer peer(sm::Codec::pcmu, 0, 101);
  Events ev;
  auto ep = endpoint_for(peer, sm::Codec::pcmu, 0, 101);
  ep->set_handler(ev.handler());
  peer.send_audio(make_tone(0, 0.1, 8000));
  peer.send_digits("1#9A");
  ASSERT_TRUE(eventually([&] { return ev.digits(sm::DtmfSource::rfc4733).size() == 4; }));
  EXPECT_EQ(ev.digits(sm::DtmfSource::rfc4733), "1#9A");
  EXPECT_EQ(ev.digits(sm::DtmfSource::inband), "");
}

TEST_F(DtmfTest, InbandDigitsAreDetected) {
  RtpPeer peer(sm::Codec::pcma, 8, 0);
  Events ev;
  auto ep = endpoint_for(peer, sm::Codec::pcma, 8, 0);
  ep->set_handler(ev.handler());
  peer.send_audio(inband("258*0"));
  ASSERT_TRUE(eventually([&] { return ev.digits(sm::DtmfSource::inband).size() >= 5; }));
  EXPECT_EQ(ev.digits(sm::DtmfSource::inband), "258*0");
}

TEST_F(DtmfTest, InbandDigitsAreDetectedOnAWidebandLeg) {
  RtpPeer peer(sm::Codec::g722, 9, 0);
  Events ev;
  auto ep = endpoint_for(peer, sm::Codec::g722, 9, 0);
  ep->set_handler(ev.handler());
  // 8 kHz DTMF upsampled by repetition is still clean below 4 kHz.
  auto narrow = inband("36#");
  std::vector<std::int16_t> wide(narrow.size() * 2);
  for (std::size_t i = 0; i < narrow.size(); ++i) wide[2 * i] = wide[2 * i + 1] = narrow[i];
  peer.send_audio(wide);
  ASSERT_TRUE(eventually([&] { return ev.digits(sm::DtmfSource::inband).size() >= 3; }));
  EXPECT_EQ(ev.digits(sm::DtmfSource::inband), "36#");
}

TEST_F(DtmfTest, Rfc4733DigitsAreSent) {
  RtpPeer peer(sm::Codec::pcmu, 0, 101);
  auto ep = endpoint_for(peer, sm::Codec::pcmu, 0, 101);
  ep->send_dtmf("42#*");
  ASSERT_TRUE(eventually([&] { return peer.digits().size() >= 4; }));
  EXPECT_EQ(peer.digits(), "42#*");
}

TEST_F(DtmfTest, InbandDigitsAreSentWithoutTelephoneEvents) {
  RtpPeer peer(sm::Codec::pcmu, 0, 0);
  auto ep = endpoint_for(peer, sm::Codec::pcmu, 0, 0);
  std::size_t start = peer.audio_size();
  ep->send_dtmf("735");
  ASSERT_TRUE(eventually([&] { return peer.audio_size() > start + 8000; }));
  auto a = peer.audio();
  EXPECT_EQ(detect(std::vector<std::int16_t>(a.begin() + start, a.end())), "735");
}

TEST_F(DtmfTest, AFloodOfDigitsIsDetectedWithoutLoss) {
  RtpPeer peer(sm::Codec::pcmu, 0, 101);
  Events ev;
  auto ep = endpoint_for(peer, sm::Codec::pcmu, 0, 101);
  ep->set_handler(ev.handler());
  std::string flood = "0123456789*#0123456789*#";
  peer.send_digits(flood);
  ASSERT_TRUE(eventually([&] { return ev.digits(sm::DtmfSource::rfc4733).size() >= flood.size(); }));
  EXPECT_EQ(ev.digits(sm::DtmfSource::rfc4733), flood);
}

}  // namespace
}  // namespace dialtone::testing::media
