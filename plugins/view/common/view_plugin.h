// A plugin that provides one sdk::PhoneView, registered under its vendor name.
#pragma once

#include <memory>
#include <string>

#include <dialtone/directory.h>
#include <dialtone/host.h>
#include <dialtone/plugin.h>
#include <dialtone/services.h>

namespace dialtone::plugins::view {

template <class View>
class ViewPlugin final : public sdk::Plugin {
 public:
  explicit ViewPlugin(sdk::Host& host) : host_(host) {}

  sdk::Status configure(const sdk::Options&) override { return {}; }

  sdk::Status start() override {
    auto view = std::make_shared<View>();
    instance_ = std::string(view->vendor());
    return host_.services().provide<sdk::PhoneView>(instance_, view);
  }

  void stop() override {
    if (!instance_.empty()) host_.services().withdraw<sdk::PhoneView>(instance_);
    instance_.clear();
  }

 private:
  sdk::Host& host_;
  std::string instance_;
};

inline constexpr sdk::OptionSpec kNoOptions[] = {{}};

}  // namespace dialtone::plugins::view
