#include "plugins/backend/sip/sdp.h"

#include <dialtone/text.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <sstream>

namespace dialtone::plugins::backend::sip {
namespace {

std::vector<std::string> split_ws(std::string_view s) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    std::size_t b = i;
    while (i < s.size() && s[i] != ' ' && s[i] != '\t') ++i;
    if (i > b) out.emplace_back(s.substr(b, i - b));
  }
  return out;
}

// The payload type an "a=rtpmap:<pt> ..." or "a=fmtp:<pt> ..." line is about.
std::optional<std::string> attribute_pt(const std::string& line) {
  for (std::string_view prefix : {"a=rtpmap:", "a=fmtp:", "a=rtcp-fb:"}) {
    if (line.starts_with(prefix)) {
      auto rest = line.substr(prefix.size());
      auto sp = rest.find_first_of(" \t");
      return rest.substr(0, sp);
    }
  }
  return std::nullopt;
}

bool integer(const std::string& s, int& out) {
  if (s.empty() || s.size() > 6) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  out = std::atoi(s.c_str());
  return true;
}

std::string m_line(const SdpMedia& m) {
  std::string out = "m=" + m.type + " " + std::to_string(m.port) + m.port_suffix + " " + m.proto;
  for (auto& f : m.formats) out += " " + f;
  return out;
}

// The configured codec `encoding` ("PCMU/8000") stands for, or "".
std::string codec_of(const std::string& encoding) {
  auto e = sdk::text::to_lower(encoding);
  auto slash = e.find('/');
  auto name = e.substr(0, slash);
  auto rate = slash == std::string::npos ? std::string() : e.substr(slash + 1);
  auto rate_end = rate.find('/');
  if (rate_end != std::string::npos) rate = rate.substr(0, rate_end);  // channels
  if (name == "pcmu" && rate == "8000") return "pcmu";
  if (name == "pcma" && rate == "8000") return "pcma";
  if (name == "g722" && rate == "8000") return "g722";
  if (name == "opus" && rate == "48000") return "opus";  // RFC 7587: always opus/48000/2
  // Events at the clock of a voice codec offered here: 8000, or 48000 beside Opus.
  if (name == "telephone-event" && (rate == "8000" || rate == "48000")) return "telephone-event";
  return {};
}

// Keeps the formats of `m` for which `keep(pt)` holds, with their attributes.
void keep_formats(SdpMedia& m, const std::vector<std::string>& kept) {
  m.formats = kept;
  m.lines.erase(std::remove_if(m.lines.begin(), m.lines.end(),
                               [&](const std::string& l) {
                                 auto pt = attribute_pt(l);
                                 return pt && std::find(kept.begin(), kept.end(), *pt) == kept.end();
                               }),
                m.lines.end());
}

bool has_speech_codec(const SdpMedia& m) {
  return std::any_of(m.formats.begin(), m.formats.end(), [&](const std::string& pt) {
    auto c = codec_of(m.encoding(pt));
    return !c.empty() && c != "telephone-event";
  });
}

// Sets every non-first-audio stream's port to 0 (refused).
void refuse_others(Sdp& sdp, const SdpMedia* keep) {
  for (auto& m : sdp.media)
    if (&m != keep) m.port = 0;
}

}  // namespace

std::string SdpMedia::encoding(const std::string& pt) const {
  std::string prefix = "a=rtpmap:" + pt;
  for (auto& l : lines) {
    if (l.starts_with(prefix) && l.size() > prefix.size() &&
        (l[prefix.size()] == ' ' || l[prefix.size()] == '\t')) {
      auto words = split_ws(std::string_view(l).substr(prefix.size()));
      if (!words.empty()) return words[0];
    }
  }
  if (pt == "0") return "PCMU/8000";
  if (pt == "8") return "PCMA/8000";
  if (pt == "9") return "G722/8000";
  if (pt == "18") return "G729/8000";
  if (pt == "3") return "GSM/8000";
  return {};
}

std::string Sdp::to_string() const {
  std::string out;
  for (auto& l : session) out += l + "\r\n";
  for (auto& m : media) {
    out += m_line(m) + "\r\n";
    for (auto& l : m.lines) out += l + "\r\n";
  }
  return out;
}

std::string Sdp::connection(const SdpMedia& m) const {
  for (auto* lines : {&m.lines, &session}) {
    for (auto& l : *lines) {
      if (!l.starts_with("c=")) continue;
      auto w = split_ws(std::string_view(l).substr(2));
      if (w.size() >= 3) {
        auto addr = w[2];
        auto slash = addr.find('/');  // multicast TTL
        return addr.substr(0, slash);
      }
    }
  }
  return {};
}

const SdpMedia* Sdp::audio() const {
  for (auto& m : media)
    if (m.type == "audio" && m.active()) return &m;
  return nullptr;
}

SdpMedia* Sdp::audio() {
  return const_cast<SdpMedia*>(static_cast<const Sdp*>(this)->audio());
}

