#include "dahdi_driver.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>

extern "C" {
#include <libpri.h>
}


#include <dialtone/bus.h>
#include <dialtone/dialplan_decision.h>
#include <dialtone/json.h>
#include <dialtone/lua.h>
#include <dialtone/services.h>

#include "dahdi_device.h"
#include "driver_state.h"
#include "pri_span.h"

namespace dialtone::plugins::dahdi {

namespace {

const char* ton_name(int plan) {
  switch ((plan >> 4) & 0x07) {
    case PRI_TON_INTERNATIONAL: return "international";
    case PRI_TON_NATIONAL: return "national";
    case PRI_TON_NET_SPECIFIC: return "network";
    case PRI_TON_SUBSCRIBER: return "subscriber";
    case PRI_TON_ABBREVIATED: return "abbreviated";
    default: return "unknown";
  }
}

// Type of number of an outgoing number, and the digits sent (prefixes of
// `dynamic` taken off).
std::pair<int, std::string> outgoing_plan(const SpanConfig& s, std::string number) {
  auto starts = [&](const std::string& p) { return !p.empty() && number.rfind(p, 0) == 0; };
  if (s.pridialplan == "international") return {PRI_INTERNATIONAL_ISDN, number};
  if (s.pridialplan == "national") return {PRI_NATIONAL_ISDN, number};
  if (s.pridialplan == "local") return {PRI_LOCAL_ISDN, number};
  if (s.pridialplan == "dynamic") {
    if (!number.empty() && number[0] == '+') return {PRI_INTERNATIONAL_ISDN, number.substr(1)};
    if (starts(s.internationalprefix)) return {PRI_INTERNATIONAL_ISDN, number.substr(s.internationalprefix.size())};
    if (starts(s.nationalprefix)) return {PRI_NATIONAL_ISDN, number.substr(s.nationalprefix.size())};
    return {PRI_LOCAL_ISDN, number};
  }
  return {PRI_UNKNOWN, number};
}

// An incoming number as the dialplan sees it: the span's prefix put back
// for international and national numbers (chan_dahdi does the same).
std::string with_prefix(const SpanConfig& s, int plan, const std::string& number) {
  if (number.empty()) return number;
  switch ((plan >> 4) & 0x07) {
    case PRI_TON_INTERNATIONAL: return s.internationalprefix + number;
    case PRI_TON_NATIONAL: return s.nationalprefix + number;
    default: return number;
  }
}

// Whether an outgoing route should try its next trunk after a call on a
// span ended with `cause`: yes when the network or the span failed (no
// circuit, out of order, congestion, timers), no when the callee answered
// for itself (busy, unallocated, rejected...): another trunk would hear
// the same.
bool failover_cause(int cause) {
  switch (cause) {
    case 3: case 27: case 34: case 38: case 41: case 42: case 44: case 47: case 58: case 63: case 102:
      return true;
    default:
      return false;
  }
}

}  // namespace

DahdiDriver::DahdiDriver(DahdiConfig config, sdk::Host& host, std::shared_ptr<sdk::CallCore> core)
    : config_(std::move(config)), host_(host), core_(std::move(core)), pump_(host.log(), config_.realtime) {}

DahdiDriver::~DahdiDriver() { stop(); }

sdk::Status DahdiDriver::start() {
  route_libpri_messages(&host_.log());
  bool device = std::filesystem::exists(config_.device);
  for (auto& [n, s] : config_.spans) {
    std::string why;
    if (s.driver == SpanDriver::hardware && !device)
      why = "it is configured for hardware (driver = hardware) but " + config_.device +
            " does not exist: load the card's DAHDI kernel module (dahdi_genconf, /etc/dahdi/modules) "
            "or set driver = simulated";
    if (!why.empty()) {
      refused_[n] = why;
      host_.log().error("dahdi: span " + std::to_string(n) + " refused: " + why + "; the other spans run");
    }
  }
  // Simulated spans: one socket pair for the D-channel and one per
  // B-channel the two ends share, like a crossed E1 cable.
  std::map<int, int> d_fd;
  for (auto& [n, s] : config_.spans) {
    if (refused_.count(n) || s.driver != SpanDriver::simulated || !is_isdn(s.signalling)) continue;
    if (!s.peer) {
      int sv[2];
      if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
        return sdk::Error::unavailable("dahdi: socketpair: " + std::string(std::strerror(errno)));
      d_fd[n] = sv[0];
      far_ends_[n] = sv[1];
      continue;
    }
    if (n > s.peer) continue;
    const auto& p = config_.spans.at(s.peer);
    if (refused_.count(s.peer)) {
      refused_[n] = "its peer span " + std::to_string(s.peer) + " is refused";
      host_.log().error("dahdi: span " + std::to_string(n) + " refused: " + refused_[n]);
      continue;
    }
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
      return sdk::Error::unavailable("dahdi: socketpair for span " + std::to_string(n) + ": " + std::strerror(errno));
    d_fd[n] = sv[0];
    d_fd[s.peer] = sv[1];
    for (int g : s.bchan) {
      int ch = s.span_channel(g);
      bool shared = std::any_of(p.bchan.begin(), p.bchan.end(), [&](int x) { return p.span_channel(x) == ch; });
      if (!shared) continue;
      int bv[2];
      if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, bv) != 0)
        return sdk::Error::unavailable("dahdi: socketpair for a B-channel: " + std::string(std::strerror(errno)));
      // A few frames of buffer, as a card's: a late reader loses audio
      // rather than delaying it.
      int size = 4 * static_cast<int>(kFrameBytes);
      for (int fd : bv) ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
      pump_.add({n, ch}, bv[0], s.alaw);
      pump_.add({s.peer, ch}, bv[1], p.alaw);
    }
  }
  // Hardware spans: the card's channels through the DAHDI device.
  for (auto& [n, s] : config_.spans) {
    if (refused_.count(n) || s.driver != SpanDriver::hardware || !is_isdn(s.signalling)) continue;
    auto dev = open_span_device(s, config_.device);
    if (!dev) {
      refused_[n] = dev.error().message;
      host_.log().error("dahdi: span " + std::to_string(n) + " refused: " + dev.error().message +
                        "; the other spans run");
      continue;
    }
    if (!dev->alarms.empty())
      host_.log().warn("dahdi: span " + std::to_string(n) + " is in alarm (" + dev->alarms +
                       "); its D-channel comes up when the line does");
    d_fd[n] = dev->dchan;
    for (auto& [ch, fd] : dev->bchans) pump_.add({n, ch}, fd, s.alaw);
  }
  for (auto& [n, fd] : d_fd) {
    auto span = std::make_unique<Span>();
    span->cfg = config_.spans.at(n);
    span->pri = std::make_unique<PriSpan>(span->cfg, fd, host_.log());
    if (!span->pri->pri()) {
      refused_[n] = "libpri could not create the D-channel";
      host_.log().error("dahdi: span " + std::to_string(n) + " refused: libpri could not create its D-channel");
      continue;
    }
    Span* raw = span.get();
    span->pri->set_write_filter([raw](const std::uint8_t*, int) { return !raw->unplugged; });
    spans_[n] = std::move(span);
  }
  // Analog spans: their ports, simulated or on the card.
  for (auto& [n, s] : config_.spans) {
    if (refused_.count(n) || is_isdn(s.signalling)) continue;
    if (auto st = start_analog(s); !st) {
      refused_[n] = st.error().message;
      host_.log().error("dahdi: span " + std::to_string(n) + " refused: " + st.error().message +
                        "; the other spans run");
    }
  }
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) return sdk::Error::unavailable("dahdi: eventfd: " + std::string(std::strerror(errno)));
  // The legs an incoming call dials belong to its call: their ringing and
  // answer are what the span's caller must hear (ALERTING, CONNECT).
  std::weak_ptr<DahdiDriver> weak = weak_from_this();
  // A span's leg whose peer hung up is hung up too (the core unbridges it).
  legs_ = host_.bus().subscribe("calls.channel.*", [weak](const sdk::Event& e) {
    if (e.topic != "calls.channel.state" && e.topic != "calls.channel.unbridged") return;
    if (auto self = weak.lock()) self->on_leg_event(e);
  });
  running_ = true;
  thread_ = std::thread([this] { loop(); });
  pump_.start();
  for (auto& [n, s] : spans_)
    host_.log().info("dahdi: span " + std::to_string(n) + " (" + to_string(s->cfg.signalling) + ", " +
                     s->cfg.switchtype + ", " + std::to_string(s->cfg.bchan.size()) + " B-channels, context " +
                     s->cfg.context + ") " +
                     (s->cfg.driver == SpanDriver::hardware ? std::string("on the card through ") + config_.device
                      : s->cfg.peer ? "simulated, joined to span " + std::to_string(s->cfg.peer)
                                    : std::string("simulated, far end open")));
  return {};
}

