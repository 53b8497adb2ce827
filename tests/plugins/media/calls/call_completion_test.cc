// Call completion (seed 5.3) end to end: SIPp phones through backend.sip,
// the media engine and the project's dialplan (lib/callcompletion.lua on the
// kernel's `completion` module). alice's call to bob goes unanswered, alice
// dials *40; once bob has been in a call and hung up, alice's phone rings,
// and when she answers bob's rings: the two talk, checked on the audio.
#include <dialtone/services.h>

#include "tests/plugins/media/calls/sip_media_fixture.h"
#include "tests/plugins/media/engine/rtp_peer.h"

namespace dialtone::testing {
namespace {

namespace tm = testing::media;
using sdk::media::Codec;

const std::string kSipScenarios = "../../../backend/sip/scenarios/";

class CallCompletionTest : public SipMediaTest {
 protected:
  static void SetUpTestSuite() {
    make_host({{"alice", "1001"}, {"bob", "1002"}}, std::filesystem::path(SIP_TEST_DIR) / "media_dialplan.lua");
    start_media();
  }
  void SetUp() override {
    SipMediaTest::SetUp();
    mark_ = host_->logger().lines().size();
  }
  // A log line of this test holds `needle` (the logger serves the suite).
  bool logged(const std::string& needle) const {
    auto lines = host_->logger().lines();
    for (std::size_t i = mark_; i < lines.size(); ++i)
      if (lines[i].find(needle) != std::string::npos) return true;
    return false;
  }
  // Waits for such a line.
  bool logs(const std::string& needle) const { return eventually([&] { return logged(needle); }); }
  void TearDown() override { host_->completion().clear(); }