sdk::Result<Sdp> parse_sdp(std::string_view text) {
  Sdp sdp;
  std::size_t pos = 0;
  int n = 0;
  bool seen_v = false;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string line(text.substr(pos, end - pos));
    pos = end + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    ++n;
    if (line.size() < 2 || line[1] != '=' || !std::isalpha(static_cast<unsigned char>(line[0])))
      return sdk::Error::invalid("SDP line " + std::to_string(n) + " is not <type>=<value>: '" +
                                 line.substr(0, 40) + "'");
    if (n == 1) {
      if (line != "v=0") return sdk::Error::invalid("SDP does not start with v=0");
      seen_v = true;
    }
    if (line[0] == 'm') {
      auto w = split_ws(std::string_view(line).substr(2));
      SdpMedia m;
      if (w.size() < 3)
        return sdk::Error::invalid("SDP m= line " + std::to_string(n) + " needs <media> <port> <proto>");
      m.type = w[0];
      auto slash = w[1].find('/');
      if (slash != std::string::npos) m.port_suffix = w[1].substr(slash);
      if (!integer(w[1].substr(0, slash), m.port) || m.port > 65535)
        return sdk::Error::invalid("SDP m= line " + std::to_string(n) + " has a bad port '" + w[1] + "'");
      m.proto = w[2];
      m.formats.assign(w.begin() + 3, w.end());
      sdp.media.push_back(std::move(m));
      continue;
    }
    if (sdp.media.empty()) sdp.session.push_back(std::move(line));
    else sdp.media.back().lines.push_back(std::move(line));
  }
  if (!seen_v) return sdk::Error::invalid("SDP is empty");
  for (auto& m : sdp.media)
    if (m.active() && sdp.connection(m).empty())
      return sdk::Error::invalid("SDP stream '" + m.type + "' has no c= address");
  return sdp;
}

sdk::Result<std::vector<std::string>> parse_codecs(const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (auto& n : names) {
    auto l = sdk::text::to_lower(n);
    if (l != "pcmu" && l != "pcma" && l != "g722" && l != "opus" && l != "telephone-event")
      return sdk::Error::invalid("media.codecs: unknown codec '" + n +
                                 "'; use pcmu, pcma, g722, opus, telephone-event");
    if (std::find(out.begin(), out.end(), l) == out.end()) out.push_back(l);
  }
  if (std::none_of(out.begin(), out.end(), [](auto& c) { return c != "telephone-event"; }))
    return sdk::Error::invalid("media.codecs: name at least one of pcmu, pcma, g722, opus");
  return out;
}

std::vector<sdk::media::CryptoAttribute> sdes_keys(const SdpMedia& m) {
  std::vector<sdk::media::CryptoAttribute> out;
  for (const auto& line : m.lines) {
    if (!line.starts_with("a=crypto:")) continue;
    auto c = sdk::media::CryptoAttribute::parse(std::string_view(line).substr(9));
    if (c && (c->suite == "AES_CM_128_HMAC_SHA1_80" || c->suite == "AES_CM_128_HMAC_SHA1_32"))
      out.push_back(std::move(*c));
  }
  return out;
}

sdk::Result<Sdp> filter_offer(const Sdp& offer, const std::vector<std::string>& codecs) {
  Sdp out = offer;
  SdpMedia* chosen = nullptr;
  for (auto& m : out.media) {
    if (m.type != "audio" || !m.active() || chosen) continue;
    // SRTP with SDES keys crosses the relay untouched (keys end to end); a
    // profile without a=crypto (DTLS-SRTP) would need the relay in the handshake.
    bool sdes = (m.proto == "RTP/SAVP" || m.proto == "RTP/SAVPF") && !sdes_keys(m).empty();
    if (m.proto != "RTP/AVP" && m.proto != "RTP/AVPF" && !sdes) continue;
    std::vector<std::string> kept;
    for (auto& pt : m.formats) {
      auto c = codec_of(m.encoding(pt));
      if (!c.empty() && std::find(codecs.begin(), codecs.end(), c) != codecs.end())
        kept.push_back(pt);
    }
    // Events at 48000 go with Opus only.
    bool opus = std::any_of(kept.begin(), kept.end(), [&](auto& pt) { return codec_of(m.encoding(pt)) == "opus"; });
    if (!opus)
      std::erase_if(kept, [&](auto& pt) { return sdk::text::to_lower(m.encoding(pt)).rfind("telephone-event/48000", 0) == 0; });
    SdpMedia trial = m;
    keep_formats(trial, kept);
    if (!has_speech_codec(trial)) continue;
    m = std::move(trial);
    chosen = &m;
  }
  if (!chosen)
    return sdk::Error::unsupported("no audio codec in common with media.codecs");
  refuse_others(out, chosen);
  return out;
}

