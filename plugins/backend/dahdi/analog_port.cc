#include "analog_port.h"

#include <cmath>
#include <cstring>

#include <spandsp.h>

namespace dialtone::plugins::dahdi {

// ---- AnalogAudio -------------------------------------------------------

AnalogAudio::AnalogAudio(bool alaw, bool bell) : alaw_(alaw), bell_(bell) {
  rx_ = dtmf_rx_init(nullptr, &AnalogAudio::on_digits, this);
  tx_ = dtmf_tx_init(nullptr);
  cid_ = adsi_tx_init(nullptr, standard());
}

AnalogAudio::~AnalogAudio() {
  if (rx_) dtmf_rx_free(rx_);
  if (tx_) dtmf_tx_free(tx_);
  if (cid_) adsi_tx_free(cid_);
  if (cid_rx_) adsi_rx_free(cid_rx_);
}

int AnalogAudio::standard() const { return bell_ ? ADSI_STANDARD_CLASS : ADSI_STANDARD_CLIP; }

void AnalogAudio::listen_caller_id(std::function<void(const std::string&, const std::string&)> on_cid) {
  std::lock_guard lock(m_);
  if (cid_rx_) adsi_rx_free(cid_rx_);
  cid_rx_ = on_cid ? adsi_rx_init(nullptr, standard(), &AnalogAudio::on_cid, this) : nullptr;
  on_cid_ = std::move(on_cid);
}

// spandsp calls back from adsi_rx, with m_ held by hear(). The field types
// of Bell's MDMF (MCLASS_*) and ETSI's (CLIP_*) have the same numbers.
void AnalogAudio::on_cid(void* self, const std::uint8_t* msg, int len) {
  auto* a = static_cast<AnalogAudio*>(self);
  if (!a->on_cid_ || len <= 0) return;
  std::string number, name;
  std::uint8_t type = 0;
  const std::uint8_t* body = nullptr;
  int body_len = 0;
  if (msg[0] == CLASS_SDMF_CALLERID && a->bell_) {
    // Bell's single-data format: 8 digits of date and time, then the number.
    if (len > 10) number.assign(reinterpret_cast<const char*>(msg) + 10, len - 10);
  } else {
    for (int pos = -1; (pos = adsi_next_field(a->cid_rx_, msg, len, pos, &type, &body, &body_len)) > 0;) {
      if (!body) continue;
      std::string v(reinterpret_cast<const char*>(body), body_len);
      if (type == CLIP_CALLER_NUMBER) number = v;
      else if (type == CLIP_CALLER_NAME) name = v;
    }
  }
  // 'O' out of area, 'P' private (withheld): no number, as chan_dahdi gives.
  if (number == "O" || number == "P") number.clear();
  if (name == "O" || name == "P") name.clear();
  a->on_cid_(number, name);
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
  cid_ = adsi_tx_init(nullptr, standard());
  cid_pending_ = false;
  if (cid_rx_) adsi_rx_free(cid_rx_);
  cid_rx_ = nullptr;
  on_cid_ = nullptr;
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
  if (cid_rx_) adsi_rx(cid_rx_, pcm, static_cast<int>(kFrameBytes));
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
    case AnalogState::cid_wait: return "cid_wait";
    case AnalogState::ringing_in: return "ringing_in";
    case AnalogState::seizing: return "seizing";
    case AnalogState::dialing: return "dialing";
    case AnalogState::dialed: return "dialed";
    case AnalogState::up: return "up";
    case AnalogState::lockout: return "lockout";
  }
  return "idle";
}

AnalogPort::AnalogPort(AnalogRole role, std::shared_ptr<AnalogAudio> audio, Actions actions, Timing timing,
                       Options options)
    : role_(role), audio_(std::move(audio)), act_(std::move(actions)), timing_(timing), opt_(options) {}

void AnalogPort::to_idle() {
  state_ = AnalogState::idle;
  deadline_.reset();
  digits_.clear();
  cid_sent_ = false;
  transferring_ = false;
  if (role_ == AnalogRole::fxo) cid_number_.clear(), cid_name_.clear();
  audio_->silence();
}

void AnalogPort::dial_tone(Clock::time_point now) {
  state_ = AnalogState::dialtone;
  digits_.clear();
  act_.audio();
  audio_->dial_tone(true);
  act_.listen();
  deadline_ = now + timing_.first_digit;
}

void AnalogPort::on_event(int event, Clock::time_point now) {
  if (role_ == AnalogRole::fxs) fxs_event(event, now);
  else fxo_event(event, now);
}

void AnalogPort::fxs_event(int event, Clock::time_point now) {
  if (event & kEventPulseDigit) {  // the phone dials with pulses: digits as its DTMF ones
    on_digit(static_cast<char>(event & 0xff), now);
    return;
  }
  switch (event) {
    case kEventRingOffHook:  // the phone went off-hook
      if (state_ == AnalogState::idle) {
        dial_tone(now);
      } else if (state_ == AnalogState::ringing) {
        state_ = AnalogState::up;
        deadline_.reset();
        audio_->silence();
        act_.answered();
      }
      break;
    case kEventWinkFlash:  // hook flash
      if (state_ == AnalogState::up && opt_.transfer && act_.transfer) {
        // As chan_dahdi: the other party is held, the phone gets a dial
        // tone for the number to transfer it to.
        transferring_ = true;
        act_.hold(true);
        dial_tone(now);
      } else if (transferring_ && (state_ == AnalogState::dialtone || state_ == AnalogState::collecting)) {
        // Flashed again before the number was complete: back to the call.
        transferring_ = false;
        audio_->silence();
        state_ = AnalogState::up;
        deadline_.reset();
        act_.hold(false);
      }
      break;
    case kEventRingerOff:  // the first ring is over: caller ID goes in the silence after it
      if (state_ == AnalogState::ringing && !cid_sent_) {
        cid_sent_ = true;
        if (opt_.use_callerid && (!cid_number_.empty() || !cid_name_.empty())) {
          act_.audio();
          audio_->send_caller_id(cid_number_, cid_name_);
        }
      }
      break;
    case kEventOnHook: {
      AnalogState was = state_;
      bool call = was == AnalogState::routed || was == AnalogState::up || transferring_;
      to_idle();
      if (call) act_.ended(16);
      break;
    }
    default: break;
  }
}

