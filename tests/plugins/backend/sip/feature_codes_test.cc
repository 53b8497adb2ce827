// Feature codes through SIP: SIPp lines dial *21<number>, *21 and *25 against
// backend.sip running the shipped lua-dialplan/extensions.lua, and the next
// calls to that user follow the saved forward / DND.
#include <chrono>
#include <filesystem>
#include <functional>
#include <future>
#include <thread>

#include <gtest/gtest.h>

#include "tests/plugins/backend/sip/sip_fixture.h"

using dialtone::testing::SipPluginTest;

namespace {

class FeatureCodes : public SipPluginTest {
 protected:
  static void SetUpTestSuite() {
    make_host({{"alice", "1001"}, {"bob", "1002"}, {"carol", "1003"}},
              std::filesystem::path(SIP_LUA_LIB_DIR).parent_path() / "extensions.lua");
  }
  void SetUp() override { start_plugin({{"auth.ban_failures", "1000"}, {"sip.node", "features-test"}}); }

  // `user` (password <user>pw) dials `number` and expects the scenario's outcome.
  int dial(const std::string& user, const std::string& file, const std::string& number, std::string* out) {
    return client(file, {"-s", number, "-au", user, "-ap", user + "pw", "-key", "user", user}, out);
  }
  static std::string carol(const std::string& column) {
    return host_->sql("SELECT coalesce(" + column + "::text, '<null>') FROM confd_users WHERE id = $1::int",
                      {user_ids_["carol"]});
  }
};

TEST_F(FeatureCodes, Star21NumberForwardsTheNextCallAndStar21AloneStopsIt) {
  std::string out;
  // Carol (1003, not registered) forwards her calls to Bob (1002): the code
  // call ends with 480 "Forward enabled".
  ASSERT_EQ(dial("carol", "uac_call_480.xml", "*211002", &out), 0) << out;
  EXPECT_EQ(carol("forward_unconditional_enabled"), "true");
  EXPECT_EQ(carol("forward_unconditional_destination"), "1002");
  auto ev = host_->test_bus().wait_for("config.user.edited");
  ASSERT_TRUE(ev);
  EXPECT_NE(ev->body.find("\"id\":" + user_ids_["carol"] + ","), std::string::npos) << ev->body;

  // Alice calls Carol: Bob answers.
  Phone bob;
  ASSERT_NO_FATAL_FAILURE(callee(bob, "bob", "uas_answer.xml"));
  EXPECT_EQ(dial("alice", "uac_call_hangup.xml", "1003", &out), 0) << out;
  EXPECT_EQ(bob.finish(), 0) << bob.out;

  // *21 alone turns the forward off: Carol's unregistered line gives 480.
  ASSERT_EQ(dial("carol", "uac_call_480.xml", "*21", &out), 0) << out;
  EXPECT_EQ(carol("forward_unconditional_enabled"), "false");
  EXPECT_EQ(dial("alice", "uac_call_480.xml", "1003", &out), 0) << out;
}

TEST_F(FeatureCodes, Star25MakesTheUserBusyUntilDialedAgain) {
  std::string out;
  ASSERT_EQ(dial("carol", "uac_call_480.xml", "*25", &out), 0) << out;
  EXPECT_EQ(carol("service_dnd_enabled"), "true");
  EXPECT_EQ(dial("alice", "uac_call_486.xml", "1003", &out), 0) << out;
  ASSERT_EQ(dial("carol", "uac_call_480.xml", "*25", &out), 0) << out;
  EXPECT_EQ(carol("service_dnd_enabled"), "false");
  EXPECT_EQ(dial("alice", "uac_call_480.xml", "1003", &out), 0) << out;
}

// *37<member id> (seed 5.2.4): the secretary turns the boss's filter on;
// alice's next call to the boss (bob) rings the secretary (carol), who
// answers; *37 again turns it off.
TEST_F(FeatureCodes, Star37TurnsTheBossSecretaryFilterOnAndOff) {
  auto filter = host_->sql("INSERT INTO confd_callfilters (name, strategy) VALUES ('bob-filter', "
                           "'all-surrogates-then-all-recipients') RETURNING id");
  host_->sql("INSERT INTO confd_callfilter_members (callfilter_id, user_id, role) VALUES ($1::int, $2::int, 'boss')",
             {filter, user_ids_["bob"]});
  auto member = host_->sql("INSERT INTO confd_callfilter_members (callfilter_id, user_id, role) "
                           "VALUES ($1::int, $2::int, 'secretary') RETURNING id", {filter, user_ids_["carol"]});
  std::string out;
  ASSERT_EQ(dial("carol", "uac_call_480.xml", "*37" + member, &out), 0) << out;
  EXPECT_EQ(host_->sql("SELECT active::text FROM confd_callfilter_members WHERE id = $1::int", {member}), "true");
  ASSERT_TRUE(host_->test_bus().wait_for("config.call_filter_member.edited"));

  Phone carol;
  ASSERT_NO_FATAL_FAILURE(callee(carol, "carol", "uas_answer.xml"));
  EXPECT_EQ(dial("alice", "uac_call_hangup.xml", "1002", &out), 0) << out;  // bob is not registered
  EXPECT_EQ(carol.finish(), 0) << carol.out;

  ASSERT_EQ(dial("bob", "uac_call_480.xml", "*37" + member, &out), 0) << out;
  EXPECT_EQ(host_->sql("SELECT active::text FROM confd_callfilter_members WHERE id = $1::int", {member}), "false");
  EXPECT_EQ(dial("alice", "uac_call_480.xml", "1002", &out), 0) << out << " (filter off: bob's unregistered line)";
}

// XiVO's other default codes, one row each: what carol dials, the final
// status she gets (no media engine here: the refusal that stands for the
// prompt), and the state read back from confd's tables afterwards.
TEST_F(FeatureCodes, EachXivoServiceCodeHasItsEffect) {
  auto vm = host_->sql("INSERT INTO confd_voicemails (number, context, name) VALUES ('1003', 'default', 'carol') "
                       "RETURNING id");
  host_->sql("INSERT INTO confd_user_voicemails (user_id, voicemail_id) VALUES ($1::int, $2::int)",
             {user_ids_["carol"], vm});
  auto group = host_->sql("INSERT INTO confd_groups (name) VALUES ('codes-staff') RETURNING id");
  auto voicemail_on = [&] { return host_->sql("SELECT enabled::text FROM confd_voicemails WHERE id = $1::int", {vm}); };
  auto member = [&] {
    return host_->sql("SELECT count(*)::text FROM confd_group_members WHERE group_id = $1::int AND user_id = $2::int",
                      {group, user_ids_["carol"]});
  };
  struct Row {
    std::string number, scenario;
    std::function<std::string()> state;
    std::string expected;
  };
  const Row rows[] = {
      {"*90", "uac_call_480.xml", voicemail_on, "false"},         // enablevm: voicemail off
      {"*90", "uac_call_480.xml", voicemail_on, "true"},          // and on again
      {"*51" + group, "uac_call_480.xml", member, "1"},           // groupmemberjoin
      {"*51" + group, "uac_call_480.xml", member, "1"},           // joining twice keeps one membership
      {"*52" + group, "uac_call_480.xml", member, "0"},           // groupmemberleave
      {"*50" + group, "uac_call_480.xml", member, "1"},           // groupmembertoggle: in
      {"*50" + group, "uac_call_480.xml", member, "0"},           // and out
      {"*50999999", "uac_call_404.xml", member, "0"},             // no such group
      {"*901003", "uac_call_480.xml", voicemail_on, "false"},     // enablevmslt: her own extension, no password asked
      {"*901003", "uac_call_480.xml", voicemail_on, "true"},      // and back on
      {"*909999", "uac_call_404.xml", voicemail_on, "true"},      // no user at 9999
      {"*10", "uac_call_480.xml", voicemail_on, "true"},          // phonestatus: says, changes nothing
      {"*961001", "uac_call_404.xml", voicemail_on, "true"},      // vmuserslt: alice has no voicemail
      {"*971003", "uac_call_480.xml", voicemail_on, "true"},      // vmboxslt: needs the media engine here
      {"*9", "uac_call_480.xml", voicemail_on, "true"},           // recsnd: needs the media engine here
  };
  for (auto& row : rows) {
    std::string out;
    EXPECT_EQ(dial("carol", row.scenario, row.number, &out), 0) << row.number << ": " << out;
    EXPECT_EQ(row.state(), row.expected) << row.number;
  }
  // Another user's voicemail: its password is asked first, which this host
  // (no app.voicemail to read it) cannot: refused, nothing changes.
  std::string out;
  EXPECT_EQ(dial("alice", "uac_call_forbidden.xml", "*901003", &out), 0) << out;
  EXPECT_EQ(voicemail_on(), "true");
}

}  // namespace
