// DAHDI trunks in outgoing routes, configured as an admin does through
// confd's REST API on the real dialtoned (seed 5.19.4/5.19.5): a customized
// trunk with interface dahdi/g1 (simulated span 1, cabled back to back to
// span 2) and a SIP trunk to a SIPp provider, tried in a route's order.
//
//   route "via-sip-first" 014000XXXX: [SIP trunk whose provider answers 503,
//     dahdi/g1]: the provider refuses, the call fails over to span 1; it
//     arrives on span 2 (context from-extern), whose incall for the DID
//     rings bob's SIP phone.
//   route "via-span-first" 09XXXXXXXX: [dahdi/g3, SIP trunk]: span 3 has no
//     far end (its D-channel never comes up), so the call fails over to the
//     SIP provider, which answers.
//
// alice's phone (SIPp) calls; the answering side hangs up and alice must get
// her BYE: every scenario passing is the call having gone where it should.
#include <future>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "tests/integration/support/confd_admin.h"
#include "tests/integration/support/dahdi_spans.h"
#include "tests/integration/support/dialtoned_fixture.h"
#include "tests/support/udp_ports.h"

namespace {

namespace fs = std::filesystem;
using dialtone::testing::ConfdAdmin;
using dialtone::testing::Dialtoned;
using dialtone::testing::free_tcp_udp_port;
using dialtone::testing::SippPhones;
using dialtone::testing::wait_udp_bound;

using dialtone::testing::e1_span;

// Spans 1 and 2 cabled back to back; span 3 has no far end.
const std::string kSpans =
    "[plugin]\nname = backend.dahdi\n[dahdi]\nrealtime = false\n" +
    e1_span(1, 1, "pri_cpe", "driver = simulated\npeer = 2\ngroup = 1\ncontext = from-pabx\n") +
    e1_span(2, 32, "pri_net", "driver = simulated\npeer = 1\ngroup = 2\ncontext = from-extern\n") +
    e1_span(3, 63, "pri_cpe", "driver = simulated\ngroup = 3\ncontext = from-pabx\n");

class DahdiRouting : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    work_ = fs::temp_directory_path() / ("dt-int-dahdi-" + std::to_string(::getpid()));
    fs::create_directories(work_);
    sip_port_ = free_tcp_udp_port();
    d_ = new Dialtoned({.plugin_files = {{"40-sip.conf", dialtone::testing::sip_plugin_conf(sip_port_, "dahdi-node")},
                                         {"45-media.conf", "[plugin]\nname = media.engine\n\n[media]\n"
                                                           "realtime = false\nthreads = 1\n"},
                                         {"50-confd.conf", "[plugin]\nname = api.confd\n"},
                                         {"55-dahdi.conf", kSpans}}});
    ASSERT_TRUE(d_->ready()) << d_->error() << d_->output();
    ASSERT_TRUE(d_->wait_output("dahdi: span 1: D-channel up", 20)) << d_->output();
    ASSERT_TRUE(d_->wait_output("dahdi: span 2: D-channel up", 20)) << d_->output();
    phones_ = SippPhones{work_, sip_port_, INTEGRATION_SCENARIOS};
    admin_ = new ConfdAdmin(*d_);
    auto& a = *admin_;
    a.context(R"({"name":"default","type":"internal","user_ranges":[{"start":"1000","end":"1099"}]})");
    a.context(R"({"name":"from-extern","type":"incall","incall_ranges":[{"start":"0140002000","end":"0140002999"}]})");
    a.context(R"({"name":"to-extern","type":"outcall"})");
    a.include("default", "to-extern");
    a.user_line("1001", "Alice", "Aubert", "alice", "alicepw", "default");
    auto bob = a.user_line("1002", "Bruno", "Bernard", "bob", "bobpw", "default");
    a.incall("0140002000", "from-extern", R"({"type":"user","user_id":)" + bob + "}");
    provider_port_ = free_tcp_udp_port();
    auto sip = a.trunk("provider", "127.0.0.1:" + std::to_string(provider_port_), "from-extern");
    g1_ = a.custom_trunk("dahdi/g1", "to-extern");
    auto g3 = a.custom_trunk("DAHDI/g3", "to-extern");
    a.outcall("via-sip-first", 1, R"([{"pattern":"014000XXXX"}])", std::vector<std::string>{sip, g1_}, "to-extern");
    a.outcall("via-span-first", 2, R"([{"pattern":"09XXXXXXXX"}])", std::vector<std::string>{g3, sip}, "to-extern");
    ASSERT_FALSE(HasFailure()) << d_->output();
  }
  static void TearDownTestSuite() {
    delete admin_;
    delete d_;
    admin_ = nullptr;
    d_ = nullptr;
    std::error_code ec;
    fs::remove_all(work_, ec);
  }

  // SIPp running `file` on `port` in the background (a phone or the provider).
  static std::future<std::pair<int, std::string>> answer(const std::string& file, int port) {
    auto f = std::async(std::launch::async, [file, port] {
      std::string out;
      int rc = phones_.run("-sf " + phones_.scenario(file) + " -p " + std::to_string(port), &out);
      return std::make_pair(rc, out);
    });
    EXPECT_TRUE(wait_udp_bound(port)) << file << " did not bind 127.0.0.1:" << port;
    return f;
  }
  // alice calls `number`; the callee hangs up, alice must get the BYE.
  static int alice_calls(const std::string& number, std::string* out) {
    return phones_.client("-sf " + phones_.scenario("uac_call_remote_hangup.xml") + " -s " + number +
                              " -au alice -ap alicepw -key user alice",
                          out);
  }

  static inline fs::path work_;
  static inline int sip_port_ = 0, provider_port_ = 0;
  static inline Dialtoned* d_ = nullptr;
  static inline ConfdAdmin* admin_ = nullptr;
  static inline SippPhones phones_;
  static inline std::string g1_;
};

