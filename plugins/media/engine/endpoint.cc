#include "endpoint.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/random.h>
#include <unistd.h>

#include <cstring>

extern "C" {
#include <spandsp.h>
}

#include <dialtone/text.h>

#include "engine_context.h"
#include "fax_receiver.h"
#include "io_worker.h"
#include "sound_library.h"

namespace dialtone::plugins::media {

namespace sm = sdk::media;

namespace {

bool same_address(const sockaddr_storage& a, const sockaddr_storage& b) {
  if (a.ss_family != b.ss_family) return false;
  if (a.ss_family == AF_INET) {
    auto& x = reinterpret_cast<const sockaddr_in&>(a);
    auto& y = reinterpret_cast<const sockaddr_in&>(b);
    return x.sin_port == y.sin_port && x.sin_addr.s_addr == y.sin_addr.s_addr;
  }
  auto& x = reinterpret_cast<const sockaddr_in6&>(a);
  auto& y = reinterpret_cast<const sockaddr_in6&>(b);
  return x.sin6_port == y.sin6_port && std::memcmp(&x.sin6_addr, &y.sin6_addr, sizeof(in6_addr)) == 0;
}

char event_digit(int e) {
  static constexpr char kDigits[] = "0123456789*#ABCD";
  return e >= 0 && e < 16 ? kDigits[e] : 0;
}

int digit_event(char d) {
  static constexpr char kDigits[] = "0123456789*#ABCD";
  const char* p = std::strchr(kDigits, sdk::text::to_upper(d));
  return p && d ? static_cast<int>(p - kDigits) : -1;
}

template <class T>
T random_value() {
  T v{};
  if (getrandom(&v, sizeof v, 0) != sizeof v) v = static_cast<T>(reinterpret_cast<std::uintptr_t>(&v));
  return v;
}

}  // namespace

std::string address_text(const sockaddr_storage& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (a.ss_family == AF_INET) {
    auto& s = reinterpret_cast<const sockaddr_in&>(a);
    inet_ntop(AF_INET, &s.sin_addr, buf, sizeof buf);
    return std::string(buf) + ":" + std::to_string(ntohs(s.sin_port));
  }
  if (a.ss_family == AF_INET6) {
    auto& s = reinterpret_cast<const sockaddr_in6&>(a);
    inet_ntop(AF_INET6, &s.sin6_addr, buf, sizeof buf);
    return "[" + std::string(buf) + "]:" + std::to_string(ntohs(s.sin6_port));
  }
  return {};
}

bool parse_address(const std::string& text, sockaddr_storage& out, socklen_t& len) {
  std::memset(&out, 0, sizeof out);
  std::string host, port;
  if (!text.empty() && text[0] == '[') {
    auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') return false;
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string::npos) return false;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  int p = 0;
  try {
    p = std::stoi(port);
  } catch (...) {
    return false;
  }
  if (p <= 0 || p > 65535) return false;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<std::uint16_t>(p));
    len = sizeof(sockaddr_in);
    return true;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out);
  if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<std::uint16_t>(p));
    len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

void EndpointShared::deliver(const sm::MediaEvent& e) {
  sm::EventHandler h;
  {
    std::lock_guard lk(m);
    h = handler;
  }
  if (h) h(e);
}

EndpointCore::EndpointCore(EngineContext& ctx, int fd, sm::EndpointConfig cfg, std::shared_ptr<EndpointShared> shared)
    : ctx_(ctx), fd_(fd), cfg_(std::move(cfg)), shared_(std::move(shared)) {
  ssrc_ = random_value<std::uint32_t>();
  seq_ = random_value<std::uint16_t>();
  ts_ = random_value<std::uint32_t>();
  encoder_ = std::make_unique<Encoder>(cfg_.formats.front().codec);
  send_pt_ = cfg_.formats.front().payload_type;
  for (const auto& f : cfg_.formats) decoders_.emplace_back(f.payload_type, std::make_unique<Decoder>(f.codec));
  jb_.set_prefill((ctx_.cfg.jitter_ms + ctx_.cfg.tick_ms - 1) / ctx_.cfg.tick_ms);
  dtmf_rx_ = dtmf_rx_init(nullptr, &EndpointCore::on_inband_digits, this);
  dtmf_tx_ = dtmf_tx_init(nullptr);
  info_tone_ = *parse_tone("!950/330,!1400/330,!1800/330,!0/200");
  cmds_.reserve(8);
  running_.reserve(8);
  if (!cfg_.remote.empty()) parse_address(cfg_.remote, remote_, remote_len_);
}

