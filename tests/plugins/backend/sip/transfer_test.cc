// Call transfer through backend.sip with SIPp phones on 127.0.0.1: blind
// transfer (REFER) by either party, to a busy or unanswering target, with the
// transferor hanging up early; attended transfer (REFER with Replaces) and
// INVITE with Replaces. Each phone's scenario checks what it gets (re-INVITE
// through the relay, NOTIFY sipfrag bodies, BYE); the test checks every phone
// finished its scenario and the stack is left with no call and no relay port.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <map>
#include <thread>

#include <gtest/gtest.h>

#include "tests/plugins/backend/sip/sip_fixture.h"

using dialtone::testing::eventually;
using dialtone::testing::SipPluginTest;

namespace {

class TransferTest : public SipPluginTest {
 protected:
  static void SetUpTestSuite() { make_host({{"alice", "1001"}, {"bob", "1002"}, {"carol", "1003"}}); }
  void SetUp() override {
    start_plugin({{"sip.node", "transfer-test"},
                  {"qualify.interval", "0s"},
                  {"rtp.bind", "127.0.0.2"},
                  {"rtp.port_min", "28000"},
                  {"rtp.port_max", "28999"}});
  }

  std::size_t count(const std::string& topic) {
    std::size_t n = 0;
    for (auto& e : host_->test_bus().events())
      if (e.topic == topic) ++n;
    return n;
  }

  // carol (the transfer target) and bob answer with their scenarios, alice
  // calls bob (1002) with hers. Each phone must finish its scenario,
  // `transfers` more sip.call.transferred be published, and nothing be
  // left over.
  void three_phones(const std::string& carol_file, const std::string& bob_file, const std::string& alice_file,
                    std::size_t transfers) {
    auto transferred = count("sip.call.transferred");
    Phone bob, carol, alice;
    ASSERT_NO_FATAL_FAILURE(callee(carol, "carol", carol_file));
    ASSERT_NO_FATAL_FAILURE(callee(bob, "bob", bob_file));
    caller(alice, "alice", "1002", alice_file);
    EXPECT_EQ(alice.finish(), 0) << alice.out;
    EXPECT_EQ(bob.finish(), 0) << bob.out;
    EXPECT_EQ(carol.finish(), 0) << carol.out;
    EXPECT_EQ(count("sip.call.transferred"), transferred + transfers);
    expect_idle();
  }

  // True once the core published calls.channel.transferred of `kind` on a
  // channel of `endpoint`, among the events from `from` on.
  bool core_reported_transfer(const std::string& kind, const std::string& endpoint, std::size_t from) {
    return eventually([&] {
      auto events = host_->test_bus().events();
      for (std::size_t i = from; i < events.size(); ++i)
        if (events[i].topic == "calls.channel.transferred" && json_field(events[i].body, "kind") == kind &&
            json_field(events[i].body, "endpoint") == endpoint)
          return true;
      return false;
    });
  }

  // The call core carried out a blind transfer by `endpoint` to `exten`: it
  // published calls.channel.transferred on the transferor's channel while
  // that channel was open (its calls.channel.ended comes after), among the
  // events from `from` on.
  bool core_transferred_blind_before_hangup(const std::string& endpoint, const std::string& exten, std::size_t from) {
    return eventually([&] {
      auto events = host_->test_bus().events();
      std::string transferor;
      for (std::size_t i = from; i < events.size(); ++i) {
        auto& e = events[i];
        if (transferor.empty() && e.topic == "calls.channel.transferred" && json_field(e.body, "kind") == "blind" &&
            json_field(e.body, "endpoint") == endpoint && json_field(e.body, "exten") == exten)
          transferor = json_field(e.body, "id");
        if (!transferor.empty() && e.topic == "calls.channel.ended" && json_field(e.body, "id") == transferor)
          return true;
      }
      return false;
    });
  }

