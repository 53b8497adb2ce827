// The media-engine side of a SIP call: a caller the dialplan answered
// (sip_media_answer.cc) or an outgoing leg whose offer came from the engine
// (engine_originate.cc). Private to the plugin.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <dialtone/media.h>

#include "plugins/backend/sip/sip_stack.h"

namespace dialtone::plugins::backend::sip {

struct EngineMedia {
  std::shared_ptr<sdk::media::MediaEngine> engine;
  std::shared_ptr<sdk::media::Endpoint> endpoint;
  std::string channel;                        // attached under this call-core id
  std::shared_ptr<sdk::media::Mixer> mixer;   // joined with another engine call
  std::uint64_t peer = 0;                     // that call's serial (a SIP call of this stack)
  // Outgoing legs only: the dialing channel, whether this stack joins its
  // media, our SDES key of the offer, and the dial's ringback.
  std::string origin;
  bool join = false;
  std::optional<sdk::media::CryptoAttribute> offered_crypto;
  // Answered calls: our SDES key of the answer (a new offer is answered with it).
  std::optional<sdk::media::CryptoAttribute> local_crypto;
  std::shared_ptr<Ringback> ringback;
  std::uint64_t origin_listener = 0;          // engine->listen on the origin (its hang-up)
  bool attached = false;                      // channel attached to the engine
  bool answer_applied = false;                // early media or the 2xx gave the answer
  // Talking: its end hangs up the joined peer (an early-media leg that
  // fails leaves the caller to its dialplan).
  bool connected = true;
  // A caller's dialplan ended while it talked to a leg of another backend.
  bool script_done = false;
  // A caller given early media (183 with this endpoint's SDP), not answered yet.
  bool early = false;
};

}  // namespace dialtone::plugins::backend::sip