void DahdiDriver::stop() {
  legs_.reset();
  bool was_running = running_.exchange(false);
  if (was_running) {
    uint64_t one = 1;
    (void)!::write(wake_fd_, &one, sizeof one);
    if (thread_.joinable()) thread_.join();
  }
  pump_.stop();
  // What the lines carried since start, for an admin (and the benchmark)
  // to see whether audio was lost: calls whose B-channel went through the
  // media engine, counted when they ended. Once, by the plugin's stop (the
  // destructor's stop may come after the host's logger is gone).
  if (was_running && audio_.calls) {
    auto t = pump_.totals();
    host_.log().info(
        "dahdi: audio since start: " + std::to_string(audio_.calls) + " span calls (B-channels) through the media engine; "
        "B-channel thread " + std::to_string(pump_.ticks()) + " ticks, " + std::to_string(pump_.late_ticks()) +
        " late by more than 20 ms; frames written to the lines " + std::to_string(t.frames_out) + ", read " +
        std::to_string(t.frames_in) + "; engine to line: " + std::to_string(audio_.underruns) +
        " ticks without a frame, " + std::to_string(audio_.dropped) + " frames dropped; line to engine: " +
        std::to_string(audio_.rtp_in) + " RTP packets, " + std::to_string(audio_.rtp_lost) + " lost, " +
        std::to_string(audio_.rtp_late) + " late");
  }
  for (auto& [_, fd] : far_ends_) ::close(fd);
  far_ends_.clear();
  for (auto& [_, fd] : far_ports_) ::close(fd);
  far_ports_.clear();
  if (wake_fd_ >= 0) ::close(wake_fd_), wake_fd_ = -1;
  // libpri has no way to free a `struct pri`; the spans stay allocated with
  // the driver, their descriptors closed.
  spans_.clear();
}

void DahdiDriver::on_leg_event(const sdk::Event& e) {
  const std::string& topic = e.topic;
  if (!e.field("call_id") || !e.field("id") || !e.field("state")) return;
  std::string call_id(e.text("call_id")), id(e.text("id")), state(e.text("state")), peer(e.text("peer"));
  if (topic == "calls.channel.unbridged") {
    if (auto c = call_of_channel(id)) {
      sdk::Channel ch;
      ch.id = id;
      (void)hangup(ch, sdk::q850::normal_clearing);
    }
    return;
  }
  if (!peer.empty() && state == "up") join_media(id, peer);
  if (id == call_id) return;
  std::shared_ptr<Call> ours = call_of_channel(call_id);
  if (!ours || ours->outbound) return;
  sdk::Channel ch;
  ch.id = call_id;
  if (state == "ringing") (void)ringing(ch);
  else if (state == "up" && peer == call_id) (void)answer(ch);
}

// A span's call linked to a call whose media ends in the engine (a SIP
// phone answered by the dialplan, another span's call): one mixer joins
// their endpoints, as long as both last.
void DahdiDriver::join_media(const std::string& a, const std::string& b) {
  std::string mine = media_endpoint(a) ? a : media_endpoint(b) ? b : std::string();
  if (mine.empty()) return;
  std::string other = mine == a ? b : a;
  auto engine = host_.services().find<sdk::media::MediaEngine>();
  if (!engine) return;
  auto ep_mine = media_endpoint(mine);
  auto ep_other = engine->channel_endpoint(other);
  if (!ep_mine || !ep_other) return;
  {
    std::lock_guard lock(mutex_);
    auto it = joined_.find(mine);
    if (it != joined_.end() && it->second.first == other) return;
    auto back = joined_.find(other);
    if (back != joined_.end() && back->second.first == mine) return;  // the other span's side did it
  }
  auto mixer = engine->create_mixer();
  mixer->add(ep_mine);
  mixer->add(ep_other);
  std::lock_guard lock(mutex_);
  joined_[mine] = {other, std::move(mixer)};
}

