// T.38 in SDP (ITU-T T.38 annex D, RFC 3362): the `m=image <port> udptl t38`
// stream of a re-INVITE that moves a call answered by the media engine to
// fax over UDPTL, its a=T38* attributes, and the answer Dialtone gives.
#pragma once

#include <string>

#include <dialtone/media.h>

#include "plugins/backend/sip/sdp.h"

namespace dialtone::plugins::backend::sip {

// The first m=image stream with a port and the udptl/t38 transport, or null.
const SdpMedia* t38_stream(const Sdp& sdp);

// The offerer's parameters of `m` (absent attributes take T.38's defaults;
// remote: the stream's address and port).
sdk::media::T38Options t38_offer(const Sdp& sdp, const SdpMedia& m);

// What Dialtone answers to `offer`: version 0, at most 14,400 bit/s, the
// offerer's rate management, UDP redundancy unless the offer asks for none
// (FEC is answered with redundancy), our largest datagram.
sdk::media::T38Options t38_answer(const sdk::media::T38Options& offer);

// The answer's m=image line and attributes (CRLF-terminated) on `port`.
std::string t38_answer_lines(const sdk::media::T38Options& answer, int port);

}  // namespace dialtone::plugins::backend::sip
