// The dialplan's fax verb, call:receive_fax{...} (the incall destination
// application fax_to_mail, lua-dialplan/lib/faxes.lua), declared once in
// fax_app.cc: the row registers it with the call core and generates its
// reference in docs/lua-dialplan.md.
//
// The verb suspends only the call's coroutine: the media engine receives
// the fax on its own threads (Endpoint::receive_fax) and the document is
// converted, saved and mailed on the executor (fax_delivery.h).
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include <dialtone/host.h>
#include <dialtone/lua.h>
#include <dialtone/media.h>

#include "fax_delivery.h"

namespace dialtone::plugins::fax {

struct FaxConfig {
  DeliveryConfig delivery;
  std::string station_id;   // our TSI/CSI
  int detect_seconds = 35;  // a caller that is no fax machine is let go after this
};

class FaxApp : public std::enable_shared_from_this<FaxApp> {
 public:
  using EngineLookup = std::function<std::shared_ptr<sdk::media::MediaEngine>()>;
  // `executor` and `log` may be null for the reference (docs) only.
  FaxApp(FaxConfig cfg, EngineLookup engine, sdk::Executor* executor, sdk::Logger* log);

  std::vector<sdk::LuaFunctionSpec> functions();
  const FaxConfig& config() const { return cfg_; }

 private:
  FaxConfig cfg_;
  EngineLookup engine_;
  sdk::Executor* executor_;
  sdk::Logger* log_;
  std::unique_ptr<FaxDelivery> delivery_;
};

}  // namespace dialtone::plugins::fax