void DahdiDriver::early_media(Call& c, bool inband, bool alerting) {
  if (!c.outbound || c.origin.empty() || c.early_joined || c.answered) return;
  auto engine = host_.services().find<sdk::media::MediaEngine>();
  auto origin = engine ? engine->channel_endpoint(c.origin) : nullptr;
  // The origin is not in the engine (a SIP caller neither answered nor
  // given early media by call:progress()): it hears what its backend
  // plays for ringing, and the span's audio from the answer.
  if (!origin) return;
  if (inband) {
    stop_ringback(c);
    c.early_joined = true;
    join_media(c.channel_id, c.origin);
  } else if (alerting && !c.ringback) {
    c.ringback = true;
    origin->play_tone("ring");
  }
}

void DahdiDriver::stop_ringback(Call& c) {
  if (!c.ringback) return;
  c.ringback = false;
  auto engine = host_.services().find<sdk::media::MediaEngine>();
  if (auto origin = engine ? engine->channel_endpoint(c.origin) : nullptr) origin->stop_playing();
}

void DahdiDriver::post(std::function<void()> fn) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(fn));
  }
  uint64_t one = 1;
  if (wake_fd_ >= 0) (void)!::write(wake_fd_, &one, sizeof one);
}

void DahdiDriver::loop() {
  std::vector<pollfd> fds;
  std::vector<Span*> order;
  while (running_) {
    fds.clear();
    order.clear();
    fds.push_back({wake_fd_, POLLIN, 0});
    for (auto& [_, s] : spans_) {
      fds.push_back({s->pri->fd(), POLLIN, 0});
      order.push_back(s.get());
    }
    // libpri's timers are on gettimeofday; overlap deadlines on the
    // steady clock.
    int timeout = 1000;
    timeval now{};
    gettimeofday(&now, nullptr);
    for (auto* s : order)
      if (auto* tv = pri_schedule_next(s->pri->pri())) {
        long ms = (tv->tv_sec - now.tv_sec) * 1000 + (tv->tv_usec - now.tv_usec) / 1000;
        timeout = std::clamp<long>(ms, 0, timeout);
      }
    auto steady = Clock::now();
    for (auto& [_, s] : spans_)
      for (auto& [ch, c] : s->by_chan)
        if (c->overlap_deadline) {
          auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*c->overlap_deadline - steady).count();
          timeout = std::clamp<long>(ms, 0, timeout);
        }
    timeout = analog_timeout_ms(timeout);
    ::poll(fds.data(), fds.size(), timeout);
    if (fds[0].revents & POLLIN) {
      uint64_t n;
      (void)!::read(wake_fd_, &n, sizeof n);
    }
    std::deque<std::function<void()>> work;
    {
      std::lock_guard lock(mutex_);
      work.swap(queue_);
    }
    for (auto& fn : work) fn();
    for (std::size_t i = 0; i < order.size(); ++i) {
      if (!(fds[i + 1].revents & (POLLIN | POLLERR | POLLHUP))) continue;
      if (auto* e = pri_check_event(order[i]->pri->pri())) handle_event(*order[i], e);
    }
    gettimeofday(&now, nullptr);
    for (auto* s : order) {
      auto* tv = pri_schedule_next(s->pri->pri());
      if (tv && (tv->tv_sec < now.tv_sec || (tv->tv_sec == now.tv_sec && tv->tv_usec <= now.tv_usec)))
        if (auto* e = pri_schedule_run(s->pri->pri())) handle_event(*s, e);
    }
    steady = Clock::now();
    std::vector<std::shared_ptr<Call>> due;
    for (auto& [_, s] : spans_)
      for (auto& [ch, c] : s->by_chan)
        if (c->overlap_deadline && *c->overlap_deadline <= steady) due.push_back(c);
    for (auto& c : due) {
      c->overlap_deadline.reset();
      route_incoming(c);
    }
    analog_timers();
  }
}

void DahdiDriver::set_dchan(Span& span, bool up) {
  if (span.pri->dchan_up() == up) return;
  span.pri->set_dchan_up(up);
  int n = span.cfg.number;
  if (up) host_.log().info("dahdi: span " + std::to_string(n) + ": D-channel up");
  else host_.log().warn("dahdi: span " + std::to_string(n) + ": D-channel down; calls on it ended (cause 38)");
  host_.bus().publish("dahdi.span.dchan", sdk::json::object({{"span", static_cast<std::int64_t>(n)},
                                                             {"state", up ? "up" : "down"},
                                                             {"signalling", to_string(span.cfg.signalling)}}));
  if (up) return;
  std::vector<std::shared_ptr<Call>> calls;
  for (auto& [_, c] : span.by_chan) calls.push_back(c);
  for (auto& c : calls) {
    end_call(c, sdk::q850::network_out_of_order, false);
    if (c->q) pri_destroycall(span.pri->pri(), c->q);
    c->q = nullptr;
    forget(c);
  }
}

std::shared_ptr<DahdiDriver::Call> DahdiDriver::call_of(Span& span, q931_call* q) const {
  if (!q) return nullptr;
  for (auto& [_, c] : span.by_chan)
    if (c->q == q) return c;
  return nullptr;
}

std::shared_ptr<DahdiDriver::Call> DahdiDriver::call_of_channel(const std::string& id) const {
  std::lock_guard lock(mutex_);
  auto it = by_channel_.find(id);
  return it == by_channel_.end() ? nullptr : it->second;
}

std::optional<ChannelKey> DahdiDriver::b_channel(const std::string& channel_id) const {
  auto c = call_of_channel(channel_id);
  if (!c) return std::nullopt;
  return ChannelKey{c->span, c->chan};
}