EndpointCore::~EndpointCore() {
  if (fax_) fax_->hang_up();
  for (auto& w : shared_->recordings)
    if (auto r = w.lock()) r->finish();
  if (fd_ >= 0) ::close(fd_);
  if (dtmf_rx_) dtmf_rx_free(dtmf_rx_);
  if (dtmf_tx_) dtmf_tx_free(dtmf_tx_);
}

sdk::Status EndpointCore::init_srtp() {
  if (!cfg_.srtp_local && !cfg_.srtp_remote) return {};
  if (!cfg_.srtp_local || !cfg_.srtp_remote)
    return sdk::Error::invalid("SRTP needs both keys: srtp_local (our a=crypto) and srtp_remote (the peer's)");
  return srtp_.init(*cfg_.srtp_local, *cfg_.srtp_remote);
}

void EndpointCore::close() {
  stop_recording();
  stop_call_recording();
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void EndpointCore::post(std::function<void(EndpointCore&)> cmd) {
  std::lock_guard lk(cmd_m_);
  cmds_.push_back(std::move(cmd));
  cmd_pending_.store(true, std::memory_order_release);
}

void EndpointCore::run_commands() {
  if (!cmd_pending_.load(std::memory_order_acquire)) return;
  {
    std::lock_guard lk(cmd_m_);
    running_.swap(cmds_);
    cmd_pending_.store(false, std::memory_order_relaxed);
  }
  for (auto& c : running_) c(*this);
  running_.clear();
}

void EndpointCore::emit(sm::MediaEvent e) {
  ctx_.io.post([sh = shared_, e = std::move(e)] { sh->deliver(e); });
}

void EndpointCore::warn(std::string line) {
  ctx_.io.post([&log = ctx_.log, line = std::move(line)] { log.warn(line); });
}

void EndpointCore::set_remote(const sockaddr_storage& a, socklen_t len) {
  remote_ = a;
  remote_len_ = len;
  heard_remote_ = false;
  std::string text = address_text(a);
  std::lock_guard lk(shared_->m);
  shared_->remote = std::move(text);
}

void EndpointCore::apply_answer(const sm::EndpointConfig& answer) {
  if (!answer.formats.empty()) {
    encoder_ = std::make_unique<Encoder>(answer.formats.front().codec);
    send_pt_ = answer.formats.front().payload_type;
    last_decoder_ = nullptr;
    decoders_.clear();
    for (const auto& f : answer.formats) decoders_.emplace_back(f.payload_type, std::make_unique<Decoder>(f.codec));
    cfg_.formats = answer.formats;
  }
  cfg_.telephone_event_pt = answer.telephone_event_pt;
  if (!answer.formats.empty() && t38_) {
    t38_ = false;  // back to audio after T.38
    jb_.set_prefill((ctx_.cfg.jitter_ms + ctx_.cfg.tick_ms - 1) / ctx_.cfg.tick_ms);
  }
  if (!answer.remote.empty()) {
    sockaddr_storage a;
    socklen_t len = 0;
    if (parse_address(answer.remote, a, len)) set_remote(a, len);
  }
  if (answer.srtp_local && answer.srtp_remote && !srtp_.active()) {
    cfg_.srtp_local = answer.srtp_local;
    cfg_.srtp_remote = answer.srtp_remote;
    if (auto s = init_srtp(); !s.ok()) warn("media: SRTP of the answer refused: " + s.error().message);
  }
}

void EndpointCore::on_readable() {
  if (fd_ < 0) return;
  for (;;) {
    sockaddr_storage from;
    socklen_t from_len = sizeof from;
    ssize_t n = recvfrom(fd_, rx_, sizeof rx_, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 0) return;
    if (t38_) {
      t38_readable(rx_, static_cast<int>(n), from, from_len);
      continue;
    }
    if (is_rtcp(rx_, static_cast<int>(n))) continue;
    int len = static_cast<int>(n);
    if (srtp_.active() && !srtp_.unprotect(rx_, len)) {
      shared_->srtp_failures.fetch_add(1, std::memory_order_relaxed);
      if (!srtp_warned_) {
        srtp_warned_ = true;
        std::string who = address_text(from);
        warn("media: SRTP packet from " + who + " to port " + std::to_string(local_port) +
             " failed authentication and was dropped (the peer does not use the key of its a=crypto); "
             "further failures are only counted");
        sm::MediaEvent e;
        e.type = sm::EventType::srtp_refused;
        e.ok = false;
        e.detail = who;
        emit(std::move(e));
      }
      continue;
    }
    RtpPacket p;
    if (!parse_rtp(rx_, len, p)) continue;
    bool from_remote = remote_len_ && same_address(from, remote_);
    if (!from_remote && cfg_.latch && (!heard_remote_ || tick_ - last_heard_tick_ > 50)) {
      // Symmetric RTP: answer where the peer really sends from (NAT).
      set_remote(from, from_len);
      from_remote = true;
    }
    if (from_remote) {
      heard_remote_ = true;
      last_heard_tick_ = tick_;
    }
    shared_->packets_in.fetch_add(1, std::memory_order_relaxed);
    if (cfg_.telephone_event_pt && p.pt == cfg_.telephone_event_pt)
      handle_event(p);
    else
      handle_rtp(p);
  }
}

void EndpointCore::t38_readable(const std::uint8_t* d, int n, const sockaddr_storage& from, socklen_t from_len) {
  bool from_remote = remote_len_ && same_address(from, remote_);
  if (!from_remote) {
    // The peer's audio, still on its way after the move to T.38, must not
    // take the address over: RTP (version 2) of a negotiated payload type.
    if (n >= 12 && (d[0] & 0xC0) == 0x80)
      for (auto& [pt, dec] : decoders_)
        if ((d[1] & 0x7F) == pt) return;
    if (!cfg_.latch || (heard_remote_ && tick_ - last_heard_tick_ <= 50)) return;
    set_remote(from, from_len);
  }
  heard_remote_ = true;
  last_heard_tick_ = tick_;
  shared_->packets_in.fetch_add(1, std::memory_order_relaxed);
  if (fax_) fax_->heard_datagram(d, n);  // before receive_fax: dropped, the sender repeats
}

void EndpointCore::use_t38(const sm::T38Options& peer) {
  finish_playback(true);
  stop_recording();
  stop_call_recording();
  t38_ = true;
  t38_params_ = {peer.version, peer.max_bitrate, peer.transferred_tcf, peer.max_datagram, peer.redundancy};
  sockaddr_storage a;
  socklen_t len = 0;
  if (!peer.remote.empty() && parse_address(peer.remote, a, len)) set_remote(a, len);
  if (fax_) fax_->use_t38(t38_params_);
  // A gateway that moves the call to T.38 heard a fax machine itself.
  if (fax_detector_) fax_tone("t38");
}

void EndpointCore::detect_fax(std::shared_ptr<FaxDetector> detector) {
  if (fax_detector_) ctx_.io.post([d = std::move(fax_detector_)] {});  // freed off this thread
  fax_detector_ = std::move(detector);
  if (fax_detector_ && t38_) fax_tone("t38");
}

void EndpointCore::fax_tone(const char* how) {
  ctx_.io.post([d = std::move(fax_detector_)] {});
  fax_detector_.reset();
  sm::MediaEvent e;
  e.type = sm::EventType::fax_tone;
  e.detail = how;
  emit(std::move(e));
}

void EndpointCore::handle_rtp(const RtpPacket& p) {
  for (auto& [pt, dec] : decoders_) {
    if (pt == p.pt) {
      if (!jb_.push(p)) shared_->late.store(jb_.late(), std::memory_order_relaxed);
      return;
    }
  }
  if (!unknown_pt_warned_) {
    unknown_pt_warned_ = true;
    warn("media: payload type " + std::to_string(p.pt) + " from " + address_text(remote_) +
         " was not negotiated; such packets are ignored");
  }
}

void EndpointCore::handle_event(const RtpPacket& p) {
  if (p.payload_len < 4) return;
  seen_rfc4733_ = true;
  if (have_last_event_ && p.ts == last_event_ts_) return;  // same event, later packet or end
  have_last_event_ = true;
  last_event_ts_ = p.ts;
  char d = event_digit(p.payload[0]);
  if (d) dtmf_detected(d, sm::DtmfSource::rfc4733);
}

void EndpointCore::on_inband_digits(void* self, const char* digits, int len) {
  auto* ep = static_cast<EndpointCore*>(self);
  for (int i = 0; i < len; ++i) ep->dtmf_detected(digits[i], sm::DtmfSource::inband);
}

void EndpointCore::dtmf_detected(char digit, sm::DtmfSource src) {
  sm::MediaEvent e;
  e.type = sm::EventType::dtmf;
  e.digit = digit;
  e.dtmf_source = src;
  emit(std::move(e));
  if (playlist_ && playlist_->options.stop_on_dtmf) finish_playback(true);
}

void EndpointCore::tick_input() {
  ++tick_;
  run_commands();
  if (t38_) {
    in_valid_ = mix_valid_ = false;
    return;
  }
  while (fifo_len_ < kFrame) {
    const JitterBuffer::Slot* s = nullptr;
    auto r = jb_.pop(s);
    if (r == JitterBuffer::Pop::empty) break;
    if (r == JitterBuffer::Pop::lost) {
      if (last_decoder_) last_decoder_->conceal(fifo_ + fifo_len_);
      else std::memset(fifo_ + fifo_len_, 0, sizeof(std::int16_t) * kFrame);
      fifo_len_ += kFrame;
      shared_->lost.store(jb_.lost(), std::memory_order_relaxed);
      continue;
    }
    for (auto& [pt, dec] : decoders_) {
      if (pt != s->pt) continue;
      last_decoder_ = dec.get();
      fifo_len_ += dec->decode(s->data, s->len, fifo_ + fifo_len_, static_cast<int>(std::size(fifo_)) - fifo_len_);
      break;
    }
  }
  in_valid_ = fifo_len_ >= kFrame;
  if (in_valid_) {
    std::memcpy(in_, fifo_, sizeof in_);
    fifo_len_ -= kFrame;
    std::memmove(fifo_, fifo_ + kFrame, sizeof(std::int16_t) * fifo_len_);
    if (fax_) {
      std::int16_t narrow[kNarrowFrame];
      fax_down_.run(in_, kFrame, narrow);
      fax_->heard(narrow);
    } else if (bool dtmf = cfg_.detect_inband_dtmf && !seen_rfc4733_; dtmf || fax_detector_) {
      std::int16_t narrow[kNarrowFrame];
      dtmf_down_.run(in_, kFrame, narrow);
      if (dtmf) dtmf_rx(dtmf_rx_, narrow, kNarrowFrame);
      if (fax_detector_ && fax_detector_->heard(narrow)) fax_tone("cng");
    }
  } else {
    std::memset(in_, 0, sizeof in_);
    if (fax_) {
      // The modems keep time on what they hear: a missing packet is silence.
      std::int16_t narrow[kNarrowFrame]{};
      fax_->heard(narrow);
    }
  }
  mix_valid_ = false;
}

bool EndpointCore::fill_playback(std::int16_t* out) {
  if (tone_playing_) {
    if (!tone_.fill(out)) {
      tone_playing_ = false;
      sm::MediaEvent e;
      e.type = sm::EventType::play_done;
      emit(std::move(e));
    }
    return true;
  }
  if (!playlist_) return false;
  int done = 0;
  while (done < kFrame && playlist_) {
    if (item_ >= playlist_->items.size()) {
      if (playlist_->options.loop && !playlist_->items.empty() && !playlist_->any_failed) {
        item_ = 0;
        pos_ = 0;
        continue;
      }
      std::memset(out + done, 0, sizeof(std::int16_t) * (kFrame - done));
      finish_playback(false);
      return true;
    }
    const auto& sound = playlist_->items[item_];
    if (!sound) {
      // A failed file: the info tone stands in for it, so the caller hears something.
      if (!item_tone_) {
        tone_.start(info_tone_);
        item_tone_ = true;
      }
      std::int16_t t[kFrame];
      tone_.fill(t);
      int n = kFrame - done;
      std::memcpy(out + done, t, sizeof(std::int16_t) * n);
      done += n;
      if (!tone_.active()) {
        item_tone_ = false;
        ++item_;
        pos_ = 0;
      }
      continue;
    }
    std::size_t n = std::min<std::size_t>(kFrame - done, sound->pcm.size() - pos_);
    std::memcpy(out + done, sound->pcm.data() + pos_, sizeof(std::int16_t) * n);
    done += static_cast<int>(n);
    pos_ += n;
    if (pos_ >= sound->pcm.size()) {
      ++item_;
      pos_ = 0;
    }
  }
  return true;
}

void EndpointCore::finish_playback(bool stopped) {
  bool had = playlist_ || tone_playing_;
  sm::MediaEvent e;
  e.type = sm::EventType::play_done;
  e.stopped = stopped;
  e.ok = !(playlist_ && playlist_->any_failed);
  playlist_.reset();
  tone_playing_ = false;
  item_tone_ = false;
  tone_.stop();
  if (had) emit(std::move(e));
}

void EndpointCore::start_playlist(std::uint64_t request, std::unique_ptr<Playlist> list) {
  if (request < applied_request_) return;  // a later play/tone/stop already won
  finish_playback(true);
  applied_request_ = request;
  playlist_ = std::move(list);
  item_ = 0;
  pos_ = 0;
  // Loading took an I/O-thread while (a cold cache can cost seconds): whoever
  // times the playback counts from here, not from the play() call.
  sm::MediaEvent e;
  e.type = sm::EventType::play_started;
  emit(std::move(e));
}

void EndpointCore::start_tone(std::uint64_t request, const ToneSpec& tone) {
  if (request < applied_request_) return;
  finish_playback(true);
  applied_request_ = request;
  tone_.start(tone);
  tone_playing_ = true;
}

void EndpointCore::stop_playing(std::uint64_t request) {
  if (request < applied_request_) return;
  applied_request_ = request;
  finish_playback(true);
}

void EndpointCore::attach_recording(std::shared_ptr<Recording> r, bool both) {
  if (rec_) rec_->finish();
  rec_ = std::move(r);
  rec_both_ = both;
}

void EndpointCore::attach_fax(std::shared_ptr<FaxReceiver> fax) {
  if (fax_) fax_->hang_up();
  finish_playback(true);
  stop_recording();
  stop_call_recording();
  fax_ = std::move(fax);
  if (t38_) fax_->use_t38(t38_params_);
  // A modem signal cut by a late packet loses a frame of T.30: buffer more
  // of the caller's audio than for speech.
  jb_.set_prefill(kFaxJitterPackets);
}

void EndpointCore::stop_recording() {
  if (rec_) rec_->finish();
  rec_.reset();
}

void EndpointCore::attach_call_recording(std::shared_ptr<Recording> r) {
  if (call_rec_) call_rec_->finish();
  call_rec_ = std::move(r);
}

void EndpointCore::stop_call_recording() {
  if (call_rec_) call_rec_->finish();
  call_rec_.reset();
}

bool EndpointCore::append_recording(Recording& rec, Down2& down, const std::int16_t* src) {
  if (rec.rate() != 8000) return rec.append(src, kFrame);
  std::int16_t narrow[kNarrowFrame];
  down.run(src, kFrame, narrow);
  return rec.append(narrow, kNarrowFrame);
}

void EndpointCore::queue_dtmf(const std::string& digits) {
  for (char d : digits) {
    if (digit_event(d) < 0 || dtmf_q_len_ == static_cast<int>(sizeof dtmf_queue_)) continue;
    dtmf_queue_[(dtmf_q_head_ + dtmf_q_len_++) % sizeof dtmf_queue_] = d;
  }
}

void EndpointCore::send_packet(std::uint8_t pt, bool marker, const std::uint8_t* payload, int len,
                               std::uint32_t ts) {
  if (!remote_len_ || fd_ < 0) return;
  int n = write_rtp_header(tx_, pt, marker, seq_++, ts, ssrc_);
  std::memcpy(tx_ + n, payload, len);
  n += len;
  if (srtp_.active() && !srtp_.protect(tx_, n)) return;
  if (sendto(fd_, tx_, n, MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&remote_), remote_len_) == n)
    shared_->packets_out.fetch_add(1, std::memory_order_relaxed);
}

