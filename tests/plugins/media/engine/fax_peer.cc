#include "tests/plugins/media/engine/fax_peer.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <tiffio.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <deque>
#include <vector>

extern "C" {
#include <spandsp.h>
}

#include "plugins/media/engine/udptl.h"

namespace dialtone::testing::media {

namespace sm = sdk::media;

bool write_fax_tiff(const std::filesystem::path& file, int pages) {
  TIFF* t = TIFFOpen(file.c_str(), "w");
  if (!t) return false;
  constexpr int kWidth = 1728, kRows = 240;
  std::vector<std::uint8_t> row(kWidth / 8);
  for (int p = 0; p < pages; ++p) {
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, kWidth);
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, kRows);
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 1);
    TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
    TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_CCITTFAX4);
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISWHITE);
    TIFFSetField(t, TIFFTAG_FILLORDER, FILLORDER_LSB2MSB);
    TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFSetField(t, TIFFTAG_RESOLUTIONUNIT, RESUNIT_INCH);
    TIFFSetField(t, TIFFTAG_XRESOLUTION, 204.0f);
    TIFFSetField(t, TIFFTAG_YRESOLUTION, 98.0f);
    TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, kRows);
    TIFFSetField(t, TIFFTAG_SUBFILETYPE, FILETYPE_PAGE);
    TIFFSetField(t, TIFFTAG_PAGENUMBER, p, pages);
    for (int r = 0; r < kRows; ++r) {
      std::fill(row.begin(), row.end(), 0);
      // A bar per page number, so pages differ.
      if ((r / 20) % 2 == 0)
        for (int b = 0; b <= p; ++b) row[10 + b * 30] = row[11 + b * 30] = 0xFF;
      if (TIFFWriteScanline(t, row.data(), r, 0) < 0) {
        TIFFClose(t);
        return false;
      }
    }
    TIFFWriteDirectory(t);
  }
  TIFFClose(t);
  return true;
}

int tiff_pages(const std::filesystem::path& file) {
  TIFFSetWarningHandler(nullptr);
  TIFF* t = TIFFOpen(file.c_str(), "r");
  if (!t) return -1;
  int n = TIFFNumberOfDirectories(t);
  TIFFClose(t);
  return n;
}

void FaxMachine::start(std::uint16_t port) {
  remote_ = loopback_address(port);
  thread_ = std::thread([this] { run(); });
}

void FaxMachine::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

FaxPeer::FaxPeer(sm::Codec codec, std::uint8_t pt, std::filesystem::path document)
    : FaxMachine(std::move(document)), codec_(codec), pt_(pt) {}

namespace {
void on_phase_e(t30_state_t*, void* self, int code) { *static_cast<std::atomic<int>*>(self) = code; }

// The sending machine's T.30: `document`, ECM, V.17 and below, every coding.
void configure_sender(t30_state_t* t30, const std::filesystem::path& document, std::atomic<int>* result) {
  t30_set_tx_file(t30, document.c_str(), -1, -1);
  t30_set_tx_ident(t30, "+33 1 23 45 67 89");
  t30_set_ecm_capability(t30, 1);
  t30_set_supported_modems(t30, T30_SUPPORT_V27TER | T30_SUPPORT_V29 | T30_SUPPORT_V17);
  t30_set_supported_compressions(t30, T30_SUPPORT_T4_1D_COMPRESSION | T30_SUPPORT_T4_2D_COMPRESSION |
                                          T30_SUPPORT_T6_COMPRESSION);
  t30_set_phase_e_handler(t30, &on_phase_e, result);
}

// A fax machine keeps time; on a loaded test machine only a real-time
// thread does (refused without CAP_SYS_NICE: then it tries its best).
void keep_time() {
  sched_param sp{};
  sp.sched_priority = 8;
  (void)pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
}
}  // namespace

void FaxMachine::every_20ms(const std::function<void(const std::uint8_t*, int)>& datagram,
                            const std::function<void()>& tick) {
  keep_time();
  auto next = std::chrono::steady_clock::now();
  std::uint8_t buf[1500];
  while (!stop_) {
    next += std::chrono::milliseconds(20);
    std::this_thread::sleep_until(next);
    for (ssize_t n; (n = ::recv(udp_.fd(), buf, sizeof buf, MSG_DONTWAIT)) > 0;) datagram(buf, static_cast<int>(n));
    tick();
  }
}

void FaxMachine::sent(t30_state_t* t30) {
  if (done_ || result_ < 0) return;
  t30_stats_t st{};
  t30_get_transfer_statistics(t30, &st);
  pages_sent_ = st.pages_tx;
  done_ = true;
}