int DahdiDriver::free_b_channel(const Span& span) const {
  // Highest first on the network side, lowest first on the user side, so
  // that two ends seizing at once rarely pick the same channel (glare).
  std::vector<int> chans;
  for (int g : span.cfg.bchan) chans.push_back(span.cfg.span_channel(g));
  if (is_network_side(span.cfg.signalling)) std::reverse(chans.begin(), chans.end());
  for (int ch : chans)
    if (!span.by_chan.count(ch)) return ch;
  return 0;
}

void DahdiDriver::handle_event(Span& span, void* ev) {
  auto* e = static_cast<pri_event*>(ev);
  if (host_.log().enabled(sdk::LogLevel::debug))
    host_.log().log(sdk::LogLevel::debug, "dahdi: span " + std::to_string(span.cfg.number) + ": " +
                                              pri_event2str(e->e));
  switch (e->e) {
    case PRI_EVENT_DCHAN_UP: set_dchan(span, true); break;
    case PRI_EVENT_DCHAN_DOWN: set_dchan(span, false); break;
    case PRI_EVENT_RING: on_ring(span, ev); break;
    case PRI_EVENT_INFO_RECEIVED: on_info(span, ev); break;
    case PRI_EVENT_PROCEEDING: {
      auto c = call_of(span, e->proceeding.call);
      if (c && !c->ended && (e->proceeding.progressmask & PRI_PROG_INBAND_AVAILABLE)) {
        open_media(*c);
        early_media(*c, true, false);
      }
      break;
    }
    case PRI_EVENT_SETUP_ACK: {
      auto c = call_of(span, e->setup_ack.call);
      if (!c) break;
      for (char d : c->more_digits) pri_information(span.pri->pri(), c->q, d);
      c->more_digits.clear();
      break;
    }
    case PRI_EVENT_RINGING:
    case PRI_EVENT_PROGRESS: {
      auto c = call_of(span, e->e == PRI_EVENT_RINGING ? e->ringing.call : e->proceeding.call);
      int mask = e->e == PRI_EVENT_RINGING ? e->ringing.progressmask : e->proceeding.progressmask;
      if (c && !c->ended) {
        open_media(*c);
        early_media(*c, mask & PRI_PROG_INBAND_AVAILABLE, e->e == PRI_EVENT_RINGING);
      }
      if (c && !c->ended && !c->alerted) {
        // In-band early media (the far end's ringback or announcement)
        // flows on the B-channel from here.
        c->alerted = e->e == PRI_EVENT_RINGING;
        if (c->alerted) (void)core_->set_state(c->channel_id, sdk::ChannelState::ringing);
      }
      break;
    }
    case PRI_EVENT_ANSWER: {
      auto c = call_of(span, e->answer.call);
      if (c && !c->ended) {
        c->answered = true;
        open_media(*c);
        stop_ringback(*c);
        (void)core_->set_state(c->channel_id, sdk::ChannelState::up);
      }
      break;
    }
    case PRI_EVENT_HANGUP_REQ: on_hangup(span, e->hangup.call, e->hangup.cause, false); break;
    case PRI_EVENT_HANGUP: on_hangup(span, e->hangup.call, e->hangup.cause, true); break;
    case PRI_EVENT_HANGUP_ACK: {
      if (auto c = call_of(span, e->hangup.call)) {
        end_call(c, e->hangup.cause > 0 ? e->hangup.cause : sdk::q850::normal_clearing, false);
        c->q = nullptr;
        forget(c);
      }
      break;
    }
    case PRI_EVENT_RESTART: {
      int ch = e->restart.channel > 0 ? (e->restart.channel & 0xff) : -1;
      host_.log().log(ch > 0 ? sdk::LogLevel::debug : sdk::LogLevel::info,
                      "dahdi: span " + std::to_string(span.cfg.number) + ": the far end restarted " +
                          (ch > 0 ? "channel " + std::to_string(ch) : std::string("every channel")));
      std::vector<std::shared_ptr<Call>> calls;
      for (auto& [n, c] : span.by_chan)
        if (ch < 0 || n == ch) calls.push_back(c);
      for (auto& c : calls) {
        end_call(c, sdk::q850::temporary_failure, false);
        if (c->q) pri_destroycall(span.pri->pri(), c->q);
        c->q = nullptr;
        forget(c);
      }
      break;
    }
    case PRI_EVENT_RESTART_ACK:
      if (!span.to_restart.empty()) span.to_restart.pop_front();
      if (!span.to_restart.empty()) pri_reset(span.pri->pri(), span.to_restart.front());
      else host_.log().info("dahdi: span " + std::to_string(span.cfg.number) + ": every B-channel restarted");
      break;
    case PRI_EVENT_CONFIG_ERR:
      host_.log().error("dahdi: span " + std::to_string(span.cfg.number) + ": configuration error reported by "
                        "libpri: " + std::string(e->err.err) + "; check signalling and switchtype against the far end");
      break;
    default: break;
  }
}

void DahdiDriver::on_ring(Span& span, void* ev) {
  auto* e = static_cast<pri_event*>(ev);
  auto& r = e->ring;
  int ch = r.channel > 0 ? (r.channel & 0xff) : 0;
  bool known = false;
  for (int g : span.cfg.bchan)
    if (span.cfg.span_channel(g) == ch) known = true;
  if (ch == 0 && r.flexible) ch = free_b_channel(span), known = ch != 0;
  if (!known || span.by_chan.count(ch)) {
    host_.log().warn("dahdi: span " + std::to_string(span.cfg.number) + ": incoming call for channel " +
                     std::to_string(ch) + (known ? ", which is busy" : ", which is not a bchan of the span") +
                     "; refused with cause 44");
    pri_hangup(span.pri->pri(), r.call, 44);  // requested circuit not available
    return;
  }
  auto c = std::make_shared<Call>();
  c->span = span.cfg.number;
  c->chan = ch;
  c->q = r.call;
  c->calling_plan = r.callingplan;
  c->called_plan = r.calledplan;
  c->calling_pres = r.callingpres;
  c->calling = with_prefix(span.cfg, r.callingplan, r.callingnum);
  c->calling_name = r.callingname;
  c->called = r.callednum;
  span.by_chan[ch] = c;
  if (!r.complete && span.cfg.overlap_incoming() &&
      (c->called.empty() || c->called.back() != '#')) {
    // Overlap: SETUP ACKNOWLEDGE, then digits in INFORMATION messages until
    // the far end says the number is complete, a '#', or silence.
    pri_need_more_info(span.pri->pri(), c->q, ch, 0);
    c->overlap_deadline = Clock::now() + std::chrono::milliseconds(config_.overlap_timeout_ms);
    return;
  }
  route_incoming(c);
}

