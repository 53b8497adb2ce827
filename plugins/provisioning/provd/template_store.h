// The admin's template overrides under provd's data directory, layered from
// the most specific to the least:
//   device/<mac or device id>/<name> -> model/<vendor id>/<model>/<name>
//   -> vendor/<vendor id>/<name> -> site/<name> -> the vendor's bundled template.
// They live outside every vendor plugin's folder, so they survive a plugin
// upgrade or uninstall.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <dialtone/provisioning.h>

namespace dialtone::plugins::provisioning {

struct TemplateScope {
  std::string vendor_id;  // "provisioning.yealink"
  std::string model;
  std::string device_key;  // mac without colons, or the device id
};

class TemplateStore {
 public:
  explicit TemplateStore(std::filesystem::path root);

  const std::filesystem::path& root() const { return root_; }
  // Creates the layer folders so the admin sees where overrides go.
  void ensure_layout() const;

  // The override for `name` in `scope`, most specific first; nullopt: use the
  // bundled template. `layer` receives "device", "model", "vendor" or "site".
  std::optional<std::string> find(const TemplateScope& scope, const std::string& name,
                                  std::string* layer = nullptr);
  // Names of the site-level templates (usable as partials by every vendor).
  std::vector<std::string> site_names();

  // Re-reads the tree's file list and times; true (and cached contents
  // dropped) when anything changed since the last call.
  bool changed();

 private:
  std::uint64_t signature() const;
  std::optional<std::string> read(const std::filesystem::path& p);

  std::filesystem::path root_;
  std::mutex mutex_;
  std::uint64_t signature_ = 0;
  // path -> contents (nullopt: no such file), dropped on change.
  std::map<std::string, std::optional<std::string>> cache_;
};

// Renders templates for one device: mustache over the TemplateStore's
// overrides and the vendor's bundled templates.
class MustacheRenderer final : public sdk::TemplateRenderer {
 public:
  MustacheRenderer(TemplateStore& store, TemplateScope scope,
                   std::vector<sdk::TemplateFile> bundled);
  sdk::Result<std::string> render(std::string_view name, const sdk::TemplateData& context,
                                  sdk::Escape escape) const override;

 private:
  std::optional<std::string> source(const std::string& name) const;

  TemplateStore& store_;
  TemplateScope scope_;
  std::vector<sdk::TemplateFile> bundled_;
};

}  // namespace dialtone::plugins::provisioning
