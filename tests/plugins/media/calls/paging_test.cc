// Paging (seed 5.24), end to end: alice (SIPp) dials *11<number> of a
// paging group (rows of confd_pagings / confd_paging_users) through the
// shipped lua-dialplan/lib; the members' SIPp phones check the auto-answer
// header their vendor needs (by the User-Agent they registered with) and
// answer at once. Every SDP points at an RTP peer of the test: the members
// hear alice's tone (Goertzel), alice hears nobody unless the group is
// duplex, and members never hear each other one way.
#include <atomic>
#include <thread>

#include <dialtone/services.h>

#include "tests/plugins/media/calls/sip_media_fixture.h"
#include "tests/plugins/media/engine/rtp_peer.h"

namespace dialtone::testing {
namespace {

namespace tm = testing::media;
using sdk::media::Codec;

// A party talking: its peer sends a tone of `hz` until destroyed.
class Talker {
 public:
  Talker(tm::RtpPeer& peer, double hz) : peer_(peer) {
    thread_ = std::thread([this, hz] {
      auto tone = tm::make_tone(hz, 0.2, 8000);
      while (!stop_) peer_.send_audio(tone);
    });
  }
  ~Talker() {
    stop_ = true;
    thread_.join();
  }

 private:
  tm::RtpPeer& peer_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

class PagingTest : public SipMediaTest {
 protected:
  static void SetUpTestSuite() {
    make_host({{"alice", "1001"}, {"bob", "1002"}, {"carol", "1003"}}, std::filesystem::path(SIP_TEST_DIR) / "shipped_dialplan.lua");
    start_media();
    // 42: bob and carol, one way. 43: bob, duplex. 44: nobody may page it.
    paging("42", false, {"bob", "carol"}, {"alice"});
    paging("43", true, {"bob"}, {"alice"});
    paging("44", false, {"bob"}, {});
  }
  void SetUp() override { start_plugin(); }

