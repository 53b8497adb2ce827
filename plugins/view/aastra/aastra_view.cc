// Aastra/Mitel XML API: AastraIPPhoneInputScreen for the search form,
// AastraIPPhoneTextMenu for results (Previous/Next are menu items, so paging
// works on phones without softkeys), AastraIPPhoneTextScreen when nothing
// matched. Selecting an entry dials it; off-hook dials it too through <Dial>.
#include "plugins/view/aastra/aastra_view.h"

namespace dialtone::plugins::view {

const ViewDescription& aastra_view() {
  static const ViewDescription d{
      .vendor = "aastra",
      .limits = {10000, 30},
      .nav_in_list = true,
      .input = R"(<?xml version="1.0" encoding="UTF-8"?>
<AastraIPPhoneInputScreen type="string" destroyOnExit="yes">
<Title>{{title}}</Title>
<Prompt>{{prompt}}</Prompt>
<URL>{{self_url}}</URL>
<Parameter>term</Parameter>
<Default></Default>
</AastraIPPhoneInputScreen>
)",
      .empty = R"(<?xml version="1.0" encoding="UTF-8"?>
<AastraIPPhoneTextScreen destroyOnExit="yes">
<Title>{{title}}</Title>
<Text>{{no_entries}}</Text>
</AastraIPPhoneTextScreen>
)",
      .head = R"(<?xml version="1.0" encoding="UTF-8"?>
<AastraIPPhoneTextMenu destroyOnExit="yes" style="none">
<Title>{{title_position}}</Title>
{{#prev}}<MenuItem>
<Prompt>&lt;&lt; {{previous}}</Prompt>
<URI>{{url}}</URI>
</MenuItem>
{{/prev}})",
      .item = R"(<MenuItem>
<Prompt>{{name}}</Prompt>
<URI>Dial:{{number}}</URI>
{{#has_number}}<Dial>{{number}}</Dial>
{{/has_number}}</MenuItem>
)",
      .tail = R"({{#next}}<MenuItem>
<Prompt>{{next_label}} &gt;&gt;</Prompt>
<URI>{{url}}</URI>
</MenuItem>
{{/next}}</AastraIPPhoneTextMenu>
)",
  };
  return d;
}

}  // namespace dialtone::plugins::view
