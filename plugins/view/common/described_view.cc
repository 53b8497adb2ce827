#include <dialtone/view/described_view.h>

#include <map>
#include <optional>
#include <tuple>

#include <dialtone/mustache.h>
#include <dialtone/url.h>

#include "plugins/view/common/page_text.h"

namespace dialtone::plugins::view {

std::string ip_phone_input(std::string_view prefix, std::string_view input_flags) {
  std::string root = std::string(prefix) + "Input";
  return R"(<?xml version="1.0" encoding="UTF-8"?>
<)" + root + R"(>
<Title>{{title}}</Title>
<Prompt>{{prompt}}</Prompt>
<URL>{{self_url}}</URL>
<InputItem>
<DisplayName>Search</DisplayName>
<QueryStringParam>term</QueryStringParam>
<DefaultValue></DefaultValue>
<InputFlags>)" + std::string(input_flags) + R"(</InputFlags>
</InputItem>
</)" + root + ">\n";
}

std::string ip_phone_text(std::string_view prefix) {
  std::string root = std::string(prefix) + "Text";
  return R"(<?xml version="1.0" encoding="UTF-8"?>
<)" + root + R"(>
<Title>{{title}}</Title>
<Text>{{no_entries}}</Text>
</)" + root + ">\n";
}

std::string ip_phone_directory_head(std::string_view prefix) {
  return R"(<?xml version="1.0" encoding="UTF-8"?>
<)" + std::string(prefix) + R"(Directory>
<Title>{{title}}</Title>
<Prompt>{{position}}</Prompt>
)";
}
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

sdk::TemplateData base_context(std::string self_url) {
  sdk::TemplateData ctx;
  ctx.set("title", kTitle).set("prompt", kInputPrompt).set("no_entries", kNoEntries);
  ctx.set("previous", kPrevious).set("next_label", kNext);
  ctx.set("self_url", std::move(self_url));
  return ctx;
}

class Pages final : public PageTemplate {
 public:
  Pages(const ViewDescription& d, const sdk::PhoneViewRequest& r, const mustache::Template& head,
        const mustache::Template& item, const mustache::Template& tail)
      : d_(d), r_(r), head_(head), item_(item), tail_(tail) {}

  // The pager asks for the same page's parts more than once (laying out,
  // then assembling): each is rendered once.
  std::string head(const PageInfo& page) const override { return part(heads_, head_, page); }
  std::string tail(const PageInfo& page) const override { return part(tails_, tail_, page); }

  std::string item(const sdk::PhoneEntry& e) const override {
    sdk::TemplateData ctx;
    auto number = display_text(e.number, d_.number_chars);
    ctx.set("name", display_text(e.name, d_.name_chars)).set("dial", sdk::percent_encode(dial_string(number)));
    ctx.set("has_number", sdk::TemplateData::boolean(!number.empty()));
    ctx.set("number", std::move(number));
    return item_.render(ctx);
  }

  std::size_t nav_items(const PageInfo& page) const override {
    return d_.nav_in_list ? (page.prev ? 1 : 0) + (page.next ? 1 : 0) : 0;
  }

 private:
  using Key = std::tuple<std::size_t, std::size_t, std::optional<std::size_t>, std::optional<std::size_t>>;

  std::string part(std::map<Key, std::string>& cache, const mustache::Template& t,
                   const PageInfo& page) const {
    Key key{page.begin, page.end, page.prev, page.next};
    auto it = cache.find(key);
    if (it == cache.end()) it = cache.emplace(key, t.render(page_context(page))).first;
    return it->second;
  }

  sdk::TemplateData page_context(const PageInfo& page) const {
    auto ctx = base_context(self_url_);
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
  std::string self_url_ = clean_utf8(r_.self_url);
  const mustache::Template &head_, &item_, &tail_;
  mutable std::map<Key, std::string> heads_, tails_;
};

}  // namespace

// kainjow's render is not const: a parsed set serves one request at a time
// and goes back to the pool, so parsing happens once per concurrent request.
struct DescribedView::Compiled {
  explicit Compiled(const ViewDescription& d)
      : input(d.input, sdk::Escape::xml), empty(d.empty, sdk::Escape::xml),
        head(d.head, sdk::Escape::xml), item(d.item, sdk::Escape::xml),
        tail(d.tail, sdk::Escape::xml) {}
  mustache::Template input, empty, head, item, tail;
};

DescribedView::DescribedView(ViewDescription description) : d_(std::move(description)) {}
DescribedView::~DescribedView() = default;

sdk::Status DescribedView::check(const ViewDescription& d) {
  const std::pair<const char*, const std::string*> parts[] = {
      {"input", &d.input}, {"empty", &d.empty}, {"head", &d.head}, {"item", &d.item},
      {"tail", &d.tail}};
  for (auto& [name, source] : parts) {
    mustache::Template t(*source, sdk::Escape::xml);
    if (!t.error().empty())
      return sdk::Error::invalid("view " + d.vendor + ": template '" + name +
                                 "' does not parse: " + t.error() + "; fix the view description");
  }
  return {};
}

std::unique_ptr<DescribedView::Compiled> DescribedView::acquire() const {
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return c;
    }
  }
  return std::make_unique<Compiled>(d_);
}

void DescribedView::release(std::unique_ptr<Compiled> c) const {
  std::lock_guard lock(mutex_);
  idle_.push_back(std::move(c));
}

sdk::PhoneViewPage DescribedView::render_input(const sdk::PhoneViewRequest& request) const {
  auto c = acquire();
  sdk::PhoneViewPage page{d_.content_type, c->input.render(base_context(clean_utf8(request.self_url)))};
  release(std::move(c));
  return page;
}

sdk::PhoneViewPage DescribedView::render_results(const sdk::PhoneViewRequest& request,
                                                 const std::vector<sdk::PhoneEntry>& entries) const {
  auto c = acquire();
  sdk::PhoneViewPage page{d_.content_type, {}};
  if (request.offset >= entries.size()) {
    page.body = c->empty.render(base_context(clean_utf8(request.self_url)));
  } else {
    Pages pages(d_, request, c->head, c->item, c->tail);
    page.body = render_page(pages, d_.limits, entries, request.offset).body;
  }
  release(std::move(c));
  return page;
}

}  // namespace dialtone::plugins::view
