// A plugin whose whole work is one service built from data: at start it
// checks the description, builds the service from it and provides it; at
// stop it withdraws it. The provisioning vendor engine and the phone view
// engine make their plugins with it.
//
// @code
//   // Impl: a Service built from a Description, with
//   //   static sdk::Status check(const Description&);   // refuses bad data, naming it
//   //   std::string_view service_instance() const;      // the instance it is provided as
//   const AcmeDescription& acme();                      // the data
//   using AcmePlugin = dialtone::sdk::DescribedPlugin<AcmeService, AcmeImpl, &acme>;
//   DIALTONE_PLUGIN(AcmePlugin, "kind.acme", "kind", "1.0.0", "...", "", "", kNoOptions)
// @endcode
#pragma once

#include <memory>
#include <string>

#include <dialtone/host.h>
#include <dialtone/plugin.h>
#include <dialtone/services.h>

namespace dialtone::sdk {

template <class Service, class Impl, auto Describe>
class DescribedPlugin final : public Plugin {
 public:
  explicit DescribedPlugin(Host& host) : host_(host) {}
  Status configure(const Options&) override { return {}; }
  Status start() override {
    if (auto ok = Impl::check(Describe()); !ok) return ok;
    auto impl = std::make_shared<Impl>(Describe());
    instance_ = std::string(impl->service_instance());
    return host_.services().template provide<Service>(instance_, impl);
  }
  void stop() override {
    if (!instance_.empty()) host_.services().template withdraw<Service>(instance_);
    instance_.clear();
  }

 private:
  Host& host_;
  std::string instance_;
};

}  // namespace dialtone::sdk
