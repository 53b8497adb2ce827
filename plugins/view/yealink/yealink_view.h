// Yealink XML browser: YealinkIPPhoneInputScreen for the search form,
// YealinkIPPhoneDirectory for results, YealinkIPPhoneTextScreen when nothing matched.
#pragma once

#include <dialtone/directory.h>

#include "plugins/view/common/pager.h"

namespace dialtone::plugins::view {

class YealinkView final : public sdk::PhoneView {
 public:
  // An XML object may not exceed 10000 bytes; a list object holds at most 30
  // items. Names and numbers are cut to 32 characters (one display line).
  static constexpr PageLimits kLimits{10000, 30};
  static constexpr std::size_t kNameChars = 32;
  static constexpr std::size_t kNumberChars = 32;

  std::string_view vendor() const override { return "yealink"; }
  sdk::PhoneViewPage render_input(const sdk::PhoneViewRequest& request) const override;
  sdk::PhoneViewPage render_results(const sdk::PhoneViewRequest& request,
                                    const std::vector<sdk::PhoneEntry>& entries) const override;
};

}  // namespace dialtone::plugins::view
