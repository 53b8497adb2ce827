// A real softphone for tests: baresip (Debian baresip-core) with a tone as
// its microphone (aufile), what it hears recorded by sndfile, and its console
// (cons, UDP) to drive it during the call ("/sndcode *3" sends DTMF).
//
// @code
//   if (!BaresipPhone::available()) GTEST_SKIP() << "baresip not installed";
//   BaresipPhone alice({.user = "alice", .password = "alicepw", .server_port = sip_port,
//                       .console_port = free_port(), .mic_hz = 600,
//                       .exten = "810"});                          // dials 810 at once
//   eventually([&] { return loud_samples(alice.heard_so_far(), 8000) >= 16000; });
//   alice.command("/sndcode *3");
//   alice.stop();                                                // hangs up
// @endcode
// Without `exten` it dials nothing and answers what reaches its listen_port
// (register that contact for it); `mediaenc = "srtp-mand"` makes it offer and
// accept SRTP (RTP/SAVP, SDES keys) only; `audio_codecs = "opus/48000/2"` Opus only
// (what it heard is then written at 48 kHz).
#pragma once

#include <signal.h>
#include <sndfile.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <cmath>

#include "tests/support/udp_ports.h"

namespace dialtone::testing {

struct BaresipOptions {
  std::string user{};
  std::string password{};  // empty: no digest (a peer trunk recognized by address)
  int server_port = 0;   // Dialtone's SIP port on 127.0.0.1
  int listen_port = 0;   // baresip's own SIP port (the trunk's port); 0: free_listen_port()
  int console_port = 0;  // its UDP console (command())
  double mic_hz = 600;   // its microphone: this tone, 20 s, looped
  std::string exten{};   // dialed at once; empty: it answers calls by itself
  int max_seconds = 60;  // it hangs up by itself after that
  std::string mediaenc{};  // "srtp-mand": SRTP with SDES keys (RTP/SAVP) only
  std::string audio_codecs = "PCMU";  // what it offers and accepts: PCMU, opus/48000/2 ...
};

class BaresipPhone {
 public:
  static std::filesystem::path binary() {
    for (const char* dir : {"/usr/bin", "/usr/local/bin"})
      if (std::filesystem::exists(std::filesystem::path(dir) / "baresip")) return std::filesystem::path(dir) / "baresip";
    return {};
  }
  static bool available() { return !binary().empty(); }

  // A port for `listen_port`. baresip listens on it (UDP and TCP) and on the
  // next one for TLS, which it cannot be told to leave out: both must be
  // free, or it fails to start. Taken below the kernel's ephemeral range
  // (32768 and up) and above the SIPp media ports (up to 32703), so an
  // outgoing connection of a test running in parallel never lands on either
  // between this check and baresip's bind.
  static int free_listen_port() {
    static unsigned seed = static_cast<unsigned>(::getpid());
    for (int attempt = 0; attempt < 200; ++attempt) {
      int p = 32704 + 2 * static_cast<int>(::rand_r(&seed) % 31);
      if (port_free(SOCK_DGRAM, p) && port_free(SOCK_STREAM, p) && port_free(SOCK_STREAM, p + 1)) return p;
    }
    return 0;
  }

