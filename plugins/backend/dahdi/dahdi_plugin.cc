// backend.dahdi: ISDN spans (PRI, BRI) as a channel driver of the call core.
// Spans are declared in conf.d in system.conf / chan_dahdi terms
// (span_config.h, docs/admin/dahdi.md).
#include <dialtone/calls.h>
#include <dialtone/host.h>
#include <dialtone/plugin.h>
#include <dialtone/services.h>

#include "dahdi_driver.h"
#include "span_config.h"

namespace dialtone::plugins::dahdi {
namespace {

class DahdiPlugin final : public sdk::Plugin {
 public:
  explicit DahdiPlugin(sdk::Host& host) : host_(host) {}

  sdk::Status configure(const sdk::Options& o) override {
    auto c = parse_config(o);
    if (!c) return c.error();
    config_ = std::move(*c);
    return {};
  }

  sdk::Status start() override {
    auto core = host_.services().find<sdk::CallCore>();
    if (!core) return sdk::Error::unavailable("dahdi: the kernel's call core is not available");
    driver_ = std::make_shared<DahdiDriver>(config_, host_, core);
    if (auto s = driver_->start(); !s) return s;
    if (auto s = core->register_driver("dahdi", driver_); !s) {
      driver_->stop();
      return s;
    }
    core_ = core;
    return {};
  }

  void stop() override {
    if (core_) core_->unregister_driver("dahdi");
    if (driver_) driver_->stop();
    driver_.reset();
    core_.reset();
  }

 private:
  sdk::Host& host_;
  DahdiConfig config_;
  std::shared_ptr<sdk::CallCore> core_;
  std::shared_ptr<DahdiDriver> driver_;
};

}  // namespace
}  // namespace dialtone::plugins::dahdi

DIALTONE_PLUGIN(dialtone::plugins::dahdi::DahdiPlugin, "backend.dahdi", "backend", "1.0.0",
                "ISDN spans (PRI, BRI) through libpri: calls to and from operators and PBXs", "",
                /*optional=*/"media.engine",
                dialtone::plugins::dahdi::kOptions)
