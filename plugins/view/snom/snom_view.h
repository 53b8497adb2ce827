// snom XML minibrowser: SnomIPPhoneInput for the search form,
// SnomIPPhoneDirectory for results, SnomIPPhoneText when nothing matched.
#pragma once

#include <dialtone/directory.h>

#include "plugins/view/common/pager.h"

namespace dialtone::plugins::view {

class SnomView final : public sdk::PhoneView {
 public:
  // snom publishes no hard figures; these are conservative: 10000 bytes per
  // document, 32 entries, 32 characters per name and number.
  static constexpr PageLimits kLimits{10000, 32};
  static constexpr std::size_t kNameChars = 32;
  static constexpr std::size_t kNumberChars = 32;

  std::string_view vendor() const override { return "snom"; }
  sdk::PhoneViewPage render_input(const sdk::PhoneViewRequest& request) const override;
  sdk::PhoneViewPage render_results(const sdk::PhoneViewRequest& request,
                                    const std::vector<sdk::PhoneEntry>& entries) const override;
};

}  // namespace dialtone::plugins::view
