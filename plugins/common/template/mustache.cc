#include "dialtone/mustache.h"

#include <kainjow/mustache.hpp>

#include <dialtone/text.h>

namespace dialtone::mustache {
namespace {

kainjow::mustache::data to_mustache(const sdk::TemplateData& d) {
  using K = sdk::TemplateData::Kind;
  switch (d.kind()) {
    case K::text: return kainjow::mustache::data(d.text());
    case K::boolean: return kainjow::mustache::data(d.flag());
    case K::list: {
      kainjow::mustache::data l(kainjow::mustache::data::type::list);
      for (auto& i : d.items()) l.push_back(to_mustache(i));
      return l;
    }
    case K::object: {
      kainjow::mustache::data o;
      for (auto& [k, v] : d.fields()) o.set(k, to_mustache(v));
      return o;
    }
  }
  return {};
}

}  // namespace

std::string escape_xml(std::string_view s) { return sdk::text::xml_escape(s); }

std::string escape_text(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  return out;
}

sdk::Result<std::string> render(std::string_view source, const sdk::TemplateData& context,
                                sdk::Escape escape, std::string_view what,
                                const std::vector<std::string>& partial_names,
                                const PartialSource& partials) {
  kainjow::mustache::mustache tmpl{std::string(source)};
  if (!tmpl.is_valid())
    return sdk::Error::invalid(std::string(what) + " does not parse: " + tmpl.error_message());
  if (escape == sdk::Escape::xml)
    tmpl.set_custom_escape([](const std::string& s) { return escape_xml(s); });
  else
    tmpl.set_custom_escape([](const std::string& s) { return escape_text(s); });
  auto data = to_mustache(context);
  if (partials)
    for (auto& name : partial_names)
      data.set(name, kainjow::mustache::partial(
                         [&partials, name]() { return partials(name).value_or(std::string()); }));
  auto out = tmpl.render(data);
  if (!tmpl.is_valid())
    return sdk::Error::invalid(std::string(what) + " failed to render: " + tmpl.error_message());
  return out;
}

struct Template::Impl {
  mutable kainjow::mustache::mustache tmpl;
  std::string error;
  explicit Impl(std::string_view source) : tmpl(std::string(source)) {}
};

Template::Template(std::string_view source, sdk::Escape escape)
    : impl_(std::make_unique<Impl>(source)) {
  if (!impl_->tmpl.is_valid()) impl_->error = impl_->tmpl.error_message();
  if (escape == sdk::Escape::xml)
    impl_->tmpl.set_custom_escape([](const std::string& s) { return escape_xml(s); });
  else
    impl_->tmpl.set_custom_escape([](const std::string& s) { return escape_text(s); });
}

Template::~Template() = default;
Template::Template(Template&&) noexcept = default;
Template& Template::operator=(Template&&) noexcept = default;

const std::string& Template::error() const { return impl_->error; }

std::string Template::render(const sdk::TemplateData& context) const {
  if (!impl_->error.empty()) return {};
  return impl_->tmpl.render(to_mustache(context));
}

BundledRenderer::BundledRenderer(std::vector<sdk::TemplateFile> templates)
    : templates_(std::move(templates)) {
  for (auto& t : templates_) names_.push_back(t.name);
}

sdk::Result<std::string> BundledRenderer::render(std::string_view name,
                                                 const sdk::TemplateData& context,
                                                 sdk::Escape escape) const {
  auto source = [this](const std::string& n) -> std::optional<std::string> {
    for (auto& t : templates_)
      if (t.name == n) return t.content;
    return std::nullopt;
  };
  auto src = source(std::string(name));
  if (!src) return sdk::Error::not_found("template '" + std::string(name) + "' is not bundled");
  std::vector<std::string> others;
  for (auto& n : names_)
    if (n != name) others.push_back(n);
  return mustache::render(*src, context, escape, "template '" + std::string(name) + "'", others,
                          source);
}

}  // namespace dialtone::mustache
