#include "analog_port.h"

#include <cmath>
#include <cstring>

#include <spandsp.h>

namespace dialtone::plugins::dahdi {

// ---- AnalogAudio -------------------------------------------------------

AnalogAudio::AnalogAudio(bool alaw) : alaw_(alaw) {
  rx_ = dtmf_rx_init(nullptr, &AnalogAudio::on_digits, this);
  tx_ = dtmf_tx_init(nullptr);
  cid_ = adsi_tx_init(nullptr, ADSI_STANDARD_CLIP);
}

AnalogAudio::~AnalogAudio() {
  if (rx_) dtmf_rx_free(rx_);
  if (tx_) dtmf_tx_free(tx_);
  if (cid_) adsi_tx_free(cid_);
}

void AnalogAudio::dial_tone(bool on) {
  std::lock_guard lock(m_);
  tone_ = on;
}

void AnalogAudio::listen_dtmf(std::function<void(char)> on_digit) {
  std::lock_guard lock(m_);
  on_digit_ = std::move(on_digit);
}

void AnalogAudio::send_dtmf(const std::string& digits) {
  std::lock_guard lock(m_);
  dtmf_tx_put(tx_, digits.c_str(), static_cast<int>(digits.size()));
  // spandsp's default timing: 50 ms of tone and 55 ms of pause per digit.
  tx_pending_ += static_cast<int>(digits.size()) * 105 * 8;
}

void AnalogAudio::send_caller_id(const std::string& number, const std::string& name) {
  std::lock_guard lock(m_);
  std::uint8_t msg[256];
  int len = adsi_add_field(cid_, msg, -1, CLIP_MDMF_CALLERID, nullptr, 0);
  if (!number.empty())
    len = adsi_add_field(cid_, msg, len, CLIP_CALLER_NUMBER, reinterpret_cast<const std::uint8_t*>(number.data()),
                         static_cast<int>(std::min<std::size_t>(number.size(), 20)));
  else
    len = adsi_add_field(cid_, msg, len, CLIP_ABSENCE1, reinterpret_cast<const std::uint8_t*>("O"), 1);
  if (!name.empty())
    len = adsi_add_field(cid_, msg, len, CLIP_CALLER_NAME, reinterpret_cast<const std::uint8_t*>(name.data()),
                         static_cast<int>(std::min<std::size_t>(name.size(), 50)));
  cid_pending_ = adsi_tx_put_message(cid_, msg, len) > 0;
}

void AnalogAudio::silence() {
  std::lock_guard lock(m_);
  tone_ = false;
  on_digit_ = nullptr;
  if (tx_) dtmf_tx_free(tx_);
  tx_ = dtmf_tx_init(nullptr);
  tx_pending_ = 0;
  if (cid_) adsi_tx_free(cid_);
  cid_ = adsi_tx_init(nullptr, ADSI_STANDARD_CLIP);
  cid_pending_ = false;
}

bool AnalogAudio::sending() const {
  std::lock_guard lock(m_);
  return tx_pending_ > 0 || cid_pending_;
}

AudioPort AnalogAudio::port(const std::shared_ptr<AnalogAudio>& self) {
  std::weak_ptr<AnalogAudio> weak = self;
  AudioPort p;
  p.source = [weak](Frame& out) {
    if (auto a = weak.lock()) a->fill(out);
  };
  p.sink = [weak](const Frame& in) {
    if (auto a = weak.lock()) a->hear(in);
  };
  return p;
}

void AnalogAudio::fill(Frame& out) {
  std::int16_t pcm[kFrameBytes] = {};
  {
    std::lock_guard lock(m_);
    int n = 0;
    if (cid_pending_) {
      n = adsi_tx(cid_, pcm, static_cast<int>(kFrameBytes));
      if (n < static_cast<int>(kFrameBytes)) cid_pending_ = false;
    } else if (tx_pending_ > 0) {
      n = dtmf_tx(tx_, pcm, static_cast<int>(kFrameBytes));
      tx_pending_ = n < static_cast<int>(kFrameBytes) ? 0 : tx_pending_ - n;
    } else if (tone_) {
      // -13 dBm0 or so, as exchanges send their dial tone.
      const double step = 2 * M_PI * 440.0 / 8000.0;
      for (auto& s : pcm) {
        s = static_cast<std::int16_t>(4000 * std::sin(phase_));
        phase_ += step;
      }
      phase_ = std::fmod(phase_, 2 * M_PI);
    }
  }
  for (std::size_t i = 0; i < kFrameBytes; ++i) out[i] = alaw_ ? linear_to_alaw(pcm[i]) : linear_to_ulaw(pcm[i]);
}

void AnalogAudio::hear(const Frame& in) {
  std::int16_t pcm[kFrameBytes];
  for (std::size_t i = 0; i < kFrameBytes; ++i) pcm[i] = alaw_ ? alaw_to_linear(in[i]) : ulaw_to_linear(in[i]);
  std::lock_guard lock(m_);
  if (on_digit_) dtmf_rx(rx_, pcm, static_cast<int>(kFrameBytes));
}

// spandsp calls back from dtmf_rx, with m_ held by hear().
void AnalogAudio::on_digits(void* self, const char* digits, int len) {
  auto* a = static_cast<AnalogAudio*>(self);
  for (int i = 0; i < len; ++i)
    if (a->on_digit_) a->on_digit_(digits[i]);
}

// ---- AnalogPort --------------------------------------------------------

const char* to_string(AnalogState s) {
  switch (s) {
    case AnalogState::idle: return "idle";
    case AnalogState::dialtone: return "dialtone";
    case AnalogState::collecting: return "collecting";
    case AnalogState::routed: return "routed";
    case AnalogState::ringing: return "ringing";
    case AnalogState::ringing_in: return "ringing_in";
    case AnalogState::seizing: return "seizing";
    case AnalogState::dialing: return "dialing";
    case AnalogState::up: return "up";
    case AnalogState::lockout: return "lockout";
  }
  return "idle";
}

AnalogPort::AnalogPort(AnalogRole role, std::shared_ptr<AnalogAudio> audio, Actions actions, Timing timing)
    : role_(role), audio_(std::move(audio)), act_(std::move(actions)), timing_(timing) {}

void AnalogPort::to_idle() {
  state_ = AnalogState::idle;
  deadline_.reset();
  digits_.clear();
  cid_sent_ = false;
  audio_->silence();
}

void AnalogPort::on_event(int event, Clock::time_point now) {
  if (role_ == AnalogRole::fxs) {
    switch (event) {
      case kEventRingOffHook:  // the phone went off-hook
        if (state_ == AnalogState::idle) {
          state_ = AnalogState::dialtone;
          act_.audio();
          audio_->dial_tone(true);
          act_.listen();
          deadline_ = now + timing_.first_digit;
        } else if (state_ == AnalogState::ringing) {
          state_ = AnalogState::up;
          deadline_.reset();
          audio_->silence();
          act_.answered();
        }
        break;
      case kEventRingerOff:  // the first ring is over: caller ID goes in the silence after it
        if (state_ == AnalogState::ringing && !cid_sent_) {
          cid_sent_ = true;
          if (!cid_number_.empty() || !cid_name_.empty()) {
            act_.audio();
            audio_->send_caller_id(cid_number_, cid_name_);
          }
        }
        break;
      case kEventOnHook: {
        AnalogState was = state_;
        to_idle();
        if (was == AnalogState::routed || was == AnalogState::up) act_.ended(16);
        break;
      }
      default: break;
    }
    return;
  }
  // FXO: a line from the exchange.
  switch (event) {
    case kEventRingOffHook:
    case kEventRingBegin:
      if (state_ == AnalogState::idle) {
        state_ = AnalogState::ringing_in;
        deadline_ = now + timing_.ring_gone;
        act_.incoming();
      } else if (state_ == AnalogState::ringing_in) {
        deadline_ = now + timing_.ring_gone;  // still ringing
      }
      break;
    case kEventOnHook:  // disconnect supervision: the exchange dropped the loop
      if (state_ == AnalogState::up || state_ == AnalogState::dialing || state_ == AnalogState::seizing) {
        act_.hook(HookCommand::onhook);
        to_idle();
        act_.ended(16);
      }
      break;
    default: break;
  }
}

void AnalogPort::on_digit(char digit, Clock::time_point now) {
  if (role_ != AnalogRole::fxs) return;
  if (state_ != AnalogState::dialtone && state_ != AnalogState::collecting) return;
  if (state_ == AnalogState::dialtone) audio_->dial_tone(false);
  state_ = AnalogState::collecting;
  if (digit == '#' && !digits_.empty()) {
    deadline_ = now;  // complete: routed on the next turn of the loop
    return;
  }
  digits_ += digit;
  deadline_ = now + timing_.next_digit;
}

void AnalogPort::on_timer(Clock::time_point now) {
  if (!deadline_ || *deadline_ > now) return;
  deadline_.reset();
  switch (state_) {
    case AnalogState::dialtone:  // no digit: the phone is left off-hook
      audio_->silence();
      state_ = AnalogState::lockout;
      break;
    case AnalogState::collecting:
      audio_->listen_dtmf(nullptr);
      state_ = AnalogState::routed;
      act_.dialed(digits_);
      break;
    case AnalogState::ringing_in:  // the rings stopped before anyone answered
      to_idle();
      act_.ended(16);
      break;
    case AnalogState::seizing:
      state_ = AnalogState::dialing;
      act_.audio();
      audio_->send_dtmf(digits_);
      deadline_ = now + std::chrono::milliseconds(100);
      break;
    case AnalogState::dialing:
      if (audio_->sending()) {
        deadline_ = now + std::chrono::milliseconds(100);
      } else {
        // An analog line has no answer signal: the call is up once dialed.
        state_ = AnalogState::up;
        audio_->silence();
        act_.answered();
      }
      break;
    default: break;
  }
}

bool AnalogPort::ring(const std::string& number, const std::string& name) {
  if (role_ != AnalogRole::fxs || state_ != AnalogState::idle) return false;
  state_ = AnalogState::ringing;
  cid_number_ = number;
  cid_name_ = name;
  cid_sent_ = false;
  act_.hook(HookCommand::ring);
  return true;
}

bool AnalogPort::dial(const std::string& number, Clock::time_point now) {
  if (role_ != AnalogRole::fxo || state_ != AnalogState::idle || number.empty()) return false;
  state_ = AnalogState::seizing;
  digits_ = number;
  act_.hook(HookCommand::offhook);
  deadline_ = now + timing_.dial_tone_wait;
  return true;
}

void AnalogPort::answer() {
  if (role_ != AnalogRole::fxo || state_ != AnalogState::ringing_in) return;
  state_ = AnalogState::up;
  deadline_.reset();
  act_.hook(HookCommand::offhook);
}

void AnalogPort::release() {
  switch (state_) {
    case AnalogState::ringing:  // stop ringing the phone
      act_.hook(HookCommand::onhook);
      to_idle();
      break;
    case AnalogState::routed:
    case AnalogState::up:
      if (role_ == AnalogRole::fxs) {
        // The phone is still off-hook: it hears nothing until it hangs up.
        audio_->silence();
        state_ = AnalogState::lockout;
        deadline_.reset();
      } else {
        act_.hook(HookCommand::onhook);
        to_idle();
      }
      break;
    case AnalogState::ringing_in:  // refused: the line keeps ringing until the caller gives up
      break;
    case AnalogState::seizing:
    case AnalogState::dialing:
      act_.hook(HookCommand::onhook);
      to_idle();
      break;
    default: break;
  }
}

}  // namespace dialtone::plugins::dahdi