TEST_F(DahdiRouting, RefusedBySipTheCallFailsOverToTheSpanAndItsDidRingsBob) {
  int bob_port = free_tcp_udp_port();
  std::string out;
  ASSERT_EQ(phones_.register_line("bob", "bobpw", bob_port, &out), 0) << out;
  auto provider = answer("uas_503.xml", provider_port_);
  auto bob = answer("uas_answer_hangup.xml", bob_port);
  int rc = alice_calls("0140002000", &out);
  EXPECT_EQ(rc, 0) << out << d_->output();
  auto [prc, pout] = provider.get();
  EXPECT_EQ(prc, 0) << "the SIP trunk was tried first: " << pout;
  auto [brc, bout] = bob.get();
  EXPECT_EQ(brc, 0) << "span 2's incall rang bob: " << bout << d_->output();
  EXPECT_TRUE(d_->wait_output("trying the next one", 5)) << d_->output();
}

TEST_F(DahdiRouting, WithItsSpanDownTheDahdiTrunkFailsOverToSip) {
  // The customized trunk as confd shows it; a malformed interface is refused.
  auto t = admin_->get("/1.1/trunks/" + g1_);
  ASSERT_EQ(t.status, 200) << t.body;
  EXPECT_EQ(dialtone::testing::json_string(t.body, "/endpoint_custom/interface"), "dahdi/g1") << t.body;
  auto bad = admin_->post("/1.1/endpoints/custom", R"({"interface":"dahdi"})");
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_NE(bad.body.find("dahdi/g1"), std::string::npos) << "the error shows the expected form: " << bad.body;

  auto provider = answer("uas_answer_hangup.xml", provider_port_);
  std::string out;
  int rc = alice_calls("0912345678", &out);
  EXPECT_EQ(rc, 0) << out << d_->output();
  auto [prc, pout] = provider.get();
  EXPECT_EQ(prc, 0) << "the SIP provider answered after the span: " << pout << d_->output();
  EXPECT_TRUE(d_->wait_output("dahdi: dahdi/g3/0912345678: no free B-channel with its D-channel up", 5))
      << d_->output();
}

}  // namespace