void DahdiDriver::on_info(Span& span, void* ev) {
  auto* e = static_cast<pri_event*>(ev);
  auto c = call_of(span, e->ring.call);
  if (!c || !c->overlap_deadline) return;
  c->called += e->ring.callednum;
  if (e->ring.complete || (!c->called.empty() && c->called.back() == '#')) {
    c->overlap_deadline.reset();
    route_incoming(c);
  } else {
    c->overlap_deadline = Clock::now() + std::chrono::milliseconds(config_.overlap_timeout_ms);
  }
}

void DahdiDriver::route_incoming(const std::shared_ptr<Call>& c) {
  if (c->routed) return;
  c->routed = true;
  const SpanConfig& cfg = config_.spans.at(c->span);
  struct pri* pri = c->q && spans_.count(c->span) ? spans_.at(c->span)->pri->pri() : nullptr;
  if (!c->called.empty() && c->called.back() == '#') c->called.pop_back();
  sdk::ChannelSpec spec;
  spec.backend = "dahdi";
  spec.endpoint = std::to_string(c->span) + "/" + std::to_string(c->chan);
  spec.direction = sdk::ChannelDirection::inbound;
  bool restricted = (c->calling_pres & 0x60) == PRI_PRES_RESTRICTED;
  spec.caller_number = c->calling;
  spec.caller_name = restricted ? std::string() : c->calling_name;
  spec.callee_number = c->called;
  spec.protocol_id = "span " + spec.endpoint;
  spec.backend_ref = spec.endpoint;
  auto id = core_->create_channel(spec);
  if (!id) {
    host_.log().warn("dahdi: span " + std::to_string(c->span) + ": incoming call refused: " + id.error().message);
    if (pri) pri_hangup(pri, c->q, sdk::q850::switching_equipment_congestion);
    else if (c->analog) end_call(c, sdk::q850::switching_equipment_congestion, true);
    c->hangup_sent = true;
    c->ended = true;
    return;
  }
  c->channel_id = *id;
  {
    std::lock_guard lock(mutex_);
    by_channel_[c->channel_id] = c;
  }
  if (pri) pri_proceeding(pri, c->q, c->chan, 0);
  auto* lua = host_.lua();
  if (!lua) {
    host_.log().error("dahdi: call " + c->channel_id + ": no dialplan; refused with cause 41");
    end_call(c, sdk::q850::temporary_failure, true);
    return;
  }
  auto t = std::make_shared<sdk::LuaTable>();
  t->fields["id"] = c->channel_id;
  t->fields["channel"] = c->channel_id;
  t->fields["caller"] = "dahdi/" + spec.endpoint;
  t->fields["caller_number"] = c->calling;
  t->fields["caller_name"] = spec.caller_name;
  t->fields["callee"] = c->called;
  t->fields["called_number"] = c->called;
  // A phone on an FXS port dials as a user's line does; calls from a span
  // or an exchange line are external.
  bool phone = cfg.signalling == Signalling::fxo_ks;
  t->fields["context"] = cfg.context;
  t->fields["origin"] = phone ? "intern" : "extern";
  auto vars = std::make_shared<sdk::LuaTable>();
  vars->fields["DAHDI_SPAN"] = std::to_string(c->span);
  vars->fields["DAHDI_CHANNEL"] = std::to_string(c->chan);
  vars->fields["DAHDI_CALLING_TON"] = ton_name(c->calling_plan);
  vars->fields["DAHDI_CALLED_TON"] = ton_name(c->called_plan);
  vars->fields["DAHDI_CALLING_PRES"] = restricted ? "restricted" : "allowed";
  vars->fields["XIVO_CALLORIGIN"] = phone ? "intern" : "extern";
  t->fields["vars"] = vars;
  for (auto& [k, v] : vars->fields)
    if (auto* s = v.as_string()) (void)core_->set_variable(c->channel_id, k, *s);
  std::weak_ptr<DahdiDriver> weak = weak_from_this();
  std::string id_copy = c->channel_id;
  lua->call(config_.dialplan_function, {t}, [weak, id_copy](sdk::Result<sdk::LuaValues> r) {
    if (auto self = weak.lock()) self->decided(id_copy, r);
  });
}

// The dialplan returned (on a Lua thread): what is left to do for the call.
void DahdiDriver::decided(const std::string& id, const sdk::Result<sdk::LuaValues>& r) {
  auto ch = core_->channel(id);
  if (!ch) return;  // hung up meanwhile
  if (!r) {
    host_.log().error("dahdi: call " + id + ": dialplan failed: " + r.error().message);
    (void)hangup(*ch, sdk::q850::temporary_failure);
    return;
  }
  auto d = sdk::read_decision(*r);
  std::string action = d ? d->action : std::string();
  if (action == "reject") {
    // The cause itself when the script has it (an outcome's `cause`): RFC
    // 3398 maps several causes to one SIP status.
    int q850 = d->cause ? *d->cause : sdk::q850_from_sip(d->code.value_or(404));
    (void)hangup(*ch, q850 > 0 && q850 < 128 ? q850 : sdk::q850::normal_unspecified);
    return;
  }
  if (action == "dial") {
    sdk::DialOptions o;
    o.targets = d->targets;
    if (d->timeout_seconds) o.timeout_seconds = *d->timeout_seconds;
    std::weak_ptr<DahdiDriver> weak = weak_from_this();
    core_->dial(id, std::move(o), [weak, id](const sdk::DialOutcome& out) {
      auto self = weak.lock();
      if (!self || out.status == "answered") return;
      if (auto c = self->core_->channel(id)) (void)self->hangup(*c, out.q850 ? out.q850 : sdk::q850::normal_unspecified);
    });
    return;
  }
  if (action != "done")
    host_.log().error("dahdi: call " + id + ": the dialplan returned no decision (expected done, dial or reject)");
  // Done: an answered call goes on until someone hangs up; an unanswered
  // one has nothing left to wait for. A call linked to the leg that
  // answered it is answered too: its own answer (from the bus event of
  // that leg) may still be on its way.
  if (ch->state != sdk::ChannelState::up && ch->peer.empty())
    (void)hangup(*ch, action == "done" ? sdk::q850::no_user_response : sdk::q850::temporary_failure);
}

