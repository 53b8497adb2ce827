// Call recording (seed 5.33.4: *26 and the user's "Call recording" box),
// end to end: alice (SIPp) calls bob, whose call_record_enabled is on; the
// shipped dialplan answers alice, rings bob with an engine offer and records
// the bridged call. Both sides send their own tone through RTP peers; the
// WAV written must hold both (Goertzel); the same for a call to a group or
// from an incall whose call_record_enabled is on. *26 turns the setting
// over, and /1.0/recordings lists, serves and deletes the file.
#include <sys/resource.h>

#include <cctype>
#include <csignal>
#include <fstream>
#include <iterator>
#include <regex>

#include <dialtone/services.h>

#include "plugins/media/engine/recordings.h"
#include "tests/support/baresip_phone.h"
#include "tests/plugins/media/calls/sip_media_fixture.h"
#include "tests/plugins/media/engine/rtp_peer.h"

namespace dialtone::testing {
namespace {

namespace fs = std::filesystem;
namespace tm = testing::media;
using sdk::media::Codec;

class RecordingTest : public SipMediaTest {
 protected:
  static void SetUpTestSuite() {
    make_host({{"alice", "1001"}, {"bob", "1002"}}, std::filesystem::path(SIP_TEST_DIR) / "shipped_dialplan.lua");
    start_media();
  }
  void SetUp() override {
    start_plugin();
    fs::remove_all(recordings_dir_);
  }
  static void record_bob(bool on) {
    host_->sql("UPDATE confd_users SET call_record_enabled = $1::boolean WHERE id = $2::int",
               {on ? "true" : "false", user_ids_["bob"]});
  }
  static void online_alice(bool on) {
    host_->sql("UPDATE confd_users SET online_call_record_enabled = $1::boolean WHERE id = $2::int",
               {on ? "true" : "false", user_ids_["alice"]});
  }
  static std::vector<fs::path> recordings() {
    std::vector<fs::path> out;
    std::error_code ec;
    for (auto it = fs::directory_iterator(recordings_dir_, ec); !ec && it != fs::directory_iterator(); ++it)
      out.push_back(it->path());
    return out;
  }
  // The share of `hz` over the second of `a` that holds it best.
  static double best_share(const std::vector<std::int16_t>& a, double hz) {
    double best = 0;
    for (std::size_t i = 0; i + 8000 <= a.size(); i += 800)
      best = std::max(best, tm::tone_share(a, 8000, hz, i, i + 8000));
    return best;
  }
  static sdk::HttpResponse route(const std::string& method, const std::string& path, const std::string& name = {}) {
    plugins::media::Recordings r(recordings_dir_);
    for (auto& route : r.routes())
      if (route.method == method && route.path == path) {
        sdk::HttpRequest req;
        req.method = method;
        if (!name.empty()) req.params["name"] = name;
        return route.handler(req);
      }
    return sdk::HttpResponse::empty(599);
  }

