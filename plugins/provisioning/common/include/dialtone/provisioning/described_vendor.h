// A provisioning vendor written as data: models, MAC prefixes, User-Agent
// and file-name patterns, files and their templates, function-key codes,
// languages, time zones and firmware, read by one engine (DescribedVendor).
// A vendor plugin holds its VendorDescription and, when a format really
// needs it, a small `extend` hook that adds values to the template context.
//
// @code
//   const VendorDescription& acme() {
//     static const VendorDescription d{
//         .id = "provisioning.acme", .vendor = "Acme", .version = "1.0.0",
//         .models = {{.name = "A100", .lines = 2, .function_keys = 6}},
//         .user_agents = {{.regex = R"(^Acme (A\d+) (\S+)(?: (\S+))?)", .model = 1,
//                          .version = 2, .mac = 3}},
//         .paths = {{.regex = R"(acme-([0-9a-f]{12})\.cfg)", .mac = 1}},
//         .files = {{.path = "acme-{{mac_plain}}.cfg", .template_name = "device.cfg",
//                    .sensitive = true}},
//         .templates = {{"device.cfg", "{{#lines}}user={{username}}\n{{/lines}}"}}};
//     return d;
//   }
//   using AcmePlugin = DescribedVendorPlugin<&acme>;
//   DIALTONE_PLUGIN(AcmePlugin, "provisioning.acme", "provisioning", "1.0.0", "Acme phones",
//                   "", "provisioning.provd", kNoVendorOptions)
// @endcode
//
// The context every file is rendered with is sdk::standard_context() plus
// the keys listed on VendorDescription's fields, and for each function key
// `key_type` (from key_types). A file is produced only when every
// placeholder of its path has a value: "{{mac_plain}}.cfg" needs a MAC,
// "y0000000000{{model_code}}.cfg" a model with a code.
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <dialtone/described_plugin.h>
#include <dialtone/host.h>
#include <dialtone/plugin.h>
#include <dialtone/provisioning.h>
#include <dialtone/services.h>

namespace dialtone::plugins::provisioning {

struct VendorModel {
  std::string name{};       // canonical spelling, "T46S"
  int lines = 1;          // SIP accounts
  int function_keys = 0;  // programmable keys without expansion modules
  std::string code{};       // {{model_code}}: "28" in Yealink's y000000000028.cfg
  std::string firmware{};   // {{firmware}}: the image the model loads, empty if none
};

// A User-Agent the vendor's phones send. The regex (ECMAScript, ignoring
// case) is searched in the header; groups give the model, firmware version
// and MAC (0: not in this pattern). Without a MAC group the MAC comes from
// the file name (see PathPattern), never from a common file's name.
struct UserAgentPattern {
  std::string regex{};
  int model = 0;
  int version = 0;
  int mac = 0;
  std::string model_drop{};  // characters removed from the model ("_": "VVX_410" is VVX410)
};

// A file name (last path component) the vendor's phones ask for, matched
// whole and ignoring case: how a TFTP request without User-Agent is
// recognised. Groups give the MAC, the model or the model code.
struct PathPattern {
  std::string regex{};
  int mac = 0;
  int model = 0;
  int model_code = 0;
  bool known_model = false;  // only when the model group names a known model
  bool known_prefix = false;  // only when the MAC starts with one of mac_prefixes
};

struct FileSpec {
  // The path the phone asks for; placeholders: {{mac_plain}}, {{MAC_PLAIN}},
  // {{model}}, {{model_code}}.
  std::string path{};
  std::string template_name{};
  bool sensitive = false;  // holds a SIP or admin secret
  sdk::Escape escape = sdk::Escape::text;
  std::string content_type = "text/plain";
};

// Per-function-key-type codes, in sdk::FunctionKeyType order.
struct KeyTypes {
  std::string speed_dial{}, blf{}, park{}, forward{};
};

struct VendorDescription {
  std::string id{};       // plugin id, "provisioning.yealink"
  std::string vendor{};   // "Yealink"
  std::string version{};  // the plugin's version
  std::vector<VendorModel> models{};
  std::vector<std::string> mac_prefixes{};  // "00:15:65"
  std::vector<UserAgentPattern> user_agents{};
  std::vector<PathPattern> paths{};
  std::string dhcp_vendor_class{};  // DHCP option 60 prefix, ignoring case; empty: none
  std::vector<FileSpec> files{};
  std::vector<sdk::TemplateFile> templates{};  // bundled; the admin can override each by name
  KeyTypes key_types{};                       // {{key_type}} in each function key
  // {{vendor_language}}: the first entry whose locale prefix ("fr") matches, else default.
  std::vector<std::pair<std::string, std::string>> languages{};
  std::string default_language{};
  // {{tz_name}}: the vendor's name for an IANA zone, else default_tz_name.
  // Always set too: {{tz_hours}} "+1"/"+5:30", {{tz_hhmm}} "+01:00", {{tz_seconds}}.
  std::vector<std::pair<std::string, std::string>> tz_names{};
  std::string default_tz_name{};
  std::array<std::string, 3> transports = {"udp", "tcp", "tls"};  // {{transport_code}}
  // {{directory_url}} (the search form) and {{directory_lookup_url}} (the
  // results, to which a phone appends ?term=...) of this vendor's phone view.
  std::string view{};
  std::optional<std::string> sync_event = std::string("check-sync");
  sdk::ServePolicy policy = sdk::ServePolicy::configure;
  // Adds what data cannot say (e.g. Grandstream's per-account P-values).
  std::function<void(sdk::TemplateData& context, const sdk::DeviceConfig& config)> extend{};
};

class DescribedVendor final : public sdk::ProvisioningVendor {
 public:
  explicit DescribedVendor(VendorDescription description);
  ~DescribedVendor() override;