void DahdiDriver::on_hangup(Span& span, q931_call* q, int cause, bool released) {
  auto c = call_of(span, q);
  if (!c) {
    // A call we never took (refused at RING): libpri still needs the
    // upper layer to let it go.
    if (released && q) pri_hangup(span.pri->pri(), q, cause);
    return;
  }
  if (cause <= 0) cause = sdk::q850::normal_unspecified;
  end_call(c, cause, true);
  c->q = nullptr;
  forget(c);
}

void DahdiDriver::end_call(const std::shared_ptr<Call>& c, int cause, bool send_hangup) {
  if (send_hangup && !c->hangup_sent && c->q) {
    // From here libpri owns the call until its release completes; the
    // B-channel is free again (chan_dahdi does the same).
    c->hangup_sent = true;
    pri_hangup(spans_.at(c->span)->pri->pri(), c->q, cause);
    c->q = nullptr;
    forget(c);
  }
  if (c->ended) return;
  c->ended = true;
  c->overlap_deadline.reset();
  if (c->analog) {
    auto* line = c->analog;
    c->analog = nullptr;
    release_analog(*line, c);
  }
  pump_.disconnect({c->span, c->chan});
  bool had_media = false;
  {
    std::lock_guard lock(mutex_);
    auto m = media_.find(c->channel_id);
    if (m != media_.end()) {
      // Kept for the audio summary logged at stop.
      auto st = m->second->stats();
      audio_.underruns += st.underruns;
      audio_.dropped += st.dropped;
      auto ep = m->second->endpoint()->stats();
      audio_.rtp_in += ep.packets_in;
      audio_.rtp_lost += ep.lost;
      audio_.rtp_late += ep.late;
      ++audio_.calls;
      media_.erase(m);
      had_media = true;
    }
    joined_.erase(c->channel_id);
  }
  if (had_media)
    if (auto engine = host_.services().find<sdk::media::MediaEngine>()) engine->detach_channel(c->channel_id);
  if (c->outbound && !c->answered && !c->origin.empty())
    (void)core_->set_variable(c->origin, "DIAL_FAILOVER", failover_cause(cause) ? "yes" : "no");
  if (!c->channel_id.empty()) (void)core_->end_channel_q850(c->channel_id, cause);
}

void DahdiDriver::forget(const std::shared_ptr<Call>& c) {
  auto it = spans_.find(c->span);
  if (it != spans_.end()) {
    auto b = it->second->by_chan.find(c->chan);
    if (b != it->second->by_chan.end() && b->second == c) it->second->by_chan.erase(b);
  }
  std::lock_guard lock(mutex_);
  auto x = by_channel_.find(c->channel_id);
  if (x != by_channel_.end() && x->second == c) by_channel_.erase(x);
}

sdk::Status DahdiDriver::originate(const sdk::OriginateRequest& request) {
  auto self = shared_from_this();
  post([self, request] {
    for (auto& leg : request.legs) self->place_call(request, leg);
  });
  return {};
}

