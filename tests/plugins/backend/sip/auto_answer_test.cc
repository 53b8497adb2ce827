// The auto-answer headers a paged phone gets, by the vendor its REGISTER's
// User-Agent names (plugins/backend/sip/auto_answer.h).
#include <gtest/gtest.h>

#include "plugins/backend/sip/auto_answer.h"

namespace dialtone::plugins::backend::sip {
namespace {

TEST(AutoAnswer, EachVendorGetsTheHeaderItsFirmwareUnderstands) {
  EXPECT_EQ(auto_answer_headers("Yealink SIP-T46S 66.86.0.15", "10.0.0.1"), "Call-Info: <sip:10.0.0.1>;answer-after=0");
  EXPECT_EQ(auto_answer_headers("Cisco/SPA504G-7.6.2", "pbx"), "Call-Info: <sip:pbx>;answer-after=0");
  EXPECT_EQ(auto_answer_headers("Aastra 6739i/3.3.1.4322", "pbx"), "Alert-Info: info=alert-autoanswer");
  EXPECT_EQ(auto_answer_headers("PolycomVVX-VVX_410-UA/5.9.0.9373", "pbx"), "Alert-Info: xivo-autoanswer");
  EXPECT_EQ(auto_answer_headers("snom370/8.7.5.35", "pbx"),
            "Call-Info: <sip:pbx>;answer-after=0\r\n"
            "Alert-Info: <http://www.notused.com>;info=alert-autoanswer;delay=0");
}

TEST(AutoAnswer, UnknownOrMissingUserAgentGetsEveryCommonForm) {
  const std::string every =
      "Call-Info: <sip:pbx>;answer-after=0\r\nAlert-Info: <http://www.notused.com>;info=alert-autoanswer;delay=0";
  EXPECT_EQ(auto_answer_headers("", "pbx"), every);
  EXPECT_EQ(auto_answer_headers("baresip v2.0.0 (x86_64/linux)", "pbx"), every);
}

TEST(AutoAnswer, OnlyYesLikeValuesAskForIt) {
  EXPECT_TRUE(auto_answer_requested("yes"));
  EXPECT_TRUE(auto_answer_requested("TRUE"));
  EXPECT_TRUE(auto_answer_requested("1"));
  EXPECT_FALSE(auto_answer_requested(""));
  EXPECT_FALSE(auto_answer_requested("no"));
}

}  // namespace
}  // namespace dialtone::plugins::backend::sip
