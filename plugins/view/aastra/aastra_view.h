// Aastra/Mitel XML API: AastraIPPhoneInputScreen for the search form,
// AastraIPPhoneTextMenu for results (Previous/Next are menu items, so paging
// works on phones without softkeys), AastraIPPhoneTextScreen when nothing matched.
#pragma once

#include <dialtone/directory.h>

#include "plugins/view/common/pager.h"

namespace dialtone::plugins::view {

class AastraView final : public sdk::PhoneView {
 public:
  // An XML object may not exceed 10000 bytes; a TextMenu holds at most 30
  // MenuItems, navigation items included. Prompts are cut to 32 characters.
  static constexpr PageLimits kLimits{10000, 30};
  static constexpr std::size_t kNameChars = 32;
  static constexpr std::size_t kNumberChars = 32;

  std::string_view vendor() const override { return "aastra"; }
  sdk::PhoneViewPage render_input(const sdk::PhoneViewRequest& request) const override;
  sdk::PhoneViewPage render_results(const sdk::PhoneViewRequest& request,
                                    const std::vector<sdk::PhoneEntry>& entries) const override;
};

}  // namespace dialtone::plugins::view
