// A real softphone against a call answered by Dialtone: baresip (Debian
// baresip-core) authenticates as alice, calls the echo route of
// media_dialplan.lua with a 600 Hz tone as its microphone (aufile), and records
// what it hears (sndfile). The recording must hold the tone, echoed back by
// the media engine. baresip quits once its recording holds two seconds of
// sound (however long the call took to set up), or after a minute.
#include <signal.h>
#include <sndfile.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <dialtone/services.h>

#include "tests/plugins/media/calls/sip_media_fixture.h"
#include "tests/plugins/media/engine/rtp_peer.h"

namespace dialtone::testing {
namespace {

namespace fs = std::filesystem;
namespace tm = testing::media;

fs::path which(const char* name) {
  for (const char* dir : {"/usr/bin", "/usr/local/bin"})
    if (fs::exists(fs::path(dir) / name)) return fs::path(dir) / name;
  return {};
}


// sndfile's dump of what the phone decoded (dump-*-dec.wav); empty until the call has audio.
fs::path heard_file(const fs::path& dir) {
  for (auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().find("-dec.wav") != std::string::npos) return e.path();
  return {};
}

// The samples of a WAV that sndfile is still writing (its header not final
// yet): 16-bit PCM after the 44-byte header.
std::vector<std::int16_t> samples_so_far(const fs::path& wav) {
  std::ifstream f(wav, std::ios::binary);
  std::string bytes(std::istreambuf_iterator<char>(f), {});
  if (bytes.size() <= 44) return {};
  std::vector<std::int16_t> out((bytes.size() - 44) / 2);
  std::memcpy(out.data(), bytes.data() + 44, out.size() * 2);
  return out;
}

class BaresipEchoTest : public SipMediaTest {
 protected:
  static void SetUpTestSuite() {
    make_host({{"alice", "1001"}}, fs::path(SIP_TEST_DIR) / "media_dialplan.lua");
    start_media();
  }
  void SetUp() override {
    if (which("baresip").empty()) GTEST_SKIP() << "baresip not installed (Debian baresip-core)";
    start_plugin();
  }
};

TEST_F(BaresipEchoTest, SoftphoneHearsItsOwnToneBack) {
  fs::path dir = fs::temp_directory_path() / ("dialtone-baresip-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  {
    auto tone = tm::make_tone(600, 20.0, 8000);
    SF_INFO info{};
    info.samplerate = 8000;
    info.channels = 1;
    info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
    SNDFILE* f = sf_open((dir / "mic.wav").c_str(), SFM_WRITE, &info);
    ASSERT_NE(f, nullptr);
    sf_write_short(f, tone.data(), static_cast<sf_count_t>(tone.size()));
    sf_close(f);
  }
  int port = plugin_->port();
  int sip_port = free_port();
  std::ofstream(dir / "config") << "poll_method epoll\n"
                                << "sip_listen 127.0.0.1:" << sip_port << "\n"
                                << "net_interface 127.0.0.1\n"
                                << "audio_source aufile," << (dir / "mic.wav").string() << "\n"
                                << "audio_player aubridge,echo-sink\n"
                                << "audio_alert aubridge,echo-sink\n"
                                << "rtp_ports 33000-33999\n"
                                << "module_path /usr/lib/baresip/modules\n"
                                << "module stdio.so\nmodule g711.so\nmodule aufile.so\nmodule aubridge.so\n"
                                << "module sndfile.so\nmodule_app account.so\nmodule_app menu.so\n"
                                << "snd_path " << dir.string() << "\n";
  std::ofstream(dir / "accounts") << "<sip:alice@127.0.0.1:" << port
                                  << ">;auth_pass=alicepw;regint=0;audio_codecs=PCMU\n";
  std::string dial = "/dial sip:810@127.0.0.1:" + std::to_string(port);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::freopen((dir / "baresip.log").c_str(), "w", stdout);
    ::freopen((dir / "baresip.log").c_str(), "a", stderr);
    ::execl(which("baresip").c_str(), "baresip", "-f", dir.c_str(), "-e", dial.c_str(), "-t", "60",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  bool exited = false;
  // Two seconds of sound heard, or baresip gave up by itself.
  eventually(
      [&] {
        if (::waitpid(pid, &status, WNOHANG) == pid) return exited = true;
        auto f = heard_file(dir);
        return !f.empty() && tm::loud_samples(samples_so_far(f), 8000) >= 2 * 8000u;
      },
      std::chrono::seconds(90));
  if (!exited) {
    ::kill(pid, SIGTERM);  // hangs up and closes the recording, as its -t timer does
    ::waitpid(pid, &status, 0);
  }
  auto log = [&] {
    std::ifstream f(dir / "baresip.log");
    return std::string(std::istreambuf_iterator<char>(f), {});
  };
  fs::path heard = heard_file(dir);
  ASSERT_FALSE(heard.empty()) << "baresip recorded nothing:\n" << log();
  int rate = 8000;
  auto audio = tm::read_wav(heard, &rate);
  ASSERT_GT(tm::loud_samples(audio, rate), static_cast<std::size_t>(rate)) << "less than 1 s heard:\n" << log();
  // Over the frames that carry sound, the 600 Hz tone.
  double sum = 0;
  std::size_t frames = 0, frame = static_cast<std::size_t>(rate / 50);
  for (std::size_t i = 0; i + frame <= audio.size(); i += frame) {
    if (tm::loud_samples(std::vector<std::int16_t>(audio.begin() + i, audio.begin() + i + frame), rate) == 0) continue;
    sum += tm::tone_share(audio, rate, 600, i, i + frame);
    ++frames;
  }
  EXPECT_GT(sum / frames, 0.8) << log();
  expect_idle();
  EXPECT_TRUE(eventually([&] { return engine_->attached_channels() == 0; }));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace dialtone::testing
