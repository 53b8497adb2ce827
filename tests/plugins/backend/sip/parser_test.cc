// The code that parses network input: digest headers, nonces, caller
// identity headers, and sofia's parser as the stack uses it, over the
// malformed corpus.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "plugins/backend/sip/auth_ban.h"
#include "plugins/backend/sip/caller_identity.h"
#include "plugins/backend/sip/digest.h"
#include "plugins/backend/sip/fuzz_parse.h"

namespace sip = dialtone::plugins::backend::sip;

TEST(SipDigest, ParsesQuotedAndBareValues) {
  auto c = sip::parse_digest(
      R"(Digest username="alice", realm="dialtone", nonce="abc", uri="sip:127.0.0.1", )"
      R"(response="0123", algorithm=MD5, cnonce="x\"y", nc=00000001, qop=auth)");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->username, "alice");
  EXPECT_EQ(c->cnonce, "x\"y");
  EXPECT_EQ(c->nc, "00000001");
  EXPECT_EQ(c->qop, "auth");
}

TEST(SipDigest, RefusesBrokenHeaders) {
  for (const char* bad : {"", "Basic dXNlcg==", "Digest", "Digest username=\"alice",
                          "Digest username=alice realm=x", "Digest =x", "Digest username=\"a\""})
    EXPECT_FALSE(sip::parse_digest(bad)) << bad;
}

// The RFCs' worked examples: RFC 2617 section 3.5 (MD5) and RFC 7616
// section 3.9.1 (SHA-256).
TEST(SipDigest, ComputesTheRfcExampleResponses) {
  struct Example {
    sip::DigestAlgorithm algorithm;
    const char *realm, *nonce, *cnonce, *password, *response;
  };
  for (auto e : {Example{sip::DigestAlgorithm::md5, "testrealm@host.com", "dcd98b7102dd2f0e8b11d0f600bfb0c093",
                         "0a4f113b", "Circle Of Life", "6629fae49393a05397450978507c4ef1"},
                 Example{sip::DigestAlgorithm::sha256, "http-auth@example.org",
                         "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
                         "Circle of Life", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"}}) {
    sip::DigestCredentials c;
    c.username = "Mufasa";
    c.realm = e.realm;
    c.nonce = e.nonce;
    c.uri = "/dir/index.html";
    c.qop = "auth";
    c.nc = "00000001";
    c.cnonce = e.cnonce;
    EXPECT_EQ(sip::digest_response(e.algorithm, c, e.password, "GET"), e.response) << e.realm;
  }
}

TEST(SipDigest, NoncesExpireAndCannotBeForged) {
  sip::NonceFactory f("dialtone", std::chrono::seconds(30));
  auto n = f.make(1000);
  EXPECT_EQ(f.check(n, 1010), sip::NonceFactory::Check::valid);
  EXPECT_EQ(f.check(n, 1031), sip::NonceFactory::Check::stale);
  auto forged = n;
  forged[40] = forged[40] == 'a' ? 'b' : 'a';
  EXPECT_EQ(f.check(forged, 1010), sip::NonceFactory::Check::invalid);
  sip::NonceFactory other("dialtone", std::chrono::seconds(30));
  EXPECT_EQ(other.check(n, 1010), sip::NonceFactory::Check::invalid);
}

TEST(SipDigest, AlgorithmListKeepsThePreferenceOrderAndRefusesUnknownNames) {
  auto both = sip::parse_digest_algorithms({"SHA-256", "md5", "MD5"});
  ASSERT_TRUE(both);
  EXPECT_EQ(*both, (std::vector<sip::DigestAlgorithm>{sip::DigestAlgorithm::sha256,
                                                      sip::DigestAlgorithm::md5}));
  EXPECT_FALSE(sip::parse_digest_algorithms({}));
  EXPECT_FALSE(sip::parse_digest_algorithms({"SHA-512-256"}));
  EXPECT_EQ(sip::parse_nonce_count("0000000a"), 10u);
  EXPECT_FALSE(sip::parse_nonce_count("00000g01"));
  EXPECT_FALSE(sip::parse_nonce_count("123456789"));
}

TEST(SipDigest, EachNonceIsDistinctAndItsCountsOnlyGoUp) {
  sip::NonceFactory f("dialtone", std::chrono::seconds(30), 4);
  auto a = f.make(1000);
  auto b = f.make(1000);
  EXPECT_NE(a, b);
  EXPECT_EQ(f.check(b, 1000), sip::NonceFactory::Check::valid);
  EXPECT_EQ(f.use(a, 1), sip::NonceFactory::Use::fresh);
  EXPECT_EQ(f.use(a, 1), sip::NonceFactory::Use::replayed);
  EXPECT_EQ(f.use(a, 2), sip::NonceFactory::Use::fresh);
  EXPECT_EQ(f.use(a, 2), sip::NonceFactory::Use::replayed);
  EXPECT_EQ(f.use(b, 1), sip::NonceFactory::Use::fresh);  // counted per nonce
  // Four more nonces push `a` out of the window of 4: its counts are gone,
  // so it is refused (the client gets a fresh nonce) rather than replayable.
  for (int i = 0; i < 4; ++i) f.make(1001);
  EXPECT_EQ(f.use(a, 3), sip::NonceFactory::Use::forgotten);
}

TEST(SipAuthBan, BansAfterFailuresInTheWindow) {
  sip::AuthBan ban(3, std::chrono::seconds(60), std::chrono::seconds(600));
  auto t = sip::AuthBan::Clock::now();
  EXPECT_FALSE(ban.failure("10.0.0.1", t));
  EXPECT_FALSE(ban.failure("10.0.0.1", t));
  EXPECT_TRUE(ban.failure("10.0.0.1", t));
  EXPECT_TRUE(ban.banned("10.0.0.1", t + std::chrono::seconds(599)));
  EXPECT_FALSE(ban.banned("10.0.0.1", t + std::chrono::seconds(601)));
  EXPECT_FALSE(ban.banned("10.0.0.2", t));
}

TEST(SipParser, CorpusParsesWithoutCrashingAndAValidRequestParses) {
  std::vector<std::filesystem::path> files;
  for (auto& f : std::filesystem::directory_iterator(std::string(SIP_TEST_DIR) + "/malformed"))
    if (f.path().extension() == ".sip") files.push_back(f.path());
  ASSERT_GE(files.size(), 50u);
  for (auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    auto s = ss.str();
    sip::parse_network_bytes(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
  }
  std::string ok =
      "OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK1\r\n"
      "From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: x@y\r\n"
      "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
  EXPECT_EQ(sip::parse_network_bytes(reinterpret_cast<const std::uint8_t*>(ok.data()), ok.size()), 1);
}

TEST(SipCallerIdentity, ParsesNameAddrAddrSpecAndTel) {
  auto a = sip::identity_of(R"("Carla A" <sip:0612345678@10.0.0.1;user=phone>;party=calling)");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->number, "0612345678");
  EXPECT_EQ(a->name, "Carla A");
  auto t = sip::identity_of("<tel:+33612345678;phone-context=x>");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->number, "+33612345678");
  auto bare = sip::identity_of("sip:1001;npdi@host");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->number, "1001");
  for (const char* bad : {"", "<>", "<http://x>", "\"x\" <sip:host>", "<sip:@host>"})
    EXPECT_FALSE(sip::identity_of(bad)) << bad;
}

