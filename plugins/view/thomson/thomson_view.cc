// Thomson ST2022/ST2030 remote phone book: ThomsonPhoneBook with
// DirectoryEntry items and MenuItem links for paging. The phone prompts for
// the search term itself (its Phonebook1_url is the lookup route with
// term=#SEARCH), so the input page only says so.
#include "plugins/view/thomson/thomson_view.h"

namespace dialtone::plugins::view {

const ViewDescription& thomson_view() {
  static const ViewDescription d{
      .vendor = "thomson",
      .limits = {4000, 32},
      .input = R"(<?xml version="1.0" encoding="UTF-8"?>
<ThomsonPhoneBook>
<DirectoryEntry>
<Name>Enter a name to search</Name>
<Telephone></Telephone>
</DirectoryEntry>
</ThomsonPhoneBook>
)",
      .empty = R"(<?xml version="1.0" encoding="UTF-8"?>
<ThomsonPhoneBook>
<DirectoryEntry>
<Name>{{no_entries}}</Name>
<Telephone></Telephone>
</DirectoryEntry>
</ThomsonPhoneBook>
)",
      .head = R"(<?xml version="1.0" encoding="UTF-8"?>
<ThomsonPhoneBook>
)",
      .item = kDirectoryEntryItem,
      .tail = R"({{#prev}}<MenuItem>
<Name>{{previous}}</Name>
<URL>{{url}}</URL>
</MenuItem>
{{/prev}}{{#next}}<MenuItem>
<Name>{{next_label}}</Name>
<URL>{{url}}</URL>
</MenuItem>
{{/next}}</ThomsonPhoneBook>
)",
  };
  return d;
}

}  // namespace dialtone::plugins::view
