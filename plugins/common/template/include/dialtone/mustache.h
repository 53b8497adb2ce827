// The one template engine of provisioning files and phone views: mustache
// (kainjow) over sdk::TemplateData, with the escaping rules of sdk::Escape.
//
// @code
//   dialtone::sdk::TemplateData ctx;
//   ctx.set("name", "Alice & Bob");
//   auto out = dialtone::mustache::render("<n>{{name}}</n>", ctx, dialtone::sdk::Escape::xml);
//   // *out == "<n>Alice &amp; Bob</n>"
//
//   // A vendor's bundled templates, with each other as partials ({{> name}}):
//   dialtone::mustache::BundledRenderer r(vendor.templates());
//   auto files = vendor.files(config, r);
// @endcode
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <dialtone/provisioning.h>
#include <dialtone/result.h>

namespace dialtone::mustache {

// The source of a partial by name; nullopt: unknown (renders as nothing).
using PartialSource = std::function<std::optional<std::string>(const std::string& name)>;

// Renders `source`. `{{x}}` is escaped with `escape`, `{{{x}}}` never.
// `partial_names` are the names usable as {{> name}}, read through
// `partials` when used. `what` names the template in error messages.
// Error (invalid): a template that does not parse or render.
sdk::Result<std::string> render(std::string_view source, const sdk::TemplateData& context,
                                sdk::Escape escape, std::string_view what = "template",
                                const std::vector<std::string>& partial_names = {},
                                const PartialSource& partials = {});

// Escape::xml: & < > " ' become entities.
std::string escape_xml(std::string_view s);
// Escape::text: control characters become spaces, so a value cannot add a
// line (a key) to a `key = value` file.
std::string escape_text(std::string_view s);

// A template parsed once and rendered many times, e.g. a phone view's item
// for every entry of a page. Not for concurrent use: one per thread/request.
class Template {
 public:
  Template(std::string_view source, sdk::Escape escape);
  ~Template();
  Template(Template&&) noexcept;
  Template& operator=(Template&&) noexcept;
  // Empty when the template parses; otherwise why not.
  const std::string& error() const;
  // The rendered text; empty when the template is invalid.
  std::string render(const sdk::TemplateData& context) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Renders a fixed set of templates (a vendor's bundled ones, a view's) by
// name; every template is a partial of the others.
class BundledRenderer final : public sdk::TemplateRenderer {
 public:
  explicit BundledRenderer(std::vector<sdk::TemplateFile> templates);
  sdk::Result<std::string> render(std::string_view name, const sdk::TemplateData& context,
                                  sdk::Escape escape = sdk::Escape::text) const override;

 private:
  std::vector<sdk::TemplateFile> templates_;
  std::vector<std::string> names_;
};

}  // namespace dialtone::mustache