  explicit BaresipPhone(const BaresipOptions& o)
      : dir_(std::filesystem::temp_directory_path() /
             ("dialtone-baresip-" + o.user + "-" + std::to_string(::getpid()))),
        console_port_(o.console_port),
        listen_port_(o.listen_port ? o.listen_port : free_listen_port()) {
    namespace fs = std::filesystem;
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    // aufile does not resample: the file has the codec's rate and channels
    // (Opus: 48 kHz stereo, RFC 7587's opus/48000/2).
    bool opus = o.audio_codecs.find("opus") != std::string::npos;
    int rate = opus ? 48000 : 8000, channels = opus ? 2 : 1;
    std::vector<std::int16_t> tone(static_cast<std::size_t>(20 * rate * channels));
    for (std::size_t i = 0; i < tone.size(); ++i) {
      double t = static_cast<double>(i / static_cast<std::size_t>(channels)) / rate;
      tone[i] = static_cast<std::int16_t>(8000 * std::sin(2 * M_PI * o.mic_hz * t));
    }
    SF_INFO info{};
    info.samplerate = rate;
    info.channels = channels;
    info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
    if (SNDFILE* f = sf_open((dir_ / "mic.wav").c_str(), SFM_WRITE, &info)) {
      sf_write_short(f, tone.data(), static_cast<sf_count_t>(tone.size()));  // samples, all channels
      sf_close(f);
    }
    std::ofstream(dir_ / "config") << "poll_method epoll\n"
                                   << "sip_listen 127.0.0.1:" << listen_port_ << "\n"
                                   << "net_interface 127.0.0.1\n"
                                   << "audio_source aufile," << (dir_ / "mic.wav").string() << "\n"
                                   << "audio_player aubridge,echo-sink\n"
                                   << "audio_alert aubridge,echo-sink\n"
                                   << "rtp_ports 33000-33999\n"
                                   << "cons_listen 127.0.0.1:" << o.console_port << "\n"
                                   << "module_path /usr/lib/baresip/modules\n"
                                   << "module stdio.so\nmodule cons.so\nmodule g711.so\nmodule aufile.so\n"
                                   << "module aubridge.so\nmodule sndfile.so\nmodule_app account.so\n"
                                   << (o.mediaenc.empty() ? "" : "module srtp.so\n")
                                   << (o.audio_codecs.find("opus") == std::string::npos ? "" : "module opus.so\n")
                                   << "module_app menu.so\n"
                                   << "snd_path " << dir_.string() << "\n";
    std::ofstream(dir_ / "accounts") << "<sip:" << o.user << "@127.0.0.1:" << o.server_port << ">;"
                                     << (o.password.empty() ? "" : "auth_pass=" + o.password + ";")
                                     << (o.mediaenc.empty() ? "" : "mediaenc=" + o.mediaenc + ";")
                                     << (o.exten.empty() ? "answermode=auto;" : "")
                                     << "regint=0;audio_codecs=" << o.audio_codecs << "\n";
    std::string dial = "/dial sip:" + o.exten + "@127.0.0.1:" + std::to_string(o.server_port);
    std::string limit = std::to_string(o.max_seconds);
    auto bin = binary();
    pid_ = ::fork();
    if (pid_ == 0) {
      ::freopen((dir_ / "baresip.log").c_str(), "w", stdout);
      ::freopen((dir_ / "baresip.log").c_str(), "a", stderr);
      if (o.exten.empty())
        ::execl(bin.c_str(), "baresip", "-f", dir_.c_str(), "-t", limit.c_str(), static_cast<char*>(nullptr));
      else
        ::execl(bin.c_str(), "baresip", "-f", dir_.c_str(), "-e", dial.c_str(), "-t", limit.c_str(),
                static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  ~BaresipPhone() {
    stop();
    std::filesystem::remove_all(dir_);
  }
  BaresipPhone(const BaresipPhone&) = delete;
  BaresipPhone& operator=(const BaresipPhone&) = delete;

  bool started() const { return pid_ > 0; }
  // The SIP port it listens on (the contact to register for it).
  int listen_port() const { return listen_port_; }
  // Whether baresip ended (its -t timer, or it failed).
  bool exited() {
    if (pid_ <= 0) return true;
    if (::waitpid(pid_, &status_, WNOHANG) == pid_) pid_ = -1;
    return pid_ <= 0;
  }
  // Hangs up and closes its recording (as its -t timer does), and waits for it.
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, &status_, 0);
    pid_ = -1;
  }
  // One console line ("/sndcode *3"), as typed at its prompt.
  void command(const std::string& line) const {
    int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<std::uint16_t>(console_port_));
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::string msg = line + "\n";
    (void)::sendto(fd, msg.data(), msg.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    ::close(fd);
  }
  // sndfile's dump of what the phone decoded (dump-*-dec.wav); empty until the call has audio.
  std::filesystem::path heard() const {
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator(dir_, ec); !ec && it != std::filesystem::directory_iterator(); ++it)
      if (it->path().filename().string().find("-dec.wav") != std::string::npos) return it->path();
    return {};
  }
  // The samples of that dump while sndfile still writes it (its header not
  // final yet): 16-bit PCM after the 44-byte header.
  std::vector<std::int16_t> heard_so_far() const {
    auto wav = heard();
    if (wav.empty()) return {};
    std::ifstream f(wav, std::ios::binary);
    std::string bytes(std::istreambuf_iterator<char>(f), {});
    if (bytes.size() <= 44) return {};
    std::vector<std::int16_t> out((bytes.size() - 44) / 2);
    std::memcpy(out.data(), bytes.data() + 44, out.size() * 2);
    return out;
  }
  std::string log() const {
    std::ifstream f(dir_ / "baresip.log");
    return std::string(std::istreambuf_iterator<char>(f), {});
  }

 private:
  std::filesystem::path dir_;
  int console_port_ = 0;
  int listen_port_ = 0;
  pid_t pid_ = -1;
  int status_ = 0;
};

}  // namespace dialtone::testing
