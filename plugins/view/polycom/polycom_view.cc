#include "plugins/view/polycom/polycom_view.h"

#include "plugins/view/common/page_text.h"
#include "plugins/view/common/text.h"

namespace dialtone::plugins::view {
namespace {

std::string html_head(std::string_view title) {
  std::string out(kXmlDeclaration);
  out += "<html xmlns=\"http://www.w3.org/1999/xhtml\">\n<head>\n";
  append_element(out, "title", title);
  out += "</head>\n<body>\n";
  return out;
}

constexpr std::string_view kHtmlEnd = "</body>\n</html>\n";

void link(std::string& out, std::string_view href, std::string_view text) {
  out += "<a href=\"";
  append_xml_escaped(out, href);
  out += "\">";
  append_xml_escaped(out, text);
  out += "</a>";
}

// Keeps what a dial string can hold; spaces and separators people type in
// directories are dropped so the phone dials the digits.
std::string dial_string(std::string_view number) {
  std::string out;
  for (char c : number) {
    bool keep = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                c == '+' || c == '*' || c == '#' || c == '@' || c == '.' || c == '_' || c == '-';
    if (keep) out += c;
  }
  return out;
}

class PolycomResults final : public PageTemplate {
 public:
  explicit PolycomResults(const sdk::PhoneViewRequest& r) : r_(r) {}

  std::string head(const PageInfo& page) const override {
    std::string out = html_head(kTitle);
    out += "<p>";
    append_xml_escaped(out, position_text(page));
    out += "</p>\n";
    return out;
  }

  std::string item(const sdk::PhoneEntry& e) const override {
    std::string number = display_text(e.number, PolycomView::kNumberChars);
    std::string name = display_text(e.name, PolycomView::kNameChars);
    std::string out;
    link(out, "tel://" + url_encode(dial_string(number)), name + " " + number);
    out += "<br/>\n";
    return out;
  }

  std::string tail(const PageInfo& page) const override {
    std::string out;
    if (page.prev || page.next) {
      out += "<p>";
      if (page.prev) link(out, page_url(r_.self_url, term_, *page.prev), kPrevious);
      if (page.prev && page.next) out += " ";
      if (page.next) link(out, page_url(r_.self_url, term_, *page.next), kNext);
      out += "</p>\n";
    }
    out += kHtmlEnd;
    return out;
  }

  std::size_t nav_items(const PageInfo& page) const override {
    return (page.prev ? 1 : 0) + (page.next ? 1 : 0);
  }

 private:
  const sdk::PhoneViewRequest& r_;
  std::string term_ = clean_utf8(r_.term);
};

}  // namespace

sdk::PhoneViewPage PolycomView::render_input(const sdk::PhoneViewRequest& request) const {
  std::string out = html_head(kTitle);
  out += "<form action=\"";
  append_xml_escaped(out, clean_utf8(request.self_url));
  out += "\" method=\"get\">\n<p>";
  append_xml_escaped(out, kInputPrompt);
  out += "</p>\n<input type=\"text\" name=\"term\" value=\"\"/>\n"
         "<input type=\"submit\" value=\"Search\"/>\n</form>\n";
  out += kHtmlEnd;
  return {std::string(kHtmlContentType), std::move(out)};
}

sdk::PhoneViewPage PolycomView::render_results(const sdk::PhoneViewRequest& request,
                                               const std::vector<sdk::PhoneEntry>& entries) const {
  if (request.offset >= entries.size()) {
    std::string out = html_head(kTitle);
    out += "<p>";
    append_xml_escaped(out, kNoEntries);
    out += "</p>\n";
    out += kHtmlEnd;
    return {std::string(kHtmlContentType), std::move(out)};
  }
  PolycomResults tmpl(request);
  return {std::string(kHtmlContentType), render_page(tmpl, kLimits, entries, request.offset).body};
}

}  // namespace dialtone::plugins::view