// "g<group>/<number>", "<span>/<number>" or "<span>/<channel>/<number>"
// (channel: its DAHDI number, as in bchan).
void DahdiDriver::place_call(const sdk::OriginateRequest& req, const sdk::OriginateLeg& leg) {
  auto slash = leg.target.find('/');
  std::string where = leg.target.substr(0, slash);
  std::string number = slash == std::string::npos ? std::string() : leg.target.substr(slash + 1);
  std::string channel;
  if (auto second = number.find('/'); second != std::string::npos) {
    channel = number.substr(0, second);
    number = number.substr(second + 1);
  }
  auto refuse = [&](int cause, const std::string& why) {
    host_.log().warn("dahdi: dahdi/" + leg.target + ": " + why);
    (void)core_->set_variable(req.origin.id, "DIAL_FAILOVER", failover_cause(cause) ? "yes" : "no");
    (void)core_->end_channel_q850(leg.channel_id, cause);
  };
  if (place_analog(req, leg, where, channel, number)) return;
  if (number.empty() || where.empty() || (!channel.empty() && where[0] == 'g'))
    return refuse(sdk::q850::invalid_number_format,
                  "expected dahdi/g<group>/<number>, dahdi/<span>/<number> or dahdi/<span>/<channel>/<number>");
  std::vector<Span*> candidates;
  try {
    if (where[0] == 'g') {
      int g = std::stoi(where.substr(1));
      for (auto& [_, s] : spans_)
        if (std::find(s->cfg.groups.begin(), s->cfg.groups.end(), g) != s->cfg.groups.end())
          candidates.push_back(s.get());
    } else {
      auto it = spans_.find(std::stoi(where));
      if (it != spans_.end()) candidates.push_back(it->second.get());
    }
  } catch (...) {
    return refuse(sdk::q850::invalid_number_format, "'" + where + "' is neither g<group> nor a span number");
  }
  if (candidates.empty())
    return refuse(sdk::q850::no_route_destination, "no running span " +
                                                       (where[0] == 'g' ? "in group " + where.substr(1) : where));
  Span* span = nullptr;
  int ch = 0;
  if (!channel.empty()) {
    Span* s = candidates.front();
    int global = 0;
    try {
      global = std::stoi(channel);
    } catch (...) {
    }
    if (std::find(s->cfg.bchan.begin(), s->cfg.bchan.end(), global) == s->cfg.bchan.end())
      return refuse(sdk::q850::invalid_number_format,
                    "channel '" + channel + "' is not a bchan of span " + where);
    ch = s->cfg.span_channel(global);
    bool on_demand = is_ptmp(s->cfg.signalling) && !is_network_side(s->cfg.signalling);
    if ((!s->pri->dchan_up() && !on_demand) || s->by_chan.count(ch))
      return refuse(44, "channel " + channel + " is busy or its D-channel is down");  // requested circuit
    span = s;
  }
  for (auto* s : candidates) {
    if (span) break;
    // A PTMP user side with layer 2 left down brings it up for the call.
    if (!s->pri->dchan_up() && !(is_ptmp(s->cfg.signalling) && !is_network_side(s->cfg.signalling))) continue;
    if ((ch = free_b_channel(*s))) {
      span = s;
      break;
    }
  }
  if (!span) return refuse(sdk::q850::no_circuit_available, "no free B-channel with its D-channel up");
  auto c = std::make_shared<Call>();
  c->span = span->cfg.number;
  c->chan = ch;
  c->outbound = true;
  c->routed = true;
  c->channel_id = leg.channel_id;
  c->origin = req.origin.id;
  c->called = number;
  c->q = pri_new_call(span->pri->pri());
  if (!c->q) return refuse(sdk::q850::temporary_failure, "libpri could not create a call");
  auto [plan, digits] = outgoing_plan(span->cfg, number);
  std::string first = digits;
  bool overlap = span->cfg.overlap_outgoing() && digits.size() > 1;
  if (overlap) {
    first = digits.substr(0, 1);
    c->more_digits = digits.substr(1);
  }
  std::string caller = req.caller_number, name = req.caller_name;
  auto [caller_plan, caller_digits] = outgoing_plan(span->cfg, caller);
  std::vector<char> called_buf(first.begin(), first.end()), caller_buf(caller_digits.begin(), caller_digits.end()),
      name_buf(name.begin(), name.end());
  called_buf.push_back(0), caller_buf.push_back(0), name_buf.push_back(0);
  auto* sr = pri_sr_new();
  pri_sr_set_channel(sr, ch, 1, 0);
  pri_sr_set_bearer(sr, PRI_TRANS_CAP_SPEECH, span->cfg.alaw ? PRI_LAYER_1_ALAW : PRI_LAYER_1_ULAW);
  pri_sr_set_called(sr, called_buf.data(), plan, overlap ? 0 : 1);
  pri_sr_set_caller(sr, caller_buf.data(), name_buf.data(), caller_plan,
                    req.anonymous ? PRES_PROHIB_USER_NUMBER_NOT_SCREENED : PRES_ALLOWED_USER_NUMBER_NOT_SCREENED);
  int rc = pri_setup(span->pri->pri(), c->q, sr);
  pri_sr_free(sr);
  if (rc != 0) {
    pri_destroycall(span->pri->pri(), c->q);
    return refuse(sdk::q850::temporary_failure, "libpri refused the SETUP");
  }
  span->by_chan[ch] = c;
  {
    std::lock_guard lock(mutex_);
    by_channel_[c->channel_id] = c;
  }
}

void DahdiDriver::with_call(const std::string& channel_id, std::function<void(Span&, Call&)> fn) {
  auto self = shared_from_this();
  post([self, channel_id, fn = std::move(fn)] {
    auto c = self->call_of_channel(channel_id);
    if (!c || c->ended) return;
    auto it = self->spans_.find(c->span);
    if (it == self->spans_.end() || !c->q) return;
    fn(*it->second, *c);
  });
}

sdk::Status DahdiDriver::cancel(const sdk::Channel& channel, int cause) { return hangup(channel, cause); }

sdk::Status DahdiDriver::progress(const sdk::Channel& channel) {
  auto c = call_of_channel(channel.id);
  if (!c || c->outbound) return sdk::Error::not_found("dahdi: no incoming call on channel " + channel.id);
  // PROGRESS with in-band information (progress indicator 8): what the
  // script plays or bridges before answering reaches the caller. Media and
  // state at once, as for answer().
  open_media(*c);
  (void)core_->set_state(channel.id, sdk::ChannelState::ringing);
  with_call(channel.id, [](Span& s, Call& c) {
    if (!c.outbound && !c.answered) pri_progress(s.pri->pri(), c.q, c.chan, 1);
  });
  return {};
}

sdk::Status DahdiDriver::ringing(const sdk::Channel& channel) {
  with_call(channel.id, [](Span& s, Call& c) {
    if (c.outbound || c.alerted || c.answered) return;
    c.alerted = true;
    pri_acknowledge(s.pri->pri(), c.q, c.chan, 1);  // ALERTING, ringback in band
  });
  return {};
}

sdk::Status DahdiDriver::answer(const sdk::Channel& channel) {
  auto c = call_of_channel(channel.id);
  if (!c || c->outbound) return sdk::Error::not_found("dahdi: no incoming call on channel " + channel.id);
  // Media and state at once for the core and the dialplan (the script that
  // answered plays to the call next); the CONNECT follows on the
  // signalling thread.
  open_media(*c);
  (void)core_->set_state(channel.id, sdk::ChannelState::up);
  if (c->analog) {
    answer_analog(channel.id);
    return {};
  }
  with_call(channel.id, [](Span& s, Call& c) {
    if (c.outbound || c.answered) return;
    c.answered = true;
    pri_answer(s.pri->pri(), c.q, c.chan, 0);
  });
  return {};
}

