// Voicemail end to end with SIPp phones: a caller leaves a message (a
// 1 kHz tone) after the greeting; the stored WAV holds that tone for its
// duration (Goertzel); *98 with the PIN plays it back to the phone (the tone
// heard at the RTP peer); a phone subscribed to message-summary sees the
// counts change; the box's address gets an e-mail whose WAV attachment has
// the message's length. Plus the spool on its own: atomic files, restart,
// folders, a dead SMTP relay.
#include <algorithm>
#include <cstring>
#include <future>
#include <fstream>
#include <sstream>


#include <dialtone/services.h>

#include "plugins/app/voicemail/voicemail_app.h"
#include "tests/plugins/app/voicemail/smtp_sink.h"
#include "tests/plugins/media/calls/sip_media_fixture.h"
#include "tests/plugins/media/engine/rtp_peer.h"

namespace dialtone::testing {
namespace {

namespace fs = std::filesystem;
namespace vm = plugins::voicemail;
namespace tm = testing::media;
using sdk::media::Codec;

const std::string kMediaScenario = "../../../media/calls/scenarios/uac_media.xml";
const std::string kMwiScenario = "../../../app/voicemail/scenarios/subscribe_mwi_voicemail.xml";
const std::string kUnsolicitedScenario = "../../../app/voicemail/scenarios/uas_mwi_unsolicited.xml";

// Samples of a 16-bit mono WAV file (the data chunk).
std::vector<std::int16_t> wav_samples(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::int16_t> out;
  auto at = all.find("data");
  if (at == std::string::npos) return out;
  out.resize((all.size() - at - 8) / 2);
  std::memcpy(out.data(), all.data() + at + 8, out.size() * 2);
  return out;
}

// Seconds of 20 ms frames of `s` that carry the tone `hz`.
double tone_seconds(const std::vector<std::int16_t>& s, double hz, int rate = 8000) {
  std::size_t frame = static_cast<std::size_t>(rate / 50), n = 0;
  for (std::size_t i = 0; i + frame <= s.size(); i += frame)
    if (tm::energy(s, i, i + frame) > 1e5 && tm::tone_share(s, rate, hz, i, i + frame) > 0.8) ++n;
  return static_cast<double>(n) * 0.02;
}

class VoicemailTest : public SipMediaTest {
 protected:
  static void SetUpTestSuite() {
    make_host({{"alice", "1001"}, {"bob", "1002"}}, fs::path(VM_TEST_DIR) / "voicemail_dialplan.lua");
    start_media();

    spool_ = fs::temp_directory_path() / ("dialtone-vm-test-" + std::to_string(::getpid()));
    fs::remove_all(spool_);
    smtp_ = new SmtpSink();
    vm::AppConfig vc;
    vc.spool = spool_;
    vc.mail.host = "127.0.0.1";
    vc.mail.port = smtp_->port();
    app_ = std::make_shared<vm::VoicemailApp>(vc, &host_->executor(), &host_->log(), host_->store(),
                                              host_->services().find<sdk::PresenceService>());
    ASSERT_TRUE(host_->lua()->export_module("voicemail", app_->functions()));
    // alice's box 1001 with PIN 1234, mailed with the audio; bob's 1002 has no password.
    std::string alice_vm = host_->sql(
        "INSERT INTO confd_voicemails (number, context, name, password, email, attach_audio) "
        "VALUES ('1001', 'default', 'Alice', '1234', 'alice@example.com', true) RETURNING id");
    host_->sql("INSERT INTO confd_user_voicemails (user_id, voicemail_id) VALUES ($1::int, $2::int)",
               {user_ids_["alice"], alice_vm});
    host_->sql("INSERT INTO confd_voicemails (number, context, name) VALUES ('1002', 'default', 'Bob')");
  }
  static void TearDownTestSuite() {
    SipMediaTest::TearDownTestSuite();
    app_.reset();
    delete smtp_;
    fs::remove_all(spool_);
  }
  void SetUp() override { start_plugin(); }

