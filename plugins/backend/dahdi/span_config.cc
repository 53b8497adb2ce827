#include "span_config.h"

#include <algorithm>
#include <set>

namespace dialtone::plugins::dahdi {

using sdk::OptionType;

// Names follow system.conf (span=, bchan, dchan, hardhdlc) and chan_dahdi
// (signalling, switchtype, group, context, overlapdial, echocancel...), so
// an admin's existing files translate line by line.
const sdk::OptionSpec kOptions[] = {
    {"dahdi.function", OptionType::string, "route_call",
     "dialplan function that incoming calls from a span run (as backend.sip's)"},
    {"dahdi.device", OptionType::path, "/dev/dahdi",
     "DAHDI device directory; spans with driver = hardware need it (the card's kernel module loaded)"},
    {"dahdi.overlap_timeout", OptionType::duration, "4s",
     "incoming overlap dialling: the number is complete when no digit came for this long"},
    {"dahdi.realtime", OptionType::boolean, "true",
     "run the B-channel thread with real-time priority (SCHED_FIFO 10, as media.realtime) so other load cannot "
     "delay a 20 ms tick"},
    {"span.*.driver", OptionType::choice, "hardware",
     "hardware: a card port through the DAHDI kernel module; simulated: a span joined back to back "
     "with span.<peer> inside dialtoned (tests, demos)",
     sdk::kNone, "hardware|simulated"},
    {"span.*.peer", OptionType::integer, nullptr, "simulated: the span number at the other end of the cable",
     sdk::kNone, nullptr, 1, 128},
    {"span.*.timing", OptionType::integer, "0",
     "system.conf span= timing: 0 never a clock source (towards a PBX), 1 primary, 2 secondary...", sdk::kNone,
     nullptr, 0, 255},
    {"span.*.lbo", OptionType::integer, "0", "system.conf span= line build-out (0 for E1 and BRI)", sdk::kNone,
     nullptr, 0, 7},
    {"span.*.framing", OptionType::choice, "ccs", "system.conf span= framing: ccs for ISDN, cas; d4/esf on T1",
     sdk::kNone, "ccs|cas|d4|esf"},
    {"span.*.coding", OptionType::choice, "hdb3", "system.conf span= coding: hdb3 (E1 PRI), ami (T0 BRI), b8zs (T1)",
     sdk::kNone, "hdb3|ami|b8zs"},
    {"span.*.crc4", OptionType::boolean, "false", "system.conf span= crc4 framing option (rare in France)"},
    {"span.*.bchan", OptionType::ranges, nullptr,
     "bearer channels, global DAHDI numbers as system.conf writes them: 1-15,17-31 (E1), 1-2 (BRI); an "
     "analog span's ports", sdk::kNone,
     nullptr, 1, 1024},
    {"span.*.dchan", OptionType::integer, nullptr, "PRI D-channel (16 on an E1)", sdk::kNone, nullptr, 1, 1024},
    {"span.*.hardhdlc", OptionType::integer, nullptr, "BRI D-channel handled by the card's HDLC (3 on a BRI port)",
     sdk::kNone, nullptr, 1, 1024},
    {"span.*.echocanceller", OptionType::string, "",
     "system.conf echocanceller= module (mg2, oslec); with echocancel the driver's own is spandsp's"},
    {"span.*.signalling", OptionType::choice, "pri_cpe",
     "pri_cpe (towards an operator), pri_net (towards a PBX), bri_cpe (PTP), bri_cpe_ptmp, bri_net, "
     "bri_net_ptmp; analog: fxo_ks (FXS ports, phones), fxs_ks (FXO ports, lines from the exchange)",
     sdk::kNone, "pri_cpe|pri_net|bri_cpe|bri_net|bri_cpe_ptmp|bri_net_ptmp|fxs_ks|fxo_ks"},
    {"span.*.switchtype", OptionType::choice, "euroisdn", "ISDN variant: euroisdn (ETSI) or national (NI-2)",
     sdk::kNone, "euroisdn|national|ni1|dms100|lucent5e|att4ess|qsig"},
    {"span.*.group", OptionType::ranges, "0", "dahdi-channels.conf group=: dahdi/g<group>/<number> dials any of them",
     sdk::kNone, nullptr, 0, 63},
    {"span.*.context", OptionType::string, "from-extern", "context incoming calls of the span enter (incalls)"},
    {"span.*.overlapdial", OptionType::choice, "no",
     "overlap dialling (digits one by one): no, incoming (from a PBX), outgoing, yes (both)", sdk::kNone,
     "no|incoming|outgoing|yes"},
    {"span.*.echocancel", OptionType::boolean, "false", "cancel the line's echo on the B-channels (spandsp)"},
    {"span.*.echocancel_taps", OptionType::integer, "128", "echo tail in samples (128 = 16 ms)", sdk::kNone, nullptr,
     32, 1024},
    {"span.*.law", OptionType::choice, "alaw", "B-channel companding: alaw (E1, Europe) or ulaw (T1)", sdk::kNone,
     "alaw|ulaw"},
    {"span.*.pridialplan", OptionType::choice, "unknown",
     "type of number of outgoing calls: unknown, local, national, international, or dynamic (from "
     "internationalprefix / nationalprefix)",
     sdk::kNone, "unknown|local|national|international|dynamic"},
    {"span.*.internationalprefix", OptionType::string, "00", "prefix of international numbers (pridialplan dynamic)"},
    {"span.*.nationalprefix", OptionType::string, "0", "prefix of national numbers (pridialplan dynamic)"},
    {"span.*.layer1_presence", OptionType::choice, "required",
     "BRI PTMP: required (calls only with layer 1 up) or ignore (lines left down between calls)", sdk::kNone,
     "required|ignore"},
    {"span.*.layer2_persistence", OptionType::choice, "default",
     "BRI PTMP: keep_up (layer 2 held up) or leave_down (brought up by each call)", sdk::kNone,
     "default|keep_up|leave_down"},
    {"span.*.usecallerid", OptionType::boolean, "true",
     "analog: send caller ID to the phones (FXS) and receive it from the lines (FXO)"},
    {"span.*.cidsignalling", OptionType::choice, "v23",
     "analog: caller ID's FSK: v23 (ETSI CLIP, V.23: France, UK, Europe) or bell (Bell 202, North America; "
     "chan_dahdi's default)",
     sdk::kNone, "v23|bell"},
    {"span.*.cidstart", OptionType::choice, "ring",
     "FXO lines: the caller ID comes after the first ring (ring) or after a polarity reversal before it "
     "(polarity)",
     sdk::kNone, "ring|polarity"},
    {"span.*.answeronpolarityswitch", OptionType::boolean, "false",
     "FXO lines: a call dialed out is answered when the exchange reverses the line's polarity (else at once "
     "once dialed)"},
    {"span.*.hanguponpolarityswitch", OptionType::boolean, "false",
     "FXO lines: a polarity reversal during a call means the far party hung up"},
    {"span.*.transfer", OptionType::boolean, "true",
     "FXS phones: a hook flash holds the other party and gives a dial tone; the number dialed then receives "
     "it (blind transfer), a second flash returns to it"},
    {"span.*.rxflash", OptionType::duration, "1250ms",
     "FXS phones: the longest on-hook taken as a hook flash (longer: hung up), as DAHDI's rxflash; a card's "
     "ports keep the kernel's own",
     sdk::kNone, nullptr},
    {}};

const char* to_string(Signalling s) {
  switch (s) {
    case Signalling::pri_cpe: return "pri_cpe";
    case Signalling::pri_net: return "pri_net";
    case Signalling::bri_cpe: return "bri_cpe";
    case Signalling::bri_net: return "bri_net";
    case Signalling::bri_cpe_ptmp: return "bri_cpe_ptmp";
    case Signalling::bri_net_ptmp: return "bri_net_ptmp";
    case Signalling::fxs_ks: return "fxs_ks";
    case Signalling::fxo_ks: return "fxo_ks";
  }
  return "pri_cpe";
}

namespace {

Signalling signalling_of(const std::string& v) {
  for (auto s : {Signalling::pri_cpe, Signalling::pri_net, Signalling::bri_cpe, Signalling::bri_net,
                 Signalling::bri_cpe_ptmp, Signalling::bri_net_ptmp, Signalling::fxs_ks, Signalling::fxo_ks})
    if (v == to_string(s)) return s;
  return Signalling::pri_cpe;
}

std::vector<int> ints(const std::vector<std::int64_t>& v) { return {v.begin(), v.end()}; }

}  // namespace

sdk::Result<DahdiConfig> parse_config(const sdk::Options& o) {
  DahdiConfig c;
  c.dialplan_function = o.get("dahdi.function", "route_call");
  c.device = o.get("dahdi.device", "/dev/dahdi");
  c.overlap_timeout_ms = static_cast<int>(o.get_duration("dahdi.overlap_timeout", std::chrono::seconds(4)).count());
  c.realtime = o.get_bool("dahdi.realtime", true);
  std::map<int, std::string> owner;  // global channel -> "span N" using it
  for (auto& name : o.instances("span")) {
    const std::string p = "span." + name + ".";
    const std::string where = "[span." + name + "]";
    SpanConfig s;
    try {
      std::size_t used = 0;
      s.number = std::stoi(name, &used);
      if (used != name.size() || s.number < 1 || s.number > 128) throw std::invalid_argument(name);
    } catch (...) {
      return sdk::Error::invalid("dahdi: " + where +
                                 ": spans are named by their number as in system.conf's span=<n>: write [span.1]");
    }
    s.driver = o.get(p + "driver", "hardware") == "simulated" ? SpanDriver::simulated : SpanDriver::hardware;
    s.peer = static_cast<int>(o.get_int(p + "peer", 0));
    s.timing = static_cast<int>(o.get_int(p + "timing", 0));
    s.lbo = static_cast<int>(o.get_int(p + "lbo", 0));
    s.framing = o.get(p + "framing", "ccs");
    s.coding = o.get(p + "coding", "hdb3");
    s.crc4 = o.get_bool(p + "crc4", false);
    s.bchan = ints(o.get_ranges(p + "bchan"));
    s.dchan = static_cast<int>(o.get_int(p + "dchan", 0));
    s.hardhdlc = static_cast<int>(o.get_int(p + "hardhdlc", 0));
    s.signalling = signalling_of(o.get(p + "signalling", "pri_cpe"));
    s.switchtype = o.get(p + "switchtype", "euroisdn");
    s.groups = ints(o.get_ranges(p + "group"));
    if (!o.has(p + "group")) s.groups = {0};
    s.context = o.get(p + "context", "from-extern");
    auto ov = o.get(p + "overlapdial", "no");
    s.overlapdial = ov == "incoming"   ? OverlapDial::incoming
                    : ov == "outgoing" ? OverlapDial::outgoing
                    : ov == "yes"      ? OverlapDial::both
                                       : OverlapDial::no;
    s.echocancel = o.get_bool(p + "echocancel", false);
    s.echocancel_taps = static_cast<int>(o.get_int(p + "echocancel_taps", 128));
    s.alaw = o.get(p + "law", "alaw") == "alaw";
    s.pridialplan = o.get(p + "pridialplan", "unknown");
    s.internationalprefix = o.get(p + "internationalprefix", "00");
    s.nationalprefix = o.get(p + "nationalprefix", "0");
    s.layer1_required = o.get(p + "layer1_presence", "required") == "required";
    s.layer2_persistence = o.get(p + "layer2_persistence", "default");
    s.usecallerid = o.get_bool(p + "usecallerid", true);
    s.cidsignalling = o.get(p + "cidsignalling", "v23");
    s.cidstart = o.get(p + "cidstart", "ring");
    s.answeronpolarityswitch = o.get_bool(p + "answeronpolarityswitch", false);
    s.hanguponpolarityswitch = o.get_bool(p + "hanguponpolarityswitch", false);
    s.transfer = o.get_bool(p + "transfer", true);
    s.rxflash_ms = static_cast<int>(o.get_duration(p + "rxflash", std::chrono::milliseconds(1250)).count());
    // Options of one kind of port given on another (the defaults are
    // merged in, so a value other than the default): a mistake to name.
    auto misplaced = [&](const char* name, bool set, Signalling kind, const char* what) -> sdk::Status {
      if (!set || s.signalling == kind) return {};
      return sdk::Error::invalid("dahdi: " + where + ": " + name + " applies to " + what + " (signalling = " +
                                 to_string(kind) + "); this span is " + to_string(s.signalling) + ": remove it");
    };
    for (auto st : {misplaced("cidstart", s.cidstart != "ring", Signalling::fxs_ks, "FXO lines"),
                    misplaced("answeronpolarityswitch", s.answeronpolarityswitch, Signalling::fxs_ks, "FXO lines"),
                    misplaced("hanguponpolarityswitch", s.hanguponpolarityswitch, Signalling::fxs_ks, "FXO lines"),
                    misplaced("transfer", !s.transfer, Signalling::fxo_ks, "FXS phones"),
                    misplaced("rxflash", s.rxflash_ms != 1250, Signalling::fxo_ks, "FXS phones")})
      if (!st) return st.error();
    if (s.rxflash_ms < 250 || s.rxflash_ms > 5000)
      return sdk::Error::invalid("dahdi: " + where + ": rxflash = " + std::to_string(s.rxflash_ms) +
                                 "ms; a hook flash lasts longer than a dial pulse (200ms) and less than 5s: "
                                 "write 1250ms, DAHDI's default");

    if (s.bchan.empty())
      return sdk::Error::invalid("dahdi: " + where + ": no bchan; write the B-channels as system.conf does "
                                 "(bchan = 1-15,17-31 for an E1, 1-2 for a BRI)");
    if (is_isdn(s.signalling)) {
      if (!s.dchan && !s.hardhdlc)
        return sdk::Error::invalid("dahdi: " + where + ": " + to_string(s.signalling) +
                                   " needs a D-channel: dchan = 16 (E1 PRI) or hardhdlc = 3 (BRI)");
      if (s.dchan && s.hardhdlc)
        return sdk::Error::invalid("dahdi: " + where + ": both dchan and hardhdlc are set; keep dchan for a PRI, "
                                   "hardhdlc for a BRI");
      if (is_bri(s.signalling) && s.bchan.size() > 2)
        return sdk::Error::invalid("dahdi: " + where + ": " + to_string(s.signalling) + " has " +
                                   std::to_string(s.bchan.size()) + " bchan; a BRI port has 2 (bchan = 1-2)");
      if (std::find(s.bchan.begin(), s.bchan.end(), s.d_channel()) != s.bchan.end())
        return sdk::Error::invalid("dahdi: " + where + ": D-channel " + std::to_string(s.d_channel()) +
                                   " is also in bchan; leave it out (bchan = 1-15,17-31 with dchan = 16)");
    }
    int first = s.bchan.front();
    if (s.d_channel()) first = std::min(first, s.d_channel());
    s.base = first - 1;
    if (s.span_channel(s.bchan.back()) > 31 || (s.d_channel() && s.span_channel(s.d_channel()) > 31))
      return sdk::Error::invalid("dahdi: " + where + ": channels " + std::to_string(first) + "-" +
                                 std::to_string(std::max(s.bchan.back(), s.d_channel())) +
                                 " do not fit one E1 (31 time slots)");
    std::vector<int> all = s.bchan;
    if (s.d_channel()) all.push_back(s.d_channel());
    for (int ch : all) {
      auto [it, fresh] = owner.emplace(ch, "span " + name);
      if (!fresh)
        return sdk::Error::invalid("dahdi: " + where + ": channel " + std::to_string(ch) + " is also used by " +
                                   it->second + "; each DAHDI channel belongs to one span");
    }
    c.spans[s.number] = std::move(s);
  }
  for (auto& [n, s] : c.spans) {
    if (s.driver != SpanDriver::simulated) continue;
    const std::string where = "[span." + std::to_string(n) + "]";
    // No peer: the far end is a socket handed to a test's own equipment
    // (DahdiDriver::far_end, far_end_port).
    if (!s.peer) continue;
    if (!is_isdn(s.signalling))
      return sdk::Error::invalid("dahdi: " + where + ": an analog span (" + to_string(s.signalling) +
                                 ") has no peer: each simulated port's far end is a phone or an exchange of "
                                 "test equipment; remove peer");
    auto peer = c.spans.find(s.peer);
    if (peer == c.spans.end() || s.peer == n)
      return sdk::Error::invalid("dahdi: " + where + ": a simulated span needs peer = <the span at the other end>, "
                                 "another [span.<n>] with driver = simulated");
    if (peer->second.driver != SpanDriver::simulated || peer->second.peer != n)
      return sdk::Error::invalid("dahdi: " + where + ": its peer span " + std::to_string(s.peer) +
                                 " must be simulated with peer = " + std::to_string(n));
    if (is_network_side(s.signalling) == is_network_side(peer->second.signalling))
      return sdk::Error::invalid("dahdi: " + where + ": span " + std::to_string(n) + " and its peer span " +
                                 std::to_string(s.peer) + " are both " +
                                 (is_network_side(s.signalling) ? "network" : "user") +
                                 " side; one end is pri_net (or bri_net), the other pri_cpe (or bri_cpe)");
  }
  return c;
}

}  // namespace dialtone::plugins::dahdi
