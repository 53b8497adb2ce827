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
  if (t38_) t38_terminal_free(t38_);
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

bool DatagramRing::push(const std::uint8_t* d, int n) {
  if (n <= 0 || n > kSlot) return false;
  std::size_t head = head_.load(std::memory_order_relaxed);
  if (head - tail_.load(std::memory_order_acquire) >= kSlots) return false;
  Slot& s = slots_[head % kSlots];
  std::memcpy(s.data, d, n);
  s.len = n;
  head_.store(head + 1, std::memory_order_release);
  return true;
}

int DatagramRing::pop(std::uint8_t* out) {
  std::size_t tail = tail_.load(std::memory_order_relaxed);
  if (tail == head_.load(std::memory_order_acquire)) return 0;
  const Slot& s = slots_[tail % kSlots];
  int n = s.len;
  std::memcpy(out, s.data, n);
  tail_.store(tail + 1, std::memory_order_release);
  return n;
}

int FaxReceiver::on_phase_b(t30_state_s* s, void* self, int) {
  auto* r = static_cast<FaxReceiver*>(self);
  if (s == r->t30()) r->phase_b_ = true;
  return T30_ERR_OK;
}

void FaxReceiver::on_phase_e(t30_state_s* s, void* self, int code) {
  auto* r = static_cast<FaxReceiver*>(self);
  if (r->ended_ || s != r->t30()) return;  // the audio session a move to T.38 dropped
  r->ended_ = true;
  r->end_code_ = code;
}

t30_state_s* FaxReceiver::t30() const {
  if (t38_) return t38_terminal_get_t30_state(t38_);
  return fax_ ? fax_get_t30_state(fax_) : nullptr;
}

void FaxReceiver::configure(t30_state_s* t30) {
  t30_set_rx_file(t30, part_.c_str(), -1);
  if (!options_.local_id.empty()) t30_set_tx_ident(t30, options_.local_id.substr(0, 20).c_str());
  t30_set_ecm_capability(t30, options_.ecm ? 1 : 0);
  t30_set_supported_modems(t30, T30_SUPPORT_V27TER | T30_SUPPORT_V29 | T30_SUPPORT_V17);
  t30_set_supported_compressions(
      t30, T30_SUPPORT_T4_1D_COMPRESSION | T30_SUPPORT_T4_2D_COMPRESSION | T30_SUPPORT_T6_COMPRESSION);
  t30_set_phase_b_handler(t30, &FaxReceiver::on_phase_b, this);
  t30_set_phase_e_handler(t30, &FaxReceiver::on_phase_e, this);
}

void FaxReceiver::use_t38(const T38Params& p) {
  if (t38_requested_.load(std::memory_order_relaxed)) return;
  t38_params_ = p;
  t38_requested_.store(true, std::memory_order_release);
}

int FaxReceiver::datagram_to_send(std::uint8_t* out) {
  media_ticks_.fetch_add(1, std::memory_order_relaxed);
  return udptl_out_.pop(out);
}

bool FaxReceiver::start() {
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
    return false;
  }
  heard_at_ = std::chrono::steady_clock::now();
  if (t38()) return true;  // the call is on T.38 already: no modems
  fax_ = fax_init(nullptr, 0);  // the answering side
  fax_set_transmit_on_idle(fax_, 1);
  configure(fax_get_t30_state(fax_));
  return true;
}

void FaxReceiver::start_t38(std::chrono::steady_clock::time_point now) {
  const T38Params& p = t38_params_;  // published by t38_requested_ (acquired by t38())
  t38_ = t38_terminal_init(nullptr, 0, &FaxReceiver::on_t38_packet, this);  // the answering side
  t38_core_state_t* core = t38_terminal_get_t38_core_state(t38_);
  t38_set_t38_version(core, p.version);
  t38_set_fastest_image_data_rate(core, p.max_bitrate);
  t38_set_data_rate_management_method(
      core, p.transferred_tcf ? T38_DATA_RATE_MANAGEMENT_TRANSFERRED_TCF : T38_DATA_RATE_MANAGEMENT_LOCAL_TCF);
  t38_set_max_datagram_size(core, p.max_datagram);
  // Losses are covered by UDPTL redundancy, not by sending packets again.
  for (int category = T38_PACKET_CATEGORY_INDICATOR; category <= T38_PACKET_CATEGORY_IMAGE_DATA_END; ++category)
    t38_set_redundancy_control(core, category, 1);
  udptl_tx_.configure(p.max_datagram, p.redundancy ? 3 : 0);
  configure(t38_terminal_get_t30_state(t38_));
  t38_clock_ = now;
  t38_samples_ = 0;
  // A gateway moves a call to T.38 when it heard a fax machine: the T.38
  // terminal gets the whole detection time to reach it.
  samples_ = 0;
  // The audio session (CED, DIS over V.21) gives way without ending: its
  // phase E is not this fax's.
  if (fax_) fax_free(fax_);
  fax_ = nullptr;
}

