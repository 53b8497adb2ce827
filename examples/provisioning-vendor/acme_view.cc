#include "acme_view.h"

// {{x}} is cleaned, cut to the field length and XML-escaped by the engine;
// the pager keeps each page under 4,000 bytes and 32 entries.
const dialtone::plugins::view::ViewDescription& acme_view() {
  static const dialtone::plugins::view::ViewDescription d{
      .vendor = "acme",  // the route's <vendor>: .../lookup/<profile>/acme
      .limits = {/*max_bytes=*/4000, /*max_items=*/32},
      .name_chars = 24,
      .number_chars = 20,
      .input = R"(<?xml version="1.0" encoding="UTF-8"?>
<AcmeInput url="{{self_url}}" param="term" prompt="{{prompt}}"/>
)",
      .empty = R"(<?xml version="1.0" encoding="UTF-8"?>
<AcmeText>{{no_entries}}</AcmeText>
)",
      .head = R"(<?xml version="1.0" encoding="UTF-8"?>
<AcmeBook title="{{title_position}}">
)",
      .item = R"(<Entry name="{{name}}" number="{{number}}"/>
)",
      .tail = R"({{#prev}}<Link label="{{previous}}" url="{{url}}"/>
{{/prev}}{{#next}}<Link label="{{next_label}}" url="{{url}}"/>
{{/next}}</AcmeBook>
)",
  };
  return d;
}
