#include "fax_receiver.h"

#include <pthread.h>

#include <algorithm>
#include <cstring>
#include <fstream>

extern "C" {
#include <spandsp.h>
}

namespace dialtone::plugins::media {

namespace sm = sdk::media;

bool SampleRing::push(const std::int16_t* s, int n) {
  std::size_t head = head_.load(std::memory_order_relaxed);
  std::size_t tail = tail_.load(std::memory_order_acquire);
  if (head - tail + static_cast<std::size_t>(n) > kCap) return false;
  for (int i = 0; i < n; ++i) buf_[(head + i) & (kCap - 1)] = s[i];
  head_.store(head + n, std::memory_order_release);
  return true;
}

bool SampleRing::pop(std::int16_t* out, int n) {
  std::size_t tail = tail_.load(std::memory_order_relaxed);
  std::size_t head = head_.load(std::memory_order_acquire);
  if (head - tail < static_cast<std::size_t>(n)) return false;
  for (int i = 0; i < n; ++i) out[i] = buf_[(tail + i) & (kCap - 1)];
  tail_.store(tail + n, std::memory_order_release);
  return true;
}

FaxReceiver::FaxReceiver(std::filesystem::path file, sm::FaxOptions options, sdk::Logger& log,
                         std::function<void(sm::MediaEvent)> done)
    : file_(std::move(file)), options_(std::move(options)), log_(log), done_(std::move(done)) {
  part_ = file_;
  part_ += ".part";
}

FaxReceiver::~FaxReceiver() {
  if (fax_) fax_free(fax_);
}

void FaxReceiver::heard(const std::int16_t* narrow) {
  if (!over()) (void)rx_.push(narrow, kNarrowFrame);  // full: the fax thread is gone
}

void FaxReceiver::to_send(std::int16_t* narrow) {
  // The fax thread may run late: send from a few frames of margin, and
  // rebuild it after running dry, so that a late step costs one gap rather
  // than a gap in every frame after it.
  if (!sending_ && tx_.size() >= kSendMargin * kNarrowFrame) sending_ = true;
  if (!sending_ || !tx_.pop(narrow, kNarrowFrame)) {
    sending_ = false;
    std::memset(narrow, 0, sizeof(std::int16_t) * kNarrowFrame);
  }
}

int FaxReceiver::on_phase_b(t30_state_s*, void* self, int) {
  static_cast<FaxReceiver*>(self)->phase_b_ = true;
  return T30_ERR_OK;
}

void FaxReceiver::on_phase_e(t30_state_s*, void* self, int code) {
  auto* r = static_cast<FaxReceiver*>(self);
  if (r->ended_) return;
  r->ended_ = true;
  r->end_code_ = code;
}

bool FaxReceiver::step() {
  if (over()) return true;
  if (!started_) {
    started_ = true;
    std::error_code ec;
    if (part_.has_parent_path()) std::filesystem::create_directories(part_.parent_path(), ec);
    // spandsp opens the file only when the first page comes: find out now,
    // before answering with fax tones, that it can be written.
    bool writable = std::ofstream(part_, std::ios::binary | std::ios::trunc).good();
    std::filesystem::remove(part_, ec);
    if (!writable) {
      sm::MediaEvent e;
      e.type = sm::EventType::fax_done;
      e.ok = false;
      e.detail = "cannot write " + part_.string() + ": " + std::strerror(errno);
      over_.store(true, std::memory_order_release);
      done_(std::move(e));
      return true;
    }
    heard_at_ = std::chrono::steady_clock::now();
    fax_ = fax_init(nullptr, 0);  // the answering side
    fax_set_transmit_on_idle(fax_, 1);
    t30_state_t* t30 = fax_get_t30_state(fax_);
    t30_set_rx_file(t30, part_.c_str(), -1);
    if (!options_.local_id.empty()) t30_set_tx_ident(t30, options_.local_id.substr(0, 20).c_str());
    t30_set_ecm_capability(t30, options_.ecm ? 1 : 0);
    t30_set_supported_modems(t30, T30_SUPPORT_V27TER | T30_SUPPORT_V29 | T30_SUPPORT_V17);
    t30_set_supported_compressions(
        t30, T30_SUPPORT_T4_1D_COMPRESSION | T30_SUPPORT_T4_2D_COMPRESSION | T30_SUPPORT_T6_COMPRESSION);
    t30_set_phase_b_handler(t30, &FaxReceiver::on_phase_b, this);
    t30_set_phase_e_handler(t30, &FaxReceiver::on_phase_e, this);
  }
  t30_state_t* t30 = fax_get_t30_state(fax_);
  const std::uint64_t detect = static_cast<std::uint64_t>(std::max(1, options_.detect_seconds)) * 8000;
  std::int16_t in[kNarrowFrame], out[kNarrowFrame];
  while (!ended_ && rx_.pop(in, kNarrowFrame)) {
    fax_rx(fax_, in, kNarrowFrame);
    fax_tx(fax_, out, kNarrowFrame);
    (void)tx_.push(out, kNarrowFrame);
    samples_ += kNarrowFrame;
    if (!phase_b_ && !ended_ && samples_ >= detect) {
      not_fax_ = true;
      t30_terminate(t30);
      ended_ = true;
    }
  }
  auto now = std::chrono::steady_clock::now();
  if (samples_ != heard_at_samples_) {
    heard_at_samples_ = samples_;
    heard_at_ = now;
  }
  // The endpoint went before it took the fax on (or its media thread
  // stopped): nothing will be heard any more.
  if (!ended_ && now - heard_at_ > kStarved) hung_up_.store(true, std::memory_order_release);
  if (!ended_ && hung_up_.load(std::memory_order_acquire)) {
    t30_terminate(t30);
    if (!ended_) end_code_ = T30_ERR_CALLDROPPED;
    ended_ = true;
  }
  if (!ended_) return false;
  finish(end_code_);
  return true;
}

void FaxReceiver::finish(int code) {
  t30_state_t* t30 = fax_get_t30_state(fax_);
  t30_stats_t st{};
  t30_get_transfer_statistics(t30, &st);
  // Closes the TIFF if T.30 left it open (a call dropped mid-page).
  t30_terminate(t30);
  sm::MediaEvent e;
  e.type = sm::EventType::fax_done;
  e.pages = st.pages_rx;
  std::error_code ec;
  if (not_fax_) {
    e.ok = false;
    e.detail = "not a fax: no fax machine answered within " + std::to_string(options_.detect_seconds) + " s";
  } else if (st.pages_rx <= 0) {
    e.ok = false;
    e.detail = std::string("no page received: ") +
               (hung_up_ && code == T30_ERR_CALLDROPPED ? "the caller hung up" : t30_completion_code_to_str(code));
  } else {
    std::filesystem::rename(part_, file_, ec);
    if (ec) {
      e.ok = false;
      e.detail = "cannot rename " + part_.string() + " to " + file_.string() + ": " + ec.message();
    } else {
      e.ok = code == T30_ERR_OK;
      e.detail = file_.string();
      if (!e.ok) e.detail += " (incomplete: " + std::string(t30_completion_code_to_str(code)) + ")";
    }
  }
  if (st.pages_rx <= 0 || !e.ok) std::filesystem::remove(part_, ec);  // never a half-written file
  over_.store(true, std::memory_order_release);
  done_(std::move(e));
}

void FaxWorker::start(bool realtime) {
  std::lock_guard lk(m_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this, realtime] { run(realtime); });
}

