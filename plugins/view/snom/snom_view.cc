#include "plugins/view/snom/snom_view.h"

#include "plugins/view/common/page_text.h"
#include "plugins/view/common/text.h"

namespace dialtone::plugins::view {
namespace {

void soft_key(std::string& out, std::string_view key, std::string_view label,
              std::string_view url) {
  out += "<SoftKeyItem>\n";
  append_element(out, "Name", key);
  append_element(out, "Label", label);
  append_element(out, "URL", url);
  out += "</SoftKeyItem>\n";
}

class SnomResults final : public PageTemplate {
 public:
  explicit SnomResults(const sdk::PhoneViewRequest& r) : r_(r) {}

  std::string head(const PageInfo& page) const override {
    std::string out(kXmlDeclaration);
    out += "<SnomIPPhoneDirectory>\n";
    append_element(out, "Title", kTitle);
    append_element(out, "Prompt", position_text(page));
    return out;
  }

  std::string item(const sdk::PhoneEntry& e) const override {
    std::string out = "<DirectoryEntry>\n";
    append_element(out, "Name", display_text(e.name, SnomView::kNameChars));
    append_element(out, "Telephone", display_text(e.number, SnomView::kNumberChars));
    out += "</DirectoryEntry>\n";
    return out;
  }

  // Function keys F1..F4 sit under the display; Previous left, Next right.
  std::string tail(const PageInfo& page) const override {
    std::string out;
    if (page.prev) soft_key(out, "F1", kPrevious, page_url(r_.self_url, term_, *page.prev));
    if (page.next) soft_key(out, "F4", kNext, page_url(r_.self_url, term_, *page.next));
    out += "</SnomIPPhoneDirectory>\n";
    return out;
  }

 private:
  const sdk::PhoneViewRequest& r_;
  std::string term_ = clean_utf8(r_.term);
};

}  // namespace

sdk::PhoneViewPage SnomView::render_input(const sdk::PhoneViewRequest& request) const {
  std::string out(kXmlDeclaration);
  out += "<SnomIPPhoneInput>\n";
  append_element(out, "Title", kTitle);
  append_element(out, "Prompt", kInputPrompt);
  append_element(out, "URL", clean_utf8(request.self_url));
  out += "<InputItem>\n";
  append_element(out, "DisplayName", "Search");
  append_element(out, "QueryStringParam", "term");
  append_element(out, "DefaultValue", "");
  append_element(out, "InputFlags", "a");
  out += "</InputItem>\n</SnomIPPhoneInput>\n";
  return {std::string(kXmlContentType), std::move(out)};
}

sdk::PhoneViewPage SnomView::render_results(const sdk::PhoneViewRequest& request,
                                            const std::vector<sdk::PhoneEntry>& entries) const {
  if (request.offset >= entries.size()) {
    std::string out(kXmlDeclaration);
    out += "<SnomIPPhoneText>\n";
    append_element(out, "Title", kTitle);
    append_element(out, "Text", kNoEntries);
    out += "</SnomIPPhoneText>\n";
    return {std::string(kXmlContentType), std::move(out)};
  }
  SnomResults tmpl(request);
  return {std::string(kXmlContentType), render_page(tmpl, kLimits, entries, request.offset).body};
}

}  // namespace dialtone::plugins::view
