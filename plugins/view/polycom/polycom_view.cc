// Polycom microbrowser: an XHTML form for the search, an XHTML list of
// tel:// links for results (paging links count as list items).
#include "plugins/view/polycom/polycom_view.h"

namespace dialtone::plugins::view {
namespace {

constexpr const char* kHtmlHead = R"(<?xml version="1.0" encoding="UTF-8"?>
<html xmlns="http://www.w3.org/1999/xhtml">
<head>
<title>{{title}}</title>
</head>
<body>
)";

}  // namespace

const ViewDescription& polycom_view() {
  static const ViewDescription d{
      .vendor = "polycom",
      .content_type = std::string(kHtmlContentType),
      .limits = {10000, 30},
      .nav_in_list = true,
      .input = std::string(kHtmlHead) + R"(<form action="{{self_url}}" method="get">
<p>{{prompt}}</p>
<input type="text" name="term" value=""/>
<input type="submit" value="Search"/>
</form>
</body>
</html>
)",
      .empty = std::string(kHtmlHead) + R"(<p>{{no_entries}}</p>
</body>
</html>
)",
      .head = std::string(kHtmlHead) + R"(<p>{{position}}</p>
)",
      .item = R"(<a href="tel://{{dial}}">{{name}} {{number}}</a><br/>
)",
      .tail = R"({{#has_nav}}<p>{{#prev}}<a href="{{url}}">{{previous}}</a>{{/prev}}{{#has_both}} {{/has_both}}{{#next}}<a href="{{url}}">{{next_label}}</a>{{/next}}</p>
{{/has_nav}}</body>
</html>
)",
  };
  return d;
}

}  // namespace dialtone::plugins::view
