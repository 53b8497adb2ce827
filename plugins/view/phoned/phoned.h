// view.phoned: the phone-facing directory routes on the "phoned" listener.
// Phones hold no token, so the routes are public; the listener's subnets and
// phoned.authorized_subnets (checked again here) are what keep others out.
// Views are looked up by vendor on every request, so a view plugin loaded
// later is served without restarting this one.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include <dialtone/directory.h>
#include <dialtone/host.h>
#include <dialtone/http.h>
#include <dialtone/plugin.h>

#include "plugins/view/phoned/subnets.h"

namespace dialtone::plugins::view {

class PhonedPlugin final : public sdk::Plugin {
 public:
  static constexpr std::string_view kListener = "phoned";

  explicit PhonedPlugin(sdk::Host& host) : host_(host) {}

  sdk::Status configure(const sdk::Options& options) override;
  sdk::Status start() override;
  void stop() override;
  bool supports_reload() const override { return true; }
  sdk::Status reload(const sdk::Options& options) override { return configure(options); }

 private:
  // menu: Cisco's directory menu (one item opening the form); input: the form
  // route; a lookup route without a term shows the form too.
  enum class Page { menu, input, lookup };
  sdk::HttpResponse handle(const sdk::HttpRequest& request, Page page) const;
  struct Settings {
    SubnetList subnets;
    std::string public_url;
  };
  std::shared_ptr<const Settings> settings() const;
  // 404 listing the installed vendors; `why` replaces "Unknown phone vendor" when set.
  sdk::HttpResponse unknown_vendor(const std::string& vendor, const std::string& why) const;

  sdk::Host& host_;
  mutable std::mutex mutex_;
  std::shared_ptr<const Settings> settings_;
};

extern const sdk::OptionSpec kPhonedOptions[];

}  // namespace dialtone::plugins::view
