// Wording shared by every vendor so phones of different brands read alike.
#pragma once

#include <string>

#include <dialtone/view/pager.h>

namespace dialtone::plugins::view {

inline constexpr const char* kTitle = "Directory";
inline constexpr const char* kInputPrompt = "Name or number";
inline constexpr const char* kNoEntries = "No entries";
inline constexpr const char* kNext = "Next";
inline constexpr const char* kPrevious = "Previous";

// "1-32 of 2000": where this page sits, for a Prompt or status line.
inline std::string position_text(const PageInfo& page) {
  return std::to_string(page.begin + 1) + "-" + std::to_string(page.end) + " of " +
         std::to_string(page.total);
}

}  // namespace dialtone::plugins::view
