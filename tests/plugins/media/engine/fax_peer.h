// A fax machine for tests: spandsp's T.30 sender (fax_tx/fax_rx, the calling
// side) speaking G.711 over RTP from its own UDP socket, paced in real time,
// and the TIFF documents it sends.
#pragma once

#include <netinet/in.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>

#include <dialtone/media.h>

#include "tests/support/loopback_udp.h"

namespace dialtone::testing::media {

// Writes a bilevel fax document of `pages` A4-wide pages (1728 pixels, 204 x
// 98 dpi, G4), each with a few black bars; false when it cannot be written.
bool write_fax_tiff(const std::filesystem::path& file, int pages);
// Pages of a TIFF file (its directories); -1 when it cannot be read.
int tiff_pages(const std::filesystem::path& file);

class FaxPeer {
 public:
  // `document`: the TIFF to send; empty: the peer only answers calls' audio
  // with silence (a phone that is not a fax machine).
  FaxPeer(sdk::media::Codec codec, std::uint8_t pt, std::filesystem::path document);
  ~FaxPeer();

  std::uint16_t port() const { return static_cast<std::uint16_t>(udp_.port()); }
  std::string address() const { return "127.0.0.1:" + std::to_string(udp_.port()); }
  // Starts sending to the endpoint at 127.0.0.1:`port` (and running T.30).
  void start(std::uint16_t port);
  void stop();

  bool done() const { return done_.load(); }
  // T.30's completion code (T30_ERR_OK: 0) once done().
  int result() const { return result_.load(); }
  int pages_sent() const { return pages_sent_.load(); }

 private:
  void run();
  sdk::media::Codec codec_;
  std::uint8_t pt_;
  std::filesystem::path document_;
  LoopbackUdp udp_;
  sockaddr_in remote_{};
  std::atomic<bool> stop_{false}, done_{false};
  std::atomic<int> result_{-1}, pages_sent_{0};
  std::thread thread_;
};

}  // namespace dialtone::testing::media
