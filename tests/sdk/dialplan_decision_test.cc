// The decision table every channel driver reads from the dialplan
// (dialtone/dialplan_decision.h).
#include <dialtone/dialplan_decision.h>
#include <gtest/gtest.h>

namespace dialtone::sdk {
namespace {

LuaValues returned(std::map<std::string, LuaValue> fields, std::vector<LuaValue> targets = {}) {
  auto t = std::make_shared<LuaTable>();
  t->fields = std::move(fields);
  if (!targets.empty()) {
    auto list = std::make_shared<LuaTable>();
    list->array = std::move(targets);
    t->fields["targets"] = list;
  }
  return {LuaValue(t)};
}

TEST(DialplanDecision, NothingOrNotATableIsNoDecision) {
  EXPECT_FALSE(read_decision({}));
  EXPECT_FALSE(read_decision({LuaValue("dial")}));
}

TEST(DialplanDecision, DialWithAListOrOneTargetAndATimeout) {
  auto d = read_decision(returned({{"action", "dial"}, {"timeout", 20}}, {"bob", "sip/carol"}));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->action, "dial");
  EXPECT_EQ(d->targets, (std::vector<std::string>{"bob", "sip/carol"}));
  EXPECT_EQ(d->timeout_seconds, 20);
  auto one = read_decision(returned({{"action", "dial"}, {"targets", "bob"}}));
  ASSERT_TRUE(one);
  EXPECT_EQ(one->targets, std::vector<std::string>{"bob"});
  EXPECT_FALSE(one->timeout_seconds) << "no timeout given: the driver's default applies";
}

TEST(DialplanDecision, RejectTakesCodeElseStatusAndTheCause) {
  auto d = read_decision(returned({{"action", "reject"}, {"code", 486}, {"status", 480}, {"reason", "Busy Here"}}));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->code, 486);
  EXPECT_EQ(d->reason, "Busy Here");
  EXPECT_FALSE(d->cause);
  auto s = read_decision(returned({{"action", "reject"}, {"status", "480"}, {"cause", 17}}));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->code, 480) << "status is accepted for code, as a string too";
  EXPECT_EQ(s->cause, 17);
  auto none = read_decision(returned({{"action", "reject"}, {"code", "busy"}}));
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->code) << "a code that is not a number is no code";
}

}  // namespace
}  // namespace dialtone::sdk
