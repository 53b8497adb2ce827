// Music on hold for a held party, on received audio: alice's SIPp phone holds
// (re-INVITE a=sendonly) and resumes when the test tells it (an INFO with its
// Call-ID, sent once SIPp says it waits for one, so no sleep decides when);
// the held party's RTP peer hears the class's tone (Goertzel) while held, then
// the other party's voice again.
// Classes are directories of a temporary sounds.moh_path: `default` plays
// 600 Hz, `jazz` 700 Hz, `broken` holds only a corrupt file.
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "tests/plugins/media/calls/sip_media_fixture.h"
#include "tests/support/baresip_phone.h"
#include "tests/plugins/media/engine/rtp_peer.h"

namespace dialtone::testing {
namespace {

namespace tm = testing::media;
using sdk::media::Codec;
namespace fs = std::filesystem;

// An 8 kHz 16-bit mono WAV of `hz` lasting `seconds`.
void write_tone_wav(const fs::path& file, double hz, double seconds) {
  auto pcm = tm::make_tone(hz, seconds, 8000);
  std::ofstream f(file, std::ios::binary);
  auto u32 = [&](std::uint32_t v) { f.write(reinterpret_cast<const char*>(&v), 4); };
  auto u16 = [&](std::uint16_t v) { f.write(reinterpret_cast<const char*>(&v), 2); };
  std::uint32_t bytes = static_cast<std::uint32_t>(pcm.size() * 2);
  f << "RIFF";
  u32(36 + bytes);
  f << "WAVEfmt ";
  u32(16);
  u16(1);
  u16(1);
  u32(8000);
  u32(16000);
  u16(2);
  u16(16);
  f << "data";
  u32(bytes);
  f.write(reinterpret_cast<const char*>(pcm.data()), bytes);
}

fs::path make_moh_dir() {
  fs::path root = fs::temp_directory_path() / ("dialtone-moh-test-" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root / "jazz");
  fs::create_directories(root / "broken");
  write_tone_wav(root / "default-600.wav", 600, 2);
  write_tone_wav(root / "jazz" / "jazz-700.wav", 700, 2);
  std::ofstream(root / "broken" / "bad.wav", std::ios::binary) << "RIFF\x10\x00\x00\x00WAVEfmt not a wave";
  return root;
}

class HoldMusicTest : public SipMediaTest {
 protected:
  static void SetUpTestSuite() {
    moh_ = make_moh_dir();
    make_host({{"alice", "1001"}, {"bob", "1002"}}, fs::path(SIP_TEST_DIR) / "media_dialplan.lua");
    start_media(moh_);
  }
  static void TearDownTestSuite() {
    SipMediaTest::TearDownTestSuite();
    fs::remove_all(moh_);
  }