  void call(Phone& p, const std::string& user, const std::string& number, tm::RtpPeer& peer) {
    caller(p, user, number, kMediaScenario, 1, {"-key", "rtp_port", std::to_string(peer.port())});
  }
  std::uint16_t connect(tm::RtpPeer& peer) {
    std::uint16_t port = 0;
    EXPECT_TRUE(eventually([&] {
      for (auto& c : host_->calls().channels())
        if (auto ep = engine_->channel_endpoint(c.id))
          if (ep->stats().remote == peer.address()) port = ep->local_port();
      return port != 0;
    })) << "no channel attached to the media engine";
    if (port) peer.set_remote(port);
    return port;
  }
  static std::vector<fs::path> files(const fs::path& dir, const std::string& ext) {
    std::vector<fs::path> out;
    std::error_code ec;
    for (auto& e : fs::directory_iterator(dir, ec))
      if (e.path().extension() == ext) out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
  }
  void expect_media_idle() {
    expect_idle();
    EXPECT_TRUE(eventually([&] { return engine_->endpoint_count() == 0; })) << "endpoint still open";
  }
  // alice's phone hears the tone `hz`: sends `digit` (a menu choice) until
  // the tone comes, as a person presses again when nothing happens.
  static bool hears(tm::RtpPeer& peer, double hz, const std::string& digit) {
    for (int i = 0; i < 30; ++i) {
      peer.clear();
      if (!digit.empty()) peer.send_digits(digit);
      peer.send_audio(std::vector<std::int16_t>(8000, 0));  // one second of silence from the phone
      if (tone_seconds(peer.audio(), hz) >= 0.3) return true;
    }
    return false;
  }

  // Bob calls `number`, which ends in alice's box 1001, and says a 1 s
  // 1500 Hz tone after the greeting, then #: the WAV of the one new message
  // in her INBOX (empty when none came).
  fs::path leave_message(const std::string& number) {
    fs::path box = spool_ / "default" / "1001";
    auto before = files(box / "INBOX", ".txt").size();
    tm::RtpPeer peer(Codec::pcmu, 0, 101);
    Phone bob;
    call(bob, "bob", number, peer);
    EXPECT_NE(connect(peer), 0);
    EXPECT_TRUE(eventually([&] { return !files(box / "tmp", ".wav").empty(); })) << "recording never started";
    auto speech = tm::make_tone(1500, 1.0, 8000);
    speech.resize(speech.size() + 4000, 0);
    peer.send_audio(speech);
    peer.send_digits("#");
    EXPECT_EQ(bob.finish(), 0) << bob.out;
    expect_media_idle();
    auto txt = files(box / "INBOX", ".txt");
    EXPECT_EQ(txt.size(), before + 1) << "no message left";
    if (txt.size() != before + 1) return {};
    auto wav = txt.back();
    wav.replace_extension(".wav");
    return wav;
  }

