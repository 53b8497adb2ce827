#include "pri_span.h"

#include "dahdi_device.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>

namespace dialtone::plugins::dahdi {
namespace {

std::mutex g_log_mutex;
sdk::Logger* g_log = nullptr;

void libpri_message(struct pri*, char* text) {
  std::lock_guard lock(g_log_mutex);
  if (!g_log) return;
  std::string s(text ? text : "");
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  if (!s.empty()) g_log->log(sdk::LogLevel::debug, "dahdi: libpri: " + s);
}

int switchtype_of(const std::string& s) {
  if (s == "national") return PRI_SWITCH_NI2;
  if (s == "ni1") return PRI_SWITCH_NI1;
  if (s == "dms100") return PRI_SWITCH_DMS100;
  if (s == "lucent5e") return PRI_SWITCH_LUCENT5E;
  if (s == "att4ess") return PRI_SWITCH_ATT4ESS;
  if (s == "qsig") return PRI_SWITCH_QSIG;
  return PRI_SWITCH_EUROISDN_E1;
}

// Why a Q.931 message (the information field of an I or UI frame on SAPI 0)
// is not well formed; empty when it is.
std::string q931_problem(const std::uint8_t* m, int len) {
  if (len < 3) return "shorter than a Q.931 header";
  if (m[0] != 0x08) return "protocol discriminator " + std::to_string(m[0]) + " is not Q.931 (8)";
  int cref_len = m[1] & 0x0f;
  if ((m[1] & 0xf0) != 0 || cref_len > 2) return "call reference length " + std::to_string(m[1]) + " (at most 2)";
  int i = 2 + cref_len;
  if (i >= len) return "no message type";
  ++i;
  while (i < len) {
    std::uint8_t id = m[i];
    if (id & 0x80) {  // single-octet information element
      ++i;
      continue;
    }
    if (i + 1 >= len) return "information element " + std::to_string(id) + " has no length";
    int ie_len = m[i + 1];
    if (i + 2 + ie_len > len)
      return "information element " + std::to_string(id) + " claims " + std::to_string(ie_len) +
             " bytes past the end";
    i += 2 + ie_len;
  }
  return {};
}

}  // namespace

void route_libpri_messages(sdk::Logger* log) {
  {
    std::lock_guard lock(g_log_mutex);
    g_log = log;
  }
  pri_set_message(libpri_message);
  pri_set_error(libpri_message);
}

PriSpan::PriSpan(const SpanConfig& config, int fd, sdk::Logger& log)
    : config_(config), fd_(fd), socket_(is_socket(fd)), log_(log) {
  int node = is_network_side(config.signalling) ? PRI_NETWORK : PRI_CPE;
  int sw = switchtype_of(config.switchtype);
  if (is_bri(config.signalling))
    pri_ = pri_new_bri_cb(fd, is_ptmp(config.signalling) ? 0 : 1, node, sw, io_read, io_write, this);
  else
    pri_ = pri_new_cb(fd, node, sw, io_read, io_write, this);
  if (!pri_) return;
  pri_set_overlapdial(pri_, config.overlap_incoming() || config.overlap_outgoing() ? 1 : 0);
  // Tones and announcements before the answer reach the caller.
  pri_set_inbanddisconnect(pri_, 0);
  // BRI point to multipoint: the seed's modes (layer 2 kept up, or left
  // down between calls and brought up by each call).
  if (is_ptmp(config.signalling)) {
    if (config.layer2_persistence == "keep_up") pri_persistent_layer2_option(pri_, PRI_L2_PERSISTENCE_KEEP_UP);
    else if (config.layer2_persistence == "leave_down")
      pri_persistent_layer2_option(pri_, PRI_L2_PERSISTENCE_LEAVE_DOWN);
  }
}

PriSpan::~PriSpan() {
  // libpri has no destructor in its API: the struct leaks with its timers,
  // which is why spans live as long as the plugin.
  if (fd_ >= 0) ::close(fd_);
}

int PriSpan::io_read(struct pri* pri, void* buf, int len) {
  auto* self = static_cast<PriSpan*>(pri_get_userdata(pri));
  long n = frame_read(self->fd_, buf, static_cast<unsigned long>(len), self->socket_);
  if (n < 0 && errno == kDeviceEvent) {
    // A DAHDI D-channel with an event waiting (an alarm on the line).
    int e = take_device_event(self->fd_);
    if (e >= 0)
      self->log_.log(e == kEventAlarm ? sdk::LogLevel::warn : sdk::LogLevel::info,
                     "dahdi: span " + std::to_string(self->config_.number) + ": " + device_event_name(e));
    return -1;
  }
  if (n <= 0) return n == 0 ? 0 : -1;
  self->check_frame(static_cast<const std::uint8_t*>(buf), static_cast<int>(n));
  return static_cast<int>(n);
}

int PriSpan::io_write(struct pri* pri, void* buf, int len) {
  auto* self = static_cast<PriSpan*>(pri_get_userdata(pri));
  if (self->filter_ && !self->filter_(static_cast<const std::uint8_t*>(buf), len)) return len;
  long n = frame_write(self->fd_, buf, static_cast<unsigned long>(len), self->socket_);
  return n < 0 ? -1 : static_cast<int>(n);
}

// libpri parses what arrives; this only tells the admin that the far end
// sends broken messages, once, instead of letting libpri's debug output be
// the only trace.
void PriSpan::check_frame(const std::uint8_t* f, int len) {
  // Address (2) + control (1 or 2) + information + FCS (2).
  if (len < 5) return;
  int sapi = f[0] >> 2;
  std::string problem;
  const std::uint8_t* info = nullptr;
  int info_len = 0;
  if ((f[2] & 0x01) == 0) {  // I-frame: 2 control bytes
    info = f + 4;
    info_len = len - 4 - 2;
  } else if ((f[2] & 0xef) == 0x03) {  // UI frame: 1 control byte
    info = f + 3;
    info_len = len - 3 - 2;
  }
  if (!info || sapi != 0 || info_len < 0) return;
  problem = q931_problem(info, info_len);
  if (problem.empty()) return;
  auto n = ++malformed_;
  if (n == 1 || n % 100 == 0)
    log_.log(sdk::LogLevel::warn, "dahdi: span " + std::to_string(config_.number) +
                                      ": malformed Q.931 message from the far end (" + problem + "), " +
                                      std::to_string(n) + " so far; libpri ignores it. Check the line's "
                                      "switchtype (" + config_.switchtype + ") with the operator");
}

}  // namespace dialtone::plugins::dahdi
