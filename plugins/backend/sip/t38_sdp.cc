#include "plugins/backend/sip/t38_sdp.h"

#include <algorithm>
#include <cstdlib>

#include <dialtone/text.h>

namespace dialtone::plugins::backend::sip {

namespace sm = sdk::media;
namespace text = sdk::text;

namespace {

constexpr int kOurMaxDatagram = 400;  // what the engine's UDPTL receive takes comfortably

}  // namespace

const SdpMedia* t38_stream(const Sdp& sdp) {
  for (const auto& m : sdp.media)
    if (m.type == "image" && m.active() && text::iequals(m.proto, "udptl") &&
        std::any_of(m.formats.begin(), m.formats.end(), [](const std::string& f) { return text::iequals(f, "t38"); }))
      return &m;
  return nullptr;
}

sm::T38Options t38_offer(const Sdp& sdp, const SdpMedia& m) {
  sm::T38Options o;
  o.max_datagram = 72;  // T.38 annex D: the smallest a receiver must take when none is said
  o.redundancy = false;  // no T38FaxUdpEC: no error correction
  for (const auto& line : m.lines) {
    if (line.rfind("a=", 0) != 0) continue;
    std::string_view v(line);
    v.remove_prefix(2);
    auto colon = v.find(':');
    std::string_view name = v.substr(0, colon);
    std::string value = colon == std::string_view::npos ? "" : std::string(v.substr(colon + 1));
    while (!value.empty() && value.back() == ' ') value.pop_back();
    int number = std::atoi(value.c_str());
    if (text::iequals(name, "T38FaxVersion")) o.version = std::max(0, number);
    else if (text::iequals(name, "T38MaxBitRate")) o.max_bitrate = number > 0 ? number : o.max_bitrate;
    else if (text::iequals(name, "T38FaxRateManagement")) o.transferred_tcf = text::iequals(value, "transferredTCF");
    else if (text::iequals(name, "T38FaxMaxDatagram")) o.max_datagram = number > 0 ? number : o.max_datagram;
    else if (text::iequals(name, "T38FaxUdpEC")) o.redundancy = !text::iequals(value, "t38UDPNoEC") && !value.empty();
  }
  std::string ip = sdp.connection(m);
  o.remote = (ip.find(':') != std::string::npos ? "[" + ip + "]" : ip) + ":" + std::to_string(m.port);
  return o;
}

sm::T38Options t38_answer(const sm::T38Options& offer) {
  sm::T38Options a = offer;
  a.version = 0;
  // V.17's rates and below; a gateway offering 33,600 (V.34) gets 14,400.
  a.max_bitrate = std::min(offer.max_bitrate, 14400);
  a.max_datagram = kOurMaxDatagram;
  a.remote.clear();
  return a;
}

std::string t38_answer_lines(const sm::T38Options& a, int port) {
  std::string s = "m=image " + std::to_string(port) + " udptl t38\r\n";
  s += "a=T38FaxVersion:" + std::to_string(a.version) + "\r\n";
  s += "a=T38MaxBitRate:" + std::to_string(a.max_bitrate) + "\r\n";
  s += std::string("a=T38FaxRateManagement:") + (a.transferred_tcf ? "transferredTCF" : "localTCF") + "\r\n";
  s += "a=T38FaxMaxBuffer:" + std::to_string(a.max_datagram * 4) + "\r\n";
  s += "a=T38FaxMaxDatagram:" + std::to_string(a.max_datagram) + "\r\n";
  s += std::string("a=T38FaxUdpEC:") + (a.redundancy ? "t38UDPRedundancy" : "t38UDPNoEC") + "\r\n";
  return s;
}

}  // namespace dialtone::plugins::backend::sip
