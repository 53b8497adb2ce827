// A real slapd for tests: a temp dir with slapd.conf (mdb, suffix
// dc=dialtone,dc=test), started on 127.0.0.1:<free port>, stopped by the
// destructor.
#pragma once

#include <filesystem>
#include <string>

namespace dialtone::testing {

class Slapd {
 public:
  static constexpr const char* kSuffix = "dc=dialtone,dc=test";
  static constexpr const char* kRootDn = "cn=admin,dc=dialtone,dc=test";
  static constexpr const char* kRootPw = "rootsecret";

  Slapd();
  ~Slapd();
  bool running() const { return pid_ > 0; }
  const std::string& uri() const { return uri_; }
  const std::string& error() const { return error_; }
  // Runs ldapadd/ldapmodify as the rootdn with `ldif`; true on success.
  bool add(const std::string& ldif);
  bool modify(const std::string& ldif);

 private:
  bool run_tool(const char* tool, const std::string& ldif);
  std::filesystem::path dir_;
  std::string uri_;
  std::string error_;
  int pid_ = 0;
};

// A TCP port on 127.0.0.1 nobody listens on (bound, read, closed).
int free_port();
// Base64 for LDIF values that are not plain ASCII.
std::string ldif_value(const std::string& attr, const std::string& value);

}  // namespace dialtone::testing
