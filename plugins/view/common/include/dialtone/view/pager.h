// Splits a result list into pages that respect a vendor's limits, measured on
// the final bytes of the rendered document.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <dialtone/directory.h>

namespace dialtone::plugins::view {

struct PageLimits {
  std::size_t max_bytes;  // whole document, declaration included
  std::size_t max_items;  // list items, navigation items included (see nav_items)
};

// Where the page being rendered sits in the result list.
struct PageInfo {
  std::size_t begin = 0;  // first entry shown
  std::size_t end = 0;    // one past the last entry shown
  std::size_t total = 0;
  std::optional<std::size_t> prev;  // offset of the previous page
  std::optional<std::size_t> next;  // offset of the next page
};

// A vendor's document split into parts the pager can measure.
class PageTemplate {
 public:
  virtual ~PageTemplate() = default;
  // Everything before the first entry, and everything after the last one.
  virtual std::string head(const PageInfo& page) const = 0;
  virtual std::string tail(const PageInfo& page) const = 0;
  virtual std::string item(const sdk::PhoneEntry& entry) const = 0;
  // List slots the navigation uses (formats whose paging links are list items).
  virtual std::size_t nav_items(const PageInfo& page) const { return 0; }
};

struct RenderedPage {
  PageInfo info;
  std::string body;
};

// The page starting at `offset`: as many entries as fit, at least one. The
// previous-page offset is found by laying pages out from the first entry, so
// Previous and Next walk the same page boundaries. Requires offset < size.
RenderedPage render_page(const PageTemplate& tmpl, const PageLimits& limits,
                         const std::vector<sdk::PhoneEntry>& entries, std::size_t offset);

}  // namespace dialtone::plugins::view
