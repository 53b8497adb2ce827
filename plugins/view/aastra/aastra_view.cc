#include "plugins/view/aastra/aastra_view.h"

#include "plugins/view/common/page_text.h"
#include "plugins/view/common/text.h"

namespace dialtone::plugins::view {
namespace {

void menu_item(std::string& out, std::string_view prompt, std::string_view uri,
               std::string_view dial = {}) {
  out += "<MenuItem>\n";
  append_element(out, "Prompt", prompt);
  append_element(out, "URI", uri);
  if (!dial.empty()) append_element(out, "Dial", dial);
  out += "</MenuItem>\n";
}

class AastraResults final : public PageTemplate {
 public:
  explicit AastraResults(const sdk::PhoneViewRequest& r) : r_(r) {}

  std::string head(const PageInfo& page) const override {
    std::string out(kXmlDeclaration);
    out += "<AastraIPPhoneTextMenu destroyOnExit=\"yes\" style=\"none\">\n";
    append_element(out, "Title", std::string(kTitle) + " " + position_text(page));
    if (page.prev)
      menu_item(out, std::string("<< ") + kPrevious, page_url(r_.self_url, term_, *page.prev));
    return out;
  }

  // Selecting an entry dials it; off-hook dials it too through <Dial>.
  std::string item(const sdk::PhoneEntry& e) const override {
    std::string number = display_text(e.number, AastraView::kNumberChars);
    std::string out;
    menu_item(out, display_text(e.name, AastraView::kNameChars), "Dial:" + number, number);
    return out;
  }

  std::string tail(const PageInfo& page) const override {
    std::string out;
    if (page.next)
      menu_item(out, std::string(kNext) + " >>", page_url(r_.self_url, term_, *page.next));
    out += "</AastraIPPhoneTextMenu>\n";
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

sdk::PhoneViewPage AastraView::render_input(const sdk::PhoneViewRequest& request) const {
  std::string out(kXmlDeclaration);
  out += "<AastraIPPhoneInputScreen type=\"string\" destroyOnExit=\"yes\">\n";
  append_element(out, "Title", kTitle);
  append_element(out, "Prompt", kInputPrompt);
  append_element(out, "URL", clean_utf8(request.self_url));
  append_element(out, "Parameter", "term");
  append_element(out, "Default", "");
  out += "</AastraIPPhoneInputScreen>\n";
  return {std::string(kXmlContentType), std::move(out)};
}

sdk::PhoneViewPage AastraView::render_results(const sdk::PhoneViewRequest& request,
                                              const std::vector<sdk::PhoneEntry>& entries) const {
  if (request.offset >= entries.size()) {
    std::string out(kXmlDeclaration);
    out += "<AastraIPPhoneTextScreen destroyOnExit=\"yes\">\n";
    append_element(out, "Title", kTitle);
    append_element(out, "Text", kNoEntries);
    out += "</AastraIPPhoneTextScreen>\n";
    return {std::string(kXmlContentType), std::move(out)};
  }
  AastraResults tmpl(request);
  return {std::string(kXmlContentType), render_page(tmpl, kLimits, entries, request.offset).body};
}

}  // namespace dialtone::plugins::view