  std::string_view id() const override { return d_.id; }
  std::string_view service_instance() const { return d_.id; }  // provided under its id
  std::string_view vendor() const override { return d_.vendor; }
  std::string_view version() const override { return d_.version; }
  std::vector<sdk::ModelInfo> models() const override;
  std::optional<sdk::DeviceInfo> detect(const sdk::DeviceRequest& request) const override;
  std::vector<sdk::TemplateFile> templates() const override { return d_.templates; }
  sdk::Result<std::vector<sdk::ProvisioningFile>> files(
      const sdk::DeviceConfig& config, const sdk::TemplateRenderer& renderer) const override;
  std::optional<std::string> sync_event(const sdk::DeviceInfo&) const override {
    return d_.sync_event;
  }
  sdk::ServePolicy policy() const override { return d_.policy; }

  const VendorDescription& description() const { return d_; }
  // Refuses a description that cannot work, naming what to fix: a pattern
  // that does not compile or names a group it lacks, a file whose template
  // is not bundled, a bundled template that does not parse.
  static sdk::Status check(const VendorDescription& description);
  // The context files() renders with (exposed for tests and admin previews).
  sdk::TemplateData context(const sdk::DeviceConfig& config) const;
  // The model named `name` ignoring case, or by its code; null if unknown.
  const VendorModel* model(std::string_view name) const;
  const VendorModel* model_by_code(std::string_view code) const;

 private:
  std::optional<sdk::DeviceInfo> from_user_agent(const sdk::DeviceRequest& r) const;
  // nullopt: no pattern matches the file name.
  std::optional<sdk::DeviceInfo> from_path(std::string_view file) const;
  bool known_prefix(std::string_view mac) const;

  VendorDescription d_;
  struct Patterns;  // the compiled regexes (<regex> stays out of this header)
  std::unique_ptr<const Patterns> patterns_;
};

// The plugin providing one described vendor under its id.
template <const VendorDescription& (*Describe)()>
using DescribedVendorPlugin = sdk::DescribedPlugin<sdk::ProvisioningVendor, DescribedVendor, Describe>;

inline constexpr sdk::OptionSpec kNoVendorOptions[] = {{}};

}  // namespace dialtone::plugins::provisioning
