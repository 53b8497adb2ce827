// Analog spans in the driver: each port's AnalogPort (analog_port.h) fed
// with its channel's events and digits, and its calls in the call core. A
// phone on an FXS port dials into the span's context (origin intern, as a
// user's line); a ring on an FXO port enters it as an external call; the
// dialplan reaches the ports as dahdi/<span>/<channel> (an FXS port's phone,
// or an FXO line dialing nothing), dahdi/<span>/<number> or
// dahdi/g<group>/<number> (the first idle port: an FXO line dials the
// number; an FXS port rings its phone).
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <dialtone/services.h>

#include "dahdi_device.h"
#include "driver_state.h"

namespace dialtone::plugins::dahdi {

namespace {
AnalogRole role_of(const SpanConfig& s) {
  // chan_dahdi's names are the signalling the port speaks: fxo_ks towards
  // a phone (an FXS port), fxs_ks towards the exchange (an FXO port).
  return s.signalling == Signalling::fxo_ks ? AnalogRole::fxs : AnalogRole::fxo;
}
}  // namespace

sdk::Status DahdiDriver::start_analog(const SpanConfig& s) {
  std::map<int, int> fds;  // span channel -> our end
  if (s.driver == SpanDriver::hardware) {
    auto dev = open_span_device(s, config_.device);
    if (!dev) return dev.error();
    fds = dev->bchans;
  } else {
    for (int g : s.bchan) {
      int sv[2];
      if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
        return sdk::Error::unavailable("socketpair for port " + std::to_string(g) + ": " + std::strerror(errno));
      int size = 4 * static_cast<int>(kFrameBytes);
      for (int fd : sv) ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
      fds[s.span_channel(g)] = sv[0];
      far_ports_[{s.number, s.span_channel(g)}] = sv[1];
    }
  }
  std::weak_ptr<DahdiDriver> weak = weak_from_this();
  for (auto& [ch, fd] : fds) {
    ChannelKey key{s.number, ch};
    auto line = std::make_unique<AnalogLine>();
    line->cfg = s;
    line->chan = ch;
    auto audio = std::make_shared<AnalogAudio>(s.alaw, s.cidsignalling == "bell");
    AnalogPort::Actions act;
    AnalogLine* raw = line.get();
    act.hook = [this, key](HookCommand c) {
      if (!pump_.hook(key, c))
        host_.log().warn("dahdi: port " + std::to_string(key.first) + "/" + std::to_string(key.second) +
                         ": hook command refused by the channel");
    };
    act.audio = [this, key, audio] { pump_.connect(key, audio->port(audio)); };
    act.listen = [weak, key, audio] {
      audio->listen_dtmf([weak, key](char d) {  // on the B-channel thread
        if (auto self = weak.lock())
          self->post([self, key, d] {
            auto it = self->analog_.find(key);
            if (it != self->analog_.end()) it->second->port->on_digit(d, Clock::now());
          });
      });
    };
    act.dialed = [this, raw](const std::string& number) { analog_incoming(*raw, number); };
    act.incoming = [this, raw] { analog_incoming(*raw, ""); };
    act.answered = [this, raw] { analog_answered(*raw); };
    act.ended = [this, raw](int cause) { analog_ended(*raw, cause); };
    act.listen_cid = [this, weak, key, audio] {
      pump_.connect(key, audio->port(audio));
      audio->listen_caller_id([weak, key](const std::string& number, const std::string& name) {  // B-channel thread
        if (auto self = weak.lock())
          self->post([self, key, number, name] {
            auto it = self->analog_.find(key);
            if (it != self->analog_.end()) it->second->port->on_caller_id(number, name);
          });
      });
    };
    act.hold = [this, raw](bool held) { analog_hold(*raw, held); };
    act.transfer = [this, raw](const std::string& number) { analog_transfer(*raw, number); };
    AnalogPort::Timing timing;
    timing.next_digit = std::chrono::milliseconds(config_.overlap_timeout_ms);
    AnalogPort::Options options;
    options.use_callerid = s.usecallerid;
    options.cid_on_polarity = s.cidstart == "polarity";
    options.answer_on_polarity = s.answeronpolarityswitch;
    options.hangup_on_polarity = s.hanguponpolarityswitch;
    options.transfer = s.transfer;
    line->port = std::make_unique<AnalogPort>(role_of(s), audio, std::move(act), timing, options);
    if (s.driver == SpanDriver::simulated && role_of(s) == AnalogRole::fxs) {
      HookSwitch::Timing hook;
      hook.rxflash_ms = s.rxflash_ms;
      line->hooks = std::make_unique<HookSwitch>(hook);
    }
    pump_.add(key, fd, s.alaw);
    pump_.on_events(key, [weak, key](int e) {  // on the B-channel thread
      if (auto self = weak.lock()) self->post([self, key, e] { self->analog_event(key, e); });
    });
    analog_[key] = std::move(line);
  }
  host_.log().info("dahdi: span " + std::to_string(s.number) + " (" + to_string(s.signalling) + ", " +
                   std::to_string(fds.size()) + (role_of(s) == AnalogRole::fxs ? " FXS ports for phones" : " FXO lines") +
                   ", context " + s.context + ") " +
                   (s.driver == SpanDriver::hardware ? "on the card through " + config_.device : std::string("simulated")));
  return {};
}

void DahdiDriver::analog_event(ChannelKey key, int event) {
  auto it = analog_.find(key);
  if (it == analog_.end()) return;
  if (host_.log().enabled(sdk::LogLevel::debug))
    host_.log().log(sdk::LogLevel::debug, "dahdi: port " + std::to_string(key.first) + "/" +
                                              std::to_string(key.second) + ": " + device_event_name(event) + " (" +
                                              to_string(it->second->port->state()) + ")");
  auto now = Clock::now();
  if (is_line_change(event)) {
    // A simulated phone's hook switch: timed here as the kernel times a card's.
    if (!it->second->hooks) return;
    for (int e : it->second->hooks->change(line_closed(event), line_ms(event), now)) it->second->port->on_event(e, now);
    return;
  }
  it->second->port->on_event(event, now);
}

long DahdiDriver::analog_timeout_ms(long timeout) const {
  auto now = Clock::now();
  auto until = [&](std::optional<Clock::time_point> d) {
    if (!d) return;
    long ms = std::chrono::duration_cast<std::chrono::milliseconds>(*d - now).count();
    timeout = std::clamp<long>(ms, 0, timeout);
  };
  for (auto& [_, line] : analog_) {
    until(line->port->deadline());
    if (line->hooks) until(line->hooks->deadline());
  }
  return timeout;
}

void DahdiDriver::analog_timers() {
  auto now = Clock::now();
  for (auto& [_, line] : analog_) {
    if (line->hooks)
      if (auto d = line->hooks->deadline(); d && *d <= now)
        for (int e : line->hooks->expire(now)) line->port->on_event(e, now);
    if (auto d = line->port->deadline(); d && *d <= now) line->port->on_timer(now);
  }
}

// The phone dialed `number` (FXS), or the line rings (FXO, no number): a
// call into the span's context.
void DahdiDriver::analog_incoming(AnalogLine& line, const std::string& number) {
  auto c = std::make_shared<Call>();
  c->span = line.cfg.number;
  c->chan = line.chan;
  c->analog = &line;
  c->called = number;
  // A line's caller ID (FXO), received before the call was announced.
  c->calling = line.port->caller_number();
  c->calling_name = line.port->caller_name();
  line.call = c;
  route_incoming(c);
}

void DahdiDriver::analog_hold(AnalogLine& line, bool held) {
  auto c = line.call;
  if (!c || c->ended) return;
  auto peer = core_->channel(c->channel_id);
  auto engine = host_.services().find<sdk::media::MediaEngine>();
  auto other = engine && peer && !peer->peer.empty() ? engine->channel_endpoint(peer->peer) : nullptr;
  ChannelKey key{c->span, c->chan};
  if (held) {
    // The phone hears the port's dial tone; the other party, music.
    if (other) other->play_music("default");
    return;
  }
  if (other) other->stop_playing();
  std::shared_ptr<MediaBridge> bridge;
  {
    std::lock_guard lock(mutex_);
    auto m = media_.find(c->channel_id);
    if (m != media_.end()) bridge = m->second;
  }
  if (bridge) pump_.connect(key, bridge->port(bridge));
}

void DahdiDriver::analog_transfer(AnalogLine& line, const std::string& number) {
  auto c = line.call;
  if (!c || c->ended) return;
  host_.log().info("dahdi: port " + std::to_string(c->span) + "/" + std::to_string(c->chan) +
                   ": hook flash transfer of the other party to " + number + "@" + line.cfg.context);
  analog_hold(line, false);  // the other party leaves the music for the dialplan
  sdk::TransferRequest t;
  t.kind = sdk::TransferRequest::Kind::blind;
  t.channel_id = c->channel_id;
  t.exten = number;
  t.context = line.cfg.context;
  if (auto s = core_->request_transfer(t); !s)
    host_.log().warn("dahdi: port " + std::to_string(c->span) + "/" + std::to_string(c->chan) +
                     ": the transfer to " + number + " failed: " + s.error().message + "; the call goes on");
}

void DahdiDriver::analog_answered(AnalogLine& line) {
  auto c = line.call;
  if (!c || c->ended) return;
  c->answered = true;
  open_media(*c);
  (void)core_->set_state(c->channel_id, sdk::ChannelState::up);
}

void DahdiDriver::analog_ended(AnalogLine& line, int cause) {
  auto c = std::move(line.call);
  if (!c) return;
  c->analog = nullptr;  // the port is idle already
  end_call(c, cause, false);
  forget(c);
}

void DahdiDriver::release_analog(AnalogLine& line, const std::shared_ptr<Call>& c) {
  if (line.call == c) line.call.reset();
  line.port->release();
  forget(c);
}

void DahdiDriver::answer_analog(const std::string& channel_id) {
  auto self = shared_from_this();
  post([self, channel_id] {
    auto c = self->call_of_channel(channel_id);
    if (!c || c->ended || !c->analog) return;
    c->answered = true;
    c->analog->port->answer();  // FXO: off-hook; FXS: the phone is off-hook already
  });
}

bool DahdiDriver::place_analog(const sdk::OriginateRequest& req, const sdk::OriginateLeg& leg, const std::string& where,
                               const std::string& channel, std::string number) {
  std::vector<int> spans;
  try {
    if (!where.empty() && where[0] == 'g') {
      int g = std::stoi(where.substr(1));
      for (auto& [n, s] : config_.spans)
        if (!is_isdn(s.signalling) && std::count(s.groups.begin(), s.groups.end(), g)) spans.push_back(n);
    } else {
      int n = std::stoi(where);
      auto it = config_.spans.find(n);
      if (it != config_.spans.end() && !is_isdn(it->second.signalling)) spans.push_back(n);
    }
  } catch (...) {
    return false;
  }
  if (spans.empty()) return false;
  auto refuse = [&](int cause, const std::string& why) {
    host_.log().warn("dahdi: dahdi/" + leg.target + ": " + why);
    (void)core_->end_channel_q850(leg.channel_id, cause);
    return true;
  };
  // dahdi/<span>/<channel>[/<number>]: a port named by its DAHDI number; on
  // an FXS span dahdi/<span>/<channel> alone names the phone's port.
  std::string port = channel;
  if (port.empty() && where[0] != 'g' && role_of(config_.spans.at(spans.front())) == AnalogRole::fxs) {
    port = number;
    number.clear();
  }
  AnalogLine* line = nullptr;
  for (int n : spans) {
    if (line) break;
    const auto& cfg = config_.spans.at(n);
    for (int g : cfg.bchan) {
      if (!port.empty() && std::to_string(g) != port) continue;
      auto it = analog_.find({n, cfg.span_channel(g)});
      if (it != analog_.end() && it->second->port->idle() && !it->second->call) {
        line = it->second.get();
        break;
      }
    }
  }
  if (!line) {
    if (!port.empty() && std::none_of(spans.begin(), spans.end(), [&](int n) {
          auto& b = config_.spans.at(n).bchan;
          return std::find(b.begin(), b.end(), std::atoi(port.c_str())) != b.end();
        }))
      return refuse(sdk::q850::invalid_number_format, "port '" + port + "' is not a channel of span " + where);
    return refuse(sdk::q850::user_busy, "no idle analog port (the phone is off-hook or the line in use)");
  }
  bool fxs = line->port->role() == AnalogRole::fxs;
  if (!fxs && number.empty()) return refuse(sdk::q850::invalid_number_format, "an FXO line needs a number to dial");
  auto c = std::make_shared<Call>();
  c->span = line->cfg.number;
  c->chan = line->chan;
  c->outbound = true;
  c->routed = true;
  c->channel_id = leg.channel_id;
  c->origin = req.origin.id;
  c->called = number;
  c->analog = line;
  line->call = c;
  {
    std::lock_guard lock(mutex_);
    by_channel_[c->channel_id] = c;
  }
  bool ok = fxs ? line->port->ring(req.anonymous ? std::string() : req.caller_number,
                                   req.anonymous ? std::string() : req.caller_name)
                : line->port->dial(number, Clock::now());
  if (!ok) {
    end_call(c, sdk::q850::temporary_failure, true);
    return true;
  }
  // The phone rings (FXS); an FXO line is seized and dialed, up once dialed.
  if (fxs) (void)core_->set_state(c->channel_id, sdk::ChannelState::ringing);
  return true;
}

int DahdiDriver::far_end_port(int span, int channel) {
  auto it = far_ports_.find({span, channel});
  if (it == far_ports_.end()) return -1;
  int fd = it->second;
  far_ports_.erase(it);
  return fd;
}

std::string DahdiDriver::analog_state(int span, int channel) const {
  auto it = analog_.find({span, channel});
  return it == analog_.end() ? std::string() : to_string(it->second->port->state());
}

}  // namespace dialtone::plugins::dahdi
