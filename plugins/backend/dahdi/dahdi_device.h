// A card's span through the DAHDI device (the hardware span driver): the
// channels that /etc/dahdi/system.conf configured (dahdi_cfg), each opened
// by its number through <device>/channel with the DAHDI ioctls of
// <dahdi/user.h> (Debian dahdi-source). What it hands on is what the
// simulated span driver hands on: one descriptor per D-channel (one HDLC
// frame, FCS included, per read and write) and one per B-channel (160-byte
// A-law/µ-law blocks), non-blocking. Everything above (libpri, the
// B-channel pump, calls) is shared.
//
// Built without <dahdi/user.h>, open_span_device() refuses with a line that
// names the package.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include <dialtone/result.h>

#include "span_config.h"

namespace dialtone::plugins::dahdi {

struct SpanDevice {
  int dchan = -1;                // ISDN spans: the D-channel
  std::map<int, int> bchans;     // span channel -> descriptor (analog: each port)
  std::string alarms;            // the span's alarms at open ("" when none): RED, YELLOW, BLUE, LOS...
};

// Whether this build has the DAHDI ioctls (<dahdi/user.h> was found).
bool device_support_built();

// Opens every channel of `span` under `device` (the /dev/dahdi directory).
// The error names the channel, what DAHDI said and the fix; nothing stays
// open after an error.
sdk::Result<SpanDevice> open_span_device(const SpanConfig& span, const std::string& device);

// errno of a read on a DAHDI channel with an event waiting (DAHDI's ELAST).
constexpr int kDeviceEvent = 500;
// After a read on a DAHDI descriptor failed with ELAST: the event waiting
// on it (DAHDI_GETEVENT), -1 when none or not a DAHDI descriptor.
int take_device_event(int fd);
// The name of a DAHDI event for the log ("alarm", "on-hook", ...).
std::string device_event_name(int event);

// Analog ports: the hook state an FXS port drives towards its phone (ring,
// stop ringing) and an FXO port towards its line (off-hook to answer or
// seize, on-hook to release), DAHDI_HOOK.
enum class HookCommand { onhook, offhook, ring, ringoff };
bool set_device_hook(int fd, HookCommand command);

// DAHDI event numbers the analog state machines act on.
constexpr int kEventOnHook = 1;        // DAHDI_EVENT_ONHOOK
constexpr int kEventRingOffHook = 2;   // DAHDI_EVENT_RINGOFFHOOK: FXS off-hook, FXO ring
constexpr int kEventWinkFlash = 3;     // DAHDI_EVENT_WINKFLASH
constexpr int kEventAlarm = 4;         // DAHDI_EVENT_ALARM
constexpr int kEventNoAlarm = 5;       // DAHDI_EVENT_NOALARM
constexpr int kEventRingerOn = 10;     // DAHDI_EVENT_RINGERON
constexpr int kEventRingerOff = 11;    // DAHDI_EVENT_RINGEROFF
constexpr int kEventPolarity = 17;     // DAHDI_EVENT_POLARITY
constexpr int kEventRingBegin = 18;    // DAHDI_EVENT_RINGBEGIN
constexpr int kEventPulseDigit = 1 << 16;  // DAHDI_EVENT_PULSEDIGIT, OR'd with the digit ('1'..'9', '0')

// A simulated FXS port's hook switch as the phone moves it (loop closed:
// off-hook, open: on-hook, or a dial pulse's break), stamped with the far
// end's own clock in ms: the span driver times breaks and makes as DAHDI's
// kernel does (hook_switch.h) from the stamps, so the pace at which they
// arrive does not matter. Passed on as an event value of its own.
constexpr int kLineChange = 1 << 24;
inline int line_change_event(bool closed, std::uint32_t ms) {
  return kLineChange | (closed ? 1 << 23 : 0) | static_cast<int>(ms & 0x7fffff);
}
inline bool is_line_change(int event) { return event >= 0 && (event & kLineChange); }
inline bool line_closed(int event) { return event & (1 << 23); }
inline std::uint32_t line_ms(int event) { return static_cast<std::uint32_t>(event) & 0x7fffff; }

// A hook command to an analog port: DAHDI_HOOK on a card, a control
// message on a simulated port's socket (read by the test equipment at the
// far end with hook_message()).
bool send_hook(int fd, bool socket, HookCommand command);
// Simulated ports: the control messages beside the audio frames (4 bytes,
// never a 160-byte frame). An event for the port from the far end, and a
// hook command for the far end from the port; -1 when `buf` is not one.
int event_message(const void* buf, long len);
int hook_message(const void* buf, long len);  // a HookCommand's value
bool send_event_message(int fd, int event);   // test equipment: an event to the port
// Test equipment: the phone's hook switch closed (off-hook) or opened at
// `ms` on its clock; event_message() reads it as a line_change_event().
bool send_line_message(int fd, bool closed, std::uint32_t ms);

// Reads and writes one frame on a span descriptor, without waiting: a
// socket of a simulated span (`socket`: no SIGPIPE when the far end is
// gone) or a DAHDI channel.
bool is_socket(int fd);
long frame_read(int fd, void* buf, unsigned long len, bool socket);
long frame_write(int fd, const void* buf, unsigned long len, bool socket);

}  // namespace dialtone::plugins::dahdi
