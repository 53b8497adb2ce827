// The RTP relay with real UDP sockets on 127.0.0.1.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "plugins/backend/sip/rtp_relay.h"
#include "plugins/backend/sip/sdp.h"
#include "tests/support/eventually.h"
#include "tests/support/loopback_udp.h"

namespace dialtone::plugins::backend::sip {
namespace {

// A phone's RTP or RTCP socket.
using Peer = dialtone::testing::LoopbackUdp;
using dialtone::testing::eventually;

std::string rtp(std::uint16_t seq, std::uint32_t ssrc = 0x11223344, const std::string& payload = "voice") {
  std::string p(12, '\0');
  p[0] = static_cast<char>(0x80);
  p[1] = 8;  // PCMA
  p[2] = static_cast<char>(seq >> 8);
  p[3] = static_cast<char>(seq & 0xff);
  std::memcpy(&p[8], &ssrc, 4);
  return p + payload;
}

// An RTCP sender report (packet type 200): what a muxed port tells from RTP.
std::string rtcp(const std::string& body) {
  std::string p(8, '\0');
  p[0] = static_cast<char>(0x80);
  p[1] = static_cast<char>(200);
  return p + body;
}

// A range per test process, so parallel runs rarely meet (busy ports are skipped anyway).
RelayConfig config(int pairs = 16) {
  static std::mt19937 rng{std::random_device{}()};
  RelayConfig c;
  c.bind = "127.0.0.1";
  c.port_min = 20000 + static_cast<int>(rng() % 20000) * 2;
  c.port_max = c.port_min + pairs * 2 - 1;
  return c;
}

std::size_t open_fds() {
  std::size_t n = 0;
  for (auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    (void)e;
    ++n;
  }
  return n;
}

TEST(RtpRelay, ForwardsRtpAndRtcpBothWays) {
  RtpRelay relay(config());
  ASSERT_TRUE(relay.start());
  auto s = relay.allocate();
  ASSERT_TRUE(s) << s.error().message;
  auto [id, ports] = *s;
  EXPECT_EQ(ports.a % 2, 0);
  EXPECT_EQ(ports.b % 2, 0);
  Peer a, a_rtcp, b, b_rtcp;
  relay.set_remote(id, MediaLeg::b, "127.0.0.1", b.port(), b_rtcp.port());

  a.send_to(ports.a, rtp(1));
  int from = 0;
  EXPECT_EQ(b.receive(5000, &from), rtp(1));
  EXPECT_EQ(from, ports.b);  // B sees the relay, not A

  // A latched on its first packet: B's answer goes back to where A sent from.
  b.send_to(ports.b, rtp(7, 0x55));
  EXPECT_EQ(a.receive(5000, &from), rtp(7, 0x55));
  EXPECT_EQ(from, ports.a);

  a_rtcp.send_to(ports.a + 1, "rtcp-from-a");
  EXPECT_EQ(b_rtcp.receive(5000, &from), "rtcp-from-a");
  EXPECT_EQ(from, ports.b + 1);
  b_rtcp.send_to(ports.b + 1, "rtcp-from-b");
  EXPECT_EQ(a_rtcp.receive(5000, &from), "rtcp-from-b");

  auto st = relay.stats(id);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->a.packets_in, 1u);
  EXPECT_EQ(st->a.packets_out, 1u);
  EXPECT_EQ(st->b.packets_in, 1u);
  EXPECT_EQ(st->b.packets_out, 1u);
  EXPECT_EQ(st->a.bytes_in, rtp(1).size());
  EXPECT_EQ(st->a.rtcp_in, 1u);
  EXPECT_EQ(st->b.rtcp_out, 1u);
  EXPECT_EQ(st->b.rtcp_in, 1u);
}

TEST(RtpRelay, EstimatesLossFromSequenceGaps) {
  RtpRelay relay(config());
  ASSERT_TRUE(relay.start());
  auto s = relay.allocate();
  ASSERT_TRUE(s);
  Peer a, b;
  relay.set_remote(s->first, MediaLeg::b, "127.0.0.1", b.port(), b.port() + 1);
  for (std::uint16_t seq : {65534, 65535, 0, 3, 4}) {  // wraps; 1 and 2 missing
    a.send_to(s->second.a, rtp(seq));
    ASSERT_FALSE(b.receive().empty());
  }
  auto st = relay.stats(s->first);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->a.packets_in, 5u);
  EXPECT_EQ(st->a.lost, 2u);
}