// Any thread: a call's span and channel never change, and media_ is
// guarded; two callers at once open one bridge (the second is dropped).
void DahdiDriver::open_media(Call& c) {
  if (c.channel_id.empty()) return;
  {
    std::lock_guard lock(mutex_);
    if (media_.count(c.channel_id)) return;
  }
  auto engine = host_.services().find<sdk::media::MediaEngine>();
  if (!engine) return;  // no media.engine plugin: the B-channel stays silent
  auto it = config_.spans.find(c.span);
  if (it == config_.spans.end()) return;
  const auto& cfg = it->second;
  auto bridge = MediaBridge::open(*engine, cfg.alaw, cfg.echocancel ? cfg.echocancel_taps : 0);
  if (!bridge) {
    host_.log().warn("dahdi: call " + c.channel_id + ": no media: " + bridge.error().message);
    return;
  }
  {
    std::lock_guard lock(mutex_);
    if (c.ended || !media_.emplace(c.channel_id, *bridge).second) return;
  }
  pump_.connect({c.span, c.chan}, (*bridge)->port(*bridge));
  // Media applications (call:play, call:playtones, call:read_digits...)
  // find the call's media under its channel id.
  engine->attach_channel(c.channel_id, (*bridge)->endpoint());
  // Ended meanwhile (end_call sets `ended` before it disconnects): undo.
  if (c.ended) {
    pump_.disconnect({c.span, c.chan});
    engine->detach_channel(c.channel_id);
    std::lock_guard lock(mutex_);
    media_.erase(c.channel_id);
  }
}

std::shared_ptr<sdk::media::Endpoint> DahdiDriver::media_endpoint(const std::string& channel_id) const {
  std::lock_guard lock(mutex_);
  auto it = media_.find(channel_id);
  return it == media_.end() ? nullptr : it->second->endpoint();
}

std::optional<MediaBridgeStats> DahdiDriver::media_stats(const std::string& channel_id) const {
  std::lock_guard lock(mutex_);
  auto it = media_.find(channel_id);
  if (it == media_.end()) return std::nullopt;
  return it->second->stats();
}

sdk::Status DahdiDriver::bridge(const sdk::Channel& a, const sdk::Channel& b, sdk::MediaPath) {
  auto ea = media_endpoint(a.id), eb = media_endpoint(b.id);
  if (!ea || !eb)
    return sdk::Error::unsupported("dahdi: both calls need their media in the engine (media.engine loaded, "
                                   "calls answered)");
  auto engine = host_.services().find<sdk::media::MediaEngine>();
  if (!engine) return sdk::Error::unavailable("dahdi: the media.engine plugin is not loaded");
  auto mixer = engine->create_mixer();
  mixer->add(ea);
  mixer->add(eb);
  std::lock_guard lock(mutex_);
  std::erase_if(mixers_, [](const std::shared_ptr<sdk::media::Mixer>& m) { return m->size() < 2; });
  mixers_.push_back(std::move(mixer));
  return {};
}

sdk::Status DahdiDriver::send_dtmf(const sdk::Channel& channel, const std::string& digits) {
  // In band through the engine when the call's audio is there (what a
  // phone or an operator hears); keypad INFORMATION messages otherwise.
  if (auto ep = media_endpoint(channel.id)) {
    ep->send_dtmf(digits);
    return {};
  }
  with_call(channel.id, [digits](Span& s, Call& c) {
    for (char d : digits) pri_information(s.pri->pri(), c.q, d);
  });
  return {};
}

sdk::Status DahdiDriver::hangup(const sdk::Channel& channel, int q850_cause) {
  int cause = q850_cause > 0 ? q850_cause : sdk::q850::normal_clearing;
  auto self = shared_from_this();
  std::string id = channel.id;
  post([self, id, cause] {
    auto c = self->call_of_channel(id);
    if (!c) {
      (void)self->core_->end_channel_q850(id, cause);  // never reached a span
      return;
    }
    self->end_call(c, cause, true);
  });
  return {};
}

std::vector<SpanStatus> DahdiDriver::spans() const {
  std::vector<SpanStatus> out;
  // Read on the caller's thread: counts may be a tick old.
  for (auto& [n, s] : config_.spans) {
    SpanStatus st;
    st.number = n;
    auto it = spans_.find(n);
    if (it != spans_.end()) {
      st.running = true;
      st.dchan_up = it->second->pri->dchan_up();
      std::lock_guard lock(mutex_);
      for (auto& [_, c] : by_channel_) st.calls += c->span == n ? 1 : 0;
      st.malformed = it->second->pri->malformed();
    } else if (!is_isdn(s.signalling) && !refused_.count(n)) {
      // An analog span has no D-channel: its ports signal on their own.
      st.running = true;
      st.dchan_up = true;
      std::lock_guard lock(mutex_);
      for (auto& [_, c] : by_channel_) st.calls += c->span == n ? 1 : 0;
    }
    out.push_back(st);
  }
  return out;
}

void DahdiDriver::restart_span(int span) {
  auto self = shared_from_this();
  post([self, span] {
    auto it = self->spans_.find(span);
    if (it == self->spans_.end()) return;
    std::vector<std::shared_ptr<Call>> calls;
    for (auto& [_, c] : it->second->by_chan) calls.push_back(c);
    for (auto& c : calls) {
      self->end_call(c, sdk::q850::temporary_failure, false);
      if (c->q) pri_destroycall(it->second->pri->pri(), c->q);
      c->q = nullptr;
      self->forget(c);
    }
    // One RESTART per B-channel, the next after its RESTART ACKNOWLEDGE,
    // as chan_dahdi does: some switches refuse a burst.
    auto& span = *it->second;
    bool idle = span.to_restart.empty();
    for (int g : span.cfg.bchan) span.to_restart.push_back(span.cfg.span_channel(g));
    if (idle) pri_reset(span.pri->pri(), span.to_restart.front());
  });
}

void DahdiDriver::unplug(int span, bool unplugged) {
  auto self = shared_from_this();
  post([self, span, unplugged] {
    auto it = self->spans_.find(span);
    if (it == self->spans_.end()) return;
    it->second->unplugged = unplugged;
    auto peer = self->spans_.find(it->second->cfg.peer);
    if (peer != self->spans_.end()) peer->second->unplugged = unplugged;
  });
}

int DahdiDriver::far_end(int span) {
  auto it = far_ends_.find(span);
  if (it == far_ends_.end()) return -1;
  int fd = it->second;
  far_ends_.erase(it);
  return fd;
}

void DahdiDriver::set_timer(int span, int timer, int value) {
  auto self = shared_from_this();
  post([self, span, timer, value] {
    auto it = self->spans_.find(span);
    if (it != self->spans_.end()) pri_set_timer(it->second->pri->pri(), timer, value);
  });
}

}  // namespace dialtone::plugins::dahdi