void FaxWorker::stop() {
  {
    std::lock_guard lk(m_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void FaxWorker::add(std::shared_ptr<FaxReceiver> r) {
  {
    std::lock_guard lk(m_);
    faxes_.push_back(std::move(r));
  }
  cv_.notify_all();
}

void FaxWorker::run(bool realtime) {
  pthread_setname_np(pthread_self(), "media-fax");
  if (realtime) {
    sched_param sp{};
    sp.sched_priority = 9;
    (void)pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);  // refused: the media threads said so already
  }
  std::unique_lock lk(m_);
  while (!stop_) {
    if (faxes_.empty()) {
      cv_.wait(lk, [&] { return stop_ || !faxes_.empty(); });
      continue;
    }
    auto running = faxes_;
    lk.unlock();
    std::vector<FaxReceiver*> ended;
    for (auto& f : running)
      if (f->step()) ended.push_back(f.get());
    running.clear();
    lk.lock();
    std::erase_if(faxes_, [&](auto& f) { return std::find(ended.begin(), ended.end(), f.get()) != ended.end(); });
    cv_.wait_for(lk, std::chrono::milliseconds(5), [&] { return stop_; });
  }
  // The engine stops: what is running ends as a dropped call.
  auto left = std::move(faxes_);
  lk.unlock();
  for (auto& f : left) {
    f->hang_up();
    f->step();
  }
}

}  // namespace dialtone::plugins::media