TEST(RtpRelay, RelatchesToANewSourceOnlyAfterAQuietPeriod) {
  auto cfg = config();
  cfg.relatch_quiet = std::chrono::milliseconds(1500);
  RtpRelay relay(cfg);
  ASSERT_TRUE(relay.start());
  auto s = relay.allocate();
  ASSERT_TRUE(s);
  auto [id, ports] = *s;
  Peer a_old, a_new, b;
  relay.set_remote(id, MediaLeg::b, "127.0.0.1", b.port(), b.port() + 1);

  a_old.send_to(ports.a, rtp(1));
  ASSERT_EQ(b.receive(), rtp(1));
  // A stray source while the latched one is talking is dropped.
  a_new.send_to(ports.a, rtp(100, 0x99));
  ASSERT_TRUE(eventually([&] { return relay.stats(id)->a.dropped == 1; }));
  b.send_to(ports.b, rtp(1, 0x55));
  EXPECT_EQ(a_old.receive(), rtp(1, 0x55));

  // The NAT rebinds: the old source falls silent, the new one takes over.
  std::this_thread::sleep_for(std::chrono::milliseconds(1800));
  a_new.send_to(ports.a, rtp(2));
  EXPECT_EQ(b.receive(), rtp(2));
  b.send_to(ports.b, rtp(2, 0x55));
  EXPECT_EQ(a_new.receive(), rtp(2, 0x55));
  EXPECT_TRUE(a_old.receive(200).empty());
  EXPECT_EQ(relay.stats(id)->a.relatched, 1u);
}

TEST(RtpRelay, ThousandCallsLeaveThePoolFull) {
  RtpRelay relay(config(8));
  ASSERT_TRUE(relay.start());
  MediaConfig mc;
  mc.relay.bind = "127.0.0.1";
  Peer a, b;
  auto fds = open_fds();
  std::string offer = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
                      "m=audio " + std::to_string(a.port()) + " RTP/AVP 8 0\r\n";
  std::string answer = "v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
                       "m=audio " + std::to_string(b.port()) + " RTP/AVP 8\r\n";
  for (int i = 0; i < 1000; ++i) {
    CallMedia call(&relay, mc, false, "c" + std::to_string(i), nullptr);
    // Callers with and without rtcp-mux, callees accepting it or not: the
    // pool splits pairs and joins them again.
    bool mux_a = i % 4 >= 2, mux_b = i % 5 >= 2;
    ASSERT_TRUE(call.offer(MediaLeg::a, mux_a ? offer + "a=rtcp-mux\r\n" : offer));
    if (i % 3 == 0) continue;  // CANCEL before any answer
    ASSERT_TRUE(call.answer(MediaLeg::b, mux_b ? answer + "a=rtcp-mux\r\n" : answer));
    if (i % 3 == 1) a.send_to(call.ports()->a, rtp(static_cast<std::uint16_t>(i)));
  }
  EXPECT_EQ(relay.sessions(), 0u);
  EXPECT_TRUE(eventually([&] { return relay.free_pairs() == relay.capacity() && open_fds() == fds; }))
      << relay.free_pairs() << " of " << relay.capacity() << " pairs free";
}

TEST(RtpRelay, ExhaustedRangeGives503) {
  RtpRelay relay(config(4));  // two calls' worth
  ASSERT_TRUE(relay.start());
  ASSERT_TRUE(relay.allocate());
  ASSERT_TRUE(relay.allocate());
  auto third = relay.allocate();
  ASSERT_FALSE(third);
  EXPECT_EQ(media_error_status(third.error()), 503);
  EXPECT_NE(third.error().message.find("rtp.port_max"), std::string::npos);
}

TEST(RtpRelay, MuxedLegCarriesRtcpOnItsRtpPort) {
  RtpRelay relay(config());
  ASSERT_TRUE(relay.start());
  auto s = relay.allocate(true, false);  // A muxes RTCP, B does not
  ASSERT_TRUE(s) << s.error().message;
  auto [id, ports] = *s;
  EXPECT_TRUE(ports.mux_a);
  EXPECT_FALSE(ports.mux_b);
  Peer a, b, b_rtcp;
  relay.set_remote(id, MediaLeg::a, "127.0.0.1", a.port(), a.port());
  relay.set_remote(id, MediaLeg::b, "127.0.0.1", b.port(), b_rtcp.port());
  int from = 0;
  a.send_to(ports.a, rtp(1));
  EXPECT_EQ(b.receive(5000, &from), rtp(1));
  EXPECT_EQ(from, ports.b);
  // A's RTCP on its one port goes out of B's RTCP port, and back.
  a.send_to(ports.a, rtcp("sr-a"));
  EXPECT_EQ(b_rtcp.receive(5000, &from), rtcp("sr-a"));
  EXPECT_EQ(from, ports.b + 1);
  b_rtcp.send_to(ports.b + 1, rtcp("sr-b"));
  EXPECT_EQ(a.receive(5000, &from), rtcp("sr-b"));
  EXPECT_EQ(from, ports.a);
  b.send_to(ports.b, rtp(9, 0x55));
  EXPECT_EQ(a.receive(5000, &from), rtp(9, 0x55));
  auto st = relay.stats(id);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->a.packets_in, 1u);
  EXPECT_EQ(st->a.rtcp_in, 1u);
  EXPECT_EQ(st->a.lost, 0u) << "RTCP counted as RTP";
  EXPECT_EQ(st->b.rtcp_out, 1u);
  EXPECT_EQ(st->b.rtcp_in, 1u);
  EXPECT_EQ(st->a.rtcp_out, 1u);
}

