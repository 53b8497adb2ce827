// The far end of a span sends malformed Q.931: the test plays the network
// side of the D-channel itself (Q.921 by hand: UA, RR, numbered I-frames),
// feeds the driver's libpri a corpus of broken messages, then a valid
// SETUP, which must still be answered. Nothing crashes, one log line says
// what came in.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "dahdi_host.h"

namespace dialtone::testing {
namespace {

using Bytes = std::vector<std::uint8_t>;

// Network side of LAPD on SAPI 0, TEI 0 (a PRI's D-channel).
class LapdPeer {
 public:
  explicit LapdPeer(int fd) : fd_(fd) {}
  ~LapdPeer() { ::close(fd_); }

  // Reads and answers frames until `done` holds or `limit` passes.
  bool pump(const std::function<bool()>& done, std::chrono::seconds limit = std::chrono::seconds(15)) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() > end) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      std::uint8_t buf[512];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n < 5) continue;
      on_frame(Bytes(buf, buf + n - 2));  // FCS bytes off
    }
    return true;
  }

  // An I-frame carrying `info` (numbered after the link's state).
  void send_i(const Bytes& info) {
    Bytes f{0x02, 0x01, static_cast<std::uint8_t>(vs_ << 1), static_cast<std::uint8_t>(vr_ << 1)};
    f.insert(f.end(), info.begin(), info.end());
    vs_ = (vs_ + 1) % 128;
    raw(f);
  }
  // Any bytes as one frame (FCS room added).
  void raw(Bytes f) {
    f.push_back(0);
    f.push_back(0);
    ASSERT_EQ(::send(fd_, f.data(), f.size(), 0), static_cast<ssize_t>(f.size()));
  }

  bool established() const { return established_; }
  // Q.931 messages the driver sent, in order.
  const std::vector<Bytes>& received() const { return received_; }

 private:
  void on_frame(const Bytes& f) {
    std::uint8_t c = f[2];
    if ((c & 0xef) == 0x6f) {  // SABME: (re)establish, UA with F = P
      vs_ = vr_ = 0;
      established_ = true;
      raw({0x00, 0x01, static_cast<std::uint8_t>(0x63 | (c & 0x10))});
      return;
    }
    if ((c & 0x01) == 0 && f.size() >= 4) {  // I-frame: take it, acknowledge
      vr_ = ((c >> 1) + 1) % 128;
      received_.emplace_back(f.begin() + 4, f.end());
      raw({0x00, 0x01, 0x01, static_cast<std::uint8_t>((vr_ << 1) | (f[3] & 0x01))});
      return;
    }
    if ((c & 0x03) == 0x01 && f.size() >= 4 && (f[3] & 0x01))  // RR/RNR/REJ poll: RR with F
      raw({0x00, 0x01, 0x01, static_cast<std::uint8_t>((vr_ << 1) | 0x01)});
  }
  int fd_;
  int vs_ = 0, vr_ = 0;
  bool established_ = false;
  std::vector<Bytes> received_;
};

Bytes digits(const std::string& s) { return Bytes(s.begin(), s.end()); }

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