TEST(SipCallerIdentity, AssertedIdentityPrefersPaiThenRpidAndSipOverTel) {
  sip::HeaderList h{{"P-Asserted-Identity", "<tel:+33612345678>"},
                    {"p-asserted-identity", R"("Bob" <sip:+33612345678@sbc>)"},
                    {"Remote-Party-ID", R"("R" <sip:999@x>;party=calling)"}};
  auto id = sip::asserted_caller(h);
  ASSERT_TRUE(id);
  EXPECT_EQ(id->number, "+33612345678");
  EXPECT_EQ(id->name, "Bob");
  // Both in one header, comma-separated.
  id = sip::asserted_caller({{"P-Asserted-Identity", R"(<tel:+331>, "N, A" <sip:+331@h>)"}});
  ASSERT_TRUE(id);
  EXPECT_EQ(id->name, "N, A");
  // Only an RPID of the calling party names the caller.
  id = sip::asserted_caller({{"Remote-Party-ID", R"(<sip:5012@x>;party=called)"},
                             {"Remote-Party-ID", R"("F" <sip:0698@x>;party=calling;privacy=off)"}});
  ASSERT_TRUE(id);
  EXPECT_EQ(id->number, "0698");
  EXPECT_FALSE(sip::asserted_caller({{"From", "<sip:1@x>"}}));
}

TEST(SipCallerIdentity, PrivacyAndRpidPrivacyHideTheCaller) {
  EXPECT_TRUE(sip::caller_hidden({{"Privacy", "id"}}));
  EXPECT_TRUE(sip::caller_hidden({{"privacy", "header; id"}}));
  EXPECT_TRUE(sip::caller_hidden({{"Privacy", "user"}}));
  EXPECT_FALSE(sip::caller_hidden({{"Privacy", "none"}}));
  EXPECT_FALSE(sip::caller_hidden({{"Privacy", "critical"}}));
  EXPECT_TRUE(sip::caller_hidden({{"Remote-Party-ID", "<sip:1@x>;party=calling;privacy=full"}}));
  EXPECT_FALSE(sip::caller_hidden({{"Remote-Party-ID", "<sip:1@x>;party=calling;privacy=off"}}));
  EXPECT_FALSE(sip::caller_hidden({}));
}

TEST(SipCallerIdentity, SendrpidValuesAndTheHeadersTheyAdd) {
  EXPECT_EQ(sip::parse_send_identity("PAI"), sip::SendIdentity::pai);
  EXPECT_EQ(sip::parse_send_identity("yes"), sip::SendIdentity::rpid);
  EXPECT_EQ(sip::parse_send_identity("no"), sip::SendIdentity::none);
  EXPECT_FALSE(sip::parse_send_identity("pia"));
  EXPECT_EQ(sip::identity_headers(sip::SendIdentity::pai, "X\"Y", "5555", "pbx", false),
            "P-Asserted-Identity: \"XY\" <sip:5555@pbx>");
  EXPECT_EQ(sip::identity_headers(sip::SendIdentity::pai, "", "5555", "pbx", true),
            "P-Asserted-Identity: <sip:5555@pbx>\r\nPrivacy: id");
  EXPECT_EQ(sip::identity_headers(sip::SendIdentity::rpid, "N", "1", "h", true),
            "Remote-Party-ID: \"N\" <sip:1@h>;party=calling;privacy=full;screen=no");
  EXPECT_EQ(sip::identity_headers(sip::SendIdentity::none, "N", "1", "h", false), "");
}
