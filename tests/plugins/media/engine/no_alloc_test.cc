// The per-packet path allocates nothing: operator new is counted per thread,
// and media threads (named media-N) must not call it while endpoints receive,
// decode, mix, play, record, encrypt and send in steady state.
#include <pthread.h>
#include <sys/prctl.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>

#include "tests/plugins/media/engine/media_fixture.h"

namespace {

std::atomic<std::uint64_t> g_media_allocs{0};

bool on_media_thread() {
  char name[16] = {};
  prctl(PR_GET_NAME, name, 0, 0, 0);
  return std::strncmp(name, "media-", 6) == 0 && std::strcmp(name, "media-io") != 0;
}

void* counted(std::size_t n) {
  if (on_media_thread()) g_media_allocs.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}

}  // namespace

void* operator new(std::size_t n) { return counted(n); }
void* operator new[](std::size_t n) { return counted(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace dialtone::testing::media {
namespace {

using NoAllocTest = MediaTest;

TEST_F(NoAllocTest, SteadyStateMediaThreadsDoNotAllocate) {
  auto ours = media().new_crypto(1), theirs = media().new_crypto(1);
  RtpPeer a(sm::Codec::pcmu, 0), b(sm::Codec::g722, 9), c(sm::Codec::opus, 111), d(sm::Codec::pcma, 8);
  c.set_srtp(theirs, ours);
  auto ea = endpoint_for(a, sm::Codec::pcmu, 0);
  auto eb = endpoint_for(b, sm::Codec::g722, 9);
  auto ec = endpoint_for(c, sm::Codec::opus, 111, 101, [&](sm::EndpointConfig& cfg) {
    cfg.srtp_local = ours;
    cfg.srtp_remote = theirs;
  });
  auto ed = endpoint_for(d, sm::Codec::pcma, 8);
  auto conf = engine_->create_mixer();
  conf->add(ea);
  conf->add(eb);
  conf->add(ec);
  sm::PlayOptions loop;
  loop.loop = true;
  ed->play({"conf-getpin"}, loop);
  ed->record(dir_ / "steady.wav");
  ASSERT_TRUE(eventually([&] { return conf->size() == 3 && d.packets() > 10; }));

  std::vector<std::thread> talkers;
  std::atomic<std::uint64_t> before{0}, after{0};
  talkers.emplace_back([&] { a.send_audio(make_tone(500, 2.5, 8000)); });
  talkers.emplace_back([&] { b.send_audio(make_tone(1100, 2.5, 16000)); });
  talkers.emplace_back([&] { c.send_audio(make_tone(1700, 2.5, 16000)); });
  talkers.emplace_back([&] { d.send_audio(make_tone(900, 2.5, 8000)); });
  // Measure in the middle, when every stream is flowing and no command is queued.
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  before = g_media_allocs.load();
  std::size_t pa = a.packets(), pc = c.packets();
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  after = g_media_allocs.load();
  std::size_t pa2 = a.packets(), pc2 = c.packets();
  for (auto& t : talkers) t.join();
  EXPECT_GT(pa2, pa + 20) << "the mix was flowing during the window";
  EXPECT_GT(pc2, pc + 20) << "the SRTP Opus leg was flowing during the window";
  EXPECT_EQ(after - before, 0u) << "allocations on media threads in steady state";
  // The counter does see media threads: moving a member to its mixer's thread
  // posts a command from one media thread to another, which allocates.
  EXPECT_GT(before.load(), 0u);
}

}  // namespace
}  // namespace dialtone::testing::media
