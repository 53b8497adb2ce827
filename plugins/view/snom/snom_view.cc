// snom XML minibrowser: SnomIPPhoneInput for the search form,
// SnomIPPhoneDirectory for results, SnomIPPhoneText when nothing matched.
// Function keys F1..F4 sit under the display: Previous left, Next right.
#include "plugins/view/snom/snom_view.h"

namespace dialtone::plugins::view {

const ViewDescription& snom_view() {
  static const ViewDescription d{
      .vendor = "snom",
      .limits = {10000, 32},
      .input = ip_phone_input("SnomIPPhone", "a"),
      .empty = ip_phone_text("SnomIPPhone"),
      .head = ip_phone_directory_head("SnomIPPhone"),
      .item = kDirectoryEntryItem,
      .tail = R"({{#prev}}<SoftKeyItem>
<Name>F1</Name>
<Label>{{previous}}</Label>
<URL>{{url}}</URL>
</SoftKeyItem>
{{/prev}}{{#next}}<SoftKeyItem>
<Name>F4</Name>
<Label>{{next_label}}</Label>
<URL>{{url}}</URL>
</SoftKeyItem>
{{/next}}</SnomIPPhoneDirectory>
)",
  };
  return d;
}

}  // namespace dialtone::plugins::view
