#include "dahdi_device.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#if __has_include(<dahdi/user.h>)
#include <dahdi/user.h>
#define DIALTONE_DAHDI_IOCTLS 1
#endif

namespace dialtone::plugins::dahdi {

bool is_socket(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

long frame_read(int fd, void* buf, unsigned long len, bool socket) {
  return socket ? ::recv(fd, buf, len, MSG_DONTWAIT) : ::read(fd, buf, len);
}

long frame_write(int fd, const void* buf, unsigned long len, bool socket) {
  return socket ? ::send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) : ::write(fd, buf, len);
}

namespace {
constexpr unsigned char kControl = 0xda, kEvent = 1, kHook = 2, kLine = 3;
int control(const void* buf, long len, unsigned char type) {
  auto* b = static_cast<const unsigned char*>(buf);
  if (len != 4 || b[0] != kControl || b[1] != type) return -1;
  return b[2];
}
bool send_control(int fd, unsigned char type, int value) {
  unsigned char m[4] = {kControl, type, static_cast<unsigned char>(value), 0};
  return frame_write(fd, m, sizeof m, true) == 4;
}
}  // namespace

int event_message(const void* buf, long len) {
  auto* b = static_cast<const unsigned char*>(buf);
  if (len == 8 && b[0] == kControl && b[1] == kLine) {
    std::uint32_t ms = b[4] | b[5] << 8 | b[6] << 16 | static_cast<std::uint32_t>(b[7]) << 24;
    return line_change_event(b[2] != 0, ms);
  }
  return control(buf, len, kEvent);
}

bool send_line_message(int fd, bool closed, std::uint32_t ms) {
  unsigned char m[8] = {kControl, kLine, static_cast<unsigned char>(closed), 0, static_cast<unsigned char>(ms),
                        static_cast<unsigned char>(ms >> 8), static_cast<unsigned char>(ms >> 16),
                        static_cast<unsigned char>(ms >> 24)};
  return frame_write(fd, m, sizeof m, true) == 8;
}
int hook_message(const void* buf, long len) { return control(buf, len, kHook); }
bool send_event_message(int fd, int event) { return send_control(fd, kEvent, event); }

bool send_hook(int fd, bool socket, HookCommand command) {
  if (socket) return send_control(fd, kHook, static_cast<int>(command));
  return set_device_hook(fd, command);
}

std::string device_event_name(int event) {
  switch (event) {
    case kEventOnHook: return "on-hook";
    case kEventRingOffHook: return "ring/off-hook";
    case kEventWinkFlash: return "wink/flash";
    case kEventAlarm: return "alarm";
    case kEventNoAlarm: return "alarm cleared";
    case kEventRingerOn: return "ringer on";
    case kEventRingerOff: return "ringer off";
    case kEventPolarity: return "polarity reversal";
    case kEventRingBegin: return "ring begins";
    default:
      if (is_line_change(event))
        return std::string(line_closed(event) ? "loop closed" : "loop open") + " at " + std::to_string(line_ms(event)) + " ms";
      if (event & kEventPulseDigit) return std::string("pulse digit ") + static_cast<char>(event & 0xff);
      return "event " + std::to_string(event);
  }
}

#ifdef DIALTONE_DAHDI_IOCTLS

bool device_support_built() { return true; }

namespace {

std::string alarm_names(int alarms) {
  std::string out;
  auto add = [&](int bit, const char* name) {
    if (alarms & bit) out += (out.empty() ? "" : ", ") + std::string(name);
  };
  add(DAHDI_ALARM_RED, "RED");
  add(DAHDI_ALARM_YELLOW, "YELLOW");
  add(DAHDI_ALARM_BLUE, "BLUE");
  add(DAHDI_ALARM_LOS, "LOS (no signal: check the cable)");
  add(DAHDI_ALARM_LFA, "LFA (framing: check framing and crc4)");
  add(DAHDI_ALARM_LOOPBACK, "LOOPBACK");
  add(DAHDI_ALARM_NOTOPEN, "NOTOPEN");
  return out;
}

// One channel opened by number, configured by dahdi_cfg with one of
// `accepted` signalling types; the error names it and the fix.
sdk::Result<int> open_channel(const std::string& device, int channo, const char* role,
                              std::initializer_list<int> accepted, const char* system_conf) {
  std::string path = device + "/channel";
  auto fail = [&](const std::string& what) -> sdk::Error {
    return sdk::Error::unavailable(std::string(role) + " " + std::to_string(channo) + ": " + what);
  };
  int fd = ::open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return fail("cannot open " + path + ": " + std::strerror(errno));
  auto close_fail = [&](const std::string& what) {
    ::close(fd);
    return fail(what);
  };
  int n = channo;
  if (::ioctl(fd, DAHDI_SPECIFY, &n) != 0)
    return close_fail(path + " is not a DAHDI channel device (DAHDI_SPECIFY: " + std::strerror(errno) +
                      "); is the card's DAHDI module loaded?");
  dahdi_params p{};
  if (::ioctl(fd, DAHDI_GET_PARAMS, &p) != 0)
    return close_fail(std::string("DAHDI_GET_PARAMS: ") + std::strerror(errno));
  bool ok = false;
  for (int a : accepted) ok |= p.sigtype == a;
  if (!ok)
    return close_fail("DAHDI has it with another signalling (sigtype " + std::to_string(p.sigtype) +
                      "): write it as " + system_conf + " in /etc/dahdi/system.conf and run dahdi_cfg");
  return fd;
}

}  // namespace

sdk::Result<SpanDevice> open_span_device(const SpanConfig& span, const std::string& device) {
  SpanDevice out;
  std::vector<int> opened;
  auto undo = [&](sdk::Error e) {
    for (int fd : opened) ::close(fd);
    return e;
  };
  // The span's alarms, as dahdi_tool shows them: a red span still opens,
  // libpri brings the D-channel up once the line is back.
  if (int ctl = ::open((device + "/ctl").c_str(), O_RDWR | O_CLOEXEC); ctl >= 0) {
    dahdi_spaninfo si{};
    si.spanno = span.number;
    if (::ioctl(ctl, DAHDI_SPANSTAT, &si) == 0) out.alarms = alarm_names(si.alarms);
    ::close(ctl);
  }
  bool law_alaw = span.alaw;
  if (is_isdn(span.signalling)) {
    int d = span.d_channel();
    // dchan= (HDLC in DAHDI) or hardhdlc= (the card's own HDLC controller).
    auto fd = open_channel(device, d, "D-channel", {DAHDI_SIG_HDLCFCS, DAHDI_SIG_HARDHDLC},
                           span.hardhdlc ? "hardhdlc" : "dchan");
    if (!fd) return undo(fd.error());
    opened.push_back(*fd);
    dahdi_bufferinfo bi{};
    bi.txbufpolicy = DAHDI_POLICY_IMMEDIATE;
    bi.rxbufpolicy = DAHDI_POLICY_IMMEDIATE;
    bi.numbufs = 16;
    bi.bufsize = 1024;  // chan_dahdi's: a whole Q.921 frame per read
    if (::ioctl(*fd, DAHDI_SET_BUFINFO, &bi) != 0)
      return undo(sdk::Error::unavailable("D-channel " + std::to_string(d) + ": DAHDI_SET_BUFINFO: " +
                                          std::strerror(errno)));
    out.dchan = *fd;
  }
  for (int g : span.bchan) {
    // ISDN B-channels are clear; an analog port carries its kewlstart
    // signalling (fxoks for an FXS port's phone, fxsks for an FXO port's line).
    bool fxs_port = span.signalling == Signalling::fxo_ks;
    auto fd = is_isdn(span.signalling)
                  ? open_channel(device, g, "B-channel", {DAHDI_SIG_CLEAR}, "bchan")
                  : open_channel(device, g, "analog channel", {fxs_port ? DAHDI_SIG_FXOKS : DAHDI_SIG_FXSKS},
                                 fxs_port ? "fxoks" : "fxsks");
    if (!fd) return undo(fd.error());
    opened.push_back(*fd);
    int block = 160;  // 20 ms at 8 kHz, the pump's frame
    int law = law_alaw ? DAHDI_LAW_ALAW : DAHDI_LAW_MULAW;
    int audio = 1;
    dahdi_bufferinfo bi{};
    bi.txbufpolicy = DAHDI_POLICY_IMMEDIATE;
    bi.rxbufpolicy = DAHDI_POLICY_IMMEDIATE;
    bi.numbufs = 4;  // 80 ms: a late tick loses audio rather than delaying it
    bi.bufsize = block;
    const char* step = nullptr;
    if (::ioctl(*fd, DAHDI_SET_BLOCKSIZE, &block) != 0) step = "DAHDI_SET_BLOCKSIZE";
    else if (::ioctl(*fd, DAHDI_SET_BUFINFO, &bi) != 0) step = "DAHDI_SET_BUFINFO";
    else if (::ioctl(*fd, DAHDI_SETLAW, &law) != 0) step = "DAHDI_SETLAW";
    else if (is_isdn(span.signalling) && ::ioctl(*fd, DAHDI_AUDIOMODE, &audio) != 0) step = "DAHDI_AUDIOMODE";
    if (step)
      return undo(sdk::Error::unavailable("channel " + std::to_string(g) + ": " + step + ": " + std::strerror(errno)));
    out.bchans[span.span_channel(g)] = *fd;
  }
  return out;
}

int take_device_event(int fd) {
  int e = 0;
  if (::ioctl(fd, DAHDI_GETEVENT, &e) != 0) return -1;
  return e == DAHDI_EVENT_NONE ? -1 : e;
}

bool set_device_hook(int fd, HookCommand command) {
  int h = DAHDI_ONHOOK;
  switch (command) {
    case HookCommand::onhook: h = DAHDI_ONHOOK; break;
    case HookCommand::offhook: h = DAHDI_OFFHOOK; break;
    case HookCommand::ring: h = DAHDI_RING; break;
    case HookCommand::ringoff: h = DAHDI_RINGOFF; break;
  }
  // EINPROGRESS: the ring cadence or hook change is under way.
  return ::ioctl(fd, DAHDI_HOOK, &h) == 0 || errno == EINPROGRESS;
}

static_assert(kDeviceEvent == ELAST && kEventOnHook == DAHDI_EVENT_ONHOOK && kEventRingOffHook == DAHDI_EVENT_RINGOFFHOOK &&
                  kEventWinkFlash == DAHDI_EVENT_WINKFLASH && kEventAlarm == DAHDI_EVENT_ALARM &&
                  kEventNoAlarm == DAHDI_EVENT_NOALARM && kEventRingerOn == DAHDI_EVENT_RINGERON &&
                  kEventRingerOff == DAHDI_EVENT_RINGEROFF && kEventPolarity == DAHDI_EVENT_POLARITY &&
                  kEventRingBegin == DAHDI_EVENT_RINGBEGIN,
              "the analog state machines' event numbers are DAHDI's");

#else  // no <dahdi/user.h>

bool device_support_built() { return false; }

sdk::Result<SpanDevice> open_span_device(const SpanConfig&, const std::string&) {
  return sdk::Error::unsupported(
      "this dialtoned was built without the DAHDI headers (<dahdi/user.h>, Debian package dahdi-source); "
      "rebuild with them or set driver = simulated");
}

int take_device_event(int) { return -1; }
bool set_device_hook(int, HookCommand) { return false; }

#endif

}  // namespace dialtone::plugins::dahdi
