// SDP (RFC 4566) as the B2BUA needs it: parse, codec filtering in the
// offer/answer model (RFC 3264) and pointing the audio stream at the relay.
// Lines the B2BUA does not interpret are kept verbatim and in order.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <dialtone/media.h>
#include <dialtone/result.h>

namespace dialtone::plugins::backend::sip {

struct SdpMedia {
  std::string type;                  // audio, video, application, ...
  int port = 0;
  std::string port_suffix;           // "/2" when a port count is given
  std::string proto;                 // RTP/AVP, RTP/SAVP, ...
  std::vector<std::string> formats;  // payload types, as written
  std::vector<std::string> lines;    // the lines after m=, without CRLF

  // "PCMU/8000" for `pt` from a=rtpmap, or the static assignment.
  std::string encoding(const std::string& pt) const;
  // The address of this stream: its own c= or the session's.
  bool active() const { return port != 0; }
};

struct Sdp {
  std::vector<std::string> session;  // lines before the first m=
  std::vector<SdpMedia> media;

  std::string to_string() const;
  // The c= address of the stream (media-level first, then session-level).
  std::string connection(const SdpMedia& m) const;
  // The first audio stream with a port, or nullptr.
  const SdpMedia* audio() const;
  SdpMedia* audio();
};

// Parses `text`; fails with a message naming the bad line.
sdk::Result<Sdp> parse_sdp(std::string_view text);

// Checks a codec list as written in `media.codecs` (pcmu, pcma, g722, opus,
// telephone-event) and returns it lower-cased.
sdk::Result<std::vector<std::string>> parse_codecs(const std::vector<std::string>& names);

// The stream's a=crypto keys (RFC 4568) of the suites the media engine
// protects with (AES_CM_128_HMAC_SHA1_80 and _32), in their order.
std::vector<sdk::media::CryptoAttribute> sdes_keys(const SdpMedia& m);

// The offer as sent on: in the first active audio stream, the formats that are
// configured codecs, in the offerer's order (with their rtpmap/fmtp lines);
// other streams refused with port 0. RTP/SAVP(F) with SDES keys is kept, its
// a=crypto lines unchanged: SRTP crosses the relay end to end. Fails with
// ErrorCode::unsupported when no audio codec is left (488 Not Acceptable Here).
sdk::Result<Sdp> filter_offer(const Sdp& offer, const std::vector<std::string>& codecs);

// The answer as sent on: formats of the answer that the offer carried.
// Fails with ErrorCode::unsupported when the audio stream kept none.
sdk::Result<Sdp> filter_answer(const Sdp& answer, const Sdp& offer);

// Where the first active audio stream wants RTP and RTCP.
struct MediaAddress {
  std::string ip;
  int rtp_port = 0;
  int rtcp_port = 0;
};
std::optional<MediaAddress> audio_address(const Sdp& sdp);

// Points the first active audio stream (and o=/session c=) at ip:port, with
// RTCP on port+1, or on port itself with `mux` (a=rtcp-mux, RFC 5761); drops
// ICE candidates and the phone's own rtcp/rtcp-mux attributes, which would
// name the phone's addresses or promise what the relay does not do.
void anchor(Sdp& sdp, const std::string& ip, int port, bool mux = false);

// `sdp` with its o= session version raised by `delta` (RFC 3264 8: a
// version the peer already saw means "unchanged"); unchanged when the o=
// line is missing or malformed.
std::string raise_origin_version(const std::string& sdp, std::uint64_t delta);

// Whether the first active audio stream offers or accepts rtcp-mux.
bool rtcp_mux(const Sdp& sdp);

}  // namespace dialtone::plugins::backend::sip
