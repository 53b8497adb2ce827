// snom XML minibrowser: SnomIPPhoneInput for the search form,
// SnomIPPhoneDirectory for results, SnomIPPhoneText when nothing matched.
// Function keys F1..F4 sit under the display: Previous left, Next right.
#include "plugins/view/snom/snom_view.h"

namespace dialtone::plugins::view {

const ViewDescription& snom_view() {
  static const ViewDescription d{
      .vendor = "snom",
      .limits = {10000, 32},
      .input = R"(<?xml version="1.0" encoding="UTF-8"?>
<SnomIPPhoneInput>
<Title>{{title}}</Title>
<Prompt>{{prompt}}</Prompt>
<URL>{{self_url}}</URL>
<InputItem>
<DisplayName>Search</DisplayName>
<QueryStringParam>term</QueryStringParam>
<DefaultValue></DefaultValue>
<InputFlags>a</InputFlags>
</InputItem>
</SnomIPPhoneInput>
)",
      .empty = R"(<?xml version="1.0" encoding="UTF-8"?>
<SnomIPPhoneText>
<Title>{{title}}</Title>
<Text>{{no_entries}}</Text>
</SnomIPPhoneText>
)",
      .head = R"(<?xml version="1.0" encoding="UTF-8"?>
<SnomIPPhoneDirectory>
<Title>{{title}}</Title>
<Prompt>{{position}}</Prompt>
)",
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
