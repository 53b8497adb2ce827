#include "plugins/view/cisco/cisco_view.h"

#include "plugins/view/common/page_text.h"
#include "plugins/view/common/text.h"

namespace dialtone::plugins::view {
namespace {

void element(std::string& out, std::string_view name, std::string_view clean) {
  append_element(out, name, clean);
}

void soft_key(std::string& out, const char* name, std::string_view url, int position) {
  out += "<SoftKeyItem>\n";
  element(out, "Name", name);
  element(out, "URL", url);
  element(out, "Position", std::to_string(position));
  out += "</SoftKeyItem>\n";
}

class CiscoResults final : public PageTemplate {
 public:
  explicit CiscoResults(const sdk::PhoneViewRequest& r) : r_(r) {}

  std::string head(const PageInfo& page) const override {
    std::string out(kXmlDeclaration);
    out += "<CiscoIPPhoneDirectory>\n";
    element(out, "Title", truncate_chars(kTitle, CiscoView::kTitleChars));
    element(out, "Prompt", truncate_chars(position_text(page), CiscoView::kTitleChars));
    return out;
  }

  std::string item(const sdk::PhoneEntry& e) const override {
    std::string out = "<DirectoryEntry>\n";
    element(out, "Name", display_text(e.name, CiscoView::kNameChars));
    element(out, "Telephone", display_text(e.number, CiscoView::kNumberChars));
    out += "</DirectoryEntry>\n";
    return out;
  }

  std::string tail(const PageInfo& page) const override {
    std::string out;
    int pos = 1;
    soft_key(out, "Dial", "SoftKey:Dial", pos++);
    soft_key(out, "EditDial", "SoftKey:EditDial", pos++);
    if (page.prev) soft_key(out, kPrevious, page_url(r_.self_url, term_, *page.prev), pos++);
    if (page.next) soft_key(out, kNext, page_url(r_.self_url, term_, *page.next), pos++);
    soft_key(out, "Exit", "SoftKey:Exit", pos++);
    out += "</CiscoIPPhoneDirectory>\n";
    return out;
  }

 private:
  const sdk::PhoneViewRequest& r_;
  std::string term_ = clean_utf8(r_.term);
};

}  // namespace

sdk::PhoneViewPage CiscoView::render_input(const sdk::PhoneViewRequest& request) const {
  std::string out(kXmlDeclaration);
  out += "<CiscoIPPhoneInput>\n";
  element(out, "Title", kTitle);
  element(out, "Prompt", kInputPrompt);
  element(out, "URL", clean_utf8(request.self_url));
  out += "<InputItem>\n";
  element(out, "DisplayName", "Search");
  element(out, "QueryStringParam", "term");
  element(out, "DefaultValue", "");
  element(out, "InputFlags", "A");
  out += "</InputItem>\n</CiscoIPPhoneInput>\n";
  return {std::string(kXmlContentType), std::move(out)};
}

sdk::PhoneViewPage CiscoView::render_results(const sdk::PhoneViewRequest& request,
                                             const std::vector<sdk::PhoneEntry>& entries) const {
  if (request.offset >= entries.size()) {
    std::string out(kXmlDeclaration);
    out += "<CiscoIPPhoneText>\n";
    element(out, "Title", kTitle);
    element(out, "Text", kNoEntries);
    out += "</CiscoIPPhoneText>\n";
    return {std::string(kXmlContentType), std::move(out)};
  }
  CiscoResults tmpl(request);
  return {std::string(kXmlContentType), render_page(tmpl, kLimits, entries, request.offset).body};
}

}  // namespace dialtone::plugins::view
