#include "hook_switch.h"

#include "dahdi_device.h"

namespace dialtone::plugins::dahdi {

void HookSwitch::end_digit(std::vector<int>& out) {
  if (pulses_ >= 1 && pulses_ <= 10) out.push_back(kEventPulseDigit | (pulses_ == 10 ? '0' : '0' + pulses_));
  pulses_ = 0;
}

std::vector<int> HookSwitch::change(bool closed, std::uint32_t ms, Clock::time_point now) {
  std::vector<int> out;
  if (!closed) {
    if (!off_hook_ || open_) return out;
    // A new break after the last make was held long enough: the digit before it is complete.
    if (pulses_ && static_cast<std::int32_t>(ms - made_ms_) >= t_.pulse_end_ms) end_digit(out);
    open_ = true;
    opened_ms_ = ms;
    opened_at_ = now;
    return out;
  }
  if (!open_) {
    if (!off_hook_) {
      off_hook_ = true;
      pulses_ = 0;
      out.push_back(kEventRingOffHook);
    }
    return out;
  }
  open_ = false;
  auto broken = static_cast<std::int32_t>(ms - opened_ms_);
  if (broken > t_.rxflash_ms) {  // hung up and picked up again, in one burst
    pulses_ = 0;
    out.push_back(kEventOnHook);
    out.push_back(kEventRingOffHook);
  } else if (broken > t_.max_pulse_ms) {
    end_digit(out);
    out.push_back(kEventWinkFlash);
  } else if (broken >= t_.min_pulse_ms) {
    ++pulses_;
    made_ms_ = ms;
    made_at_ = now;
  }  // shorter: contact bounce
  return out;
}

std::vector<int> HookSwitch::expire(Clock::time_point now) {
  std::vector<int> out;
  if (open_ && now - opened_at_ >= std::chrono::milliseconds(t_.rxflash_ms)) {
    open_ = false;
    off_hook_ = false;
    pulses_ = 0;
    out.push_back(kEventOnHook);
  } else if (!open_ && pulses_ && now - made_at_ >= std::chrono::milliseconds(t_.pulse_end_ms)) {
    end_digit(out);
  }
  return out;
}

std::optional<HookSwitch::Clock::time_point> HookSwitch::deadline() const {
  if (open_) return opened_at_ + std::chrono::milliseconds(t_.rxflash_ms);
  if (pulses_) return made_at_ + std::chrono::milliseconds(t_.pulse_end_ms);
  return std::nullopt;
}

}  // namespace dialtone::plugins::dahdi
