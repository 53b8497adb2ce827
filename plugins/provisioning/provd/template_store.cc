#include "plugins/provisioning/provd/template_store.h"

#include <functional>

#include <dialtone/files.h>
#include <dialtone/mustache.h>

namespace dialtone::plugins::provisioning {

namespace fs = std::filesystem;

TemplateStore::TemplateStore(fs::path root) : root_(std::move(root)) { signature_ = signature(); }

void TemplateStore::ensure_layout() const {
  std::error_code ec;
  for (auto* d : {"site", "vendor", "model", "device"}) fs::create_directories(root_ / d, ec);
}

std::uint64_t TemplateStore::signature() const {
  std::error_code ec;
  std::uint64_t h = 1469598103934665603ull;
  auto mix = [&h](std::uint64_t v) { h = (h ^ v) * 1099511628211ull; };
  if (!fs::exists(root_, ec)) return 0;
  for (auto it = fs::recursive_directory_iterator(root_, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    mix(std::hash<std::string>{}(it->path().string()));
    if (it->is_regular_file(ec)) {
      mix(static_cast<std::uint64_t>(it->last_write_time(ec).time_since_epoch().count()));
      mix(it->file_size(ec));
    }
  }
  return h;
}

bool TemplateStore::changed() {
  auto s = signature();
  std::lock_guard lock(mutex_);
  if (s == signature_) return false;
  signature_ = s;
  cache_.clear();
  return true;
}

std::optional<std::string> TemplateStore::read(const fs::path& p) {
  auto key = p.string();
  std::lock_guard lock(mutex_);
  auto it = cache_.find(key);
  if (it != cache_.end()) return it->second;
  auto v = sdk::read_file(p);
  cache_.emplace(key, v);
  return v;
}

namespace {
// Refuses names that would leave the template tree.
bool safe_segment(const std::string& s) {
  return !s.empty() && s != "." && s != ".." && s.find('/') == std::string::npos &&
         s.find('\\') == std::string::npos;
}
}  // namespace

std::optional<std::string> TemplateStore::find(const TemplateScope& s, const std::string& name,
                                               std::string* layer) {
  if (!safe_segment(name)) return std::nullopt;
  struct Candidate {
    bool usable;
    fs::path path;
    const char* layer;
  };
  const Candidate c[] = {
      {safe_segment(s.device_key), root_ / "device" / s.device_key / name, "device"},
      {safe_segment(s.vendor_id) && safe_segment(s.model),
       root_ / "model" / s.vendor_id / s.model / name, "model"},
      {safe_segment(s.vendor_id), root_ / "vendor" / s.vendor_id / name, "vendor"},
      {true, root_ / "site" / name, "site"},
  };
  for (auto& x : c) {
    if (!x.usable) continue;
    if (auto v = read(x.path)) {
      if (layer) *layer = x.layer;
      return v;
    }
  }
  return std::nullopt;
}

std::vector<std::string> TemplateStore::site_names() {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::directory_iterator(root_ / "site", ec); !ec && it != fs::end(it);
       it.increment(ec))
    if (it->is_regular_file(ec)) out.push_back(it->path().filename().string());
  return out;
}

MustacheRenderer::MustacheRenderer(TemplateStore& store, TemplateScope scope,
                                   std::vector<sdk::TemplateFile> bundled)
    : store_(store), scope_(std::move(scope)), bundled_(std::move(bundled)) {}

std::optional<std::string> MustacheRenderer::source(const std::string& name) const {
  if (auto v = store_.find(scope_, name)) return v;
  for (auto& t : bundled_)
    if (t.name == name) return t.content;
  return std::nullopt;
}

sdk::Result<std::string> MustacheRenderer::render(std::string_view name_view,
                                                  const sdk::TemplateData& context,
                                                  sdk::Escape escape) const {
  std::string name(name_view);
  auto src = source(name);
  if (!src) return sdk::Error::not_found("template '" + name + "' of " + scope_.vendor_id +
                                         " was not found (bundled or under " +
                                         store_.root().string() + ")");
  // Every bundled and site template is a partial: {{> name}}.
  std::vector<std::string> partials;
  for (auto& t : bundled_)
    if (t.name != name) partials.push_back(t.name);
  for (auto& s : store_.site_names())
    if (s != name) partials.push_back(s);
  return mustache::render(*src, context, escape, "template '" + name + "' of " + scope_.vendor_id,
                          partials, [this](const std::string& n) { return source(n); });
}

}  // namespace dialtone::plugins::provisioning