void AnalogPort::ring_in() {
  state_ = AnalogState::ringing_in;
  act_.incoming();
}

void AnalogPort::fxo_event(int event, Clock::time_point now) {
  switch (event) {
    case kEventRingOffHook:
    case kEventRingBegin:
      if (state_ == AnalogState::idle) {
        deadline_ = now + timing_.ring_gone;
        if (opt_.use_callerid && !opt_.cid_on_polarity) {
          // chan_dahdi's cidstart = ring: the caller ID comes between the
          // first ring and the second; the call is announced with it.
          state_ = AnalogState::cid_wait;
          act_.listen_cid();
        } else {
          ring_in();
        }
      } else if (state_ == AnalogState::cid_wait) {
        // The next ring (after the caller ID, or without one): the call.
        deadline_ = now + timing_.ring_gone;
        audio_->listen_caller_id(nullptr);
        ring_in();
      } else if (state_ == AnalogState::ringing_in) {
        deadline_ = now + timing_.ring_gone;  // still ringing
      }
      break;
    case kEventPolarity:
      if (state_ == AnalogState::idle && opt_.use_callerid && opt_.cid_on_polarity) {
        // cidstart = polarity: the exchange reverses the line, sends the
        // caller ID, then rings.
        state_ = AnalogState::cid_wait;
        deadline_ = now + timing_.cid_ring;
        act_.listen_cid();
      } else if (state_ == AnalogState::dialed && opt_.answer_on_polarity) {
        state_ = AnalogState::up;  // answer supervision: the far party answered
        deadline_.reset();
        act_.answered();
      } else if (state_ == AnalogState::up && opt_.hangup_on_polarity) {
        act_.hook(HookCommand::onhook);  // disconnect supervision: the far party hung up
        to_idle();
        act_.ended(16);
      }
      break;
    case kEventOnHook:  // disconnect supervision: the exchange dropped the loop
      if (state_ == AnalogState::up || state_ == AnalogState::dialing || state_ == AnalogState::seizing ||
          state_ == AnalogState::dialed) {
        act_.hook(HookCommand::onhook);
        to_idle();
        act_.ended(16);
      }
      break;
    default: break;
  }
}

void AnalogPort::on_caller_id(const std::string& number, const std::string& name) {
  if (role_ != AnalogRole::fxo || state_ != AnalogState::cid_wait) return;
  cid_number_ = number;
  cid_name_ = name;
  audio_->listen_caller_id(nullptr);
  // After the first ring the call is announced at once; before it
  // (polarity), with the ring that follows.
  if (!opt_.cid_on_polarity) ring_in();
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
      if (transferring_) {  // no number to transfer to: back to the call
        transferring_ = false;
        state_ = AnalogState::up;
        act_.hold(false);
        break;
      }
      state_ = AnalogState::lockout;
      break;
    case AnalogState::collecting:
      audio_->listen_dtmf(nullptr);
      if (transferring_) {
        transferring_ = false;
        audio_->silence();
        state_ = AnalogState::up;
        act_.transfer(digits_);
        break;
      }
      state_ = AnalogState::routed;
      act_.dialed(digits_);
      break;
    case AnalogState::cid_wait:    // no ring after the reversal, or the rings stopped
    case AnalogState::ringing_in:  // the rings stopped before anyone answered
    {
      bool announced = state_ == AnalogState::ringing_in;
      to_idle();
      if (announced) act_.ended(16);
      break;
    }
    case AnalogState::seizing:
      state_ = AnalogState::dialing;
      act_.audio();
      audio_->send_dtmf(digits_);
      deadline_ = now + std::chrono::milliseconds(100);
      break;
    case AnalogState::dialing:
      if (audio_->sending()) {
        deadline_ = now + std::chrono::milliseconds(100);
      } else if (opt_.answer_on_polarity) {
        // The exchange reverses the line when the far party answers.
        state_ = AnalogState::dialed;
        audio_->silence();
        deadline_ = now + timing_.answer_wait;
      } else {
        // An analog line has no answer signal: the call is up once dialed.
        state_ = AnalogState::up;
        audio_->silence();
        act_.answered();
      }
      break;
    case AnalogState::dialed:  // never answered
      act_.hook(HookCommand::onhook);
      to_idle();
      act_.ended(19);
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
    case AnalogState::dialtone:
    case AnalogState::collecting:
      if (role_ == AnalogRole::fxs) {
        // The phone is still off-hook: it hears nothing until it hangs up.
        audio_->silence();
        transferring_ = false;
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
    case AnalogState::dialed:
      act_.hook(HookCommand::onhook);
      to_idle();
      break;
    default: break;
  }
}

}  // namespace dialtone::plugins::dahdi
