// The driver's own state of spans, calls and analog ports, shared by
// dahdi_driver.cc (ISDN) and analog_calls.cc (analog ports). Signalling
// thread only, but where a member says otherwise.
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "analog_port.h"
#include "dahdi_driver.h"
#include "hook_switch.h"
#include "pri_span.h"

namespace dialtone::plugins::dahdi {

using Clock = std::chrono::steady_clock;

struct DahdiDriver::Span {
  SpanConfig cfg;
  std::unique_ptr<PriSpan> pri;
  std::map<int, std::shared_ptr<Call>> by_chan;  // span channel -> its call
  bool unplugged = false;
  std::deque<int> to_restart;  // B-channels still to RESTART, one at a time
};

struct DahdiDriver::Call {
  int span = 0;
  int chan = 0;              // within the span
  q931_call* q = nullptr;    // libpri's; valid until HANGUP / HANGUP_ACK
  std::string channel_id;    // in the call core; empty before routing
  bool outbound = false;
  std::atomic<bool> ended{false};  // the core's channel has been ended (read by open_media anywhere)
  bool hangup_sent = false;  // pri_hangup called
  bool alerted = false, answered = false;
  bool routed = false;
  std::string calling, calling_name, called;
  int calling_plan = 0, called_plan = 0, calling_pres = 0;
  std::optional<Clock::time_point> overlap_deadline;
  std::string more_digits;   // outgoing overlap: sent after SETUP ACKNOWLEDGE
  std::string origin;        // outgoing: the channel that dialed
  // Outgoing: the far end's in-band audio joined with the origin before the
  // answer (early media), or the ring tone played to it meanwhile.
  bool early_joined = false, ringback = false;
  AnalogLine* analog = nullptr;  // an analog port's call (no libpri call)
};

struct DahdiDriver::AnalogLine {
  SpanConfig cfg;
  int chan = 0;                      // within the span (as B-channels are)
  std::unique_ptr<AnalogPort> port;
  std::unique_ptr<HookSwitch> hooks;  // a simulated FXS port: the kernel's hook timing
  std::shared_ptr<Call> call;        // the port's call, while it has one
};

}  // namespace dialtone::plugins::dahdi