  static std::string json_field(const std::string& body, const std::string& key) {
    auto k = body.find("\"" + key + "\":\"");
    if (k == std::string::npos) return {};
    auto b = k + key.size() + 4;
    return body.substr(b, body.find('"', b) - b);
  }

  // True once the call core has reported `a`'s channel up and talking to
  // `b`'s (endpoints are line usernames), among the events from `from` on.
  bool linked_in_core(const std::string& a, const std::string& b, std::size_t from) {
    return eventually([&] {
      std::map<std::string, std::string> endpoint_of;
      auto events = host_->test_bus().events();
      for (std::size_t i = from; i < events.size(); ++i) {
        auto& e = events[i];
        if (e.topic == "calls.channel.created")
          endpoint_of[json_field(e.body, "id")] = json_field(e.body, "endpoint");
        if (e.topic == "calls.channel.state" && json_field(e.body, "state") == "up" &&
            json_field(e.body, "endpoint") == a && endpoint_of[json_field(e.body, "peer")] == b)
          return true;
      }
      return false;
    });
  }
};

TEST_F(TransferTest, BlindTransferByTheCalleeConnectsTheCallerToTheTarget) {
  auto events = host_->test_bus().events().size();
  // alice is re-INVITEd with carol's media and hangs up: carol gets the BYE.
  // bob gets NOTIFY 100 then 200 and is released by BYE.
  ASSERT_NO_FATAL_FAILURE(three_phones("xfer_target.xml", "xfer_blind_by_callee.xml", "xfer_caller.xml", 1));
  // In the call core the caller talked to the target.
  EXPECT_TRUE(linked_in_core("carol", "alice", events));
  // The core reports the transfer on bob's channel (records write it as
  // BLINDTRANSFER), then hangs bob up.
  EXPECT_TRUE(core_transferred_blind_before_hangup("bob", "1003", events));
  // The core's leg routed alice to carol (not a transfer of the stack's own).
  EXPECT_TRUE(host_->logger().contains("transferred to carol for the call core"));
}

TEST_F(TransferTest, BlindTransferByTheCallerConnectsTheCalleeToTheTarget) {
  auto events = host_->test_bus().events().size();
  // alice refers bob to 1003 and is released; bob, re-INVITEd with carol's
  // media, hangs up: carol gets the BYE.
  ASSERT_NO_FATAL_FAILURE(three_phones("xfer_target.xml", "xfer_transferee_callee.xml", "xfer_blind_by_caller.xml", 1));
  EXPECT_TRUE(linked_in_core("carol", "bob", events));
  EXPECT_TRUE(core_transferred_blind_before_hangup("alice", "1003", events));
}

TEST_F(TransferTest, BlindTransferToABusyTargetKeepsTheCallAndNotifiesTheFailure) {
  auto transferred = count("calls.channel.transferred");
  // bob gets NOTIFY 486 and, still talking to alice, hangs up: alice gets BYE.
  ASSERT_NO_FATAL_FAILURE(three_phones("uas_busy.xml", "xfer_blind_busy_by_callee.xml", "uac_call_remote_hangup.xml", 0));
  EXPECT_EQ(count("calls.channel.transferred"), transferred);
}

TEST_F(TransferTest, TransferorHangingUpAfterReferStillGetsTheCallerConnected) {
  // carol rings 1 s: bob's BYE right after NOTIFY 100 comes first. alice
  // stays through bob's BYE, is re-INVITEd with carol's media and hangs up
  // on carol.
  ASSERT_NO_FATAL_FAILURE(three_phones("xfer_target_late.xml", "xfer_blind_hangup_by_callee.xml", "xfer_caller.xml", 1));
}

TEST_F(TransferTest, UnansweredTransferAfterTheTransferorHungUpHangsUpTheCaller) {
  // carol rings until the dialplan's ring time (2 s) cancels her. Nobody is
  // left for alice: she gets BYE.
  ASSERT_NO_FATAL_FAILURE(three_phones("uas_ring_cancel.xml", "xfer_blind_hangup_by_callee.xml", "uac_call_remote_hangup.xml", 0));
}

TEST_F(TransferTest, AttendedTransferJoinsBothPartiesAndReleasesTheTransferor) {
  auto transferred = count("sip.call.transferred");
  auto events = host_->test_bus().events().size();
  Phone bob, carol, alice;
  // bob answers two calls: carol's (the consultation), then alice's, on
  // which it sends REFER with Replaces naming its dialog with carol.
  ASSERT_NO_FATAL_FAILURE(callee(bob, "bob", "xfer_attended_callee.xml", 2));
  auto answered = count("sip.call.answered");
  caller(carol, "carol", "1002", "xfer_consulted_caller.xml");
  ASSERT_TRUE(host_->test_bus().wait_for("sip.call.answered", std::chrono::seconds(20), answered))
      << "the consultation call was not answered";
  // alice is re-INVITEd with carol's offer, carol gets alice's answer in the
  // ACK; bob gets NOTIFY 200 and BYE on both calls; alice hangs up on carol.
  caller(alice, "alice", "1002", "xfer_caller.xml");
  EXPECT_EQ(alice.finish(), 0) << alice.out;
  EXPECT_EQ(carol.finish(), 0) << carol.out;
  EXPECT_EQ(bob.finish(), 0) << bob.out;
  // The call kept reports the transfer (the consultation call just ends).
  EXPECT_EQ(count("sip.call.transferred"), transferred + 1);
  EXPECT_TRUE(linked_in_core("alice", "carol", events));
  EXPECT_TRUE(core_reported_transfer("attended", "bob", events));
  expect_idle();
}

TEST_F(TransferTest, AttendedTransferByTheCallerOfBothCallsJoinsTheCallees) {
  auto transferred = count("sip.call.transferred");
  auto events = host_->test_bus().events().size();
  Phone alice, carol, bob;
  // alice is re-INVITEd with carol's offer, then hangs up on carol; carol
  // gets a re-INVITE without SDP, offers, and gets alice's answer in the ACK.
  ASSERT_NO_FATAL_FAILURE(callee(alice, "alice", "xfer_transferee_callee.xml"));
  ASSERT_NO_FATAL_FAILURE(callee(carol, "carol", "xfer_consulted_callee.xml"));
  // bob calls alice, then carol, then refers alice to carol with Replaces.
  caller(bob, "bob", "1001", "xfer_attended_caller.xml", 2,
         {"-r", "1", "-rp", "1000", "-cid_str", "%u-%p-xfer"});
  EXPECT_EQ(bob.finish(), 0) << bob.out;
  EXPECT_EQ(alice.finish(), 0) << alice.out;
  EXPECT_EQ(carol.finish(), 0) << carol.out;
  EXPECT_EQ(count("sip.call.transferred"), transferred + 1);
  EXPECT_TRUE(linked_in_core("alice", "carol", events));
  expect_idle();
}

TEST_F(TransferTest, ReplacesNamingNoCallFailsAndLeavesTheCallUp) {
  auto transferred = count("sip.call.transferred");
  Phone bob, alice;
  ASSERT_NO_FATAL_FAILURE(callee(bob, "bob", "xfer_bad_replaces_callee.xml"));
  // bob gets NOTIFY 481 and, still talking to alice, hangs up: alice gets BYE.
  caller(alice, "alice", "1002", "uac_call_remote_hangup.xml");
  EXPECT_EQ(alice.finish(), 0) << alice.out;
  EXPECT_EQ(bob.finish(), 0) << bob.out;
  EXPECT_EQ(count("sip.call.transferred"), transferred);
  expect_idle();
  // The stack keeps serving: a plain call afterwards goes through.
  Phone carol, alice2;
  ASSERT_NO_FATAL_FAILURE(callee(carol, "carol", "uas_answer.xml"));
  caller(alice2, "alice", "1003", "uac_call_hangup.xml");
  EXPECT_EQ(alice2.finish(), 0) << alice2.out;
  EXPECT_EQ(carol.finish(), 0) << carol.out;
  expect_idle();
}

TEST_F(TransferTest, InviteWithReplacesTakesTheReplacedCallersPlace) {
  auto transferred = count("sip.call.transferred");
  Phone bob, alice;
  // bob is re-INVITEd with the newcomer's media, then hangs up on it.
  ASSERT_NO_FATAL_FAILURE(callee(bob, "bob", "xfer_transferee_callee.xml"));
  // alice's first phone calls bob; her second phone, once the first is
  // connected, sends INVITE with Replaces naming that dialog: the first
  // phone gets BYE, the second is connected to bob.
  auto events = host_->test_bus().events().size();
  caller(alice, "alice", "1002", "xfer_replacing_caller.xml", 2, {"-r", "1", "-rp", "1000"});
  EXPECT_EQ(alice.finish(), 0) << alice.out;
  EXPECT_EQ(bob.finish(), 0) << bob.out;
  EXPECT_EQ(count("sip.call.transferred"), transferred + 1);
  // The newcomer is a channel of the call core: the attended transfer on the
  // replaced channel names it, and it came up talking to bob.
  std::string newcomer;
  ASSERT_TRUE(eventually([&] {
    auto all = host_->test_bus().events();
    for (std::size_t i = events; i < all.size(); ++i)
      if (all[i].topic == "calls.channel.transferred" && json_field(all[i].body, "kind") == "attended")
        newcomer = json_field(all[i].body, "target_channel");
    return !newcomer.empty();
  })) << "no attended transfer naming the newcomer's channel";
  EXPECT_TRUE(eventually([&] {
    std::map<std::string, std::string> endpoint_of;
    for (auto& e : host_->test_bus().events()) {
      if (e.topic == "calls.channel.created") endpoint_of[json_field(e.body, "id")] = json_field(e.body, "endpoint");
      if (e.topic == "calls.channel.state" && json_field(e.body, "id") == newcomer &&
          json_field(e.body, "state") == "up" && endpoint_of[json_field(e.body, "peer")] == "bob")
        return endpoint_of[newcomer] == "alice";
    }
    return false;
  })) << "the newcomer's channel " << newcomer << " never talked to bob";
  // The call core carried it out: it swapped the newcomer in, published the
  // transfer on the replaced channel while it was open, then hung that
  // channel up with normal clearing (Q.850 16).
  std::string replaced;
  bool ended_after = false;
  for (auto& e : host_->test_bus().events()) {
    if (e.topic == "calls.channel.transferred" && json_field(e.body, "target_channel") == newcomer)
      replaced = json_field(e.body, "id");
    if (!replaced.empty() && e.topic == "calls.channel.ended" && json_field(e.body, "id") == replaced)
      ended_after = e.body.find("\"q850_cause\":16") != std::string::npos;
  }
  EXPECT_TRUE(ended_after) << "the replaced channel " << replaced << " did not end with cause 16 after the transfer";
  EXPECT_TRUE(host_->logger().contains("calls: " + newcomer + " replaces " + replaced))
      << "the call core did not carry out the replacement";
  expect_idle();
}

TEST_F(TransferTest, InviteWithReplacesNamingNoCallIsRefused) {
  Phone alice;
  caller(alice, "alice", "1002", "xfer_replacing_unknown.xml");
  EXPECT_EQ(alice.finish(), 0) << alice.out;
  EXPECT_TRUE(host_->logger().contains("names no answered call"));
  expect_idle();
}

// call:transfer in the dialplan on a call it connected through the relay
// (the test dialplan's xfer-<user>-<exten>): bob, the party alice talks to,
// stays until carol answers, then carol takes his place and he gets BYE; the
// core reports the transfer on bob's channel as for a REFER.
TEST_F(TransferTest, DialplanTransferMovesTheCallerToTheTargetThroughTheCore) {
  auto events = host_->test_bus().events().size();
  Phone bob, carol, alice;
  ASSERT_NO_FATAL_FAILURE(callee(carol, "carol", "xfer_target.xml"));
  ASSERT_NO_FATAL_FAILURE(callee(bob, "bob", "uas_answer.xml"));
  caller(alice, "alice", "xfer-bob-1003", "xfer_caller.xml");
  EXPECT_EQ(alice.finish(), 0) << alice.out;
  EXPECT_EQ(bob.finish(), 0) << bob.out;
  EXPECT_EQ(carol.finish(), 0) << carol.out;
  EXPECT_TRUE(linked_in_core("carol", "alice", events));
  EXPECT_TRUE(core_transferred_blind_before_hangup("bob", "1003", events));
  expect_idle();
}

// The target of a blind transfer is routed by the dialplan as the
// transferor dialed it: carol (1003) forwards every call to dave (1004), so
// alice, transferred by bob to 1003, ends up talking to dave.
class TransferForwardTest : public TransferTest {
 protected:
  static void SetUpTestSuite() {
    make_host({{"alice", "1001"}, {"bob", "1002"}, {"carol", "1003"}, {"dave", "1004"}});
    host_->sql("UPDATE confd_users SET forward_unconditional_enabled = true, "
               "forward_unconditional_destination = '1004' WHERE id = $1::int",
               {user_ids_["carol"]});
  }
};

TEST_F(TransferForwardTest, BlindTransferFollowsTheTargetsForward) {
  auto events = host_->test_bus().events().size();
  Phone dave, bob, alice;
  ASSERT_NO_FATAL_FAILURE(callee(dave, "dave", "xfer_target.xml"));
  ASSERT_NO_FATAL_FAILURE(callee(bob, "bob", "xfer_blind_by_callee.xml"));
  caller(alice, "alice", "1002", "xfer_caller.xml");
  EXPECT_EQ(alice.finish(), 0) << alice.out;
  EXPECT_EQ(bob.finish(), 0) << bob.out;
  EXPECT_EQ(dave.finish(), 0) << dave.out;
  EXPECT_TRUE(linked_in_core("dave", "alice", events));
  EXPECT_TRUE(core_transferred_blind_before_hangup("bob", "1003", events));
  expect_idle();
}

// A blind transfer to a ring-all group: the transfer's leg rings both
// members at once, carol answers and dave is cancelled.
class TransferGroupTest : public TransferTest {
 protected:
  static void SetUpTestSuite() {
    make_host({{"alice", "1001"}, {"bob", "1002"}, {"carol", "1003"}, {"dave", "1004"}});
    host_->add_group("desk", "all", {user_ids_["carol"], user_ids_["dave"]}, "2310");
  }
};

TEST_F(TransferGroupTest, BlindTransferToARingAllGroupConnectsTheMemberThatAnswers) {
  auto events = host_->test_bus().events().size();
  Phone dave, carol, bob, alice;
  ASSERT_NO_FATAL_FAILURE(callee(dave, "dave", "uas_ring_cancel.xml"));
  ASSERT_NO_FATAL_FAILURE(callee(carol, "carol", "xfer_target_late.xml"));
  ASSERT_NO_FATAL_FAILURE(callee(bob, "bob", "xfer_blind_to_group_by_callee.xml"));
  caller(alice, "alice", "1002", "xfer_caller.xml");
  EXPECT_EQ(alice.finish(), 0) << alice.out;
  EXPECT_EQ(bob.finish(), 0) << bob.out;
  EXPECT_EQ(carol.finish(), 0) << carol.out;
  EXPECT_EQ(dave.finish(), 0) << dave.out << " (dave is cancelled)";
  EXPECT_TRUE(linked_in_core("carol", "alice", events));
  EXPECT_TRUE(core_transferred_blind_before_hangup("bob", "2310", events));
  expect_idle();
}

}  // namespace