  static void paging(const std::string& number, bool duplex, std::vector<std::string> members,
                     std::vector<std::string> callers) {
    auto id = host_->sql("INSERT INTO confd_pagings (number, duplex) VALUES ($1, $2::boolean) RETURNING id",
                         {number, duplex ? "true" : "false"});
    for (bool caller : {false, true})
      for (auto& u : caller ? callers : members)
        host_->sql("INSERT INTO confd_paging_users VALUES ($1::int, $2::int, $3::boolean)",
                   {id, user_ids_[u], caller ? "true" : "false"});
  }
  void call(Phone& p, const std::string& number, tm::RtpPeer& peer) {
    caller(p, "alice", number, "uac_media.xml", 1, {"-key", "rtp_port", std::to_string(peer.port())});
  }
  void member(Phone& p, const std::string& user, const std::string& file, tm::RtpPeer& peer,
              const std::string& user_agent) {
    callee(p, user, file, 1, {"-key", "rtp_port", std::to_string(peer.port())}, user_agent);
  }
  // One second heard by `peer` with `hz` strong (over 80 % of the sound).
  static bool hears(tm::RtpPeer& peer, double hz) {
    for (int window = 0; window < 20; ++window) {
      peer.clear();
      if (!eventually([&] { return peer.audio_size() >= 8000; })) return false;
      auto a = peer.audio();
      a.resize(8000);
      if (tm::loud_samples(a, 8000) >= 6000 && tm::tone_share(a, 8000, hz) > 0.8) return true;
    }
    return false;
  }
  // One second heard by `peer` without `hz` (under 2 % of what it hears).
  static bool never_hears(tm::RtpPeer& peer, double hz) {
    peer.clear();
    if (!eventually([&] { return peer.audio_size() >= 8000; })) return false;
    auto a = peer.audio();
    a.resize(8000);
    return tm::loud_samples(a, 8000, 300) == 0 || tm::tone_share(a, 8000, hz) < 0.02;
  }
};

// Group 42: bob's phone (Yealink) gets Call-Info answer-after=0, carol's
// (Aastra) Alert-Info; both answer and hear alice; alice does not hear bob,
// nor does carol. Alice's # ends the page: every phone gets BYE.
TEST_F(PagingTest, MembersAutoAnswerAndHearTheCallerOneWay) {
  tm::RtpPeer pa(Codec::pcmu, 0, 101), pb(Codec::pcmu, 0, 101), pc(Codec::pcmu, 0, 101);
  Phone bob, carol, alice;
  member(bob, "bob", "uas_page_call_info.xml", pb, "Yealink SIP-T46S 66.86.0.15");
  member(carol, "carol", "uas_page_alert_info.xml", pc, "Aastra 6739i/3.3.1.4322");
  call(alice, "*1142", pa);
  std::string ca = connect_engine(pa);
  ASSERT_FALSE(ca.empty());
  ASSERT_FALSE(connect_engine(pb).empty());
  ASSERT_FALSE(connect_engine(pc).empty());
  ASSERT_TRUE(eventually([&] { return verbs_->paging().members(ca) == 2; })) << log_tail();
  {
    Talker ta(pa, 1000), tb(pb, 600);
    EXPECT_TRUE(hears(pb, 1000)) << "bob does not hear alice";
    EXPECT_TRUE(hears(pc, 1000)) << "carol does not hear alice";
    EXPECT_TRUE(never_hears(pa, 600)) << "alice hears bob on a one-way page";
    EXPECT_TRUE(never_hears(pc, 600)) << "carol hears bob on a one-way page";
  }
  pa.send_digits("#");
  EXPECT_EQ(bob.finish(), 0) << bob.out;
  EXPECT_EQ(carol.finish(), 0) << carol.out;
  EXPECT_EQ(alice.finish(), 0) << alice.out;
  EXPECT_TRUE(host_->logger().contains("page over (left), 2 member(s) answered")) << log_tail();
  expect_media_idle();
}

// Group 43 is duplex: alice hears bob too. Bob (no User-Agent) gets every
// form of the header; the page ends when alice hangs up. Carol's paging key
// on *1143 (a BLF subscription, dialog-info NOTIFYs checked by the SIPp
// scenario) is idle, lit (a confirmed dialog of *1143) while the page runs,
// idle again after it.
TEST_F(PagingTest, DuplexPageLetsTheCallerHearTheMembers) {
  tm::RtpPeer pa(Codec::pcmu, 0, 101), pb(Codec::pcmu, 0, 101);
  Phone bob, alice, key;
  blf_key(key, "carol", "*1143", "../../../backend/sip/scenarios/subscribe_feature.xml");
  ASSERT_TRUE(eventually([&] { return plugin_->subscriptions() == 1; })) << key.out << log_tail();
  member(bob, "bob", "uas_page_every_header.xml", pb, "");
  call(alice, "*1143", pa);
  std::string ca = connect_engine(pa);
  ASSERT_FALSE(ca.empty());
  ASSERT_FALSE(connect_engine(pb).empty());
  ASSERT_TRUE(eventually([&] { return verbs_->paging().members(ca) == 1; })) << log_tail();
  {
    Talker ta(pa, 1000), tb(pb, 600);
    EXPECT_TRUE(hears(pb, 1000)) << "bob does not hear alice";
    EXPECT_TRUE(hears(pa, 600)) << "alice does not hear bob on a duplex page";
  }
  ASSERT_TRUE(host_->calls().hangup_channel(ca));
  EXPECT_EQ(alice.finish(), 0) << alice.out;
  EXPECT_EQ(bob.finish(), 0) << bob.out;
  EXPECT_TRUE(host_->logger().contains("page over (hangup), 1 member(s) answered")) << log_tail();
  EXPECT_EQ(key.finish(), 0) << "the *1143 key was not idle, lit while paging, then idle\n" << key.out;
  expect_media_idle();
}

// Group 44 has no caller: alice is refused (a prompt, then Dialtone hangs
// up) and no member is rung.
TEST_F(PagingTest, UserNotAmongTheCallersIsRefused) {
  tm::RtpPeer pa(Codec::pcmu, 0, 101);
  Phone alice;
  call(alice, "*1144", pa);
  EXPECT_EQ(alice.finish(), 0) << alice.out;
  EXPECT_TRUE(host_->logger().contains("may not page group 44")) << log_tail();
  EXPECT_FALSE(host_->logger().contains("sip: leg")) << log_tail();
  expect_media_idle();
}

}  // namespace
}  // namespace dialtone::testing
