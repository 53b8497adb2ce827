// Thomson ST2022/ST2030 remote phone book: ThomsonPhoneBook with
// DirectoryEntry items and MenuItem links for paging. The phone prompts for
// the search term itself, so the input page only says so.
#pragma once

#include <dialtone/directory.h>

#include "plugins/view/common/pager.h"

namespace dialtone::plugins::view {

class ThomsonView final : public sdk::PhoneView {
 public:
  // Conservative figures for the ST20xx phone book: 4000 bytes, 32 entries,
  // 32 characters per name and number.
  static constexpr PageLimits kLimits{4000, 32};
  static constexpr std::size_t kNameChars = 32;
  static constexpr std::size_t kNumberChars = 32;

  std::string_view vendor() const override { return "thomson"; }
  sdk::PhoneViewPage render_input(const sdk::PhoneViewRequest& request) const override;
  sdk::PhoneViewPage render_results(const sdk::PhoneViewRequest& request,
                                    const std::vector<sdk::PhoneEntry>& entries) const override;
};

}  // namespace dialtone::plugins::view
