// Fax reception in the engine, what the end-to-end tests
// (tests/plugins/media/calls/fax_test.cc: a real fax over G.711 and T.38, a
// caller that is no fax machine) do not reach: a spool that cannot be
// written is found before the engine answers with fax tones; UDPTL's
// framing as T.38 writes it, and the recovery of lost datagrams from the
// redundancy of later ones.
#include <fstream>

#include "plugins/media/engine/udptl.h"

#include "tests/plugins/media/engine/fax_peer.h"
#include "tests/plugins/media/engine/media_fixture.h"

namespace dialtone::testing::media {
namespace {

using FaxTest = MediaTest;

std::shared_ptr<sm::Endpoint> fax_endpoint(sm::MediaEngine& engine, FaxPeer& peer, sm::Codec codec, std::uint8_t pt) {
  sm::EndpointConfig c;
  c.formats = {{codec, pt}};
  c.remote = peer.address();
  auto ep = engine.create_endpoint(c);
  EXPECT_TRUE(ep.ok()) << (ep.ok() ? "" : ep.error().message);
  return ep.ok() ? *ep : nullptr;
}

const sm::MediaEvent* fax_done(const std::vector<sm::MediaEvent>& all) {
  for (auto& e : all)
    if (e.type == sm::EventType::fax_done) return &e;
  return nullptr;
}

TEST_F(FaxTest, UnwritableDirectoryIsRefusedBeforeAnswering) {
  FaxPeer phone(sm::Codec::pcmu, 0, {});
  auto ep = fax_endpoint(media(), phone, sm::Codec::pcmu, 0);
  ASSERT_TRUE(ep);
  Events ev;
  ep->set_handler(ev.handler());
  auto blocker = dir_ / "file";
  { std::ofstream(blocker) << "x"; }
  ASSERT_TRUE(ep->receive_fax(blocker / "in.tif", {}));
  ASSERT_TRUE(eventually([&] { return ev.count(sm::EventType::fax_done) == 1; }));
  auto e = *fax_done(ev.all());
  EXPECT_FALSE(e.ok);
  EXPECT_NE(e.detail.find("cannot write"), std::string::npos) << e.detail;
}

using plugins::media::UdptlDecoder;
using plugins::media::UdptlEncoder;

std::vector<std::uint8_t> build(UdptlEncoder& e, std::vector<std::uint8_t> ifp) {
  std::vector<std::uint8_t> out(UdptlEncoder::kMaxDatagram);
  int n = e.build(ifp.data(), static_cast<int>(ifp.size()), out.data());
  out.resize(n < 0 ? 0 : n);
  return out;
}

struct Heard {
  std::vector<std::pair<std::uint16_t, std::vector<std::uint8_t>>> ifps;
  static void sink(void* self, std::uint16_t seq, const std::uint8_t* ifp, int len) {
    static_cast<Heard*>(self)->ifps.emplace_back(seq, std::vector<std::uint8_t>(ifp, ifp + len));
  }
  bool decode(UdptlDecoder& d, const std::vector<std::uint8_t>& datagram) {
    return d.decode(datagram.data(), static_cast<int>(datagram.size()), &Heard::sink, this);
  }
};

TEST(Udptl, DatagramsCarryTheEarlierIfpsNewestFirst) {
  UdptlEncoder e;
  e.configure(400, 2);
  // seq 0, the IFP as an open type (length 2), secondary-ifp-packets, none.
  EXPECT_EQ(build(e, {0x00, 0x01}), (std::vector<std::uint8_t>{0x00, 0x00, 0x02, 0x00, 0x01, 0x00, 0x00}));
  EXPECT_EQ(build(e, {0xAA}), (std::vector<std::uint8_t>{0x00, 0x01, 0x01, 0xAA, 0x00, 0x01, 0x02, 0x00, 0x01}));
  EXPECT_EQ(build(e, {0xBB}),
            (std::vector<std::uint8_t>{0x00, 0x02, 0x01, 0xBB, 0x00, 0x02, 0x01, 0xAA, 0x02, 0x00, 0x01}));
  // Redundancy 2: the oldest drops out.
  EXPECT_EQ(build(e, {0xCC}),
            (std::vector<std::uint8_t>{0x00, 0x03, 0x01, 0xCC, 0x00, 0x02, 0x01, 0xBB, 0x01, 0xAA}));
  // An IFP of 200 octets takes a two-octet length (0x80 | high, low).
  auto big = build(e, std::vector<std::uint8_t>(200, 0x55));
  ASSERT_GT(big.size(), 5u);
  EXPECT_EQ(big[2], 0x80);
  EXPECT_EQ(big[3], 200);
}

TEST(Udptl, LostDatagramsAreRecoveredFromTheNextOneAndRepeatsIgnored) {
  UdptlEncoder e;
  e.configure(400, 3);
  std::vector<std::vector<std::uint8_t>> sent;
  for (std::uint8_t i = 0; i < 6; ++i) sent.push_back(build(e, {0x10, i}));
  UdptlDecoder d;
  Heard h;
  EXPECT_TRUE(h.decode(d, sent[0]));
  EXPECT_TRUE(h.decode(d, sent[3]));  // 1 and 2 lost: carried again by 3
  EXPECT_TRUE(h.decode(d, sent[2]));  // late: delivered already
  EXPECT_TRUE(h.decode(d, sent[4]));
  EXPECT_TRUE(h.decode(d, sent[5]));
  ASSERT_EQ(h.ifps.size(), 6u);
  for (std::uint16_t i = 0; i < 6; ++i) {
    EXPECT_EQ(h.ifps[i].first, i);
    EXPECT_EQ(h.ifps[i].second, (std::vector<std::uint8_t>{0x10, static_cast<std::uint8_t>(i)}));
  }
  EXPECT_EQ(d.recovered(), 2u);
}

TEST(Udptl, MalformedDatagramsAreRefusedWithoutDelivery) {
  UdptlDecoder d;
  Heard h;
  EXPECT_FALSE(h.decode(d, {0x00, 0x01}));                          // too short
  EXPECT_FALSE(h.decode(d, {0x00, 0x01, 0x09, 0x00, 0x01}));        // IFP longer than the datagram
  EXPECT_FALSE(h.decode(d, {0x00, 0x01, 0x01, 0xAA, 0x00, 0x02, 0x05}));  // secondaries cut short
  EXPECT_TRUE(h.ifps.empty());
  EXPECT_EQ(d.malformed(), 3u);
}

}  // namespace
}  // namespace dialtone::testing::media