  // alice's paced phone calling `number`, her RTP at `peer`; its SIP port.
  int paced_caller(Phone& p, const std::string& number, tm::RtpPeer& peer) {
    // SIPp's own bound covers the whole call, every step's wait included.
    auto args = sipp_args("uac_hold_paced.xml", 1, "120s");
    int port = std::stoi(args[7]);
    args.insert(args.begin(), target_);
    std::vector<std::string> more{"-s", number, "-au", "alice", "-ap", "alicepw", "-key", "user", "alice",
                                  "-key", "rtp_port", std::to_string(peer.port()), "-cid_str", call_id_,
                                  "-key", "ready_file", ready_file_.string()};
    args.insert(args.end(), more.begin(), more.end());
    p.rc = std::async(std::launch::async, [args, &p] { return run_sipp(args, &p.out); });
    return port;
  }
  // bob answers on SIPp with his RTP at `peer`, registered before this returns.
  void held_callee(Phone& p, tm::RtpPeer& peer) {
    auto args = sipp_args("uas_answer_held.xml", 1, "120s");
    int port = std::stoi(args[7]);
    args.insert(args.end(), {"-key", "rtp_port", std::to_string(peer.port())});
    p.rc = std::async(std::launch::async, [args, &p] { return run_sipp(args, &p.out); });
    ASSERT_TRUE(wait_udp_bound(port));
    std::string out;
    ASSERT_EQ(register_contact("bob", port, &out, "../../../backend/sip/scenarios/register.xml"), 0) << out;
  }
  // alice's paced phone (RTP at `pa`) calls bob's (`pb`); returns once both
  // legs are up, with alice's SIP port for next_step.
  void held_call(Phone& alice, Phone& bob, tm::RtpPeer& pa, tm::RtpPeer& pb, int& port) {
    ASSERT_NO_FATAL_FAILURE(held_callee(bob, pb));
    port = paced_caller(alice, "1002", pa);
    ASSERT_TRUE(eventually([&] { return plugin_->active_calls() == 1 && host_->calls().channels().size() == 2; }));
    ASSERT_TRUE(eventually([&] {
      for (auto& c : host_->calls().channels())
        if (c.state != sdk::ChannelState::up) return false;
      return true;
    }));
  }
  // Tells alice's phone to take its next step (hold, resume, hang up), once
  // it waits for one: SIPp appends a line to ready_file_ before each wait, so
  // an INFO never reaches it while it still waits for the 200 of its last
  // re-INVITE (the call core sees a resume before that 200 is sent).
  void next_step(int sipp_port) {
    const std::size_t step = ++steps_;
    ASSERT_TRUE(eventually([&] {
      std::ifstream f(ready_file_);
      std::size_t lines = 0;
      for (std::string l; std::getline(f, l);) ++lines;
      return lines >= step;
    })) << "alice's phone never waited for step " << step;
    static int cseq = 100;
    ++cseq;
    std::string m = "INFO sip:alice@127.0.0.1:" + std::to_string(sipp_port) +
                    " SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKstep" + std::to_string(cseq) +
                    "\r\nFrom: <sip:test@127.0.0.1>;tag=step\r\nTo: <sip:alice@127.0.0.1>\r\nCall-ID: " +
                    call_id_ + "\r\nCSeq: " + std::to_string(cseq) +
                    " INFO\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
    int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<std::uint16_t>(sipp_port));
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::sendto(fd, m.data(), m.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    ::close(fd);
  }
  // The holds the call core saw, in order ("held"/"unheld").
  static std::size_t bus_count(const std::string& topic) {
    std::size_t n = 0;
    for (auto& e : host_->test_bus().events()) n += e.topic == topic;
    return n;
  }
  // Over a second of what `peer` hears, the share of `hz`.
  static bool hears(tm::RtpPeer& peer, double hz, double at_least = 0.8) {
    return eventually([&] {
      peer.clear();
      if (!eventually([&] { return peer.audio_size() >= 8000; })) return false;
      auto a = peer.audio();
      return tm::loud_samples(a, 8000) >= 6400 && tm::tone_share(a, 8000, hz) > at_least;
    });
  }
  // `from` speaks `hz` until `to` hears it (the first packets may cross a
  // relay still feeding music): no music mixed in.
  static bool talks(tm::RtpPeer& from, tm::RtpPeer& to, double hz) { return hears_tone(from, to, hz, 0.9); }
  void set_user_moh(const std::string& user, const std::string& cls) {
    host_->sql("UPDATE confd_users SET music_on_hold = NULLIF($1, '') WHERE id = $2::int", {cls, user_ids_[user]});
  }

