// Pieces of the engine without sockets: tone tables, SDP crypto lines, the
// jitter buffer's ordering, the order of music-on-hold files.
#include <gtest/gtest.h>

#include <unistd.h>

#include <fstream>

#include "plugins/media/engine/jitter_buffer.h"
#include "plugins/media/engine/sound_library.h"
#include "plugins/media/engine/tones.h"

namespace dialtone::plugins::media {
namespace {

TEST(MediaTones, CountryTablesFollowIndicationsConf) {
  auto fr = country_tone("fr", "busy");
  ASSERT_TRUE(fr);
  ASSERT_EQ(fr->count, 2);
  EXPECT_EQ(fr->seg[0].f1, 440);
  EXPECT_EQ(fr->seg[0].samples, 500u * 16);
  EXPECT_EQ(fr->seg[1].f1, 0);
  auto us = country_tone("us", "ringback");
  ASSERT_TRUE(us);
  EXPECT_EQ(us->seg[0].f1, 440);
  EXPECT_EQ(us->seg[0].f2, 480);
  EXPECT_EQ(us->seg[0].samples, 2000u * 16);
  EXPECT_FALSE(country_tone("fr", "nonsense"));
  EXPECT_FALSE(country_tone("zz", "busy"));
  EXPECT_TRUE(country_tone("fr", "info")->finite());
  EXPECT_FALSE(country_tone("fr", "dial")->finite());
  EXPECT_FALSE(parse_tone("440/abc"));
  EXPECT_FALSE(parse_tone("99999"));
}

TEST(MediaTones, FiniteToneEnds) {
  ToneGenerator g;
  g.start(*parse_tone("!1000/100"));
  std::int16_t buf[kFrame];
  int frames = 0;
  while (g.fill(buf) && frames < 100) ++frames;
  EXPECT_EQ(frames, 5);
}

TEST(MediaCrypto, ParsesAndPrintsSdpCryptoLines) {
  auto a = sdk::media::CryptoAttribute::parse("1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:32");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->tag, 1);
  EXPECT_EQ(a->suite, "AES_CM_128_HMAC_SHA1_80");
  EXPECT_EQ(a->key_base64, "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz");
  EXPECT_EQ(a->to_sdp(), "1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz");
  EXPECT_FALSE(sdk::media::CryptoAttribute::parse("x AES inline:abc"));
  EXPECT_FALSE(sdk::media::CryptoAttribute::parse("1 AES_CM_128_HMAC_SHA1_80 key"));
  EXPECT_FALSE(sdk::media::CryptoAttribute::parse("1 AES_CM_128_HMAC_SHA1_80 inline:abc UNENCRYPTED_SRTP"));
}

TEST(MediaCodecs, RtpmapNamesRoundTrip) {
  for (auto c : {sdk::media::Codec::pcmu, sdk::media::Codec::pcma, sdk::media::Codec::g722, sdk::media::Codec::opus})
    EXPECT_EQ(sdk::media::codec_from_name(sdk::media::rtpmap(c)), c);
  EXPECT_EQ(sdk::media::codec_from_name("OPUS/48000/2"), sdk::media::Codec::opus);
  EXPECT_FALSE(sdk::media::codec_from_name("G729/8000"));
}

TEST(MediaJitterBuffer, ReordersAndCountsLossAndLatePackets) {
  JitterBuffer jb;
  jb.set_prefill(3);
  std::uint8_t payload[160] = {};
  auto push = [&](std::uint16_t seq) {
    RtpPacket p;
    p.seq = seq;
    p.pt = 0;
    p.payload = payload;
    p.payload_len = 160;
    return jb.push(p);
  };
  const JitterBuffer::Slot* s = nullptr;
  push(11);
  push(10);
  EXPECT_EQ(jb.pop(s), JitterBuffer::Pop::empty);  // still filling
  push(13);
  ASSERT_EQ(jb.pop(s), JitterBuffer::Pop::packet);
  EXPECT_EQ(s->seq, 10);
  ASSERT_EQ(jb.pop(s), JitterBuffer::Pop::packet);
  EXPECT_EQ(s->seq, 11);
  EXPECT_EQ(jb.pop(s), JitterBuffer::Pop::lost);  // 12 never came
  EXPECT_FALSE(push(12));                          // too late now
  EXPECT_EQ(jb.late(), 1u);
  ASSERT_EQ(jb.pop(s), JitterBuffer::Pop::packet);
  EXPECT_EQ(s->seq, 13);
  EXPECT_EQ(jb.lost(), 1u);
}

// Seed 5.22: a class plays its files in alphabetical order, or shuffled
// (random), or alphabetically from a random file on (random_start), as
// confd's /1.1/moh `sort` says.
TEST(MediaMusic, ClassFilesFollowTheirSort) {
  namespace fs = std::filesystem;
  auto root = fs::temp_directory_path() / ("dialtone-moh-sort-" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root / "jazz");
  std::vector<fs::path> alphabetical;
  for (char c = 'a'; c <= 'h'; ++c) {
    alphabetical.push_back(root / "jazz" / (std::string(1, c) + ".wav"));
    std::ofstream(alphabetical.back()) << "x";
  }
  SoundLibrary lib(root, "en", root);
  EXPECT_EQ(lib.music_files("jazz"), alphabetical) << "no sort set: alphabetical";
  std::string order = "alphabetical";
  lib.set_music_sort([&order](std::string_view cls) { return cls == "jazz" ? order : std::string(); });
  EXPECT_EQ(lib.music_files("jazz"), alphabetical);
  order = "random";
  bool shuffled = false;
  for (int i = 0; i < 20 && !shuffled; ++i) {
    auto got = lib.music_files("jazz");
    auto sorted = got;
    std::sort(sorted.begin(), sorted.end());
    ASSERT_EQ(sorted, alphabetical) << "random must keep every file once";
    shuffled = got != alphabetical;
  }
  EXPECT_TRUE(shuffled) << "20 random orders were all alphabetical";
  order = "random_start";
  bool moved = false;
  for (int i = 0; i < 20; ++i) {
    auto got = lib.music_files("jazz");
    auto start = std::find(alphabetical.begin(), alphabetical.end(), got.front()) - alphabetical.begin();
    for (std::size_t k = 0; k < got.size(); ++k)
      ASSERT_EQ(got[k], alphabetical[(start + k) % alphabetical.size()]) << "random_start must rotate the order";
    moved = moved || start != 0;
  }
  EXPECT_TRUE(moved) << "20 random starts all began with the first file";
  fs::remove_all(root);
}

}  // namespace
}  // namespace dialtone::plugins::media
