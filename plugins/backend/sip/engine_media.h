// A call answered with its media in the engine (sip_media_answer.cc): its
// endpoint, and the engine call it is bridged to.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <dialtone/media.h>

namespace dialtone::plugins::backend::sip {

struct EngineMedia {
  std::shared_ptr<sdk::media::MediaEngine> engine;
  std::shared_ptr<sdk::media::Endpoint> endpoint;
  std::string channel;                        // attached under this call-core id
  std::shared_ptr<sdk::media::Mixer> mixer;   // call:bridge with another engine call
  std::uint64_t peer = 0;                     // that call's serial
};

}  // namespace dialtone::plugins::backend::sip