  // alice's softphone (baresip; SRTP with SDES keys when `srtp`) calls bob,
  // holds and resumes: bob hears her microphone (500 Hz), the jazz class
  // (700 Hz) while held, then her again. Bob answers on SIPp with his media
  // at an RTP peer that decrypts with alice's key when `srtp`: baresip 1.0
  // stops decoding once a re-INVITE reached it, so it cannot be the held party.
  void softphone_holds_and_resumes(bool srtp) {
    if (!BaresipPhone::available()) GTEST_SKIP() << "baresip not installed (Debian baresip-core)";
    set_user_moh("alice", "jazz");
    // RFC 4568's example key: what bob's peer sends with.
    const sdk::media::CryptoAttribute bob_key{1, "AES_CM_128_HMAC_SHA1_80", "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR"};
    const fs::path key_file = fs::temp_directory_path() / ("dialtone-hold-keys-" + std::to_string(::getpid()));
    fs::remove(key_file);
    tm::RtpPeer pb(Codec::pcmu, 0, 101);
    Phone bob;
    auto args = sipp_args(srtp ? "uas_answer_held_srtp.xml" : "uas_answer_held_reinvites.xml", 1, "120s");
    int port = std::stoi(args[7]);
    args.insert(args.end(), {"-key", "rtp_port", std::to_string(pb.port()), "-key", "srtp_key", bob_key.key_base64,
                             "-key", "key_file", key_file.string()});
    bob.rc = std::async(std::launch::async, [args, &bob] { return run_sipp(args, &bob.out); });
    ASSERT_TRUE(wait_udp_bound(port));
    std::string out;
    ASSERT_EQ(register_contact("bob", port, &out), 0) << out;
    BaresipPhone alice({.user = "alice", .password = "alicepw", .server_port = plugin_->port(),
                        .console_port = free_port(), .mic_hz = 500, .exten = "1002",
                        .mediaenc = srtp ? "srtp-mand" : ""});
    // bob's peer decrypts with the key of alice's last offer (one line per offer).
    auto follow_key = [&](std::size_t offers) {
      if (!srtp) return true;
      std::string key;
      bool got = eventually([&] {
        std::ifstream f(key_file);
        std::size_t n = 0;
        for (std::string l; std::getline(f, l);) key = l, ++n;
        return n >= offers;
      });
      if (got) pb.set_srtp(bob_key, {1, "AES_CM_128_HMAC_SHA1_80", key});
      return got;
    };
    ASSERT_TRUE(follow_key(1)) << bob.out;
    ASSERT_TRUE(hears(pb, 500)) << "bob does not hear alice\n" << log_tail() << alice.log();

    const auto held_before = bus_count("calls.channel.held");
    alice.command("/hold");
    ASSERT_TRUE(eventually([&] { return bus_count("calls.channel.held") > held_before; })) << alice.log();
    ASSERT_TRUE(follow_key(2));
    EXPECT_TRUE(hears(pb, 700)) << "bob does not hear the jazz class while held\n" << log_tail();

    const auto unheld_before = bus_count("calls.channel.unheld");
    alice.command("/resume");
    ASSERT_TRUE(eventually([&] { return bus_count("calls.channel.unheld") > unheld_before; })) << alice.log();
    ASSERT_TRUE(follow_key(3));
    EXPECT_TRUE(hears(pb, 500)) << "bob does not hear alice after the resume\n" << log_tail() << alice.log();

    alice.stop();
    EXPECT_EQ(bob.finish(), 0) << bob.out;
    expect_idle();
    EXPECT_TRUE(eventually([&] { return engine_->endpoint_count() == 0; })) << "music endpoint not freed";
    set_user_moh("alice", "");
    fs::remove(key_file);
  }

  void TearDown() override {
    SipMediaTest::TearDown();
    fs::remove(ready_file_);
  }

