// Fax reception in the engine: spandsp's T.30 sender (the FaxPeer, a fax
// machine on its own socket) sends a real document over G.711 RTP to an
// endpoint receiving with receive_fax(); the TIFF written has the pages sent.
// A caller that is no fax machine ends as "not a fax" and leaves no file.
#include <fstream>

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

TEST_F(FaxTest, TwoPageFaxOverG711ArrivesAsATiffOfTwoPages) {
  auto doc = dir_ / "sent.tif";
  ASSERT_TRUE(write_fax_tiff(doc, 2));
  ASSERT_EQ(tiff_pages(doc), 2);
  FaxPeer machine(sm::Codec::pcma, 8, doc);
  auto ep = fax_endpoint(media(), machine, sm::Codec::pcma, 8);
  ASSERT_TRUE(ep);
  Events ev;
  ep->set_handler(ev.handler());
  auto received = dir_ / "faxes" / "in.tif";
  sm::FaxOptions o;
  o.local_id = "Dialtone";
  ASSERT_TRUE(ep->receive_fax(received, o));
  machine.start(ep->local_port());
  // T.30 at its own pace (CED, DIS, training, two pages, DCN): a minute bounds it.
  ASSERT_TRUE(eventually([&] { return ev.count(sm::EventType::fax_done) == 1; }, std::chrono::seconds(90)))
      << "no fax_done; the sender says " << machine.result();
  auto e = *fax_done(ev.all());
  EXPECT_TRUE(e.ok) << e.detail;
  EXPECT_EQ(e.pages, 2);
  EXPECT_EQ(e.detail, received.string());
  EXPECT_EQ(tiff_pages(received), 2);
  EXPECT_FALSE(std::filesystem::exists(received.string() + ".part"));
  ASSERT_TRUE(eventually([&] { return machine.done(); }));
  EXPECT_EQ(machine.result(), 0) << "the sender's T.30 completion code";
  EXPECT_EQ(machine.pages_sent(), 2);
}

TEST_F(FaxTest, CallerThatIsNoFaxMachineEndsAsNotAFaxWithoutFile) {
  FaxPeer phone(sm::Codec::pcmu, 0, {});  // answers with silence
  auto ep = fax_endpoint(media(), phone, sm::Codec::pcmu, 0);
  ASSERT_TRUE(ep);
  Events ev;
  ep->set_handler(ev.handler());
  auto received = dir_ / "in.tif";
  sm::FaxOptions o;
  o.detect_seconds = 2;
  ASSERT_TRUE(ep->receive_fax(received, o));
  phone.start(ep->local_port());
  ASSERT_TRUE(eventually([&] { return ev.count(sm::EventType::fax_done) == 1; }));
  auto e = *fax_done(ev.all());
  EXPECT_FALSE(e.ok);
  EXPECT_EQ(e.pages, 0);
  EXPECT_NE(e.detail.find("not a fax"), std::string::npos) << e.detail;
  EXPECT_FALSE(std::filesystem::exists(received));
  EXPECT_FALSE(std::filesystem::exists(received.string() + ".part"));
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

}  // namespace
}  // namespace dialtone::testing::media
