// A phone directory view written as data: its limits and five mustache
// templates, rendered by one engine (DescribedView) with provisioning's
// template engine and XML escaping (dialtone/mustache.h).
//
// @code
//   const ViewDescription& acme_view() {
//     static const ViewDescription d{
//         .vendor = "acme", .limits = {4000, 32},
//         .input = "<Input url=\"{{self_url}}\" param=\"term\"/>\n",
//         .empty = "<Text>{{no_entries}}</Text>\n",
//         .head = "<Book title=\"{{title}}\">\n",
//         .item = "<Entry name=\"{{name}}\" number=\"{{number}}\"/>\n",
//         .tail = "{{#next}}<More url=\"{{url}}\"/>\n{{/next}}</Book>\n"};
//     return d;
//   }
//   // plugin.cc, the whole plugin:
//   DIALTONE_VIEW_PLUGIN(acme_view, "view.acme", "renders directory pages for Acme phones (AcmeBook)")
// @endcode
//
// Values are cleaned (valid UTF-8, no control characters), cut to the
// vendor's field limits and XML-escaped by {{x}}. The pager measures the
// rendered head + items + tail against `limits`.
//
// Keys: input and empty pages: title, prompt, no_entries, self_url.
// head and tail: the same plus position ("1-32 of 2000"), title_position
// ("Directory 1-32 of 2000"), previous and next (labels); prev and next
// (lists of zero or one {url, index}), has_nav, has_both, after_nav (the
// index following the paging links; indexes count from nav_first_index).
// item: name, number, dial (the number as a tel: URI part: digits and
// dial characters, percent-encoded), has_number.
//
// A section whose line may be skipped is written inline
// ("{{#next}}<Item>...\n{{/next}}</Book>"): the template engine keeps the
// line break of a skipped standalone section, and the bytes are measured.
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <dialtone/described_plugin.h>
#include <dialtone/directory.h>
#include <dialtone/host.h>
#include <dialtone/plugin.h>
#include <dialtone/services.h>
#include <dialtone/view/pager.h>
#include <dialtone/view/text.h>

namespace dialtone::plugins::view {

struct ViewDescription {
  std::string vendor{};  // the phoned route's <vendor>: "cisco"
  std::string content_type{kXmlContentType};
  PageLimits limits{10000, 30};
  std::size_t name_chars = 32;
  std::size_t number_chars = 32;
  std::size_t title_chars = 0;  // 0: Title and Prompt are not cut
  bool nav_in_list = false;     // Previous/Next links take list slots (limits.max_items)
  int nav_first_index = 1;      // {{index}} of the first paging link
  std::string input{}, empty{}, head{}, item{}, tail{};
};

// The result item of the IP Phone Services family of formats (Cisco,
// Yealink, snom, Thomson all read it).
inline constexpr const char* kDirectoryEntryItem = R"(<DirectoryEntry>
<Name>{{name}}</Name>
<Telephone>{{number}}</Telephone>
</DirectoryEntry>
)";

// The search form, the "nothing found" text and the directory head of the
// IP Phone Services XML that Cisco defined and snom copied: the same
// elements under the vendor's prefix ("CiscoIPPhone", "SnomIPPhone").
// input_flags is the search field's InputFlags: "A" (Cisco: ASCII), "a"
// (snom: lower-case first).
std::string ip_phone_input(std::string_view prefix, std::string_view input_flags);
std::string ip_phone_text(std::string_view prefix);
std::string ip_phone_directory_head(std::string_view prefix);

class DescribedView final : public sdk::PhoneView {
 public:
  explicit DescribedView(ViewDescription description);
  ~DescribedView() override;

  std::string_view vendor() const override { return d_.vendor; }
  sdk::PhoneViewPage render_input(const sdk::PhoneViewRequest& request) const override;
  sdk::PhoneViewPage render_results(const sdk::PhoneViewRequest& request,
                                    const std::vector<sdk::PhoneEntry>& entries) const override;
  const ViewDescription& description() const { return d_; }
  std::string_view service_instance() const { return d_.vendor; }  // provided under its vendor
  // Refuses a description whose templates do not parse, naming the template.
  static sdk::Status check(const ViewDescription& description);

  // The templates parsed once; a set is used by one request at a time.
  struct Compiled;

 private:
  std::unique_ptr<Compiled> acquire() const;
  void release(std::unique_ptr<Compiled> c) const;

  ViewDescription d_;
  mutable std::mutex mutex_;
  mutable std::vector<std::unique_ptr<Compiled>> idle_;
};

// The plugin providing one described view under its vendor name.
template <const ViewDescription& (*Describe)()>
using DescribedViewPlugin = sdk::DescribedPlugin<sdk::PhoneView, DescribedView, Describe>;

inline constexpr sdk::OptionSpec kNoViewOptions[] = {{}};

}  // namespace dialtone::plugins::view

// The manifest and entry points of a view plugin over the description
// returned by dialtone::plugins::view::<describe>() (no options).
#define DIALTONE_VIEW_PLUGIN(describe, id, summary)                                                      \
  namespace {                                                                                            \
  using DescribedViewPluginType = dialtone::plugins::view::DescribedViewPlugin<&dialtone::plugins::view::describe>; \
  }                                                                                                      \
  DIALTONE_PLUGIN(DescribedViewPluginType, id, "view", "0.1.0", summary, "", "",                         \
                  dialtone::plugins::view::kNoViewOptions)
