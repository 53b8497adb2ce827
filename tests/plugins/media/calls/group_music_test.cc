// A group's waiting music (seed 5.16 group settings, 5.22 classes), end to
// end: alice (SIPp) calls group 2000, whose music_on_hold is class
// `waiting` (a 1200 Hz tone file of the test); while bob's phone rings she
// hears that class instead of the ring tone (440 Hz), and once bob answers
// the two hear each other. Every check is on the audio of RTP peers.
#include <unistd.h>

#include <dialtone/services.h>

#include "tests/plugins/media/calls/sip_media_fixture.h"
#include "tests/plugins/media/engine/rtp_peer.h"

namespace dialtone::testing {
namespace {

namespace tm = testing::media;
using sdk::media::Codec;

class GroupMusicTest : public SipMediaTest {
 protected:
  static void SetUpTestSuite() {
    moh_ = std::filesystem::temp_directory_path() / ("dialtone-group-moh-" + std::to_string(::getpid()));
    std::filesystem::remove_all(moh_);
    std::filesystem::create_directories(moh_ / "waiting");
    ASSERT_TRUE(tm::write_wav(moh_ / "waiting" / "tone.wav", tm::make_tone(1200, 1.0, 8000), 8000));
    make_host({{"alice", "1001"}, {"bob", "1002"}}, std::filesystem::path(SIP_TEST_DIR) / "shipped_dialplan.lua");
    start_media(moh_);
    auto g = host_->sql("INSERT INTO confd_groups (name, music_on_hold) VALUES ('sales', $1) RETURNING id",
                        {"waiting"});
    host_->sql("INSERT INTO confd_group_members VALUES ($1::int, $2::int, 1)", {g, user_ids_["bob"]});
    auto x = host_->sql("INSERT INTO confd_extensions (exten, context) VALUES ('2000', 'default') RETURNING id");
    host_->sql("INSERT INTO confd_group_extensions VALUES ($1::int, $2::int)", {g, x});
  }
  static void TearDownTestSuite() {
    SipMediaTest::TearDownTestSuite();
    std::filesystem::remove_all(moh_);
  }
  void SetUp() override { start_plugin(); }

  static std::optional<sdk::Channel> bob_leg() {
    for (auto& c : host_->calls().channels())
      if (c.endpoint == "bob" && c.direction == sdk::ChannelDirection::outbound) return c;
    return std::nullopt;
  }
  static bool heard(tm::RtpPeer& from, tm::RtpPeer& to, double hz) {
    auto tone = tm::make_tone(hz, 1.0, 8000);
    for (int i = 0; i < 10; ++i) {
      to.clear();
      from.send_audio(tone);
      auto got = to.audio();
      if (tm::loud_samples(got, 8000) >= 2400 && share(got, {hz}) > 0.9) return true;
    }
    return false;
  }
  static inline std::filesystem::path moh_;
};

TEST_F(GroupMusicTest, CallerHearsTheGroupsMusicWhileMembersRingThenTalks) {
  tm::RtpPeer pa(Codec::pcmu, 0, 101), pb(Codec::pcma, 8, 101);
  Phone bob, alice;
  callee(bob, "bob", "uas_engine_answer.xml", 1, {"-key", "rtp_port", std::to_string(pb.port()), "-d", "4000"});
  caller(alice, "alice", "2000", "uac_media.xml", 1, {"-key", "rtp_port", std::to_string(pa.port())});
  std::string ca = connect_engine(pa);
  ASSERT_FALSE(ca.empty());
  ASSERT_TRUE(eventually([] {
    auto b = bob_leg();
    return b && b->state == sdk::ChannelState::ringing;
  })) << log_tail();
  // A second of what alice hears while bob rings.
  pa.clear();
  ASSERT_TRUE(eventually([&] { return pa.audio_size() >= 8000; }));
  auto waiting = pa.audio();
  waiting.resize(8000);
  ASSERT_EQ(bob_leg()->state, sdk::ChannelState::ringing) << "bob answered before a second of waiting was heard";
  EXPECT_GT(tm::loud_samples(waiting, 8000), 6000u) << "silence while bob rang";
  EXPECT_GT(share(waiting, {1200}), 0.8) << "not the group's music";
  EXPECT_LT(share(waiting, {440}), 0.05) << "the ring tone instead of the music";
  ASSERT_FALSE(connect_engine(pb).empty());
  ASSERT_TRUE(eventually([] {
    auto b = bob_leg();
    return b && b->state == sdk::ChannelState::up;
  })) << log_tail();
  EXPECT_TRUE(heard(pa, pb, 500)) << "bob does not hear alice";
  EXPECT_TRUE(heard(pb, pa, 900)) << "alice does not hear bob (or still the music)";
  ASSERT_TRUE(host_->calls().hangup_channel(ca));
  EXPECT_EQ(alice.finish(), 0) << alice.out;
  EXPECT_EQ(bob.finish(), 0) << bob.out;
  expect_media_idle();
}

}  // namespace
}  // namespace dialtone::testing
