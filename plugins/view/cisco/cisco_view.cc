// Cisco IP Phone Services XML: CiscoIPPhoneInput for the search form,
// CiscoIPPhoneDirectory for results, CiscoIPPhoneText when nothing matched.
// 79xx phones refuse documents over 4000 bytes; a CiscoIPPhoneDirectory
// holds at most 32 DirectoryEntry items; Name, Telephone, Title and Prompt
// are limited to 32 characters.
#include "plugins/view/cisco/cisco_view.h"

namespace dialtone::plugins::view {

const ViewDescription& cisco_view() {
  static const ViewDescription d{
      .vendor = "cisco",
      .limits = {4000, 32},
      .title_chars = 32,
      .nav_first_index = 3,
      .input = ip_phone_input("CiscoIPPhone", "A"),
      .empty = ip_phone_text("CiscoIPPhone"),
      .head = ip_phone_directory_head("CiscoIPPhone"),
      .item = kDirectoryEntryItem,
      .tail = R"(<SoftKeyItem>
<Name>Dial</Name>
<URL>SoftKey:Dial</URL>
<Position>1</Position>
</SoftKeyItem>
<SoftKeyItem>
<Name>EditDial</Name>
<URL>SoftKey:EditDial</URL>
<Position>2</Position>
</SoftKeyItem>
{{#prev}}<SoftKeyItem>
<Name>{{previous}}</Name>
<URL>{{url}}</URL>
<Position>{{index}}</Position>
</SoftKeyItem>
{{/prev}}{{#next}}<SoftKeyItem>
<Name>{{next_label}}</Name>
<URL>{{url}}</URL>
<Position>{{index}}</Position>
</SoftKeyItem>
{{/next}}<SoftKeyItem>
<Name>Exit</Name>
<URL>SoftKey:Exit</URL>
<Position>{{after_nav}}</Position>
</SoftKeyItem>
</CiscoIPPhoneDirectory>
)",
  };
  return d;
}

}  // namespace dialtone::plugins::view
