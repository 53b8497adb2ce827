// Cisco IP Phone Services XML: CiscoIPPhoneInput for the search form,
// CiscoIPPhoneDirectory for results, CiscoIPPhoneText when nothing matched.
#pragma once

#include <dialtone/directory.h>

#include "plugins/view/common/pager.h"

namespace dialtone::plugins::view {

class CiscoView final : public sdk::PhoneView {
 public:
  // 79xx phones refuse documents over 4000 bytes; a CiscoIPPhoneDirectory
  // holds at most 32 DirectoryEntry items; Name, Telephone, Title and Prompt
  // are limited to 32 characters.
  static constexpr PageLimits kLimits{4000, 32};
  static constexpr std::size_t kNameChars = 32;
  static constexpr std::size_t kNumberChars = 32;
  static constexpr std::size_t kTitleChars = 32;

  std::string_view vendor() const override { return "cisco"; }
  sdk::PhoneViewPage render_input(const sdk::PhoneViewRequest& request) const override;
  sdk::PhoneViewPage render_results(const sdk::PhoneViewRequest& request,
                                    const std::vector<sdk::PhoneEntry>& entries) const override;
};

}  // namespace dialtone::plugins::view
