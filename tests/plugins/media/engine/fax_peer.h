// Fax machines for tests: spandsp's T.30 sender (the calling side) speaking
// G.711 over RTP (fax_tx/fax_rx) or T.38 over UDPTL (t38_terminal, the
// engine's UDPTL framing) from its own UDP socket, paced in real time, and
// the TIFF documents they send.
#pragma once

#include <netinet/in.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include <dialtone/media.h>

#include "tests/support/loopback_udp.h"

struct t30_state_s;

namespace dialtone::testing::media {

// Writes a bilevel fax document of `pages` A4-wide pages (1728 pixels, 204 x
// 98 dpi, G4), each with a few black bars; false when it cannot be written.
bool write_fax_tiff(const std::filesystem::path& file, int pages);
// Pages of a TIFF file (its directories); -1 when it cannot be read.
int tiff_pages(const std::filesystem::path& file);

// What both machines share: their socket, the thread that paces them (a
// real-time one when the system allows) and the sender's outcome.
class FaxMachine {
 public:
  virtual ~FaxMachine() = default;
  std::uint16_t port() const { return static_cast<std::uint16_t>(udp_.port()); }
  std::string address() const { return "127.0.0.1:" + std::to_string(udp_.port()); }
  // Starts sending to 127.0.0.1:`port` (and running T.30).
  void start(std::uint16_t port);
  void stop();

  bool done() const { return done_.load(); }
  // T.30's completion code (T30_ERR_OK: 0) once done().
  int result() const { return result_.load(); }
  int pages_sent() const { return pages_sent_.load(); }

 protected:
  explicit FaxMachine(std::filesystem::path document) : document_(std::move(document)) {}
  virtual void run() = 0;
  // The thread's loop: every 20 ms until stop(), each datagram received,
  // then one tick.
  void every_20ms(const std::function<void(const std::uint8_t*, int)>& datagram, const std::function<void()>& tick);
  // After a tick of `t30`: done once T.30 ended, with the pages it sent.
  void sent(t30_state_s* t30);
  std::filesystem::path document_;
  LoopbackUdp udp_;
  sockaddr_in remote_{};
  std::atomic<bool> stop_{false}, done_{false};
  std::atomic<int> result_{-1}, pages_sent_{0};
  std::thread thread_;
};

// G.711 over RTP.
class FaxPeer : public FaxMachine {
 public:
  // `document`: the TIFF to send; empty: the peer only answers calls' audio
  // with silence (a phone that is not a fax machine).
  FaxPeer(sdk::media::Codec codec, std::uint8_t pt, std::filesystem::path document);
  ~FaxPeer() override { stop(); }

 private:
  void run() override;
  sdk::media::Codec codec_;
  std::uint8_t pt_;
};

// A T.38 fax gateway's sending side: spandsp's T.38 terminal sending
// `document` in UDPTL datagrams (redundancy 3, as the SDP offer of the tests
// says) to 127.0.0.1:<port>, taking the answers on port().
class T38Peer : public FaxMachine {
 public:
  // `drop_every` > 0: every so many datagrams sent are lost (left unsent),
  // which UDPTL redundancy must cover.
  explicit T38Peer(std::filesystem::path document, int drop_every = 0);
  ~T38Peer() override { stop(); }
  // UDPTL datagrams received from the far end.
  std::uint64_t datagrams_in() const { return datagrams_in_.load(); }

 private:
  void run() override;
  int drop_every_;
  std::atomic<std::uint64_t> datagrams_in_{0};
};

}  // namespace dialtone::testing::media