// RFC 4733: 100 ms per digit, three end packets, 60 ms of audio between digits.
bool EndpointCore::send_dtmf_event() {
  const std::uint32_t step = static_cast<std::uint32_t>(rtp_clock(encoder_->codec()) / 50);
  if (te_state_ == TeState::idle || te_state_ == TeState::gap) {
    if (te_state_ == TeState::gap && --te_count_ > 0) return false;
    te_state_ = TeState::idle;
    if (dtmf_q_len_ == 0) return false;
    te_digit_ = dtmf_queue_[dtmf_q_head_];
    dtmf_q_head_ = (dtmf_q_head_ + 1) % sizeof dtmf_queue_;
    --dtmf_q_len_;
    te_state_ = TeState::on;
    te_ts_ = ts_;
    te_duration_ = 0;
    te_count_ = 0;
  }
  std::uint8_t ev[4];
  ev[0] = static_cast<std::uint8_t>(digit_event(te_digit_));
  bool first = false;
  if (te_state_ == TeState::on) {
    first = te_duration_ == 0;
    te_duration_ += step;
    if (++te_count_ == 5) {
      te_state_ = TeState::ending;
      te_count_ = 0;
    }
    ev[1] = 10;  // volume -10 dBm0
  } else {
    ev[1] = 0x80 | 10;
    if (++te_count_ == 3) {
      te_state_ = TeState::gap;
      te_count_ = 3;
    }
  }
  ev[2] = static_cast<std::uint8_t>(te_duration_ >> 8);
  ev[3] = static_cast<std::uint8_t>(te_duration_ & 0xFF);
  send_packet(cfg_.telephone_event_pt, first, ev, 4, te_ts_);
  return true;
}