TEST(RtpRelay, CallsWithRtcpMuxTakeTwoPortsEach) {
  RtpRelay relay(config(4));  // 8 ports: two calls without rtcp-mux
  ASSERT_TRUE(relay.start());
  std::vector<RtpRelay::SessionId> ids;
  for (int i = 0; i < 4; ++i) {
    auto s = relay.allocate(true, true);
    ASSERT_TRUE(s) << "call " << i << ": " << s.error().message;
    EXPECT_NE(s->second.a, s->second.b);
    ids.push_back(s->first);
  }
  auto fifth = relay.allocate(true, true);
  ASSERT_FALSE(fifth);
  EXPECT_EQ(media_error_status(fifth.error()), 503);
  for (auto id : ids) relay.release(id);
  // The single ports joined their pairs again: a call without rtcp-mux fits.
  EXPECT_TRUE(eventually([&] { return relay.free_pairs() == relay.capacity(); }));
  EXPECT_TRUE(relay.allocate());
  EXPECT_TRUE(relay.allocate());
}

TEST(RtpRelay, BadBindAddressIsNamed) {
  RelayConfig c = config();
  c.bind = "not-an-ip";
  RtpRelay relay(c);
  auto s = relay.start();
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("rtp.bind"), std::string::npos);
}

TEST(CallMedia, AnchorsOfferAndAnswerAndMediaFlows) {
  RtpRelay relay(config());
  ASSERT_TRUE(relay.start());
  MediaConfig mc;
  mc.relay.bind = "127.0.0.1";
  CallMedia call(&relay, mc, false, "call", nullptr);
  Peer a, b;
  auto to_b = call.offer(MediaLeg::a,
                         "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
                         "m=audio " + std::to_string(a.port()) + " RTP/AVP 18 8 101\r\n"
                         "a=rtpmap:101 telephone-event/8000\r\n");
  ASSERT_TRUE(to_b) << to_b.error().message;
  auto ports = *call.ports();
  EXPECT_NE(to_b->find("m=audio " + std::to_string(ports.b) + " RTP/AVP 8 101\r\n"), std::string::npos) << *to_b;
  auto to_a = call.answer(MediaLeg::b,
                          "v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
                          "m=audio " + std::to_string(b.port()) + " RTP/AVP 8\r\n");
  ASSERT_TRUE(to_a) << to_a.error().message;
  EXPECT_NE(to_a->find("m=audio " + std::to_string(ports.a) + " RTP/AVP 8\r\n"), std::string::npos) << *to_a;

  // Both addresses came from SDP: either side may talk first.
  b.send_to(ports.b, rtp(1, 0x55));
  EXPECT_EQ(a.receive(), rtp(1, 0x55));
  a.send_to(ports.a, rtp(1));
  EXPECT_EQ(b.receive(), rtp(1));
  call.release();
  // Ports come back at once, or as soon as the relay thread is done with them.
  EXPECT_TRUE(eventually([&] { return relay.free_pairs() == relay.capacity(); }));
  EXPECT_EQ(relay.totals().a.packets_in, 1u);
}