  static inline fs::path moh_;
  std::string call_id_ = "hold-music-" + std::to_string(::getpid()) + "@127.0.0.1";
  fs::path ready_file_ = fs::temp_directory_path() / ("dialtone-hold-steps-" + std::to_string(::getpid()) + "-" +
                                                      ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::size_t steps_ = 0;
};

// A relayed call: alice holds bob, who hears alice's class (her user's
// music_on_hold, jazz) from the relay port he already talks to; alice resumes
// and they hear each other, without music.
TEST_F(HoldMusicTest, RelayedCallHeldPartyHearsTheHoldersClassUntilResume) {
  set_user_moh("alice", "jazz");
  tm::RtpPeer pa(Codec::pcmu, 0, 101), pb(Codec::pcmu, 0, 101);
  Phone alice, bob;
  int port = 0;
  ASSERT_NO_FATAL_FAILURE(held_call(alice, bob, pa, pb, port));
  EXPECT_EQ(pb.packets(), 0u) << "bob hears something before the hold";
  const auto held_before = bus_count("calls.channel.held");
  next_step(port);  // hold
  ASSERT_TRUE(eventually([&] { return bus_count("calls.channel.held") > held_before; })) << alice.out;
  EXPECT_TRUE(hears(pb, 700)) << "bob does not hear the jazz class while held";
  EXPECT_TRUE(host_->logger().contains("music on hold class 'jazz'"));

  const auto unheld_before = bus_count("calls.channel.unheld");
  next_step(port);  // resume
  ASSERT_TRUE(eventually([&] { return bus_count("calls.channel.unheld") > unheld_before; }));
  // Both sides answer the relay where it sends from (symmetric RTP).
  pb.set_remote(pb.source_port());
  EXPECT_TRUE(talks(pb, pa, 1000)) << "alice does not hear bob after the resume";
  pa.set_remote(pa.source_port());
  EXPECT_TRUE(talks(pa, pb, 1300)) << "bob hears music instead of alice after the resume";

  next_step(port);  // hang up
  EXPECT_EQ(alice.finish(), 0) << alice.out;
  EXPECT_EQ(bob.finish(), 0) << bob.out;
  expect_idle();  // every relay port back, the feed's too
  EXPECT_TRUE(eventually([&] { return engine_->endpoint_count() == 0; })) << "music endpoint not freed";
  set_user_moh("alice", "");
}

// A softphone holds and resumes (softphone_holds_and_resumes): the held
// party hears the holder, the holder's class while held, the holder again.
TEST_F(HoldMusicTest, SrtpCallFromASoftphoneHeldPartyHearsTheClassUntilResume) {
  // SRTP with SDES keys crosses the relay end to end; the music is protected
  // with the key bob decrypts alice with.
  softphone_holds_and_resumes(true);
}

TEST_F(HoldMusicTest, DirectMediaCallHeldPartyIsMovedToTheMusicAndBack) {
  // alice's line has direct media: the phones send to each other, so bob is
  // re-INVITEd toward the engine once held, and back by alice's resume.
  if (!BaresipPhone::available()) GTEST_SKIP() << "baresip not installed (Debian baresip-core)";
  auto direct = [](bool on) {
    host_->sql("UPDATE confd_endpoints_sip SET options = $1 WHERE username = 'alice'",
               {on ? R"([["direct_media","yes"]])" : "[]"});
  };
  direct(true);
  struct Restore {
    std::function<void(bool)> set;
    ~Restore() { set(false); }
  } restore{direct};
  softphone_holds_and_resumes(false);
  EXPECT_TRUE(host_->logger().contains("the held party moved to the media engine"));
}

// A class whose only file is corrupt: a log line names it, and the held party
// hears the repeating info tone instead of silence.
TEST_F(HoldMusicTest, BrokenClassPlaysTheInfoToneAndSaysSo) {
  set_user_moh("alice", "broken");
  tm::RtpPeer pa(Codec::pcmu, 0, 101), pb(Codec::pcmu, 0, 101);
  Phone alice, bob;
  int port = 0;
  ASSERT_NO_FATAL_FAILURE(held_call(alice, bob, pa, pb, port));
  next_step(port);  // hold
  ASSERT_TRUE(eventually([&] { return pb.audio_size() >= 8000; })) << "silence while held";
  EXPECT_TRUE(eventually([&] {
    auto a = pb.audio();
    return tm::loud_samples(a, 8000) > 1600 && share(a, {950, 1400, 1800}) > 0.6;
  })) << "no info tone";
  EXPECT_TRUE(eventually([] { return host_->logger().contains("broken/bad.wav"); }));
  const auto unheld_before = bus_count("calls.channel.unheld");
  next_step(port);  // resume
  ASSERT_TRUE(eventually([&] { return bus_count("calls.channel.unheld") > unheld_before; }));
  next_step(port);  // hang up
  EXPECT_EQ(alice.finish(), 0) << alice.out;
  EXPECT_EQ(bob.finish(), 0) << bob.out;
  expect_idle();
  set_user_moh("alice", "");
}

// Two callers answered by the dialplan and bridged in the engine: a holds, b
// hears the default class over the bridge, then a again after the resume.
TEST_F(HoldMusicTest, EngineBridgedCallHeldPartyHearsTheDefaultClass) {
  tm::RtpPeer pa(Codec::pcmu, 0, 101), pb(Codec::pcmu, 0, 101);
  Phone a, b;
  int port = paced_caller(a, "809", pa);
  caller(b, "alice", "809", "uac_media.xml", 1, {"-key", "rtp_port", std::to_string(pb.port())});
  std::string ca = connect_engine(pa), cb = connect_engine(pb);
  ASSERT_FALSE(ca.empty() || cb.empty());
  ASSERT_TRUE(host_->calls().bridge(ca, cb, true));
  EXPECT_TRUE(talks(pa, pb, 500)) << "b does not hear a";
  next_step(port);  // hold
  EXPECT_TRUE(hears(pb, 600)) << "b does not hear the default class while held";
  next_step(port);  // resume
  ASSERT_TRUE(eventually([&] { return !host_->calls().channel(ca)->held; }));
  EXPECT_TRUE(talks(pa, pb, 1300)) << "b hears music instead of a after the resume";
  next_step(port);  // a hangs up; the bridge ends b
  EXPECT_EQ(a.finish(), 0) << a.out;
  EXPECT_EQ(b.finish(), 0) << b.out;
  expect_idle();
}

}  // namespace
}  // namespace dialtone::testing
