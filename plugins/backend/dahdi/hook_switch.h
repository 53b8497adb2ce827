// The hook switch of a simulated FXS port timed as DAHDI's kernel times a
// card's (dahdi-base.c, fxoks signalling): the phone's loop changes in, the
// events a card would report out. A break of the loop shorter than 200 ms
// (and longer than 15 ms) is a dial pulse, the pulses end as a digit after
// 250 ms closed (DAHDI_EVENT_PULSEDIGIT, ten pulses for '0'); a longer break
// up to `rxflash` (1250 ms, DAHDI's default) is a hook flash
// (DAHDI_EVENT_WINKFLASH); longer still, the phone hung up
// (DAHDI_EVENT_ONHOOK). Durations come from the phone's own stamps, so a
// burst of changes that arrives late is timed as the phone made it; the
// clock of this side only ends a break or a digit that nothing follows.
// On a card the kernel does this and the events come ready made.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

namespace dialtone::plugins::dahdi {

class HookSwitch {
 public:
  using Clock = std::chrono::steady_clock;
  struct Timing {
    int min_pulse_ms = 15;       // DAHDI_MINPULSETIME
    int max_pulse_ms = 200;      // DAHDI_MAXPULSETIME
    int pulse_end_ms = 250;      // DAHDI_PULSETIMEOUT: closed this long, the digit is complete
    int rxflash_ms = 1250;       // DAHDI_DEFAULT_RXFLASHTIME: the longest flash
  };

  explicit HookSwitch(Timing timing) : t_(timing) {}

  // The loop closed (off-hook, a pulse's make) or opened at `ms` on the
  // phone's clock, received at `now`: the DAHDI events it completes.
  std::vector<int> change(bool closed, std::uint32_t ms, Clock::time_point now);
  // The events of a break or a digit nothing followed by `now`.
  std::vector<int> expire(Clock::time_point now);
  std::optional<Clock::time_point> deadline() const;

 private:
  void end_digit(std::vector<int>& out);

  Timing t_;
  bool off_hook_ = false;       // as reported to the port
  bool open_ = false;           // a break in progress, not reported yet
  std::uint32_t opened_ms_ = 0, made_ms_ = 0;
  Clock::time_point opened_at_{}, made_at_{};
  int pulses_ = 0;
};

}  // namespace dialtone::plugins::dahdi