TEST(DahdiMalformedTest, BrokenQ931FromTheFarEndNeverStopsTheSpan) {
  DahdiTestHost host;
  auto driver = host.start_dahdi({
      {"span.1.driver", "simulated"}, {"span.1.bchan", "1-15,17-31"}, {"span.1.dchan", "16"},
      {"span.1.signalling", "pri_cpe"}, {"span.1.context", "from-extern"},
  });
  int fd = driver->far_end(1);
  ASSERT_GE(fd, 0);
  LapdPeer peer(fd);
  ASSERT_TRUE(peer.pump([&] { return peer.established() && driver->spans()[0].dchan_up; }));

  std::uint32_t seed = 12345;
  Bytes noise;
  for (int i = 0; i < 200; ++i) noise.push_back(static_cast<std::uint8_t>((seed = seed * 1103515245 + 12345) >> 16));
  const std::vector<Bytes> corpus = {
      {},                                                     // no message at all
      {0x08},                                                 // a header cut short
      {0x09, 0x01, 0x01, 0x05},                               // not Q.931
      {0x08, 0x0f, 0x01, 0x05},                               // call reference of 15 bytes
      {0x08, 0x02, 0x00, 0x01, 0x05, 0x18, 0xc8, 0x83},       // SETUP, channel id claiming 200 bytes
      {0x08, 0x02, 0x00, 0x02, 0x05, 0x04},                   // SETUP, an element without length
      {0x08, 0x02, 0x00, 0x03, 0x05, 0x04, 0x00, 0x18, 0x01, 0xff, 0x70, 0x00},  // empty elements
      {0x08, 0x02, 0x00, 0x04, 0x7f},                         // unknown message type
      {0x08, 0x02, 0x80, 0x09, 0x07},                         // CONNECT for no call
      {0x08, 0x02, 0x00, 0x0a, 0x5a, 0x08, 0x01},             // RELEASE COMPLETE, cause cut short
      {0x08, 0x02, 0x00, 0x0b, 0x7d, 0x14, 0x01, 0xff},       // STATUS, call state 255
      {0x08, 0x01},                                           // call reference length, nothing after
      noise,
  };
  for (auto& m : corpus) peer.send_i(m);
  // Frames that are not even Q.921.
  peer.raw({0x42});
  peer.raw({0xff, 0xff, 0xff, 0xff});
  peer.raw(noise);

  // A valid SETUP (call reference 0x0010) for DID 140001017 (busy in the
  // test dialplan), sending complete.
  const Bytes setup = cat({
      {0x08, 0x02, 0x00, 0x10, 0x05},
      {0xa1},                                   // sending complete
      {0x04, 0x03, 0x80, 0x90, 0xa3},           // bearer: speech, 64 kbit/s, A-law
      {0x18, 0x03, 0xa9, 0x83, 0x81},           // channel 1, exclusive
      {0x6c, 0x0b, 0x21, 0x80}, digits("612345678"),   // calling: national, allowed
      {0x70, 0x0a, 0xa1}, digits("140001017"),         // called: national
  });
  peer.send_i(setup);
  auto has = [&](std::uint8_t type) {
    for (auto& m : peer.received())
      if (m.size() > 4 && m[0] == 0x08 && m[1] == 0x02 && m[2] == 0x80 && m[3] == 0x10 && m[4] == type) return true;
    return false;
  };
  ASSERT_TRUE(peer.pump([&] { return has(0x45); })) << "DISCONNECT for the SETUP's call";  // DISCONNECT
  EXPECT_TRUE(has(0x02)) << "CALL PROCEEDING first";
  for (auto& m : peer.received())
    if (m.size() > 4 && m[4] == 0x45 && m[3] == 0x10) {
      // Cause element 0x08: location octet, then 0x80 | cause.
      auto it = std::find(m.begin() + 5, m.end(), 0x08);
      ASSERT_TRUE(it != m.end() && it + 3 < m.end());
      EXPECT_EQ(*(it + 3) & 0x7f, 17) << "user busy, from the dialplan's 486";
    }
  // Everything sent before the SETUP has been read: the nine messages
  // whose structure is broken were seen as such (the others, well formed
  // but meaningless, are libpri's to refuse).
  EXPECT_GE(driver->spans()[0].malformed, 9u);
  bool routed = false;
  for (auto& l : host.logger().lines()) routed |= l.find("routed busy did=140001017") != std::string::npos;
  EXPECT_TRUE(routed);
  int logged = 0;
  for (auto& l : host.logger().lines()) logged += l.find("malformed Q.931 message from the far end") != std::string::npos;
  EXPECT_EQ(logged, 1) << "one line, however many broken messages";
}

}  // namespace
}  // namespace dialtone::testing
