// Helpers shared by the vendor plugins: User-Agent parsing, time zones in
// the forms phones expect, and the plugin wrapper that provides
// one sdk::ProvisioningVendor.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <dialtone/host.h>
#include <dialtone/plugin.h>
#include <dialtone/provisioning.h>
#include <dialtone/services.h>

namespace dialtone::plugins::provisioning {

// Case-insensitive search; npos if absent.
std::size_t ifind(std::string_view haystack, std::string_view needle, std::size_t from = 0);
bool istarts_with(std::string_view s, std::string_view prefix);
// The token following `after` up to a space, '/', ';' or ')' (empty if absent).
std::string token_after(std::string_view s, std::string_view after);
// The last path component ("a/b/c.cfg" -> "c.cfg").
std::string_view basename(std::string_view path);

// UTC offset in minutes of an IANA zone (standard time); nullopt if unknown.
std::optional<int> utc_offset_minutes(std::string_view iana);
// "+01:00" / "-05:00" style, "GMT+1" style.
std::string utc_offset_hhmm(int minutes);

// A model from `models` whose name equals `name` ignoring case; its canonical
// spelling, or `name` unchanged when unknown.
std::string canonical_model(const std::vector<sdk::ModelInfo>& models, std::string_view name);
const sdk::ModelInfo* find_model(const std::vector<sdk::ModelInfo>& models, std::string_view name);


// Provides one vendor under its plugin id.
template <class Vendor>
class VendorPlugin final : public sdk::Plugin {
 public:
  explicit VendorPlugin(sdk::Host& host) : host_(host) {}
  sdk::Status configure(const sdk::Options&) override { return {}; }
  sdk::Status start() override {
    auto v = std::make_shared<Vendor>();
    instance_ = std::string(v->id());
    return host_.services().provide<sdk::ProvisioningVendor>(instance_, v);
  }
  void stop() override {
    if (!instance_.empty()) host_.services().withdraw<sdk::ProvisioningVendor>(instance_);
    instance_.clear();
  }

 private:
  sdk::Host& host_;
  std::string instance_;
};

inline constexpr sdk::OptionSpec kNoOptions[] = {{}};

}  // namespace dialtone::plugins::provisioning
