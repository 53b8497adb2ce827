// SDP parsing, codec negotiation and anchoring on offers as phones send them.
#include <gtest/gtest.h>

#include "plugins/backend/sip/sdp.h"

namespace dialtone::plugins::backend::sip {
namespace {

const std::vector<std::string> kDefaultCodecs{"pcmu", "pcma", "g722", "telephone-event"};

std::string crlf(std::string s) {
  std::string out;
  for (char c : s) {
    if (c == '\n') out += "\r\n";
    else out += c;
  }
  return out;
}

// Yealink T4x: G722 first, G729, telephone-event, ptime, IPv4.
const std::string kYealink = crlf(R"(v=0
o=- 20089 20089 IN IP4 192.168.1.50
s=SDP data
c=IN IP4 192.168.1.50
t=0 0
m=audio 11796 RTP/AVP 9 0 8 18 101
a=rtpmap:9 G722/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:18 G729/8000
a=fmtp:18 annexb=no
a=fmtp:101 0-15
a=rtpmap:101 telephone-event/8000
a=ptime:20
a=sendrecv
)");

// Polycom VVX: media-level c=, iLBC and G.722.1 dynamic types, a=sendonly (hold).
const std::string kPolycom = crlf(R"(v=0
o=- 1628514212 1628514212 IN IP4 10.0.0.20
s=Polycom IP Phone
t=0 0
m=audio 2226 RTP/AVP 115 102 9 0 8 127
c=IN IP4 10.0.0.20
a=rtpmap:115 G7221/32000
a=fmtp:115 bitrate=48000
a=rtpmap:102 G7221/16000
a=fmtp:102 bitrate=32000
a=rtpmap:9 G722/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:127 telephone-event/8000
a=sendonly
)");

// Linphone: opus/speex first, ptime, rtcp-fb, IPv6, a=rtcp, video.
const std::string kLinphone = crlf(R"(v=0
o=alice 3102 1234 IN IP6 2001:db8::10
s=Talk
c=IN IP6 2001:db8::10
t=0 0
a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics
m=audio 7078 RTP/AVP 96 97 98 0 8 101 99
a=rtpmap:96 opus/48000/2
a=fmtp:96 useinbandfec=1
a=rtpmap:97 speex/16000
a=fmtp:97 vbr=on
a=rtpmap:98 speex/8000
a=rtpmap:101 telephone-event/48000
a=rtpmap:99 telephone-event/8000
a=rtcp:7079
a=rtcp-fb:* trr-int 1000
a=ptime:20
m=video 9078 RTP/AVP 103 104
a=rtpmap:103 VP8/90000
a=rtpmap:104 H264/90000
a=fmtp:104 profile-level-id=42801F
)");

TEST(Sdp, ParsesAndSerializesUnchangedLinesVerbatim) {
  auto sdp = parse_sdp(kYealink);
  ASSERT_TRUE(sdp) << sdp.error().message;
  EXPECT_EQ(sdp->to_string(), kYealink);
  ASSERT_EQ(sdp->media.size(), 1u);
  EXPECT_EQ(sdp->media[0].port, 11796);
  EXPECT_EQ(sdp->media[0].encoding("18"), "G729/8000");
  auto addr = audio_address(*sdp);
  ASSERT_TRUE(addr);
  EXPECT_EQ(addr->ip, "192.168.1.50");
  EXPECT_EQ(addr->rtp_port, 11796);
  EXPECT_EQ(addr->rtcp_port, 11797);
}

TEST(Sdp, AcceptsBareLineFeeds) {
  auto sdp = parse_sdp("v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nc=IN IP4 1.2.3.4\nt=0 0\nm=audio 4000 RTP/AVP 0\n");
  ASSERT_TRUE(sdp) << sdp.error().message;
  EXPECT_EQ(sdp->media[0].encoding("0"), "PCMU/8000");  // static, no rtpmap
}

TEST(Sdp, RejectsBrokenBodiesNamingTheProblem) {
  EXPECT_FALSE(parse_sdp(""));
  EXPECT_FALSE(parse_sdp("hello world"));
  auto no_c = parse_sdp("v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n");
  ASSERT_FALSE(no_c);
  EXPECT_NE(no_c.error().message.find("c="), std::string::npos);
  auto bad_port = parse_sdp("v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 99999 RTP/AVP 0\r\n");
  ASSERT_FALSE(bad_port);
  EXPECT_NE(bad_port.error().message.find("port"), std::string::npos);
}

struct OfferCase {
  const char* name;
  const std::string* sdp;
  std::vector<std::string> codecs;
  std::vector<std::string> expected_formats;  // empty: 488
};

void PrintTo(const OfferCase& c, std::ostream* os) { *os << c.name; }

class OfferTable : public ::testing::TestWithParam<OfferCase> {};

TEST_P(OfferTable, KeepsConfiguredCodecsInTheOfferersOrder) {
  const auto& c = GetParam();
  auto sdp = parse_sdp(*c.sdp);
  ASSERT_TRUE(sdp) << sdp.error().message;
  auto out = filter_offer(*sdp, c.codecs);
  if (c.expected_formats.empty()) {
    ASSERT_FALSE(out);
    EXPECT_EQ(out.error().code, sdk::ErrorCode::unsupported);
    return;
  }
  ASSERT_TRUE(out) << out.error().message;
  const SdpMedia* audio = out->audio();
  ASSERT_NE(audio, nullptr);
  EXPECT_EQ(audio->formats, c.expected_formats);
  // Dropped formats lose their rtpmap/fmtp lines; kept ones keep theirs.
  auto text = out->to_string();
  for (auto& pt : sdp->audio()->formats) {
    bool kept = std::find(c.expected_formats.begin(), c.expected_formats.end(), pt) != c.expected_formats.end();
    bool has_map = text.find("a=rtpmap:" + pt + " ") != std::string::npos;
    if (!kept) {
      EXPECT_FALSE(has_map) << "pt " << pt;
    } else if (pt != "0" && pt != "8" && pt != "9") {
      EXPECT_TRUE(has_map) << "pt " << pt;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Phones, OfferTable,
    ::testing::Values(
        OfferCase{"yealink_all", &kYealink, kDefaultCodecs, {"9", "0", "8", "101"}},
        OfferCase{"yealink_pcma_only", &kYealink, {"pcma"}, {"8"}},
        OfferCase{"polycom", &kPolycom, kDefaultCodecs, {"9", "0", "8", "127"}},
        OfferCase{"polycom_no_g722", &kPolycom, {"pcmu", "telephone-event"}, {"0", "127"}},
        OfferCase{"linphone", &kLinphone, kDefaultCodecs, {"0", "8", "99"}},
        OfferCase{"linphone_g722_only", &kLinphone, {"g722", "telephone-event"}, {}},
        // Opus (RFC 7587, always opus/48000/2) with the events of both clocks.
        OfferCase{"linphone_opus", &kLinphone, {"pcmu", "pcma", "opus", "telephone-event"},
                  {"96", "0", "8", "101", "99"}}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Sdp, OfferWithOnlyTelephoneEventIsNotAcceptable) {
  auto sdp = parse_sdp(crlf("v=0\nc=IN IP4 1.2.3.4\nt=0 0\nm=audio 4000 RTP/AVP 18 101\n"
                            "a=rtpmap:18 G729/8000\na=rtpmap:101 telephone-event/8000\n"));
  ASSERT_TRUE(sdp);
  auto out = filter_offer(*sdp, kDefaultCodecs);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code, sdk::ErrorCode::unsupported);
}

TEST(Sdp, VideoIsRefusedWithPortZeroAndKeepsItsPlace) {
  auto sdp = parse_sdp(kLinphone);
  ASSERT_TRUE(sdp);
  auto out = filter_offer(*sdp, kDefaultCodecs);
  ASSERT_TRUE(out);
  ASSERT_EQ(out->media.size(), 2u);
  EXPECT_EQ(out->media[1].type, "video");
  EXPECT_EQ(out->media[1].port, 0);
  EXPECT_NE(out->to_string().find("m=video 0 RTP/AVP 103 104\r\n"), std::string::npos);
}

// SRTP with SDES keys crosses the relay end to end: anchored, its a=crypto
// lines unchanged; DTLS-SRTP (no a=crypto) and unknown suites are refused.
TEST(Sdp, SrtpWithSdesKeysIsAnchoredWithItsKeys) {
  const std::string key = "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR";
  auto sdp = parse_sdp(crlf("v=0\nc=IN IP4 1.2.3.4\nt=0 0\nm=audio 4000 RTP/SAVP 0\n" + key + "\n"));
  ASSERT_TRUE(sdp);
  auto out = filter_offer(*sdp, kDefaultCodecs);
  ASSERT_TRUE(out) << out.error().message;
  anchor(*out, "10.0.0.1", 10000);
  auto text = out->to_string();
  EXPECT_NE(text.find("m=audio 10000 RTP/SAVP 0\r\n"), std::string::npos) << text;
  EXPECT_NE(text.find(key + "\r\n"), std::string::npos) << text;
  ASSERT_EQ(sdes_keys(*out->audio()).size(), 1u);
  EXPECT_EQ(sdes_keys(*out->audio())[0].key_base64, "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR");

  auto dtls = parse_sdp(crlf("v=0\nc=IN IP4 1.2.3.4\nt=0 0\nm=audio 4000 UDP/TLS/RTP/SAVPF 0\n"
                             "a=fingerprint:sha-256 AB:CD\n"));
  ASSERT_TRUE(dtls);
  EXPECT_FALSE(filter_offer(*dtls, kDefaultCodecs));
  auto unknown = parse_sdp(crlf("v=0\nc=IN IP4 1.2.3.4\nt=0 0\nm=audio 4000 RTP/SAVP 0\n"
                                "a=crypto:1 F8_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR\n"));
  ASSERT_TRUE(unknown);
  EXPECT_FALSE(filter_offer(*unknown, kDefaultCodecs));
}

// The o= version raised for a party that saw an SDP of Dialtone's own.
TEST(Sdp, OriginVersionIsRaised) {
  EXPECT_EQ(raise_origin_version("v=0\r\no=- 5 7 IN IP4 1.2.3.4\r\ns=-\r\n", 2),
            "v=0\r\no=- 5 9 IN IP4 1.2.3.4\r\ns=-\r\n");
  EXPECT_EQ(raise_origin_version("v=0\r\no=- 5 7 IN IP4 1.2.3.4\r\n", 0), "v=0\r\no=- 5 7 IN IP4 1.2.3.4\r\n");
  EXPECT_EQ(raise_origin_version("v=0\r\no=- 5 x IN IP4 1.2.3.4\r\n", 1), "v=0\r\no=- 5 x IN IP4 1.2.3.4\r\n");
  EXPECT_EQ(raise_origin_version("v=0\r\n", 1), "v=0\r\n");
}

TEST(Sdp, AnswerKeepsOnlyWhatWasOffered) {
  auto offer = filter_offer(*parse_sdp(kYealink), {"pcma", "telephone-event"});
  ASSERT_TRUE(offer);
  auto answer = parse_sdp(crlf("v=0\no=- 5 5 IN IP4 10.1.1.1\ns=-\nc=IN IP4 10.1.1.1\nt=0 0\n"
                               "m=audio 30000 RTP/AVP 0 8 101\na=rtpmap:0 PCMU/8000\n"
                               "a=rtpmap:8 PCMA/8000\na=rtpmap:101 telephone-event/8000\n"
                               "a=fmtp:101 0-16\n"));
  ASSERT_TRUE(answer);
  auto out = filter_answer(*answer, *offer);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(out->audio()->formats, (std::vector<std::string>{"8", "101"}));
  EXPECT_EQ(out->to_string().find("PCMU"), std::string::npos);
  EXPECT_NE(out->to_string().find("a=fmtp:101 0-16"), std::string::npos);

  auto g729 = parse_sdp(crlf("v=0\nc=IN IP4 10.1.1.1\nt=0 0\nm=audio 30000 RTP/AVP 18\n"));
  ASSERT_TRUE(g729);
  EXPECT_FALSE(filter_answer(*g729, *offer));
}

TEST(Sdp, AnchorPointsTheAudioAtTheRelay) {
  auto sdp = filter_offer(*parse_sdp(kLinphone), kDefaultCodecs);
  ASSERT_TRUE(sdp);
  anchor(*sdp, "203.0.113.5", 12000);
  auto text = sdp->to_string();
  EXPECT_NE(text.find("o=alice 3102 1234 IN IP4 203.0.113.5\r\n"), std::string::npos) << text;
  EXPECT_NE(text.find("c=IN IP4 203.0.113.5\r\n"), std::string::npos);
  EXPECT_EQ(text.find("2001:db8"), std::string::npos) << "the phone's address leaks: " << text;
  EXPECT_NE(text.find("m=audio 12000 RTP/AVP 0 8 99\r\n"), std::string::npos);
  EXPECT_EQ(text.find("a=rtcp:7079"), std::string::npos);  // RTCP is port+1 on the relay
  EXPECT_NE(text.find("a=ptime:20"), std::string::npos);
  auto addr = audio_address(*sdp);
  ASSERT_TRUE(addr);
  EXPECT_EQ(addr->rtcp_port, 12001);
}

TEST(Sdp, AnchorKeepsDirectionAndMediaLevelConnection) {
  auto sdp = filter_offer(*parse_sdp(kPolycom), kDefaultCodecs);
  ASSERT_TRUE(sdp);
  anchor(*sdp, "::1", 14000);
  auto text = sdp->to_string();
  EXPECT_NE(text.find("m=audio 14000 RTP/AVP 9 0 8 127\r\nc=IN IP6 ::1\r\n"), std::string::npos) << text;
  EXPECT_NE(text.find("a=sendonly"), std::string::npos);
  EXPECT_EQ(text.find("10.0.0.20"), std::string::npos);
}

TEST(Sdp, ReadsTheRtcpAttribute) {
  auto sdp = parse_sdp(kLinphone);
  ASSERT_TRUE(sdp);
  auto addr = audio_address(*sdp);
  ASSERT_TRUE(addr);
  EXPECT_EQ(addr->ip, "2001:db8::10");
  EXPECT_EQ(addr->rtcp_port, 7079);
}

TEST(Sdp, CodecListIsChecked) {
  auto ok = parse_codecs({"PCMA", "pcmu", "telephone-event"});
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, (std::vector<std::string>{"pcma", "pcmu", "telephone-event"}));
  auto bad = parse_codecs({"pcmu", "g729"});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("g729"), std::string::npos);
  ASSERT_TRUE(parse_codecs({"opus"}));
  EXPECT_FALSE(parse_codecs({"telephone-event"}));
}

}  // namespace
}  // namespace dialtone::plugins::backend::sip