int FaxReceiver::on_t38_packet(t38_core_state_s*, void* self, const std::uint8_t* buf, int len, int) {
  auto* r = static_cast<FaxReceiver*>(self);
  std::uint8_t out[UdptlEncoder::kMaxDatagram];
  int n = r->udptl_tx_.build(buf, len, out);
  if (n > 0) (void)r->udptl_out_.push(out, n);  // full: the media thread stopped; UDPTL redundancy covers a gap
  return 0;
}

void FaxReceiver::on_ifp(void* self, std::uint16_t seq, const std::uint8_t* ifp, int len) {
  auto* r = static_cast<FaxReceiver*>(self);
  t38_core_rx_ifp_packet(t38_terminal_get_t38_core_state(r->t38_), ifp, len, seq);
}

void FaxReceiver::step_t38(std::chrono::steady_clock::time_point now) {
  int n;
  while ((n = udptl_in_.pop(datagram_)) > 0) (void)udptl_rx_.decode(datagram_, n, &FaxReceiver::on_ifp, this);
  // The terminal keeps time in samples (8 kHz): what the clock says went by,
  // in steps of 20 ms at most so that its pacing does not skip.
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(now - t38_clock_).count();
  std::uint64_t total = static_cast<std::uint64_t>(std::max<std::int64_t>(us, 0)) * 8 / 1000;
  while (!ended_ && t38_samples_ < total) {
    int chunk = static_cast<int>(std::min<std::uint64_t>(total - t38_samples_, kNarrowFrame));
    t38_terminal_send_timeout(t38_, chunk);
    t38_samples_ += chunk;
    samples_ += chunk;
    check_detect();
  }
  std::uint64_t ticks = media_ticks_.load(std::memory_order_relaxed);
  if (ticks != media_ticks_seen_) {
    media_ticks_seen_ = ticks;
    heard_at_ = now;
  }
}

void FaxReceiver::check_detect() {
  const std::uint64_t detect = static_cast<std::uint64_t>(std::max(1, options_.detect_seconds)) * 8000;
  if (!phase_b_ && !ended_ && samples_ >= detect) {
    not_fax_ = true;
    t30_terminate(t30());
    ended_ = true;
  }
}

bool FaxReceiver::step() {
  if (over()) return true;
  if (!started_) {
    started_ = true;
    if (!start()) return true;
  }
  auto now = std::chrono::steady_clock::now();
  if (!t38_ && t38()) start_t38(now);
  if (t38_) {
    step_t38(now);
  } else {
    std::int16_t in[kNarrowFrame], out[kNarrowFrame];
    while (!ended_ && rx_.pop(in, kNarrowFrame)) {
      fax_rx(fax_, in, kNarrowFrame);
      fax_tx(fax_, out, kNarrowFrame);
      (void)tx_.push(out, kNarrowFrame);
      samples_ += kNarrowFrame;
      check_detect();
    }
    if (samples_ != heard_at_samples_) {
      heard_at_samples_ = samples_;
      heard_at_ = now;
    }
  }
  // The endpoint went before it took the fax on (or its media thread
  // stopped): nothing will be heard any more.
  if (!ended_ && now - heard_at_ > kStarved) hung_up_.store(true, std::memory_order_release);
  if (!ended_ && hung_up_.load(std::memory_order_acquire)) {
    t30_terminate(t30());
    if (!ended_) end_code_ = T30_ERR_CALLDROPPED;
    ended_ = true;
  }
  if (!ended_) return false;
  finish(end_code_);
  return true;
}

void FaxReceiver::finish(int code) {
  t30_state_t* t30 = this->t30();
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
