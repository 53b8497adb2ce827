// Yealink XML browser: YealinkIPPhoneInputScreen for the search form,
// YealinkIPPhoneDirectory for results, YealinkIPPhoneTextScreen when nothing
// matched. The remote phone book (provisioning's remote_phonebook.data.1.url)
// is the lookup route with term=#SEARCH: the phone asks for the term itself.
#include "plugins/view/yealink/yealink_view.h"

namespace dialtone::plugins::view {

const ViewDescription& yealink_view() {
  static const ViewDescription d{
      .vendor = "yealink",
      .limits = {10000, 30},
      .nav_first_index = 2,
      .input = R"(<?xml version="1.0" encoding="UTF-8"?>
<YealinkIPPhoneInputScreen type="string" destroyOnExit="yes">
<Title>{{title}}</Title>
<URL>{{self_url}}</URL>
<InputField type="string">
<Prompt>{{prompt}}</Prompt>
<Parameter>term</Parameter>
<Default></Default>
</InputField>
</YealinkIPPhoneInputScreen>
)",
      .empty = R"(<?xml version="1.0" encoding="UTF-8"?>
<YealinkIPPhoneTextScreen destroyOnExit="yes">
<Title>{{title}}</Title>
<Text>{{no_entries}}</Text>
</YealinkIPPhoneTextScreen>
)",
      .head = R"(<?xml version="1.0" encoding="UTF-8"?>
<YealinkIPPhoneDirectory>
<Title>{{title_position}}</Title>
)",
      .item = kDirectoryEntryItem,
      .tail = R"(<SoftKey index="1">
<Label>Dial</Label>
<URI>SoftKey:Dial</URI>
</SoftKey>
{{#prev}}<SoftKey index="{{index}}">
<Label>{{previous}}</Label>
<URI>{{url}}</URI>
</SoftKey>
{{/prev}}{{#next}}<SoftKey index="{{index}}">
<Label>{{next_label}}</Label>
<URI>{{url}}</URI>
</SoftKey>
{{/next}}<SoftKey index="{{after_nav}}">
<Label>Exit</Label>
<URI>SoftKey:Exit</URI>
</SoftKey>
</YealinkIPPhoneDirectory>
)",
  };
  return d;
}

}  // namespace dialtone::plugins::view
