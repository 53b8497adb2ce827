// A directory source searching an LDAP server (seed 4.1.1 "ldap" back-end,
// 5.11.2). Connections are kept in a small pool, reused, and rebuilt after a
// failure; every operation is bounded by the network and search timeouts.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <vector>

#include "plugins/directory/common/directory_common.h"

typedef struct ldap LDAP;

namespace dialtone::plugins::directory {

struct LdapConfig {
  SourceConfig source;
  std::string uri;
  std::string base_dn;
  std::string bind_dn;
  std::string bind_password;
  std::string custom_filter;
  bool start_tls = false;
  bool binary_uuid = false;  // unique_column holds a binary GUID (Active Directory objectGUID)
  std::chrono::milliseconds network_timeout{300};
  std::chrono::milliseconds search_timeout{1000};
  int size_limit = 1000;
};

// RFC 4515 escaping of a value placed in a filter.
std::string ldap_escape(std::string_view value);
// Builds the search filter: custom filter and searched columns as in seed
// 4.1.1: `(&(custom)(|(cn=%Q*)(st=%Q*)))`, with %Q the escaped term.
std::string ldap_search_filter(const LdapConfig& c, std::string_view term);
// 16 bytes in Microsoft GUID order -> "xxxxxxxx-xxxx-..." (and back).
std::string guid_to_string(std::string_view bytes);
std::string guid_to_filter_value(std::string_view uuid);

class LdapSource final : public sdk::DirectorySource {
 public:
  LdapSource(LdapConfig config, sdk::Logger& log);
  ~LdapSource() override;

  std::string_view name() const override { return config_.source.name; }
  std::string_view type() const override { return "ldap"; }
  sdk::Result<std::vector<sdk::DirectoryEntry>> search(const sdk::DirectoryQuery& q) override;
  sdk::Result<std::optional<sdk::DirectoryEntry>> first_match(const sdk::DirectoryQuery& q) override;
  sdk::Result<std::vector<sdk::DirectoryEntry>> list(const std::vector<std::string>& ids,
                                                     const sdk::DirectoryQuery& q) override;

 private:
  sdk::Result<std::vector<sdk::DirectoryEntry>> run(const std::string& filter, int limit,
                                                    const sdk::DirectoryQuery& q);
  sdk::Result<LDAP*> connect();
  void release(LDAP* ld, bool healthy);
  std::string wrap_custom(std::string_view filter_with_q, std::string_view term) const;

  LdapConfig config_;
  sdk::Logger& log_;
  FailureLog failures_;
  std::mutex mu_;
  std::vector<LDAP*> idle_;
};

}  // namespace dialtone::plugins::directory
