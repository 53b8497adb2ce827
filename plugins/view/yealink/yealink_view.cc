#include "plugins/view/yealink/yealink_view.h"

#include "plugins/view/common/page_text.h"
#include "plugins/view/common/text.h"

namespace dialtone::plugins::view {
namespace {

void soft_key(std::string& out, int index, std::string_view label, std::string_view uri) {
  out += "<SoftKey index=\"" + std::to_string(index) + "\">\n";
  append_element(out, "Label", label);
  append_element(out, "URI", uri);
  out += "</SoftKey>\n";
}

class YealinkResults final : public PageTemplate {
 public:
  explicit YealinkResults(const sdk::PhoneViewRequest& r) : r_(r) {}

  std::string head(const PageInfo& page) const override {
    std::string out(kXmlDeclaration);
    out += "<YealinkIPPhoneDirectory>\n";
    append_element(out, "Title", std::string(kTitle) + " " + position_text(page));
    return out;
  }

  std::string item(const sdk::PhoneEntry& e) const override {
    std::string out = "<DirectoryEntry>\n";
    append_element(out, "Name", display_text(e.name, YealinkView::kNameChars));
    append_element(out, "Telephone", display_text(e.number, YealinkView::kNumberChars));
    out += "</DirectoryEntry>\n";
    return out;
  }

  std::string tail(const PageInfo& page) const override {
    std::string out;
    int index = 1;
    soft_key(out, index++, "Dial", "SoftKey:Dial");
    if (page.prev) soft_key(out, index++, kPrevious, page_url(r_.self_url, term_, *page.prev));
    if (page.next) soft_key(out, index++, kNext, page_url(r_.self_url, term_, *page.next));
    soft_key(out, index++, "Exit", "SoftKey:Exit");
    out += "</YealinkIPPhoneDirectory>\n";
    return out;
  }

 private:
  const sdk::PhoneViewRequest& r_;
  std::string term_ = clean_utf8(r_.term);
};

}  // namespace

sdk::PhoneViewPage YealinkView::render_input(const sdk::PhoneViewRequest& request) const {
  std::string out(kXmlDeclaration);
  out += "<YealinkIPPhoneInputScreen type=\"string\" destroyOnExit=\"yes\">\n";
  append_element(out, "Title", kTitle);
  append_element(out, "URL", clean_utf8(request.self_url));
  out += "<InputField type=\"string\">\n";
  append_element(out, "Prompt", kInputPrompt);
  append_element(out, "Parameter", "term");
  append_element(out, "Default", "");
  out += "</InputField>\n</YealinkIPPhoneInputScreen>\n";
  return {std::string(kXmlContentType), std::move(out)};
}

sdk::PhoneViewPage YealinkView::render_results(const sdk::PhoneViewRequest& request,
                                               const std::vector<sdk::PhoneEntry>& entries) const {
  if (request.offset >= entries.size()) {
    std::string out(kXmlDeclaration);
    out += "<YealinkIPPhoneTextScreen destroyOnExit=\"yes\">\n";
    append_element(out, "Title", kTitle);
    append_element(out, "Text", kNoEntries);
    out += "</YealinkIPPhoneTextScreen>\n";
    return {std::string(kXmlContentType), std::move(out)};
  }
  YealinkResults tmpl(request);
  return {std::string(kXmlContentType), render_page(tmpl, kLimits, entries, request.offset).body};
}

}  // namespace dialtone::plugins::view
