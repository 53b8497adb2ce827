// Spans and channels as an admin knows them from /etc/dahdi/system.conf and
// chan_dahdi's dahdi-channels.conf, read from one `[span.<n>]` section each
// of conf.d (docs/admin/dahdi.md). The option table is the one declaration:
// the kernel validates every value against it (file:line errors) before
// configure() sees anything; parse_spans() adds the checks that join two
// values (a D-channel inside the B-channels, a simulated span's peer).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <dialtone/options.h>
#include <dialtone/result.h>

namespace dialtone::plugins::dahdi {

extern const sdk::OptionSpec kOptions[];

enum class SpanDriver { hardware, simulated };
enum class Signalling { pri_cpe, pri_net, bri_cpe, bri_net, bri_cpe_ptmp, bri_net_ptmp, fxs_ks, fxo_ks };
enum class OverlapDial { no, incoming, outgoing, both };

inline bool is_isdn(Signalling s) { return s != Signalling::fxs_ks && s != Signalling::fxo_ks; }
inline bool is_bri(Signalling s) {
  return s == Signalling::bri_cpe || s == Signalling::bri_net || s == Signalling::bri_cpe_ptmp ||
         s == Signalling::bri_net_ptmp;
}
inline bool is_network_side(Signalling s) {
  return s == Signalling::pri_net || s == Signalling::bri_net || s == Signalling::bri_net_ptmp;
}
inline bool is_ptmp(Signalling s) { return s == Signalling::bri_cpe_ptmp || s == Signalling::bri_net_ptmp; }

struct SpanConfig {
  int number = 0;                 // system.conf span=<n>
  SpanDriver driver = SpanDriver::hardware;
  int peer = 0;                   // simulated: the span at the other end of the cable
  // span=<n>,<timing>,<lbo>,<framing>,<coding>[,crc4]
  int timing = 0;
  int lbo = 0;
  std::string framing = "ccs";
  std::string coding = "hdb3";
  bool crc4 = false;
  std::vector<int> bchan;         // global DAHDI channel numbers, as in system.conf
  int dchan = 0;                  // PRI D-channel (0: none)
  int hardhdlc = 0;               // BRI D-channel (0: none)
  int base = 0;                   // first channel of the span minus 1: span channel = global - base
  // dahdi-channels.conf
  Signalling signalling = Signalling::pri_cpe;
  std::string switchtype = "euroisdn";
  std::vector<int> groups;
  std::string context = "from-extern";
  OverlapDial overlapdial = OverlapDial::no;
  bool echocancel = false;
  int echocancel_taps = 128;
  bool alaw = true;
  std::string pridialplan = "unknown";  // type of number sent: unknown|local|national|international|dynamic
  std::string internationalprefix = "00", nationalprefix = "0";
  bool layer1_required = true;    // layer1_presence = required|ignore
  std::string layer2_persistence = "default";  // default|keep_up|leave_down
  // Analog ports (chan_dahdi's names).
  bool usecallerid = true;
  std::string cidsignalling = "v23";  // bell|v23: the FSK of caller ID, sent (FXS) and received (FXO)
  std::string cidstart = "ring";      // ring|polarity: FXO, when the caller ID comes
  bool answeronpolarityswitch = false, hanguponpolarityswitch = false;  // FXO supervision
  bool transfer = true;               // FXS: hook flash, then a number, transfers the other party
  int rxflash_ms = 1250;              // FXS: the longest hook flash (simulated ports; a card's is the kernel's)

  // The D-channel's global number (dchan or hardhdlc).
  int d_channel() const { return dchan ? dchan : hardhdlc; }
  // Channel number within the span (libpri's channel id) of a global one.
  int span_channel(int global) const { return global - base; }
  bool overlap_incoming() const { return overlapdial == OverlapDial::incoming || overlapdial == OverlapDial::both; }
  bool overlap_outgoing() const { return overlapdial == OverlapDial::outgoing || overlapdial == OverlapDial::both; }
};

struct DahdiConfig {
  std::string dialplan_function = "route_call";
  std::string device = "/dev/dahdi";
  int overlap_timeout_ms = 4000;  // inter-digit time of incoming overlap dialling
  bool realtime = true;           // SCHED_FIFO for the B-channel thread
  std::map<int, SpanConfig> spans;
};

// The spans of validated options; an error names the span section and the
// fix (the kernel has already refused malformed single values).
sdk::Result<DahdiConfig> parse_config(const sdk::Options& options);

const char* to_string(Signalling s);

}  // namespace dialtone::plugins::dahdi
