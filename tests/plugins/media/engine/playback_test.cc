// Prompts, tones, recordings and bad sound files, asserted on the audio a
// real RTP peer receives over loopback.
#include <signal.h>
#include <sndfile.h>
#include <sys/resource.h>

#include <fstream>

#include "tests/plugins/media/engine/media_fixture.h"

namespace dialtone::testing::media {
namespace {

// Index of the first 20 ms frame louder than `rms` at or after `from`.
std::size_t first_loud(const std::vector<std::int16_t>& s, int rate, std::size_t from, double rms = 300) {
  std::size_t frame = rate / 50;
  for (std::size_t i = from; i + frame <= s.size(); i += frame)
    if (std::sqrt(energy(s, i, i + frame) / frame) > rms) return i;
  return s.size();
}

using PlaybackTest = MediaTest;

TEST_F(PlaybackTest, PromptFromTheDebianPackReachesThePeerWithItsLengthAndLoudness) {
  auto file = engine_->find_sound("conf-getpin", "en");
  ASSERT_TRUE(file) << "asterisk-core-sounds-en-wav is not installed (scripts/deps.sh)";
  int rate = 0;
  auto original = read_wav(*file, &rate);
  ASSERT_EQ(rate, 8000);
  RtpPeer peer(sm::Codec::pcmu, 0);
  Events ev;
  auto ep = endpoint_for(peer, sm::Codec::pcmu, 0);
  ep->set_handler(ev.handler());
  ep->play({"conf-getpin"});
  ASSERT_TRUE(eventually([&] { return ev.count(sm::EventType::play_done) == 1; }));
  std::size_t at_done = peer.audio_size();
  ASSERT_TRUE(eventually([&] { return peer.audio_size() > at_done + 4000; }));  // the jitter-buffered tail
  auto got = peer.audio();
  double want_loud = loud_samples(original, 8000) / 8000.0;
  double got_loud = loud_samples(got, 8000) / 8000.0;
  EXPECT_NEAR(got_loud, want_loud, 0.15) << "seconds of speech received vs in the file";
  double ratio = energy(got) / energy(original);
  EXPECT_GT(ratio, 0.7);
  EXPECT_LT(ratio, 1.3);
  EXPECT_TRUE(ev.all().back().ok);
}

TEST_F(PlaybackTest, ListOfFilesPlaysInSequence) {
  auto a = dir_ / "a.wav", b = dir_ / "b.wav";
  write_wav(a, make_tone(600, 0.5, 8000), 8000);
  write_wav(b, make_tone(1500, 0.5, 16000), 16000);  // wideband file into a G.711 leg
  RtpPeer peer(sm::Codec::pcma, 8);
  Events ev;
  auto ep = endpoint_for(peer, sm::Codec::pcma, 8);
  ep->set_handler(ev.handler());
  std::size_t start = peer.audio_size();
  ep->play({a.string(), b.string()});
  ASSERT_TRUE(eventually([&] { return ev.count(sm::EventType::play_done) == 1; }));
  ASSERT_TRUE(eventually([&] { return peer.audio_size() > start + 8000 * 1.4; }));
  auto got = peer.audio();
  std::size_t s = first_loud(got, 8000, start);
  ASSERT_LT(s + 8000, got.size());
  EXPECT_GT(tone_share(got, 8000, 600, s + 400, s + 3600), 0.8);
  EXPECT_GT(tone_share(got, 8000, 1500, s + 4400, s + 7600), 0.8);
  EXPECT_NEAR(loud_samples(got, 8000) / 8000.0, 1.0, 0.06);
}

TEST_F(PlaybackTest, GsmAndSlinFilesPlay) {
  // Raw GSM 06.10 (.gsm), signed linear 8 kHz (.sln) and 16 kHz (.sln16), as Asterisk stores them.
  auto write_raw = [](const std::filesystem::path& p, int format, int rate, const std::vector<std::int16_t>& s) {
    SF_INFO info{};
    info.samplerate = rate;
    info.channels = 1;
    info.format = SF_FORMAT_RAW | format;
    SNDFILE* f = sf_open(p.c_str(), SFM_WRITE, &info);
    ASSERT_NE(f, nullptr) << sf_strerror(nullptr);
    sf_write_short(f, s.data(), static_cast<sf_count_t>(s.size()));
    sf_close(f);
  };
  auto gsm = dir_ / "tone.gsm", sln = dir_ / "tone.sln", sln16 = dir_ / "tone.sln16";
  write_raw(gsm, SF_FORMAT_GSM610, 8000, make_tone(700, 0.6, 8000));
  write_raw(sln, SF_FORMAT_PCM_16 | SF_ENDIAN_LITTLE, 8000, make_tone(1300, 0.6, 8000));
  write_raw(sln16, SF_FORMAT_PCM_16 | SF_ENDIAN_LITTLE, 16000, make_tone(2500, 0.6, 16000));
  RtpPeer peer(sm::Codec::g722, 9);
  Events ev;
  auto ep = endpoint_for(peer, sm::Codec::g722, 9);
  ep->set_handler(ev.handler());
  std::size_t start = peer.audio_size();
  ep->play({gsm.string(), sln.string(), sln16.string()});
  ASSERT_TRUE(eventually([&] { return ev.count(sm::EventType::play_done) == 1; }));
  EXPECT_TRUE(ev.all().back().ok);
  ASSERT_TRUE(eventually([&] { return peer.audio_size() > start + 16000 * 2; }));
  auto a = peer.audio();
  std::size_t s = first_loud(a, 16000, start);
  ASSERT_LT(s + 16000 * 1.8, a.size());
  EXPECT_GT(tone_share(a, 16000, 700, s + 1600, s + 8000), 0.8) << "GSM";
  EXPECT_GT(tone_share(a, 16000, 1300, s + 11200, s + 17600), 0.9) << "sln";
  EXPECT_GT(tone_share(a, 16000, 2500, s + 20800, s + 27200), 0.9) << "sln16";
}

TEST_F(PlaybackTest, FrenchAndUsTonesHaveTheirFrequencies) {
  RtpPeer fr(sm::Codec::pcmu, 0), us(sm::Codec::g722, 9);
  auto ep_fr = endpoint_for(fr, sm::Codec::pcmu, 0);
  auto ep_us = endpoint_for(us, sm::Codec::g722, 9, 101, [](sm::EndpointConfig& c) { c.tone_country = "us"; });
  std::size_t s_fr = fr.audio_size(), s_us = us.audio_size();
  ep_fr->play_tone("dial");
  ep_us->play_tone("dial");
  ASSERT_TRUE(eventually([&] { return fr.audio_size() > s_fr + 8000 && us.audio_size() > s_us + 16000; }));
  auto a = fr.audio();
  std::size_t f = first_loud(a, 8000, s_fr);
  EXPECT_GT(tone_share(a, 8000, 440, f, f + 4000), 0.9) << "French dial tone is 440 Hz";
  auto b = us.audio();
  std::size_t u = first_loud(b, 16000, s_us);
  double s350 = tone_share(b, 16000, 350, u, u + 8000), s440 = tone_share(b, 16000, 440, u, u + 8000);
  EXPECT_GT(s350, 0.35) << "US dial tone is 350+440 Hz";
  EXPECT_GT(s440, 0.35);
  EXPECT_GT(s350 + s440, 0.9);
}

TEST_F(PlaybackTest, BusyToneHasItsCadence) {
  RtpPeer peer(sm::Codec::pcmu, 0);
  auto ep = endpoint_for(peer, sm::Codec::pcmu, 0, 101, [](sm::EndpointConfig& c) { c.tone_country = "us"; });
  std::size_t start = peer.audio_size();
  ep->play_tone("busy");
  ASSERT_TRUE(eventually([&] { return peer.audio_size() > start + 8000 * 3; }));
  auto a = peer.audio();
  std::size_t s = first_loud(a, 8000, start);
  // 480+620 Hz, 500 ms on, 500 ms off: count 20 ms frames of each.
  int on = 0, off = 0, changes = 0;
  bool prev = true;
  for (std::size_t i = s; i + 160 <= s + 8000 * 2; i += 160) {
    bool loud = std::sqrt(energy(a, i, i + 160) / 160) > 300;
    (loud ? on : off)++;
    if (loud != prev) ++changes;
    prev = loud;
  }
  EXPECT_NEAR(on, 50, 4);
  EXPECT_NEAR(off, 50, 4);
  EXPECT_EQ(changes, 3);
  EXPECT_GT(tone_share(a, 8000, 480, s + 400, s + 3600) + tone_share(a, 8000, 620, s + 400, s + 3600), 0.9);
}

TEST_F(PlaybackTest, RecordingContainsTheSentTone) {
  RtpPeer peer(sm::Codec::pcmu, 0);
  Events ev;
  auto ep = endpoint_for(peer, sm::Codec::pcmu, 0);
  ep->set_handler(ev.handler());
  auto file = dir_ / "recordings" / "rec.wav";
  ep->record(file);
  ASSERT_TRUE(eventually([&] { return peer.packets() > 5; }));  // the endpoint is live
  peer.send_audio(make_tone(1000, 1.0, 8000));
  peer.send_audio(std::vector<std::int16_t>(8000 * 0.2));  // flush the jitter buffer
  ep->stop_recording();
  ASSERT_TRUE(eventually([&] { return ev.count(sm::EventType::record_done) == 1; }));
  EXPECT_TRUE(ev.all().back().ok) << ev.all().back().detail;
  int rate = 0;
  auto rec = read_wav(file, &rate);
  EXPECT_EQ(rate, 8000);
  EXPECT_NEAR(loud_samples(rec, 8000) / 8000.0, 1.0, 0.06);
  std::size_t s = first_loud(rec, 8000, 0);
  EXPECT_GT(tone_share(rec, 8000, 1000, s + 160, s + 7200), 0.9);
}

TEST_F(PlaybackTest, RecordingBothDirectionsHasTheCallerAndWhatWasPlayed) {
  RtpPeer peer(sm::Codec::g722, 9);
  Events ev;
  auto ep = endpoint_for(peer, sm::Codec::g722, 9);
  ep->set_handler(ev.handler());
  auto file = dir_ / "both.wav";
  sm::RecordOptions o;
  o.both_directions = true;
  o.sample_rate = 16000;
  ep->record(file, o);
  ep->play_tone("dial");  // fr: 440 Hz to the caller
  peer.send_audio(make_tone(1000, 1.0, 16000));
  ep->stop_recording();
  ASSERT_TRUE(eventually([&] { return ev.count(sm::EventType::record_done) == 1; }));
  int rate = 0;
  auto rec = read_wav(file, &rate);
  EXPECT_EQ(rate, 16000);
  std::size_t s = first_loud(rec, 16000, 0);
  ASSERT_LT(s + 9600, rec.size());
  double caller = tone_share(rec, 16000, 1000, s + 3200, rec.size() - 3200);
  double played = tone_share(rec, 16000, 440, s + 3200, rec.size() - 3200);
  EXPECT_GT(caller, 0.2) << "the caller's 1 kHz";
  EXPECT_GT(played, 0.2) << "the 440 Hz dial tone sent to the caller";
  EXPECT_GT(caller + played, 0.85);
}

// Open descriptors of this process on `file`.
int open_fds_on(const std::filesystem::path& file) {
  int n = 0;
  std::error_code ec;
  for (auto& e : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    std::error_code ec2;
    if (std::filesystem::read_symlink(e.path(), ec2) == file) ++n;
  }
  return n;
}

TEST_F(PlaybackTest, DroppingAnEndpointClosesItsRecording) {
  auto file = dir_ / "dropped.wav";
  {
    RtpPeer peer(sm::Codec::pcmu, 0);
    auto ep = endpoint_for(peer, sm::Codec::pcmu, 0);
    ep->record(file);
    ASSERT_TRUE(eventually([&] { return open_fds_on(file) == 1; }));
  }  // the call hangs up while recording
  EXPECT_TRUE(eventually([&] { return open_fds_on(file) == 0; }));
  int rate = 0;
  read_wav(file, &rate);
  EXPECT_EQ(rate, 8000) << "a valid WAV was left behind";
}

TEST_F(PlaybackTest, RecordingIntoAnUnwritablePlaceIsReportedAndTheCallGoesOn) {
  RtpPeer peer(sm::Codec::pcmu, 0);
  Events ev;
  auto ep = endpoint_for(peer, sm::Codec::pcmu, 0);
  ep->set_handler(ev.handler());
  ep->record("/proc/dialtone-cannot-write-here/rec.wav");
  ASSERT_TRUE(eventually([&] { return ev.count(sm::EventType::record_done) == 1; }));
  EXPECT_FALSE(ev.all().back().ok);
  EXPECT_TRUE(log_.contains("cannot record to /proc/dialtone-cannot-write-here/rec.wav"));
  std::size_t start = peer.audio_size();
  ep->play_tone("dial");
  ASSERT_TRUE(eventually([&] { return peer.audio_size() > start + 4000; }));
  auto a = peer.audio();
  std::size_t s = first_loud(a, 8000, start);
  EXPECT_GT(tone_share(a, 8000, 440, s, s + 1600), 0.9);
}

TEST_F(PlaybackTest, DiskFullDuringRecordingIsReportedAndTheCallGoesOn) {
  // A file-size limit stands in for a full disk: writes past 8 KiB fail.
  rlimit old{};
  getrlimit(RLIMIT_FSIZE, &old);
  auto old_handler = signal(SIGXFSZ, SIG_IGN);
  rlimit small{8192, old.rlim_max};
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  RtpPeer peer(sm::Codec::pcmu, 0);
  Events ev;
  auto ep = endpoint_for(peer, sm::Codec::pcmu, 0);
  ep->set_handler(ev.handler());
  auto file = dir_ / "full.wav";
  ep->record(file);
  peer.send_audio(make_tone(1000, 1.0, 8000));  // 16 KB of samples
  bool reported = eventually([&] { return ev.count(sm::EventType::record_done) == 1; });
  setrlimit(RLIMIT_FSIZE, &old);
  signal(SIGXFSZ, old_handler);
  ASSERT_TRUE(reported);
  EXPECT_FALSE(ev.all().back().ok);
  EXPECT_TRUE(log_.contains("recording " + file.string() + " stopped: cannot write"));
  std::size_t start = peer.audio_size();
  ep->play_tone("dial");
  ASSERT_TRUE(eventually([&] { return peer.audio_size() > start + 4000; }));
  auto a = peer.audio();
  std::size_t s = first_loud(a, 8000, start);
  EXPECT_GT(tone_share(a, 8000, 440, s, s + 1600), 0.9) << "the call still hears its tone";
}

TEST_F(PlaybackTest, MusicOnHoldLoops) {
  auto files = engine_->music_files("default");
  ASSERT_FALSE(files.empty()) << "asterisk-moh-opsound-wav is not installed";
  auto a = dir_ / "short.wav";
  write_wav(a, make_tone(900, 0.3, 8000), 8000);
  RtpPeer peer(sm::Codec::pcmu, 0);
  Events ev;
  auto ep = endpoint_for(peer, sm::Codec::pcmu, 0);
  ep->set_handler(ev.handler());
  sm::PlayOptions o;
  o.loop = true;
  ep->play({a.string()}, o);
  // Three loops of a 0.3 s file without a play_done in between.
  ASSERT_TRUE(eventually([&] { return loud_samples(peer.audio(), 8000) >= 8000 * 0.9; }));
  EXPECT_EQ(ev.count(sm::EventType::play_done), 0u);
  // Announced once, when the loaded list began (call:moh times its seconds from it).
  ASSERT_TRUE(eventually([&] { return ev.count(sm::EventType::play_started) == 1; }));
  EXPECT_EQ(ev.all().front().type, sm::EventType::play_started);
  ep->stop_playing();
  ASSERT_TRUE(eventually([&] { return ev.count(sm::EventType::play_done) == 1; }));
  EXPECT_TRUE(ev.all().back().stopped);
}

TEST_F(PlaybackTest, CorruptWavLogsOneLineAndPlaysTheInfoTone) {
  auto bad = dir_ / "bad.wav";
  std::ofstream(bad) << "RIFF\x10\0\0\0WAVEfmt garbage that is not audio";
  RtpPeer peer(sm::Codec::pcmu, 0);
  Events ev;
  auto ep = endpoint_for(peer, sm::Codec::pcmu, 0);
  ep->set_handler(ev.handler());
  std::size_t start = peer.audio_size();
  ep->play({bad.string()});
  ASSERT_TRUE(eventually([&] { return ev.count(sm::EventType::play_done) == 1; }));
  EXPECT_FALSE(ev.all().back().ok);
  auto lines = log_.lines();
  EXPECT_EQ(std::count_if(lines.begin(), lines.end(),
                          [&](auto& l) { return l.find("cannot play " + bad.string()) != std::string::npos; }),
            1);
  ASSERT_TRUE(eventually([&] { return peer.audio_size() > start + 8000 * 1.2; }));
  auto a = peer.audio();
  std::size_t s = first_loud(a, 8000, start);
  ASSERT_LT(s, a.size());
  EXPECT_GT(tone_share(a, 8000, 950, s + 160, s + 2400), 0.8) << "SIT info tone: 950, 1400, 1800 Hz";
  EXPECT_GT(tone_share(a, 8000, 1400, s + 2800, s + 5000), 0.8);
}

TEST_F(PlaybackTest, MissingPromptLogsAndPlaysTheInfoTone) {
  RtpPeer peer(sm::Codec::pcmu, 0);
  Events ev;
  auto ep = endpoint_for(peer, sm::Codec::pcmu, 0);
  ep->set_handler(ev.handler());
  ep->play({"no-such-prompt-anywhere"});
  ASSERT_TRUE(eventually([&] { return ev.count(sm::EventType::play_done) == 1; }));
  EXPECT_FALSE(ev.all().back().ok);
  EXPECT_TRUE(log_.contains("sound 'no-such-prompt-anywhere' not found"));
  ASSERT_TRUE(eventually([&] { return loud_samples(peer.audio(), 8000) > 4000; }));
}

TEST_F(PlaybackTest, SoundsResolveByLanguageWithEnglishFallback) {
  auto fr = engine_->find_sound("conf-getpin", "fr");
  ASSERT_TRUE(fr) << "asterisk-core-sounds-fr-wav is not installed (scripts/deps.sh)";
  EXPECT_NE(fr->string().find("/fr"), std::string::npos) << fr->string();
  auto en = engine_->find_sound("conf-getpin", "de");
  ASSERT_TRUE(en);
  EXPECT_NE(en->string().find("/en"), std::string::npos) << en->string();
  EXPECT_TRUE(engine_->find_sound("digits/5", "fr"));
  EXPECT_FALSE(engine_->find_sound("no-such-prompt-anywhere", "en"));
  EXPECT_GE(engine_->music_files("default").size(), 1u) << "asterisk-moh-opsound-wav is not installed";
}

// A user's language (confd users.language, "fr_FR") set on the endpoint
// picks the French recording of a prompt: what the peer hears has the
// French file's seconds of speech, not the English one's.
TEST_F(PlaybackTest, EndpointLanguagePicksThePromptOfThatLanguage) {
  auto fr = engine_->find_sound("vm-intro", "fr_FR"), en = engine_->find_sound("vm-intro", "en");
  ASSERT_TRUE(fr && en);
  ASSERT_NE(fr->string().find("/fr"), std::string::npos) << "asterisk-core-sounds-fr-wav is not installed";
  double fr_loud = loud_samples(read_wav(*fr), 8000) / 8000.0, en_loud = loud_samples(read_wav(*en), 8000) / 8000.0;
  ASSERT_GT(std::abs(fr_loud - en_loud), 0.6) << "the two recordings are too alike to tell apart";
  RtpPeer peer(sm::Codec::pcmu, 0);
  Events ev;
  auto ep = endpoint_for(peer, sm::Codec::pcmu, 0);
  ep->set_handler(ev.handler());
  ep->set_language("fr_FR");
  ep->play({"vm-intro"});
  ASSERT_TRUE(eventually([&] { return ev.count(sm::EventType::play_done) == 1; }));
  std::size_t at_done = peer.audio_size();
  ASSERT_TRUE(eventually([&] { return peer.audio_size() > at_done + 4000; }));
  double got = loud_samples(peer.audio(), 8000) / 8000.0;
  EXPECT_NEAR(got, fr_loud, 0.3) << "seconds of speech heard; English has " << en_loud;
}

TEST_F(PlaybackTest, StopOnDtmfInterruptsAPrompt) {
  RtpPeer peer(sm::Codec::pcmu, 0);
  Events ev;
  auto ep = endpoint_for(peer, sm::Codec::pcmu, 0);
  ep->set_handler(ev.handler());
  sm::PlayOptions o;
  o.stop_on_dtmf = true;
  ep->play({"agent-pass", "agent-pass", "agent-pass"}, o);  // ~10 s
  ASSERT_TRUE(eventually([&] { return loud_samples(peer.audio(), 8000) > 800; }));
  peer.send_digits("5");
  ASSERT_TRUE(eventually([&] { return ev.count(sm::EventType::play_done) == 1; }));
  auto all = ev.all();
  EXPECT_TRUE(all.back().stopped);
  EXPECT_EQ(ev.digits(sm::DtmfSource::rfc4733), "5");
}

}  // namespace
}  // namespace dialtone::testing::media
