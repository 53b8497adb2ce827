// directory.ldap: one LdapSource per `[source.<name>]` section.
#include "plugins/directory/common/source_plugin.h"

#include "plugins/directory/ldap/ldap_source.h"

namespace dialtone::plugins::directory {
namespace {

struct LdapTraits {
  using Config = LdapConfig;
  using Source = LdapSource;
  static sdk::Result<Config> parse(const SourceOptions& o, SourceConfig common) {
    LdapConfig c;
    c.source = std::move(common);
    c.uri = o.get("uri");
    if (c.uri.empty())
      return sdk::Error::invalid("source " + o.name() + ": uri is not set; add `uri = ldap://host`");
    c.base_dn = o.get("base_dn");
    c.bind_dn = o.get("bind_dn");
    c.bind_password = o.get("bind_password");
    c.custom_filter = o.get("custom_filter");
    c.start_tls = o.get_bool("start_tls");
    c.binary_uuid = o.get("unique_column_format", "string") == "binary_uuid";
    c.network_timeout = o.get_duration("network_timeout", std::chrono::milliseconds(300));
    c.search_timeout = o.get_duration("search_timeout", std::chrono::milliseconds(1000));
    c.size_limit = static_cast<int>(o.get_int("size_limit", 1000));
    return c;
  }
};

constexpr sdk::OptionSpec kOptions[] = {
    {"source.*.uri", sdk::OptionType::string, nullptr, "ldap://host[:port] or ldaps://host[:port]"},
    {"source.*.base_dn", sdk::OptionType::string, "", "DN where searches start"},
    {"source.*.bind_dn", sdk::OptionType::string, "", "DN for a simple bind; empty: anonymous"},
    {"source.*.bind_password", sdk::OptionType::string, "", "password for bind_dn", sdk::kSecret},
    {"source.*.custom_filter", sdk::OptionType::string, "",
     "extra LDAP filter ANDed with the searched columns; %Q is the escaped term"},
    {"source.*.start_tls", sdk::OptionType::boolean, "false", "upgrade ldap:// with StartTLS"},
    {"source.*.unique_column_format", sdk::OptionType::choice, "string",
     "binary_uuid for Active Directory objectGUID", sdk::kNone, "string|binary_uuid"},
    {"source.*.network_timeout", sdk::OptionType::duration, "300ms", "connect timeout"},
    {"source.*.search_timeout", sdk::OptionType::duration, "1s", "timeout of one search"},
    {"source.*.size_limit", sdk::OptionType::integer, "1000", "most entries one search returns",
     sdk::kNone, nullptr, 1, 100000},
    DIALTONE_DIRECTORY_COMMON_OPTIONS,
    {}};

}  // namespace
}  // namespace dialtone::plugins::directory

DIALTONE_PLUGIN(dialtone::plugins::directory::SourcePlugin<dialtone::plugins::directory::LdapTraits>, "directory.ldap", "directory", "1.0.0",
                "directory sources searched on LDAP servers", "", "",
                dialtone::plugins::directory::kOptions)
