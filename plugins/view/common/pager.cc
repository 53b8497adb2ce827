#include <dialtone/view/pager.h>

#include <algorithm>

namespace dialtone::plugins::view {
namespace {

class Layout {
 public:
  Layout(const PageTemplate& tmpl, const PageLimits& limits,
         const std::vector<sdk::PhoneEntry>& entries)
      : tmpl_(tmpl), limits_(limits), entries_(entries), items_(entries.size()),
        rendered_(entries.size(), false) {}

  const std::string& item(std::size_t i) {
    if (!rendered_[i]) {
      items_[i] = tmpl_.item(entries_[i]);
      rendered_[i] = true;
    }
    return items_[i];
  }

  // The largest page from `begin` that fits; never empty. Searching down from
  // the item limit finds it without assuming sizes grow with the page: the
  // last page drops its Next link and may fit where a shorter one did not.
  PageInfo fit(std::size_t begin, std::optional<std::size_t> prev) {
    const std::size_t n = entries_.size();
    const std::size_t most = std::min(limits_.max_items, n - begin);
    std::vector<std::size_t> prefix(most + 1, 0);
    for (std::size_t k = 1; k <= most; ++k) prefix[k] = prefix[k - 1] + item(begin + k - 1).size();
    for (std::size_t k = most; k >= 1; --k) {
      std::size_t end = begin + k;
      PageInfo info{begin, end, n, prev, end < n ? std::optional<std::size_t>(end) : std::nullopt};
      if (k + tmpl_.nav_items(info) > limits_.max_items) continue;
      if (prefix[k] > limits_.max_bytes) continue;  // the entries alone are too big
      std::size_t bytes = tmpl_.head(info).size() + prefix[k] + tmpl_.tail(info).size();
      if (bytes <= limits_.max_bytes) return info;
    }
    return {begin, begin + 1, n, prev,
            begin + 1 < n ? std::optional<std::size_t>(begin + 1) : std::nullopt};
  }

  std::string assemble(const PageInfo& info) {
    std::string body = tmpl_.head(info);
    for (std::size_t i = info.begin; i < info.end; ++i) body += item(i);
    body += tmpl_.tail(info);
    return body;
  }

 private:
  const PageTemplate& tmpl_;
  const PageLimits& limits_;
  const std::vector<sdk::PhoneEntry>& entries_;
  std::vector<std::string> items_;
  std::vector<bool> rendered_;
};

}  // namespace

RenderedPage render_page(const PageTemplate& tmpl, const PageLimits& limits,
                         const std::vector<sdk::PhoneEntry>& entries, std::size_t offset) {
  Layout layout(tmpl, limits, entries);
  std::optional<std::size_t> prev;
  std::size_t pos = 0;
  while (pos < offset) {
    PageInfo p = layout.fit(pos, prev);
    prev = pos;
    if (p.end > offset) break;
    pos = p.end;
  }
  PageInfo info = layout.fit(offset, prev);
  return {info, layout.assemble(info)};
}

}  // namespace dialtone::plugins::view