void EndpointCore::tick_output() {
  if (t38_) {
    // UDPTL only: what the T.38 terminal produced since the last tick.
    if (fax_ && fax_->over()) {
      ctx_.io.post([f = std::move(fax_)] {});
      fax_.reset();
    }
    if (!fax_) return;
    for (int n; (n = fax_->datagram_to_send(udptl_tx_)) > 0;)
      if (remote_len_ && fd_ >= 0 &&
          sendto(fd_, udptl_tx_, n, MSG_DONTWAIT, reinterpret_cast<const sockaddr*>(&remote_), remote_len_) == n)
        shared_->packets_out.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  bool event_sent = cfg_.telephone_event_pt && send_dtmf_event();
  // Audio for this tick, in priority order.
  bool have = false;
  if (fax_) {
    if (fax_->over()) {
      ctx_.io.post([f = std::move(fax_)] {});  // its spandsp state is freed off this thread
      fax_.reset();
      jb_.set_prefill((ctx_.cfg.jitter_ms + ctx_.cfg.tick_ms - 1) / ctx_.cfg.tick_ms);
    } else {
      std::int16_t narrow[kNarrowFrame];
      fax_->to_send(narrow);
      fax_up_.run(narrow, kNarrowFrame, out_);
      have = true;
    }
  }
  if (!have && !cfg_.telephone_event_pt && (dtmf_q_len_ || inband_tx_active_)) {
    if (!inband_tx_active_ && dtmf_q_len_) {
      char d[2] = {dtmf_queue_[dtmf_q_head_], 0};
      dtmf_q_head_ = (dtmf_q_head_ + 1) % sizeof dtmf_queue_;
      --dtmf_q_len_;
      dtmf_tx_put(dtmf_tx_, d, 1);
      inband_tx_active_ = true;
    }
    std::int16_t narrow[kNarrowFrame];
    int n = dtmf_tx(dtmf_tx_, narrow, kNarrowFrame);
    if (n < kNarrowFrame) {
      std::memset(narrow + n, 0, sizeof(std::int16_t) * (kNarrowFrame - n));
      inband_tx_active_ = false;
    }
    dtmf_up_.run(narrow, kNarrowFrame, out_);
    have = true;
  }
  if (!have) have = fill_playback(out_);
  if (!have && mix_valid_) {
    std::memcpy(out_, mix_, sizeof out_);
    have = true;
  }
  if (!have && echo_ && in_valid_) {
    std::memcpy(out_, in_, sizeof out_);
    have = true;
  }
  if (!have) std::memset(out_, 0, sizeof out_);

  if (rec_ || call_rec_) {
    std::int16_t mixed[kFrame];
    for (int i = 0; i < kFrame; ++i) mixed[i] = clamp16(in_[i] + out_[i]);
    if (rec_ && !append_recording(*rec_, rec_down_, rec_both_ ? mixed : in_)) rec_.reset();
    if (call_rec_ && !append_recording(*call_rec_, call_rec_down_, mixed)) call_rec_.reset();
  }

  if (!event_sent && remote_len_) {  // nobody to send to yet: spare the encoder
    std::uint8_t payload[kMaxEncoded];
    int n = encoder_->encode(out_, payload);
    if (n > 0) send_packet(send_pt_, marker_, payload, n, ts_);
    marker_ = false;
  }
  ts_ += static_cast<std::uint32_t>(rtp_clock(encoder_->codec()) / 50);
}

}  // namespace dialtone::plugins::media