TEST(CallMedia, RtcpMuxIsOfferedToTheCalleeAndItsRtcpPortGoesBack) {
  RtpRelay relay(config(4));
  ASSERT_TRUE(relay.start());
  MediaConfig mc;
  mc.relay.bind = "127.0.0.1";
  Peer a, b;
  auto offer = [&](bool mux) {
    return "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
           "m=audio " + std::to_string(a.port()) + " RTP/AVP 8\r\n" + (mux ? "a=rtcp-mux\r\n" : "");
  };
  auto answer = [&](bool mux) {
    return "v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
           "m=audio " + std::to_string(b.port()) + " RTP/AVP 8\r\n" + (mux ? "a=rtcp-mux\r\n" : "");
  };
  {
    CallMedia call(&relay, mc, false, "mux", nullptr);
    auto to_b = call.offer(MediaLeg::a, offer(true));
    ASSERT_TRUE(to_b) << to_b.error().message;
    EXPECT_NE(to_b->find("a=rtcp-mux\r\n"), std::string::npos) << *to_b;
    EXPECT_TRUE(call.ports()->mux_a);
    EXPECT_FALSE(call.ports()->mux_b) << "B's RTCP port is held until B answers";
    EXPECT_EQ(relay.free_pairs(), relay.capacity() - 2);
    auto to_a = call.answer(MediaLeg::b, answer(true));
    ASSERT_TRUE(to_a) << to_a.error().message;
    EXPECT_NE(to_a->find("a=rtcp-mux\r\n"), std::string::npos) << *to_a;
    auto ports = *call.ports();
    EXPECT_TRUE(ports.mux_b);
    // Two ports held: the other halves wait as single ports for the next call.
    CallMedia second(&relay, mc, false, "mux-2", nullptr);
    ASSERT_TRUE(second.offer(MediaLeg::a, offer(true)));
    EXPECT_EQ(relay.free_pairs(), relay.capacity() - 3) << "A took a single port";
    // RTCP both ways on the RTP ports.
    int from = 0;
    a.send_to(ports.a, rtcp("sr-a"));
    EXPECT_EQ(b.receive(5000, &from), rtcp("sr-a"));
    EXPECT_EQ(from, ports.b);
    b.send_to(ports.b, rtcp("sr-b"));
    EXPECT_EQ(a.receive(5000, &from), rtcp("sr-b"));
    EXPECT_EQ(from, ports.a);
  }
  EXPECT_TRUE(eventually([&] { return relay.free_pairs() == relay.capacity(); }));
  {
    // A callee that does not take rtcp-mux keeps RTCP on RTP+1; the caller's
    // leg stays muxed.
    CallMedia call(&relay, mc, false, "half", nullptr);
    ASSERT_TRUE(call.offer(MediaLeg::a, offer(true)));
    auto to_a = call.answer(MediaLeg::b, answer(false));
    ASSERT_TRUE(to_a);
    EXPECT_NE(to_a->find("a=rtcp-mux\r\n"), std::string::npos) << *to_a;
    EXPECT_FALSE(call.ports()->mux_b);
  }
  {
    // A caller without rtcp-mux keeps its pair; the callee is offered
    // rtcp-mux all the same, and its RTCP port goes back when it takes it.
    CallMedia call(&relay, mc, false, "plain", nullptr);
    auto to_b = call.offer(MediaLeg::a, offer(false));
    ASSERT_TRUE(to_b);
    EXPECT_NE(to_b->find("a=rtcp-mux\r\n"), std::string::npos) << *to_b;
    auto to_a = call.answer(MediaLeg::b, answer(true));
    ASSERT_TRUE(to_a);
    EXPECT_EQ(to_a->find("rtcp-mux"), std::string::npos) << *to_a;
    EXPECT_FALSE(call.ports()->mux_a);
    EXPECT_TRUE(call.ports()->mux_b);
    EXPECT_EQ(relay.free_pairs(), relay.capacity() - 2) << "A's pair and B's single port";
  }
  EXPECT_TRUE(eventually([&] { return relay.free_pairs() == relay.capacity(); }));
}

TEST(CallMedia, NoCommonCodecGives488AndTakesNoPorts) {
  RtpRelay relay(config());
  ASSERT_TRUE(relay.start());
  MediaConfig mc;
  mc.codecs = {"pcmu"};
  CallMedia call(&relay, mc, false, "call", nullptr);
  auto r = call.offer(MediaLeg::a, "v=0\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 8 9\r\n");
  ASSERT_FALSE(r);
  EXPECT_EQ(media_error_status(r.error()), 488);
  EXPECT_EQ(relay.free_pairs(), relay.capacity());
}

TEST(CallMedia, DirectMediaPassesSdpUnchanged) {
  RtpRelay relay(config());
  ASSERT_TRUE(relay.start());
  CallMedia call(&relay, MediaConfig{}, true, "call", nullptr);
  std::string sdp = "v=0\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 18\r\n";
  EXPECT_EQ(*call.offer(MediaLeg::a, sdp), sdp);
  EXPECT_EQ(*call.answer(MediaLeg::b, sdp), sdp);
  EXPECT_EQ(relay.free_pairs(), relay.capacity());
}

TEST(CallMedia, DirectMediaLineOption) {
  EXPECT_EQ(direct_media_option(R"([["direct_media","yes"],["nat","force_rport"]])"), true);
  EXPECT_EQ(direct_media_option(R"([["direct_media","no"]])"), false);
  EXPECT_EQ(direct_media_option(R"({"direct_media":true})"), true);
  EXPECT_EQ(direct_media_option(R"({"direct_media":"ON"})"), true) << "read as conf.d reads a boolean";
  EXPECT_EQ(direct_media_option(R"([["direct_media","maybe"]])"), std::nullopt);
  EXPECT_EQ(direct_media_option("[]"), std::nullopt);
  EXPECT_EQ(direct_media_option("not json"), std::nullopt);
}

}  // namespace
}  // namespace dialtone::plugins::backend::sip
