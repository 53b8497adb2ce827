// Fax reception in the engine, what the end-to-end tests
// (tests/plugins/media/calls/fax_test.cc: a real fax, a caller that is no
// fax machine) do not reach: a spool that cannot be written is found before
// the engine answers with fax tones.
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