void FaxPeer::run() {
  fax_state_t* fax = nullptr;
  if (!document_.empty()) {
    fax = fax_init(nullptr, 1);  // the calling side
    fax_set_transmit_on_idle(fax, 1);
    configure_sender(fax_get_t30_state(fax), document_, &result_);
  }
  std::deque<std::int16_t> heard;
  bool playing = false;
  std::uint16_t seq = 100;
  std::uint32_t ts = 1000, ssrc = 0x5a5a1234;
  auto rtp = [&](const std::uint8_t* buf, int n) {
    int off = 12 + 4 * (buf[0] & 0x0F);
    if (n < 12 || (buf[1] & 0x7F) != pt_ || n <= off) return;
    for (int i = off; i < n; ++i)
      heard.push_back(codec_ == sm::Codec::pcma ? alaw_to_linear(buf[i]) : ulaw_to_linear(buf[i]));
  };
  every_20ms(rtp, [&] {
    std::int16_t in[160]{}, out[160]{};
    // Packets arrive on the sender's clock, not ours: start (and restart
    // after running dry) with a few frames in hand so that none is cut.
    if (heard.size() >= 10 * 160) playing = true;
    if (heard.size() < 160) playing = false;
    if (playing) {
      for (auto& s : in) {
        s = heard.front();
        heard.pop_front();
      }
    }
    if (fax && !done_) {
      fax_rx(fax, in, 160);
      fax_tx(fax, out, 160);
      sent(fax_get_t30_state(fax));
    }
    std::uint8_t pkt[12 + 160];
    pkt[0] = 0x80;
    pkt[1] = pt_;
    pkt[2] = static_cast<std::uint8_t>(seq >> 8);
    pkt[3] = static_cast<std::uint8_t>(seq);
    for (int i = 0; i < 4; ++i) pkt[4 + i] = static_cast<std::uint8_t>(ts >> (24 - 8 * i));
    for (int i = 0; i < 4; ++i) pkt[8 + i] = static_cast<std::uint8_t>(ssrc >> (24 - 8 * i));
    for (int i = 0; i < 160; ++i) pkt[12 + i] = codec_ == sm::Codec::pcma ? linear_to_alaw(out[i]) : linear_to_ulaw(out[i]);
    ++seq;
    ts += 160;
    ::sendto(udp_.fd(), pkt, sizeof pkt, 0, reinterpret_cast<sockaddr*>(&remote_), sizeof remote_);
  });
  if (fax) fax_free(fax);
}

T38Peer::T38Peer(std::filesystem::path document, int drop_every)
    : FaxMachine(std::move(document)), drop_every_(drop_every) {}

namespace {
struct T38Link {
  plugins::media::UdptlEncoder tx;
  plugins::media::UdptlDecoder rx;
  int fd = -1;
  sockaddr_in remote{};
  int drop_every = 0;
  std::uint64_t sent = 0;
  t38_core_state_t* core = nullptr;
};

int t38_send(t38_core_state_t*, void* user, const std::uint8_t* buf, int len, int) {
  auto* l = static_cast<T38Link*>(user);
  std::uint8_t out[plugins::media::UdptlEncoder::kMaxDatagram];
  int n = l->tx.build(buf, len, out);
  if (n <= 0) return -1;
  if (l->drop_every > 0 && ++l->sent % l->drop_every == 0) return 0;  // lost on the way
  ::sendto(l->fd, out, n, 0, reinterpret_cast<const sockaddr*>(&l->remote), sizeof l->remote);
  return 0;
}

void t38_heard(void* user, std::uint16_t seq, const std::uint8_t* ifp, int len) {
  t38_core_rx_ifp_packet(static_cast<T38Link*>(user)->core, ifp, len, seq);
}
}  // namespace

void T38Peer::run() {
  T38Link link;
  link.fd = udp_.fd();
  link.remote = remote_;
  link.drop_every = drop_every_;
  link.tx.configure(400, 3);
  t38_terminal_state_t* t38 = t38_terminal_init(nullptr, 1, &t38_send, &link);  // the calling side
  link.core = t38_terminal_get_t38_core_state(t38);
  t38_set_t38_version(link.core, 0);
  t38_set_data_rate_management_method(link.core, T38_DATA_RATE_MANAGEMENT_LOCAL_TCF);
  t38_set_max_datagram_size(link.core, 400);
  for (int category = T38_PACKET_CATEGORY_INDICATOR; category <= T38_PACKET_CATEGORY_IMAGE_DATA_END; ++category)
    t38_set_redundancy_control(link.core, category, 1);
  configure_sender(t38_terminal_get_t30_state(t38), document_, &result_);
  every_20ms(
      [&](const std::uint8_t* buf, int n) {
        ++datagrams_in_;
        link.rx.decode(buf, n, &t38_heard, &link);
      },
      [&] {
        if (done_) return;
        t38_terminal_send_timeout(t38, 160);
        sent(t38_terminal_get_t30_state(t38));
      });
  t38_terminal_free(t38);
}

}  // namespace dialtone::testing::media