  // Alice (500 Hz) calls `exten`, answered by bob (900 Hz) on his SIPp
  // phone; once the call hung up, the one recording written holds both
  // tones. Its path.
  fs::path expect_recorded_call(const std::string& exten) {
    tm::RtpPeer pa(Codec::pcmu, 0, 101), pb(Codec::pcma, 8, 101);
    Phone bob, alice;
    callee(bob, "bob", "uas_engine_answer.xml", 1, {"-key", "rtp_port", std::to_string(pb.port()), "-d", "0"});
    caller(alice, "alice", exten, "uac_media.xml", 1, {"-key", "rtp_port", std::to_string(pa.port())});
    std::string ca = connect_engine(pa);
    EXPECT_FALSE(ca.empty());
    EXPECT_FALSE(connect_engine(pb).empty());
    EXPECT_TRUE(eventually([&] { return host_->logger().contains("recording to " + recordings_dir_.string()); }))
        << log_tail();
    auto a = tm::make_tone(500, 1.5, 8000), b = tm::make_tone(900, 1.5, 8000);
    pa.send_audio(a);
    pb.send_audio(b);
    EXPECT_TRUE(host_->calls().hangup_channel(ca));
    EXPECT_EQ(alice.finish(), 0) << alice.out;
    EXPECT_EQ(bob.finish(), 0) << bob.out;
    expect_media_idle();

    auto files = recordings();
    EXPECT_EQ(files.size(), 1u);
    if (files.size() != 1) return {};
    auto name = files[0].filename().string();
    EXPECT_TRUE(plugins::media::Recordings::valid_name(name)) << name;
    // The I/O thread closes the file (its WAV header) once the endpoint is gone.
    int rate = 0;
    std::vector<std::int16_t> wav;
    EXPECT_TRUE(eventually([&] {
      wav = tm::read_wav(files[0], &rate);
      return tm::loud_samples(wav, 8000) > 8000;
    })) << "under a second of sound in " << name;
    EXPECT_EQ(rate, 8000);
    EXPECT_GT(best_share(wav, 500), 0.6) << "alice's tone is not in the recording";
    EXPECT_GT(best_share(wav, 900), 0.6) << "bob's tone is not in the recording";
    return files[0];
  }
};

TEST_F(RecordingTest, RecordedUsersCallHoldsBothPartiesAndIsListedServedAndDeleted) {
  record_bob(true);
  auto file = expect_recorded_call("1002");
  ASSERT_FALSE(file.empty());
  auto name = file.filename().string();
  record_bob(false);

  auto list = route("GET", "/1.0/recordings");
  ASSERT_EQ(list.status, 200);
  EXPECT_NE(list.body.find("\"name\":\"" + name + "\""), std::string::npos) << list.body;
  EXPECT_NE(list.body.find("\"total\":1"), std::string::npos) << list.body;
  auto got = route("GET", "/1.0/recordings/{name}", name);
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(got.content_type, "audio/wav");
  EXPECT_EQ(got.body.size(), fs::file_size(file));
  EXPECT_EQ(route("GET", "/1.0/recordings/{name}", "../../etc/passwd").status, 400);
  EXPECT_EQ(route("DELETE", "/1.0/recordings/{name}", name).status, 204);
  EXPECT_FALSE(fs::exists(file));
  EXPECT_EQ(route("DELETE", "/1.0/recordings/{name}", name).status, 404);
}

// A group whose call_record_enabled is on: the call to it is recorded once
// bob, its member, answers (he is not recorded himself), and listed.
TEST_F(RecordingTest, RecordedGroupsCallHoldsTheCallerAndTheMemberWhoAnswered) {
  auto g = host_->add_group("recorded", "all", {user_ids_["bob"]}, "2601");
  host_->sql("UPDATE confd_groups SET call_record_enabled = true WHERE id = $1::int", {g});
  auto file = expect_recorded_call("2601");
  host_->sql("DELETE FROM confd_groups WHERE id = $1::int", {g});
  ASSERT_FALSE(file.empty());
  auto list = route("GET", "/1.0/recordings");
  EXPECT_NE(list.body.find("\"name\":\"" + file.filename().string() + "\""), std::string::npos) << list.body;
}

// An incall whose call_record_enabled is on (shipped_dialplan.lua takes
// 555... as DIDs from a trunk): the call it sends to bob is recorded.
TEST_F(RecordingTest, RecordedIncallsCallToAUserHoldsBothParties) {
  host_->sql("INSERT INTO confd_contexts (name, type) VALUES ('from-extern', 'incall') ON CONFLICT DO NOTHING");
  auto i = host_->sql("INSERT INTO confd_incalls (destination, call_record_enabled) "
                      "VALUES (jsonb_build_object('type', 'user', 'user_id', $1::int), true) RETURNING id",
                      {user_ids_["bob"]});
  auto x = host_->sql("INSERT INTO confd_extensions (exten, context) VALUES ('5552600', 'from-extern') RETURNING id");
  host_->sql("INSERT INTO confd_incall_extensions VALUES ($1::int, $2::int)", {i, x});
  auto file = expect_recorded_call("5552600");
  host_->sql("DELETE FROM confd_incalls WHERE id = $1::int", {i});
  host_->sql("DELETE FROM confd_extensions WHERE id = $1::int", {x});
  EXPECT_FALSE(file.empty());
}

// An incall whose call_record_enabled is on and whose destination Dialtone
// answers itself: a sound (a 700 Hz tone file) and a conference room. Alice
// (500 Hz) calls its DID; the one recording written holds her tone, and
// the sound she heard.
TEST_F(RecordingTest, RecordedIncallsCallToASoundOrAConferenceHoldsTheCaller) {
  host_->sql("INSERT INTO confd_contexts (name, type) VALUES ('from-extern', 'incall') ON CONFLICT DO NOTHING");
  fs::path sound = recordings_dir_.parent_path() / ("dialtone-rec-sound-" + std::to_string(::getpid()) + ".wav");
  ASSERT_TRUE(tm::write_wav(sound, tm::make_tone(700, 6.0, 8000, 4000), 8000));
  auto room = host_->sql("INSERT INTO confd_conferences (name, announce_join_leave) VALUES ('rec', false) RETURNING id");
  struct Case {
    std::string did, destination;
    double played_hz;  // 0: nothing to look for
  };
  for (const Case& c : {Case{"5552601", R"({"type": "sound", "filename": ")" + sound.string() + R"("})", 700},
                        Case{"5552602", R"({"type": "conference", "conference_id": )" + room + "}", 0}}) {
    SCOPED_TRACE(c.destination);
    fs::remove_all(recordings_dir_);
    auto i = host_->sql("INSERT INTO confd_incalls (destination, call_record_enabled) VALUES ($1::jsonb, true) "
                        "RETURNING id", {c.destination});
    auto x = host_->sql("INSERT INTO confd_extensions (exten, context) VALUES ($1, 'from-extern') RETURNING id", {c.did});
    host_->sql("INSERT INTO confd_incall_extensions VALUES ($1::int, $2::int)", {i, x});
    tm::RtpPeer pa(Codec::pcmu, 0, 101);
    Phone alice;
    caller(alice, "alice", c.did, "uac_media.xml", 1, {"-key", "rtp_port", std::to_string(pa.port())});
    std::string ca = connect_engine(pa);
    ASSERT_FALSE(ca.empty());
    EXPECT_TRUE(eventually([&] { return host_->logger().contains("recording to " + recordings_dir_.string()); }))
        << log_tail();
    pa.send_audio(tm::make_tone(500, 1.5, 8000, 4000));
    EXPECT_TRUE(host_->calls().hangup_channel(ca));
    EXPECT_EQ(alice.finish(), 0) << alice.out;
    expect_media_idle();
    host_->sql("DELETE FROM confd_incalls WHERE id = $1::int", {i});
    host_->sql("DELETE FROM confd_extensions WHERE id = $1::int", {x});
    auto files = recordings();
    ASSERT_EQ(files.size(), 1u) << log_tail();
    std::vector<std::int16_t> wav;
    EXPECT_TRUE(eventually([&] {
      wav = tm::read_wav(files[0], nullptr);
      return tm::loud_samples(wav, 8000) > 8000;
    })) << "under a second of sound in " << files[0];
    // Alone or beside what she hears, her tone is a good share of the sound.
    EXPECT_GT(best_share(wav, 500), 0.3) << "alice's tone is not in the recording";
    if (c.played_hz > 0) {
      EXPECT_GT(best_share(wav, c.played_hz), 0.3) << "what alice heard is not in the recording";
    }
  }
  host_->sql("DELETE FROM confd_conferences WHERE id = $1::int", {room});
  fs::remove(sound);
}

// *9, XiVO's recsnd: a softphone dials the code, hears the announcement
// (a digit skips it), records its microphone's tone, and the sound lands in
// the engine's store as recordings/<number>-<epoch>.wav, never listed
// while being written.
class SoundRecordingTest : public RecordingTest {
 protected:
  void SetUp() override {
    RecordingTest::SetUp();
    fs::remove_all(store_dir_);
  }
  // The files of the store's recordings/ directory: sounds, or hidden ones
  // (a recording in progress) when `hidden`.
  static std::vector<fs::path> store_files(bool hidden) {
    std::vector<fs::path> out;
    std::error_code ec;
    for (auto it = fs::directory_iterator(store_dir_ / "recordings", ec); !ec && it != fs::directory_iterator(); ++it)
      if ((it->path().filename().string()[0] == '.') == hidden) out.push_back(it->path());
    return out;
  }
  static std::uintmax_t in_progress() {
    auto f = store_files(true);
    std::error_code ec;
    return f.size() == 1 ? fs::file_size(f[0], ec) : 0;
  }
  // Alice dials *9 and is recording once this returns.
  std::unique_ptr<BaresipPhone> dial_star_nine() {
    auto alice = std::make_unique<BaresipPhone>(BaresipOptions{
        .user = "alice", .password = "alicepw", .server_port = plugin_->port(),
        .console_port = free_port(), .mic_hz = 500, .exten = "*9"});
    EXPECT_TRUE(alice->started());
    // The announcement reaches her; a digit skips it.
    EXPECT_TRUE(eventually([&] { return tm::loud_samples(alice->heard_so_far(), 8000) >= 1600; },
                           std::chrono::seconds(30)))
        << log_tail() << alice->log();
    alice->command("/sndcode 1");
    // A second of her tone in the recording being written.
    EXPECT_TRUE(eventually([&] { return in_progress() > 44 + 16000; })) << log_tail() << alice->log();
    EXPECT_TRUE(store_files(false).empty()) << "a sound is listed while it is being recorded";
    return alice;
  }
  // The sound holds alice's tone, and its WAV header covers the whole file.
  static void expect_her_tone(const fs::path& f) {
    EXPECT_TRUE(std::regex_match(f.filename().string(), std::regex("1001-[0-9]{10}\\.wav"))) << f;
    int rate = 0;
    auto wav = tm::read_wav(f, &rate);
    EXPECT_EQ(rate, 8000);
    EXPECT_GT(tm::loud_samples(wav, 8000), 8000u) << "under a second of sound in " << f;
    EXPECT_GT(best_share(wav, 500), 0.8) << "alice's tone is not in " << f;
    std::ifstream in(f, std::ios::binary);
    std::uint32_t riff = 0;
    in.seekg(4);
    in.read(reinterpret_cast<char*>(&riff), 4);
    EXPECT_EQ(riff + 8u, fs::file_size(f)) << "the WAV header was not closed";
  }
};

TEST_F(SoundRecordingTest, StarNineRecordsTheCallersSoundUntilHashAndPlaysItBack) {
  if (!BaresipPhone::available()) GTEST_SKIP() << "baresip not installed (Debian baresip-core)";
  auto alice = dial_star_nine();
  auto before = alice->heard_so_far().size();
  alice->command("/sndcode #");
  ASSERT_TRUE(eventually([&] { return host_->logger().contains("sound recorded to " + (store_dir_ / "recordings").string()); }))
      << log_tail();
  auto files = store_files(false);
  ASSERT_EQ(files.size(), 1u);
  EXPECT_TRUE(store_files(true).empty()) << "the temporary stayed";
  expect_her_tone(files[0]);
  // Played back to her, then Dialtone hangs up.
  ASSERT_TRUE(eventually([&] { return host_->calls().channels().empty(); })) << log_tail();
  auto heard = alice->heard_so_far();
  heard.erase(heard.begin(), heard.begin() + static_cast<std::ptrdiff_t>(std::min(before, heard.size())));
  EXPECT_GT(tm::loud_samples(heard, 8000), 4000u) << "her sound was not played back";
  EXPECT_GT(share(heard, {500}), 0.8) << "what she heard after # is not her sound";
  alice->stop();
  expect_media_idle();
}

// XiVO records with Record's k option: a hang-up keeps what was said. The
// file is closed and renamed into place whole.
TEST_F(SoundRecordingTest, HangingUpMidRecordingKeepsWhatWasSaidWhole) {
  if (!BaresipPhone::available()) GTEST_SKIP() << "baresip not installed (Debian baresip-core)";
  auto alice = dial_star_nine();
  alice->stop();
  ASSERT_TRUE(eventually([&] { return store_files(false).size() == 1 && store_files(true).empty(); })) << log_tail();
  expect_her_tone(store_files(false)[0]);
  expect_media_idle();
}

// A full disk mid-recording (a file-size limit stands in for it): nothing
// stays in the store, the caller hears the error tone and the call ends.
TEST_F(SoundRecordingTest, FullDiskMidRecordingLeavesNoFileAndTellsTheCaller) {
  if (!BaresipPhone::available()) GTEST_SKIP() << "baresip not installed (Debian baresip-core)";
  auto alice = dial_star_nine();
  rlimit old{};
  getrlimit(RLIMIT_FSIZE, &old);
  auto old_handler = signal(SIGXFSZ, SIG_IGN);
  rlimit small{static_cast<rlim_t>(in_progress() + 8192), old.rlim_max};
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  bool failed = eventually([&] { return host_->logger().contains("stopped: cannot write"); });
  setrlimit(RLIMIT_FSIZE, &old);
  signal(SIGXFSZ, old_handler);
  ASSERT_TRUE(failed) << log_tail();
  EXPECT_TRUE(host_->logger().contains(", nothing kept; the call goes on")) << log_tail();
  ASSERT_TRUE(eventually([&] { return host_->logger().contains("not recorded"); })) << log_tail();
  ASSERT_TRUE(eventually([&] { return host_->calls().channels().empty(); })) << log_tail();
  EXPECT_TRUE(store_files(false).empty()) << "a sound stayed after the full disk";
  EXPECT_TRUE(store_files(true).empty()) << "the temporary stayed after the full disk";
  alice->stop();
  expect_media_idle();
}

// Online call recording (seed 5.33.4, *3): alice, a softphone whose user may
// record online, calls bob; nothing is recorded until she sends *3 (RFC 4733
// from baresip), then the call is, both parties mixed, until her second *3.
TEST_F(RecordingTest, StarThreeFromASoftphoneRecordsTheCallUntilPressedAgain) {
  if (!BaresipPhone::available()) GTEST_SKIP() << "baresip not installed (Debian baresip-core)";
  online_alice(true);
  tm::RtpPeer pb(Codec::pcma, 8, 101);
  Phone bob;
  callee(bob, "bob", "uas_engine_answer.xml", 1, {"-key", "rtp_port", std::to_string(pb.port()), "-d", "0"});
  BaresipPhone alice({.user = "alice", .password = "alicepw", .server_port = plugin_->port(),
                      .console_port = free_port(), .mic_hz = 500, .exten = "1002"});
  ASSERT_TRUE(alice.started());
  std::string cb = connect_engine(pb);
  ASSERT_FALSE(cb.empty());
  // Bridged: bob hears alice's microphone.
  ASSERT_TRUE(eventually([&] { return tm::loud_samples(pb.audio(), 8000) >= 8000; }, std::chrono::seconds(30)))
      << log_tail() << alice.log();
  auto tone = tm::make_tone(900, 1.0, 8000);
  pb.send_audio(tone);
  EXPECT_TRUE(recordings().empty()) << "recorded before *3";

  // alice's online recording key (BLF on *3): idle, lit (a confirmed dialog)
  // while recording, that dialog terminated after, then unsubscribed.
  Phone key;
  blf_key(key, "alice", "*3", "subscribe_onlinerec.xml");
  ASSERT_TRUE(eventually([&] { return plugin_->subscriptions() == 1; })) << key.out;

  alice.command("/sndcode *3");
  ASSERT_TRUE(eventually([&] { return host_->logger().contains("online recording to " + recordings_dir_.string()); }))
      << log_tail() << alice.log();
  for (int i = 0; i < 3; ++i) pb.send_audio(tone);
  alice.command("/sndcode *3");
  ASSERT_TRUE(eventually([&] { return host_->logger().contains("online recording stopped"); })) << log_tail();
  auto files = recordings();
  ASSERT_EQ(files.size(), 1u);
  // The file is closed (its WAV header written) once the recording stopped.
  std::vector<std::int16_t> wav;
  int rate = 0;
  EXPECT_TRUE(eventually([&] {
    wav = tm::read_wav(files[0], &rate);
    return tm::loud_samples(wav, 8000) > 8000;
  })) << "under a second of sound in " << files[0];
  // Alice's microphone never stops: bob's tone is heard over it.
  double a = best_share(wav, 500), b = best_share(wav, 900);
  EXPECT_GT(a, 0.3) << "alice's tone is not in the recording";
  EXPECT_GT(b, 0.3) << "bob's tone is not in the recording";
  EXPECT_GT(a + b, 0.8) << "the recording holds something else";
  EXPECT_EQ(key.finish(), 0) << "the *3 key was not lit while recording, then dark\n" << key.out;
  auto size = fs::file_size(files[0]);
  pb.send_audio(tone);  // after the second *3: not recorded
  alice.stop();
  EXPECT_EQ(bob.finish(), 0) << bob.out;
  expect_media_idle();
  EXPECT_EQ(recordings().size(), 1u);
  EXPECT_EQ(fs::file_size(files[0]), size) << "recorded after the second *3";
  auto list = route("GET", "/1.0/recordings");
  EXPECT_NE(list.body.find("\"name\":\"" + files[0].filename().string() + "\""), std::string::npos) << list.body;
  online_alice(false);
}

// Every route the plugin mounts is in recordings_api.yml with its ACL.
TEST_F(RecordingTest, OpenApiFileDescribesEveryRoute) {
  std::ifstream in(std::filesystem::path(DIALTONE_SOURCE_DIR) / "plugins/media/engine/recordings_api.yml");
  ASSERT_TRUE(in);
  std::string yml((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  plugins::media::Recordings r(recordings_dir_);
  for (auto& route : r.routes()) {
    EXPECT_NE(yml.find("\"" + route.path + "\":"), std::string::npos) << route.path;
    EXPECT_NE(yml.find("x-acl: \"" + route.acl + "\""), std::string::npos) << route.acl;
    std::string m = route.method;
    for (auto& c : m) c = static_cast<char>(std::tolower(c));
    EXPECT_NE(yml.find("    " + m + ":"), std::string::npos) << route.method;
  }
}

// *26 turns the calling user's call recording on, then off (seed 5.33.4).
TEST_F(RecordingTest, StarTwentySixTurnsTheUsersCallRecordingOver) {
  auto alice_records = [] {
    auto snap = host_->config().snapshot();
    auto* u = snap->user(std::stoll(user_ids_["alice"]));
    return u && u->call_record;
  };
  ASSERT_FALSE(alice_records());
  for (bool expected : {true, false}) {
    tm::RtpPeer pa(Codec::pcmu, 0, 101);
    Phone alice;
    caller(alice, "alice", "*26", "uac_media.xml", 1, {"-key", "rtp_port", std::to_string(pa.port())});
    EXPECT_EQ(alice.finish(), 0) << alice.out;  // the prompt, then Dialtone hangs up
    EXPECT_EQ(alice_records(), expected) << log_tail();
  }
  expect_media_idle();
}

}  // namespace
}  // namespace dialtone::testing
