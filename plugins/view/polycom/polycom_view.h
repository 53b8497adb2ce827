// Polycom microbrowser: an XHTML form for the search, an XHTML list of
// tel:// links for results.
#pragma once

#include <dialtone/directory.h>

#include "plugins/view/common/pager.h"

namespace dialtone::plugins::view {

class PolycomView final : public sdk::PhoneView {
 public:
  // The microbrowser has no published item limit; pages are kept to 10000
  // bytes and 30 links, names and numbers to 32 characters.
  static constexpr PageLimits kLimits{10000, 30};
  static constexpr std::size_t kNameChars = 32;
  static constexpr std::size_t kNumberChars = 32;

  std::string_view vendor() const override { return "polycom"; }
  sdk::PhoneViewPage render_input(const sdk::PhoneViewRequest& request) const override;
  sdk::PhoneViewPage render_results(const sdk::PhoneViewRequest& request,
                                    const std::vector<sdk::PhoneEntry>& entries) const override;
};

}  // namespace dialtone::plugins::view