sdk::Result<Sdp> filter_answer(const Sdp& answer, const Sdp& offer) {
  Sdp out = answer;
  const SdpMedia* offered = offer.audio();
  SdpMedia* chosen = out.audio();
  if (!offered || !chosen) return sdk::Error::unsupported("the answer accepts no audio stream");
  std::vector<std::string> kept;
  for (auto& pt : chosen->formats) {
    auto c = codec_of(chosen->encoding(pt));
    if (c.empty()) continue;
    bool in_offer = std::any_of(offered->formats.begin(), offered->formats.end(),
                                [&](const std::string& o) { return codec_of(offered->encoding(o)) == c; });
    if (in_offer) kept.push_back(pt);
  }
  keep_formats(*chosen, kept);
  if (!has_speech_codec(*chosen))
    return sdk::Error::unsupported("the answer keeps no audio codec of the offer");
  refuse_others(out, chosen);
  return out;
}

std::optional<MediaAddress> audio_address(const Sdp& sdp) {
  const SdpMedia* m = sdp.audio();
  if (!m) return std::nullopt;
  MediaAddress a;
  a.ip = sdp.connection(*m);
  a.rtp_port = m->port;
  a.rtcp_port = m->port + 1;
  for (auto& l : m->lines) {
    if (l.starts_with("a=rtcp:")) {
      auto w = split_ws(std::string_view(l).substr(7));
      int p = 0;
      if (!w.empty() && integer(w[0], p) && p > 0 && p <= 65535) a.rtcp_port = p;
    }
  }
  if (a.ip.empty()) return std::nullopt;
  return a;
}

bool rtcp_mux(const Sdp& sdp) {
  const SdpMedia* m = sdp.audio();
  return m && std::any_of(m->lines.begin(), m->lines.end(),
                          [](const std::string& l) { return l.starts_with("a=rtcp-mux"); });
}

void anchor(Sdp& sdp, const std::string& ip, int port, bool mux) {
  std::string family = ip.find(':') != std::string::npos ? "IP6" : "IP4";
  std::string c = "c=IN " + family + " " + ip;
  SdpMedia* audio = sdp.audio();
  bool session_c = false;
  for (auto& l : sdp.session) {
    if (l.starts_with("o=")) {
      auto w = split_ws(std::string_view(l).substr(2));
      if (w.size() >= 6) l = "o=" + w[0] + " " + w[1] + " " + w[2] + " IN " + family + " " + ip;
    } else if (l.starts_with("c=")) {
      l = c;
      session_c = true;
    }
  }
  if (!audio) return;
  audio->port = port;
  auto& lines = audio->lines;
  lines.erase(std::remove_if(lines.begin(), lines.end(),
                             [](const std::string& l) {
                               return l.starts_with("a=candidate:") || l.starts_with("a=ice-") ||
                                      l.starts_with("a=remote-candidates") ||
                                      l.starts_with("a=rtcp-mux") || l.starts_with("a=rtcp:") ||
                                      l.starts_with("a=end-of-candidates");
                             }),
              lines.end());
  bool media_c = false;
  for (auto& l : lines) {
    if (l.starts_with("c=")) {
      l = c;
      media_c = true;
    }
  }
  if (!media_c && !session_c) {
    // RFC 4566 order: c= comes after i= and before b=/k=/a=.
    auto at = std::find_if(lines.begin(), lines.end(),
                           [](const std::string& l) { return !l.starts_with("i="); });
    lines.insert(at, c);
  }
  if (mux) lines.push_back("a=rtcp-mux");
}

std::string raise_origin_version(const std::string& sdp, std::uint64_t delta) {
  if (delta == 0) return sdp;
  std::size_t at = sdp.rfind("o=", 0) == 0 ? 0 : sdp.find("\no=");
  if (at == std::string::npos) return sdp;
  if (sdp[at] == '\n') ++at;
  std::size_t end = sdp.find_first_of("\r\n", at);
  auto w = split_ws(std::string_view(sdp).substr(at + 2, end == std::string::npos ? std::string::npos : end - at - 2));
  if (w.size() < 6 || w[2].empty() || w[2].size() > 19 || w[2].find_first_not_of("0123456789") != std::string::npos)
    return sdp;
  std::string line = "o=" + w[0] + " " + w[1] + " " + std::to_string(std::stoull(w[2]) + delta);
  for (std::size_t i = 3; i < w.size(); ++i) line += " " + w[i];
  return sdp.substr(0, at) + line + (end == std::string::npos ? std::string() : sdp.substr(end));
}

void same_session(std::string& sdp, const std::string& previous) {
  auto origin = [](const std::string& text) -> std::pair<std::size_t, std::size_t> {
    auto at = text.find("o=");
    if (at != 0 && at != std::string::npos) at = text.find("\no=");
    if (at == std::string::npos) return {std::string::npos, 0};
    if (text[at] == '\n') ++at;
    return {at, text.find_first_of("\r\n", at) - at};
  };
  auto [was, was_len] = origin(previous);
  auto [now, now_len] = origin(sdp);
  if (was != std::string::npos && now != std::string::npos) {
    std::istringstream line(previous.substr(was, was_len));
    std::string user, session, rest;
    unsigned long long version = 0;
    if (line >> user >> session >> version && std::getline(line, rest))
      sdp.replace(now, now_len, user + " " + session + " " + std::to_string(version + 1) + rest);
  }
}

}  // namespace dialtone::plugins::backend::sip