  // alice calls bob, whose phone rings; alice hangs up before he answers.
  void unanswered_call() {
    Phone bob, alice;
    ASSERT_NO_FATAL_FAILURE(callee(bob, "bob", "uas_ring_cancel.xml"));
    caller(alice, "alice", "1002", kSipScenarios + "uac_call_cancel.xml");
    EXPECT_EQ(alice.finish(), 0) << alice.out << log_tail();
    EXPECT_EQ(bob.finish(), 0) << bob.out;
    EXPECT_TRUE(logs("call completion: user " + user_ids_["alice"] + " may ask for 1002@default")) << log_tail();
    forget_contacts("bob");
  }
  // `user` dials *40: the dialplan answers, says the result and hangs up.
  void star40(const std::string& user, const std::string& expected_log) {
    tm::RtpPeer peer;
    Phone p;
    caller(p, user, "*40", "uac_media.xml", 1, {"-key", "rtp_port", std::to_string(peer.port())});
    EXPECT_EQ(p.finish(), 0) << p.out << log_tail();
    EXPECT_TRUE(logs(expected_log)) << log_tail();
    mark_ = host_->logger().lines().size();
  }
  // `user`'s registered contacts are dropped (a phone that went away).
  void forget_contacts(const std::string& user) {
    std::string out;
    ASSERT_EQ(register_contact(user, 5997, &out, kSipScenarios + "unregister_all.xml", "0"), 0) << out;
  }
  // bob is in a call (804 answers until he hangs up), then hangs up.
  void bob_busy_then_free() {
    tm::RtpPeer peer;
    Phone bob;
    caller(bob, "bob", "804", "uac_media_hangup.xml", 1, {"-key", "rtp_port", std::to_string(peer.port())});
    EXPECT_EQ(bob.finish(), 0) << bob.out << log_tail();
  }
  std::size_t mark_ = 0;
};

// Seed 5.3, no answer: alice's call to bob is not answered, she dials *40;
// bob places a call and hangs up; alice's phone rings (showing 1002), she
// answers, bob's phone rings, he answers, and they hear each other.
TEST_F(CallCompletionTest, CallsBackOnceTheCalleeHasBeenBusyAndIsFree) {
  ASSERT_NO_FATAL_FAILURE(unanswered_call());
  star40("alice", "user " + user_ids_["alice"] + ": call completion activated");
  ASSERT_EQ(host_->completion().requests(), 1u);

  tm::RtpPeer pa(Codec::pcma, 8, 101), pb(Codec::pcma, 8, 101);  // both phones answer PCMA
  Phone alice_back, bob_back;
  ASSERT_NO_FATAL_FAILURE(
      callee(alice_back, "alice", "uas_engine_answer.xml", 1, {"-key", "rtp_port", std::to_string(pa.port()), "-d", "0"}));
  ASSERT_NO_FATAL_FAILURE(
      callee(bob_back, "bob", "uas_engine_answer.xml", 1, {"-key", "rtp_port", std::to_string(pb.port()), "-d", "0"}));
  // Nothing happens while bob has not been busy.
  EXPECT_EQ(host_->completion().requests(), 1u);
  EXPECT_TRUE(host_->calls().channels().empty());

  ASSERT_NO_FATAL_FAILURE(bob_busy_then_free());
  std::string ca = connect_engine(pa);  // alice's phone rang and answered
  ASSERT_FALSE(ca.empty());
  std::string cb = connect_engine(pb);  // then bob's
  ASSERT_FALSE(cb.empty());
  EXPECT_EQ(host_->completion().requests(), 0u);
  EXPECT_TRUE(hears_tone(pa, pb, 500)) << "bob does not hear alice";
  EXPECT_TRUE(hears_tone(pb, pa, 900)) << "alice does not hear bob";
  auto a = host_->calls().channel(ca);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->endpoint, "alice");
  hang_up_and_finish(ca, {&alice_back, &bob_back});  // alice hangs up: bob gets BYE
}

// *40 with no call to complete says so; *40 after an unanswered call
// activates, and *40 again cancels: bob's next call ends without a callback.
TEST_F(CallCompletionTest, StarFortyActivatesThenCancels) {
  star40("alice", "user " + user_ids_["alice"] + ": call completion unavailable");
  EXPECT_EQ(host_->completion().requests(), 0u);
  ASSERT_NO_FATAL_FAILURE(unanswered_call());
  star40("alice", "user " + user_ids_["alice"] + ": call completion activated");
  EXPECT_EQ(host_->completion().requests(), 1u);
  star40("alice", "user " + user_ids_["alice"] + ": call completion cancelled");
  EXPECT_EQ(host_->completion().requests(), 0u);
  ASSERT_NO_FATAL_FAILURE(bob_busy_then_free());
  EXPECT_FALSE(logged("calling the user back")) << log_tail();
  expect_media_idle();
}

// Seed 5.3, "will not activate": the callee's simultaneous-calls limit
// refused the last call, so *40 has nothing to complete (the offer of an
// earlier unanswered call is gone with it).
TEST_F(CallCompletionTest, NoOfferWhenTheCalleeLimitRefusedTheCall) {
  ASSERT_NO_FATAL_FAILURE(unanswered_call());
  host_->sql("UPDATE confd_users SET simultaneous_calls = 1 WHERE id = $1", {user_ids_["bob"]});
  tm::RtpPeer pb;
  Phone bob_in_call, alice;
  caller(bob_in_call, "bob", "804", "uac_media_hangup.xml", 1, {"-key", "rtp_port", std::to_string(pb.port())});
  ASSERT_TRUE(eventually([&] { return host_->calls().active_calls({"sip/bob"}) == 1; })) << log_tail();
  caller(alice, "alice", "1002", kSipScenarios + "uac_call_486.xml");
  EXPECT_EQ(alice.finish(), 0) << alice.out << log_tail();
  EXPECT_EQ(bob_in_call.finish(), 0) << bob_in_call.out;
  star40("alice", "user " + user_ids_["alice"] + ": call completion unavailable");
  EXPECT_EQ(host_->completion().requests(), 0u);
  host_->sql("UPDATE confd_users SET simultaneous_calls = 5 WHERE id = $1", {user_ids_["bob"]});
  expect_media_idle();
}

}  // namespace
}  // namespace dialtone::testing
