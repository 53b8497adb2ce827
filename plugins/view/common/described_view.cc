#include "plugins/view/common/described_view.h"

#include <dialtone/mustache.h>

#include "plugins/view/common/page_text.h"

namespace dialtone::plugins::view {
namespace {

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

sdk::TemplateData base_context(const sdk::PhoneViewRequest& r) {
  sdk::TemplateData ctx;
  ctx.set("title", kTitle).set("prompt", kInputPrompt).set("no_entries", kNoEntries);
  ctx.set("previous", kPrevious).set("next_label", kNext);
  ctx.set("self_url", clean_utf8(r.self_url));
  return ctx;
}

class Pages final : public PageTemplate {
 public:
  Pages(const ViewDescription& d, const sdk::PhoneViewRequest& r)
      : d_(d), r_(r), head_(d.head, sdk::Escape::xml), item_(d.item, sdk::Escape::xml),
        tail_(d.tail, sdk::Escape::xml) {}

  std::string head(const PageInfo& page) const override { return head_.render(page_context(page)); }
  std::string tail(const PageInfo& page) const override { return tail_.render(page_context(page)); }

  std::string item(const sdk::PhoneEntry& e) const override {
    sdk::TemplateData ctx;
    auto number = display_text(e.number, d_.number_chars);
    ctx.set("name", display_text(e.name, d_.name_chars)).set("dial", url_encode(dial_string(number)));
    ctx.set("has_number", sdk::TemplateData::boolean(!number.empty()));
    ctx.set("number", std::move(number));
    return item_.render(ctx);
  }

  std::size_t nav_items(const PageInfo& page) const override {
    return d_.nav_in_list ? (page.prev ? 1 : 0) + (page.next ? 1 : 0) : 0;
  }

 private:
  sdk::TemplateData page_context(const PageInfo& page) const {
    auto ctx = base_context(r_);
    auto position = position_text(page);
    if (d_.title_chars) {
      ctx.set("title", truncate_chars(kTitle, d_.title_chars));
      position = truncate_chars(position, d_.title_chars);
    }
    ctx.set("title_position", std::string(kTitle) + " " + position).set("position", position);
    int index = d_.nav_first_index;
    auto link = [&](std::optional<std::size_t> offset) {
      auto l = sdk::TemplateData::list();
      if (offset) {
        sdk::TemplateData x;
        x.set("url", page_url(r_.self_url, term_, *offset)).set("index", index++);
        l.push(std::move(x));
      }
      return l;
    };
    ctx.set("prev", link(page.prev));
    ctx.set("next", link(page.next));
    ctx.set("has_nav", sdk::TemplateData::boolean(page.prev || page.next));
    ctx.set("has_both", sdk::TemplateData::boolean(page.prev && page.next));
    ctx.set("after_nav", index);
    return ctx;
  }

  const ViewDescription& d_;
  const sdk::PhoneViewRequest& r_;
  std::string term_ = clean_utf8(r_.term);
  mustache::Template head_, item_, tail_;
};

}  // namespace

sdk::PhoneViewPage DescribedView::render_input(const sdk::PhoneViewRequest& request) const {
  mustache::Template t(d_.input, sdk::Escape::xml);
  return {d_.content_type, t.render(base_context(request))};
}

sdk::PhoneViewPage DescribedView::render_results(const sdk::PhoneViewRequest& request,
                                                 const std::vector<sdk::PhoneEntry>& entries) const {
  if (request.offset >= entries.size()) {
    mustache::Template t(d_.empty, sdk::Escape::xml);
    return {d_.content_type, t.render(base_context(request))};
  }
  Pages pages(d_, request);
  return {d_.content_type, render_page(pages, d_.limits, entries, request.offset).body};
}

}  // namespace dialtone::plugins::view