  static inline std::shared_ptr<vm::VoicemailApp> app_;
  static inline fs::path spool_;
  static inline SmtpSink* smtp_ = nullptr;
};

// The issue's sequence: bob leaves a 2 s 1 kHz tone after alice's
// unavailable greeting (Dialtone's default prompts); the WAV in INBOX holds
// it; a mail with it attached reaches the relay; alice dials *98, gives her
// PIN, hears it and deletes it (7). Her phone, registered without
// subscribing, gets her lamp in unsolicited NOTIFYs as Asterisk sends them,
// all in one Call-ID (uas_mwi_unsolicited.xml): 1/0 once the message is
// left, 1/0 again when it registers anew (a reboot), 0/0 once deleted. In
// between, a lamp subscribed to message-summary (subscribe_mwi_voicemail.xml)
// gets 1/0, then 0/1 once heard, and the phone nothing meanwhile.
TEST_F(VoicemailTest, MessageLeftStoredMailedHeardWithMwi) {
  Phone phone;
  int phone_port = 0;
  {
    auto args = sipp_args(kUnsolicitedScenario, 1, "120s");
    phone_port = std::stoi(args[7]);
    phone.rc = std::async(std::launch::async, [args, &phone] { return run_sipp(args, &phone.out); });
    ASSERT_TRUE(wait_udp_bound(phone_port));
    std::string out;
    ASSERT_EQ(register_contact("alice", phone_port, &out), 0) << out;  // an empty box: no NOTIFY
  }

  fs::path box = spool_ / "default" / "1001";
  {
    tm::RtpPeer peer(Codec::pcmu, 0, 101);
    Phone bob;
    call(bob, "bob", "8001", peer);
    ASSERT_NE(connect(peer), 0);
    // The greeting reaches bob ("the person at extension 1 0 0 1 is unavailable ...").
    ASSERT_TRUE(eventually([&] { return tm::loud_samples(peer.audio(), 8000) > 8000; })) << "no greeting heard";
    // Recording has begun once its file exists under tmp/.
    ASSERT_TRUE(eventually([&] { return !files(box / "tmp", ".wav").empty(); })) << "recording never started";
    auto speech = tm::make_tone(1000, 2.0, 8000);
    speech.resize(speech.size() + 4000, 0);  // then half a second of silence
    peer.send_audio(speech);
    peer.send_digits("#");
    EXPECT_EQ(bob.finish(), 0) << bob.out;  // vm-msgsaved, goodbye, BYE from Dialtone
    expect_media_idle();
  }
  auto txt = files(box / "INBOX", ".txt");
  ASSERT_EQ(txt.size(), 1u);
  EXPECT_EQ(txt[0].filename(), "msg0000.txt");
  std::ifstream meta(txt[0]);
  std::string metadata((std::istreambuf_iterator<char>(meta)), std::istreambuf_iterator<char>());
  EXPECT_NE(metadata.find("callerid=\"bob\" <1002>"), std::string::npos) << metadata;
  EXPECT_NE(metadata.find("[message]"), std::string::npos);
  auto samples = wav_samples(box / "INBOX" / "msg0000.wav");
  double seconds = tone_seconds(samples, 1000);
  EXPECT_GT(seconds, 1.8) << "the caller's tone is not in the message";
  EXPECT_LT(seconds, 2.2);
  EXPECT_TRUE(files(box / "tmp", ".wav").empty()) << "a recording was left behind in tmp/";

  // The e-mail, with the message attached.
  ASSERT_TRUE(eventually([&] { return !smtp_->messages().empty(); })) << "no mail reached the relay";
  std::istringstream raw(smtp_->messages()[0]);
  Poco::Net::MailMessage mail;
  MailAttachments parts;
  mail.read(raw, parts);
  EXPECT_NE(mail.getSubject().find("1001@default"), std::string::npos) << mail.getSubject();
  ASSERT_TRUE(parts.parts.count("msg.wav")) << smtp_->messages()[0].substr(0, 2000);
  auto& wav = parts.parts["msg.wav"];
  EXPECT_EQ(wav.size(), fs::file_size(box / "INBOX" / "msg0000.wav"));
  EXPECT_EQ(wav.substr(0, 4), "RIFF");
  {
    // The phone boots: its new REGISTER (another Call-ID) tells it the lamp is lit.
    std::string out;
    ASSERT_EQ(register_contact("alice", phone_port, &out), 0) << out;
  }
  Phone lamp;
  {
    auto args = sipp_args(kMwiScenario, 1, "120s");
    args.insert(args.begin(), target_);
    std::vector<std::string> keys{"-au", "alice", "-ap", "alicepw", "-key", "user", "alice", "-key", "target",
                                  "alice", "-key", "event", "message-summary", "-key", "accept",
                                  "application/simple-message-summary", "-key", "expires", "600"};
    args.insert(args.end(), keys.begin(), keys.end());
    lamp.rc = std::async(std::launch::async, [args, &lamp] { return run_sipp(args, &lamp.out); });
  }
  ASSERT_TRUE(eventually([&] { return plugin_->subscriptions() == 1; })) << lamp.out;


  // *98: PIN, then 1 plays the message to alice.
  {
    tm::RtpPeer peer(Codec::pcmu, 0, 101);
    Phone alice;
    call(alice, "alice", "*98", peer);
    ASSERT_NE(connect(peer), 0);
    ASSERT_TRUE(eventually([&] { return tm::loud_samples(peer.audio(), 8000) > 800; })) << "no PIN prompt";
    peer.send_digits("1234#");
    EXPECT_TRUE(hears(peer, 1000, "1")) << "the message's tone never reached the phone";
    // Heard: filed in Old (0/1 to the lamp, which then unsubscribes); 7
    // deletes it (0/0 to the phone). Then # leaves the menus, and Dialtone hangs up.
    ASSERT_TRUE(eventually([&] { return files(box / "Old", ".txt").size() == 1; }));
    ASSERT_TRUE(eventually([&] { return plugin_->subscriptions() == 0; })) << lamp.out;
    peer.send_digits("7");
    EXPECT_TRUE(eventually([&] { return files(box / "Old", ".txt").empty(); })) << "7 did not delete the message";
    for (int i = 0; i < 40 && alice.rc.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready; ++i) {
      peer.send_digits("#");
      peer.send_audio(std::vector<std::int16_t>(4000, 0));
    }
    EXPECT_EQ(alice.finish(), 0) << alice.out;
    expect_media_idle();
  }
  EXPECT_TRUE(files(box / "INBOX", ".txt").empty());
  EXPECT_EQ(lamp.finish(), 0) << lamp.out;    // subscribed: 1/0, 0/1
  EXPECT_EQ(phone.finish(), 0) << phone.out;  // unsolicited: 1/0, 1/0, 0/0
}

// XiVO's "Enable voicemail": a call to alice that nobody takes (her phone
// is not registered) ends in her box after the unavailable greeting.
TEST_F(VoicemailTest, UnansweredCallToAUserLeavesAMessageInHerBox) {
  auto message = leave_message("1001");
  ASSERT_FALSE(message.empty());
  EXPECT_GT(tone_seconds(wav_samples(message), 1500), 0.8);
}

// An incall whose call_record_enabled is on sends its calls to alice's box:
// the call is recorded from the answer on (the greeting and what bob says)
// while the voicemail records the message, each file holding bob's tone.
TEST_F(VoicemailTest, RecordedIncallToAVoicemailIsRecordedBesideTheMessage) {
  host_->sql("INSERT INTO confd_contexts (name, type) VALUES ('from-extern', 'incall') ON CONFLICT DO NOTHING");
  auto i = host_->sql(
      "INSERT INTO confd_incalls (destination, call_record_enabled) SELECT jsonb_build_object('type', 'voicemail', "
      "'voicemail_id', id), true FROM confd_voicemails WHERE number = '1001' RETURNING id");
  auto x = host_->sql("INSERT INTO confd_extensions (exten, context) VALUES ('5552700', 'from-extern') RETURNING id");
  host_->sql("INSERT INTO confd_incall_extensions VALUES ($1::int, $2::int)", {i, x});
  auto message = leave_message("5552700");
  host_->sql("DELETE FROM confd_incalls WHERE id = $1::int", {i});
  host_->sql("DELETE FROM confd_extensions WHERE id = $1::int", {x});
  ASSERT_FALSE(message.empty());
  EXPECT_GT(tone_seconds(wav_samples(message), 1500), 0.8) << "bob's tone is not in the message";
  auto recorded = files(recordings_dir_, ".wav");
  ASSERT_EQ(recorded.size(), 1u) << "the call was not recorded";
  // The I/O thread closes the recording once the endpoint is gone.
  EXPECT_TRUE(eventually([&] { return tone_seconds(wav_samples(recorded[0]), 1500) > 0.8; }))
      << "bob's tone is not in the call's recording";
  EXPECT_GT(wav_samples(recorded[0]).size(), wav_samples(message).size()) << "the greeting is not recorded";
}

// The box's limits: with `maxsecs` 2 a longer message is cut at 2 s; with
// max_messages reached the caller hears vm-mailboxfull and nothing is filed.
TEST_F(VoicemailTest, BoxLimitsCutLongMessagesAndRefuseAFullBox) {
  fs::path box = spool_ / "default" / "1001";
  host_->sql("UPDATE confd_voicemails SET options = '[[\"maxsecs\", \"2\"]]' WHERE number = '1001'");
  auto before = files(box / "INBOX", ".txt").size();
  {
    tm::RtpPeer peer(Codec::pcmu, 0, 101);
    Phone bob;
    call(bob, "bob", "1001", peer);
    ASSERT_NE(connect(peer), 0);
    ASSERT_TRUE(eventually([&] { return !files(box / "tmp", ".wav").empty(); })) << "recording never started";
    peer.send_audio(tm::make_tone(1500, 4.0, 8000));
    EXPECT_EQ(bob.finish(), 0) << bob.out;
    expect_media_idle();
  }
  auto txt = files(box / "INBOX", ".txt");
  ASSERT_EQ(txt.size(), before + 1);
  auto wav = txt.back();
  wav.replace_extension(".wav");
  double seconds = tone_seconds(wav_samples(wav), 1500);
  EXPECT_GT(seconds, 1.0);
  EXPECT_LT(seconds, 2.3) << "the message was not cut at maxsecs";

  host_->sql("UPDATE confd_voicemails SET options = '[]', max_messages = $1::int WHERE number = '1001'",
             {std::to_string(before + 1)});
  {
    tm::RtpPeer peer(Codec::pcmu, 0, 101);
    Phone bob;
    call(bob, "bob", "1001", peer);
    ASSERT_NE(connect(peer), 0);
    EXPECT_TRUE(eventually([] { return host_->logger().contains("voicemail 1001@default is full"); }));
    EXPECT_TRUE(eventually([&] { return tm::loud_samples(peer.audio(), 8000) > 4000; })) << "no vm-mailboxfull";
    EXPECT_EQ(bob.finish(), 0) << bob.out;
    expect_media_idle();
  }
  EXPECT_EQ(files(box / "INBOX", ".txt").size(), before + 1) << "a message was filed in a full box";
  host_->sql("UPDATE confd_voicemails SET max_messages = NULL WHERE number = '1001'");
}

// A wrong PIN three times: goodbye, nothing read or moved.
TEST_F(VoicemailTest, WrongPinIsRefused) {
  tm::RtpPeer peer(Codec::pcmu, 0, 101);
  Phone alice;
  call(alice, "alice", "*98", peer);
  ASSERT_NE(connect(peer), 0);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(eventually([&] { return tm::loud_samples(peer.audio(), 8000) > 800; })) << "no PIN prompt";
    peer.clear();
    peer.send_digits("9999#");
    // vm-incorrect, then the next prompt (or goodbye)
    peer.send_audio(std::vector<std::int16_t>(8000, 0));
  }
  EXPECT_EQ(alice.finish(), 0) << alice.out;
  EXPECT_TRUE(eventually([] { return host_->logger().contains("wrong PIN 3 times for voicemail 1001@default"); }));
  expect_media_idle();
}

// *99<box> of a box without password: no PIN asked, and the log warns (seed
// 5.35.5); the box is empty: "you have 0 ... messages", then # and goodbye.
TEST_F(VoicemailTest, BoxWithoutPasswordIsOpenAndWarned) {
  tm::RtpPeer peer(Codec::pcmu, 0, 101);
  Phone alice;
  call(alice, "alice", "*991002", peer);
  ASSERT_NE(connect(peer), 0);
  ASSERT_TRUE(eventually([] { return host_->logger().contains("voicemail 1002@default has no password"); }));
  ASSERT_TRUE(eventually([&] { return tm::loud_samples(peer.audio(), 8000) > 800; }));
  for (int i = 0; i < 40 && alice.rc.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready; ++i) {
    peer.send_digits("#");
    peer.send_audio(std::vector<std::int16_t>(4000, 0));
  }
  EXPECT_EQ(alice.finish(), 0) << alice.out;
  expect_media_idle();
}

// The spool alone: files appear whole (no .part left), folders, forward,
// delete, and the counts survive a restart (a new application on the same
// directory publishes them).
TEST(VoicemailSpool, FoldersForwardDeleteAndRestart) {
  fs::path root = fs::temp_directory_path() / ("dialtone-vm-spool-" + std::to_string(::getpid()));
  fs::remove_all(root);
  vm::Spool spool(root);
  auto box = *vm::Mailbox::parse("2001@default");
  auto other = *vm::Mailbox::parse("2002@default");
  for (int i = 0; i < 2; ++i) {
    auto f = spool.recording_file(box, "rec");
    ASSERT_TRUE(f);
    std::ofstream(*f, std::ios::binary) << "RIFF....WAVE";
    ASSERT_TRUE(spool.deliver(box, *f, "\"x\" <1>", 1000 + i));
  }
  EXPECT_EQ(spool.counts(box).new_messages, 2);
  ASSERT_TRUE(spool.move(box, "INBOX", "msg0000", "Work"));
  ASSERT_TRUE(spool.move(box, "INBOX", "msg0001", "Old"));
  auto c = spool.counts(box);
  EXPECT_EQ(c.new_messages, 0);
  EXPECT_EQ(c.old_messages, 1);  // Work is filed away, not "old"
  ASSERT_TRUE(spool.forward(box, "Work", "msg0000", other, 2000));
  EXPECT_EQ(spool.counts(other).new_messages, 1);
  ASSERT_TRUE(spool.remove(box, "Old", "msg0000"));
  EXPECT_FALSE(spool.remove(box, "Old", "msg0000"));
  for (auto& e : fs::recursive_directory_iterator(root))
    EXPECT_NE(e.path().extension(), ".part") << e.path();
  EXPECT_FALSE(vm::Mailbox::parse("../../etc@default"));
  EXPECT_FALSE(vm::Mailbox::parse("1001@../x"));
  // A restart: the new application reads the disk.
  struct Mwi : sdk::PresenceService {
    std::map<std::string, std::pair<int, int>> seen;
    sdk::Result<sdk::PresenceResource> resolve(std::string_view, std::string_view) const override {
      return sdk::Error::not_found("");
    }
    sdk::Result<sdk::PresenceResource> mailbox_of(std::string_view) const override { return sdk::Error::not_found(""); }
    std::unique_ptr<Watch> watch(const sdk::PresenceResource&, std::function<void(const sdk::PresenceState&)>) override {
      return nullptr;
    }
    sdk::PresenceState state(const sdk::PresenceResource&) const override { return {}; }
    void set_mwi(const std::string& m, int n, int o) override { seen[m] = {n, o}; }
  };
  auto mwi = std::make_shared<Mwi>();
  vm::AppConfig cfg;
  cfg.spool = root;
  auto app = std::make_shared<vm::VoicemailApp>(cfg, nullptr, nullptr, nullptr, mwi);
  app->publish_all();
  EXPECT_EQ(mwi->seen["2001@default"], std::make_pair(0, 0));
  EXPECT_EQ(mwi->seen["2002@default"], std::make_pair(1, 0));
  // Box 2002 deleted in confd (config.voicemail.deleted carries the row):
  // its spool goes and its lamp goes out; 2001 stays; a body naming no
  // valid box removes nothing.
  ASSERT_TRUE(fs::exists(root / "default" / "2002"));
  EXPECT_TRUE(app->box_deleted(R"({"id":7,"number":"2002","context":"default","name":"Bob"})"));
  EXPECT_FALSE(fs::exists(root / "default" / "2002"));
  EXPECT_TRUE(fs::exists(root / "default" / "2001"));
  EXPECT_EQ(mwi->seen["2002@default"], std::make_pair(0, 0));
  EXPECT_FALSE(app->box_deleted(R"({"id":8,"number":"../2001","context":"default"})"));
  EXPECT_FALSE(app->box_deleted(R"({"id":9})"));
  EXPECT_TRUE(fs::exists(root / "default" / "2001"));
  fs::remove_all(root);
}

// A full disk while filing a message: a clear error naming the cause, no
// message listed, nothing half-written left (a small tmpfs filled up; skipped
// where the test may not mount one).
TEST(VoicemailSpool, FullDiskLeavesNothingHalfWritten) {
  fs::path root = fs::temp_directory_path() / ("dialtone-vm-full-" + std::to_string(::getpid()));
  fs::create_directories(root);
  std::string mount = "mount -t tmpfs -o size=64k tmpfs " + root.string() + " 2>/dev/null";
  if (std::system(mount.c_str()) != 0) {
    fs::remove_all(root);
    GTEST_SKIP() << "cannot mount a tmpfs here (needs CAP_SYS_ADMIN)";
  }
  vm::Spool spool(root);
  auto box = *vm::Mailbox::parse("3001@default");
  fs::create_directories(root / "default" / "3001" / "INBOX");
  auto f = spool.recording_file(box, "rec");
  ASSERT_TRUE(f);
  std::ofstream(*f, std::ios::binary) << std::string(2048, 'x');
  {
    std::ofstream filler(root / "filler", std::ios::binary);
    std::string block(1024, 'f');
    while (filler.write(block.data(), static_cast<std::streamsize>(block.size())) && filler.flush()) {}
  }
  auto m = spool.deliver(box, *f, "\"x\" <1>", 1000);
  ASSERT_FALSE(m);
  EXPECT_NE(m.error().message.find("No space left"), std::string::npos) << m.error().message;
  auto list = spool.messages(box, "INBOX");
  ASSERT_TRUE(list);
  EXPECT_TRUE(list->empty());
  std::vector<std::string> left;
  for (auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file() && e.path().filename() != "filler") left.push_back(e.path().string());
  EXPECT_TRUE(left.empty()) << left.front();
  EXPECT_EQ(spool.counts(box).new_messages, 0);
  (void)std::system(("umount " + root.string()).c_str());
  fs::remove_all(root);
}

// A relay that does not answer: one clear error, nothing thrown.
TEST(VoicemailMail, DeadRelayIsOneClearError) {
  int port;
  {
    SmtpSink s;
    port = s.port();
  }  // closed: nothing listens there now
  vm::MailConfig cfg;
  cfg.host = "127.0.0.1";
  cfg.port = port;
  struct NoExecutor : sdk::Executor {
    void post(std::function<void()> t) override { t(); }
    std::uint64_t after(std::chrono::milliseconds, std::function<void()>) override { return 0; }
    bool cancel(std::uint64_t) override { return false; }
  } ex;
  TestLogger log;
  auto mailer = std::make_shared<vm::Mailer>(cfg, ex, log);
  vm::MailJob job;
  job.to = "a@example.com";
  job.mailbox = "1001@default";
  mailer->send(job);
  EXPECT_TRUE(log.contains("e-mail for box 1001@default to a@example.com not sent"));
  EXPECT_TRUE(log.contains("voicemail.smtp_host"));
}

}  // namespace
}  // namespace dialtone::testing
