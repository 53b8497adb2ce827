// Mixing, transcoding bridges, SRTP, Opus and latching, with real RTP peers.
#include "tests/plugins/media/engine/media_fixture.h"

namespace dialtone::testing::media {
namespace {

using MixingTest = MediaTest;

struct Leg {
  sm::Codec codec;
  std::uint8_t pt;
};

// Peer A sends a 1 kHz tone through a bridge; peer B must hear 1 kHz.
void expect_bridge_keeps_tone(MediaTest& t, Leg a, Leg b,
                              const std::function<std::shared_ptr<sm::Endpoint>(RtpPeer&, Leg)>& make,
                              sm::MediaEngine& engine) {
  RtpPeer pa(a.codec, a.pt), pb(b.codec, b.pt);
  auto ea = make(pa, a), eb = make(pb, b);
  auto bridge = engine.create_mixer();
  bridge->add(ea);
  bridge->add(eb);
  ASSERT_TRUE(eventually([&] { return bridge->size() == 2; }));
  std::size_t start = pb.audio_size();
  pa.send_audio(make_tone(1000, 1.0, pa.rate()));
  ASSERT_TRUE(eventually([&] { return pb.audio_size() > start + pb.rate() * 1.2; }));
  auto got = pb.audio();
  std::size_t frame = pb.rate() / 50, s = start;
  while (s + frame < got.size() && std::sqrt(energy(got, s, s + frame) / frame) < 300) s += frame;
  ASSERT_LT(s + pb.rate() / 2, got.size());
  EXPECT_GT(tone_share(got, pb.rate(), 1000, s + frame, s + pb.rate() * 8 / 10), 0.9);
  EXPECT_NEAR(loud_samples(got, pb.rate()) / double(pb.rate()), 1.0, 0.08);
  (void)t;
}

TEST_F(MixingTest, TranscodingBridgesKeepAToneFrequency) {
  auto make = [&](RtpPeer& p, Leg l) { return endpoint_for(p, l.codec, l.pt); };
  expect_bridge_keeps_tone(*this, {sm::Codec::pcmu, 0}, {sm::Codec::pcma, 8}, make, *engine_);
  expect_bridge_keeps_tone(*this, {sm::Codec::pcma, 8}, {sm::Codec::g722, 9}, make, *engine_);
  expect_bridge_keeps_tone(*this, {sm::Codec::g722, 9}, {sm::Codec::pcmu, 0}, make, *engine_);
  expect_bridge_keeps_tone(*this, {sm::Codec::opus, 111}, {sm::Codec::pcma, 8}, make, *engine_);
}

TEST_F(MixingTest, ThreePartiesEachHearTheOtherTwoAndNotThemselves) {
  const double f[3] = {500, 1100, 1700};
  RtpPeer p0(sm::Codec::pcmu, 0), p1(sm::Codec::pcma, 8), p2(sm::Codec::g722, 9);
  RtpPeer* peers[3] = {&p0, &p1, &p2};
  auto e0 = endpoint_for(p0, sm::Codec::pcmu, 0), e1 = endpoint_for(p1, sm::Codec::pcma, 8),
       e2 = endpoint_for(p2, sm::Codec::g722, 9);
  auto conf = engine_->create_mixer();
  for (auto& e : {e0, e1, e2}) conf->add(e);
  ASSERT_TRUE(eventually([&] { return conf->size() == 3; }));
  std::size_t start[3];
  for (int i = 0; i < 3; ++i) start[i] = peers[i]->audio_size();
  std::vector<std::thread> talkers;
  for (int i = 0; i < 3; ++i)
    talkers.emplace_back([&, i] { peers[i]->send_audio(make_tone(f[i], 1.5, peers[i]->rate(), 6000)); });
  for (auto& t : talkers) t.join();
  for (int i = 0; i < 3; ++i) {
    RtpPeer& p = *peers[i];
    ASSERT_TRUE(eventually([&] { return p.audio_size() > start[i] + p.rate() * 1.6; }));
    auto a = p.audio();
    std::size_t from = start[i] + p.rate() / 2, to = start[i] + p.rate() * 13 / 10;
    double own = tone_share(a, p.rate(), f[i], from, to);
    double o1 = tone_share(a, p.rate(), f[(i + 1) % 3], from, to);
    double o2 = tone_share(a, p.rate(), f[(i + 2) % 3], from, to);
    EXPECT_LT(own, 0.02) << "party " << i << " hears itself";
    EXPECT_GT(o1, 0.3) << "party " << i << " does not hear " << f[(i + 1) % 3] << " Hz";
    EXPECT_GT(o2, 0.3) << "party " << i << " does not hear " << f[(i + 2) % 3] << " Hz";
  }
}

TEST_F(MixingTest, MutedMemberIsNotHeard) {
  RtpPeer p0(sm::Codec::pcmu, 0), p1(sm::Codec::pcmu, 0);
  auto e0 = endpoint_for(p0, sm::Codec::pcmu, 0), e1 = endpoint_for(p1, sm::Codec::pcmu, 0);
  auto conf = engine_->create_mixer();
  conf->add(e0);
  conf->add(e1);
  conf->mute(e0, true);
  ASSERT_TRUE(eventually([&] { return conf->size() == 2; }));
  std::size_t start = p1.audio_size();
  p0.send_audio(make_tone(800, 0.6, 8000));
  ASSERT_TRUE(eventually([&] { return p1.audio_size() > start + 8000; }));
  auto a = p1.audio();
  EXPECT_EQ(loud_samples(std::vector<std::int16_t>(a.begin() + start, a.end()), 8000), 0u);
}

TEST_F(MixingTest, SrtpRoundTripWithSdesKeys) {
  auto ours = media().new_crypto(1), theirs = media().new_crypto(1);
  auto parsed = sm::CryptoAttribute::parse(ours.to_sdp());
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->key_base64, ours.key_base64);
  RtpPeer peer(sm::Codec::pcmu, 0);
  peer.set_srtp(theirs, ours);
  Events ev;
  auto ep = endpoint_for(peer, sm::Codec::pcmu, 0, 101, [&](sm::EndpointConfig& c) {
    c.srtp_local = ours;
    c.srtp_remote = theirs;
  });
  ep->set_handler(ev.handler());
  ep->echo(true);
  std::size_t start = peer.audio_size();
  peer.send_audio(make_tone(1200, 0.8, 8000));
  ASSERT_TRUE(eventually([&] { return loud_samples(peer.audio(), 8000) > 4000; }));
  auto a = peer.audio();
  std::size_t s = start;
  while (s + 160 < a.size() && std::sqrt(energy(a, s, s + 160) / 160) < 300) s += 160;
  EXPECT_GT(tone_share(a, 8000, 1200, s + 160, s + 3200), 0.9);
  EXPECT_EQ(ep->stats().srtp_failures, 0u);
}

TEST_F(MixingTest, SrtpWithAWrongKeyIsRefusedWithOneLogLine) {
  auto ours = media().new_crypto(1), theirs = media().new_crypto(1), wrong = media().new_crypto(1);
  RtpPeer peer(sm::Codec::pcmu, 0);
  peer.set_srtp(wrong, ours);
  Events ev;
  auto ep = endpoint_for(peer, sm::Codec::pcmu, 0, 101, [&](sm::EndpointConfig& c) {
    c.srtp_local = ours;
    c.srtp_remote = theirs;
  });
  ep->set_handler(ev.handler());
  ep->echo(true);
  peer.send_audio(make_tone(1200, 0.4, 8000));
  ASSERT_TRUE(eventually([&] { return ev.count(sm::EventType::srtp_refused) == 1; }));
  EXPECT_GE(ep->stats().srtp_failures, 15u);
  EXPECT_EQ(loud_samples(peer.audio(), 8000), 0u) << "nothing of the forged stream is echoed";
  auto lines = log_.lines();
  EXPECT_EQ(std::count_if(lines.begin(), lines.end(),
                          [](auto& l) { return l.find("failed authentication") != std::string::npos; }),
            1);
}

TEST_F(MixingTest, BadSrtpKeysAreRefusedAtCreation) {
  sm::EndpointConfig c;
  c.formats = {{sm::Codec::pcmu, 0}};
  c.srtp_local = media().new_crypto(1);
  c.srtp_remote = sm::CryptoAttribute{1, "AES_CM_128_HMAC_SHA1_80", "dG9vc2hvcnQ="};
  auto ep = engine_->create_endpoint(c);
  ASSERT_FALSE(ep.ok());
  EXPECT_NE(ep.error().message.find("remote key is not 30 bytes"), std::string::npos) << ep.error().message;
  c.srtp_remote = sm::CryptoAttribute{1, "F8_128_HMAC_SHA1_80", media().new_crypto().key_base64};
  auto ep2 = engine_->create_endpoint(c);
  ASSERT_FALSE(ep2.ok());
  EXPECT_NE(ep2.error().message.find("not supported"), std::string::npos);
}

TEST_F(MixingTest, OpusEchoKeepsATone) {
  RtpPeer peer(sm::Codec::opus, 111);
  auto ep = endpoint_for(peer, sm::Codec::opus, 111);
  ep->echo(true);
  std::size_t start = peer.audio_size();
  peer.send_audio(make_tone(700, 1.0, 16000));
  ASSERT_TRUE(eventually([&] { return loud_samples(peer.audio(), 16000) > 12000; }));
  auto a = peer.audio();
  std::size_t s = start;
  while (s + 320 < a.size() && std::sqrt(energy(a, s, s + 320) / 320) < 300) s += 320;
  EXPECT_GT(tone_share(a, 16000, 700, s + 1600, s + 9600), 0.9);
}

TEST_F(MixingTest, EndpointLatchesOntoWhereThePeerSendsFrom) {
  RtpPeer peer(sm::Codec::pcmu, 0);
  sm::EndpointConfig c;
  c.formats = {{sm::Codec::pcmu, 0}};
  c.remote = "127.0.0.1:9";  // what the SDP said; the peer really sends from elsewhere (NAT)
  auto ep = engine_->create_endpoint(c);
  ASSERT_TRUE(ep.ok());
  peer.set_remote((*ep)->local_port());
  (*ep)->play_tone("dial");
  peer.send_audio(make_tone(0, 0.2, 8000));
  ASSERT_TRUE(eventually([&] { return loud_samples(peer.audio(), 8000) > 1600; }));
  EXPECT_EQ((*ep)->stats().remote, peer.address());
}

}  // namespace
}  // namespace dialtone::testing::media
