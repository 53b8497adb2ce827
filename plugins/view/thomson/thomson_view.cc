#include "plugins/view/thomson/thomson_view.h"

#include "plugins/view/common/page_text.h"
#include "plugins/view/common/text.h"

namespace dialtone::plugins::view {
namespace {

void entry(std::string& out, std::string_view name, std::string_view number) {
  out += "<DirectoryEntry>\n";
  append_element(out, "Name", name);
  append_element(out, "Telephone", number);
  out += "</DirectoryEntry>\n";
}

void menu_item(std::string& out, std::string_view name, std::string_view url) {
  out += "<MenuItem>\n";
  append_element(out, "Name", name);
  append_element(out, "URL", url);
  out += "</MenuItem>\n";
}

std::string single_line_book(std::string_view text) {
  std::string out(kXmlDeclaration);
  out += "<ThomsonPhoneBook>\n";
  entry(out, text, "");
  out += "</ThomsonPhoneBook>\n";
  return out;
}

class ThomsonResults final : public PageTemplate {
 public:
  explicit ThomsonResults(const sdk::PhoneViewRequest& r) : r_(r) {}

  std::string head(const PageInfo&) const override {
    std::string out(kXmlDeclaration);
    out += "<ThomsonPhoneBook>\n";
    return out;
  }

  std::string item(const sdk::PhoneEntry& e) const override {
    std::string out;
    entry(out, display_text(e.name, ThomsonView::kNameChars),
          display_text(e.number, ThomsonView::kNumberChars));
    return out;
  }

  std::string tail(const PageInfo& page) const override {
    std::string out;
    if (page.prev) menu_item(out, kPrevious, page_url(r_.self_url, term_, *page.prev));
    if (page.next) menu_item(out, kNext, page_url(r_.self_url, term_, *page.next));
    out += "</ThomsonPhoneBook>\n";
    return out;
  }

 private:
  const sdk::PhoneViewRequest& r_;
  std::string term_ = clean_utf8(r_.term);
};

}  // namespace

sdk::PhoneViewPage ThomsonView::render_input(const sdk::PhoneViewRequest&) const {
  return {std::string(kXmlContentType), single_line_book("Enter a name to search")};
}

sdk::PhoneViewPage ThomsonView::render_results(const sdk::PhoneViewRequest& request,
                                               const std::vector<sdk::PhoneEntry>& entries) const {
  if (request.offset >= entries.size())
    return {std::string(kXmlContentType), single_line_book(kNoEntries)};
  ThomsonResults tmpl(request);
  return {std::string(kXmlContentType), render_page(tmpl, kLimits, entries, request.offset).body};
}

}  // namespace dialtone::plugins::view
