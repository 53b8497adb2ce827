// The ldap_user backend of xivo-auth: the login is looked up in the LDAP
// directory (auth.ldap_* options), the password checked by binding as that
// entry, and the token given to the PBX account whose email is the entry's.
// Runs on an HTTP worker thread; every LDAP call has a network timeout.
#include <ldap.h>

#include <dialtone/text.h>

#include <memory>

#include "kernel/auth/auth_internal.h"
#include "kernel/auth/auth_service.h"

namespace dialtone::kernel {
namespace {

using sdk::HttpResponse;
using namespace auth_detail;

struct LdapCloser {
  void operator()(LDAP* ld) const { ldap_unbind_ext_s(ld, nullptr, nullptr); }
};
using LdapPtr = std::unique_ptr<LDAP, LdapCloser>;

// RFC 4515 escaping of a value inside a filter.
std::string filter_escape(const std::string& v) { return sdk::text::ldap_filter_escape(v); }

LdapPtr connect(const std::string& uri, std::string* error) {
  LDAP* ld = nullptr;
  if (ldap_initialize(&ld, uri.c_str()) != LDAP_SUCCESS || !ld) {
    *error = "cannot use auth.ldap_uri '" + uri + "'";
    return nullptr;
  }
  int version = LDAP_VERSION3;
  ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version);
  timeval tv{5, 0};
  ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv);
  ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv);
  ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
  return LdapPtr(ld);
}

int simple_bind(LDAP* ld, const std::string& dn, const std::string& password) {
  berval cred{static_cast<ber_len_t>(password.size()), const_cast<char*>(password.data())};
  return ldap_sasl_bind_s(ld, dn.empty() ? nullptr : dn.c_str(), LDAP_SASL_SIMPLE, &cred, nullptr, nullptr, nullptr);
}

}  // namespace

HttpResponse AuthService::ldap_token(const sdk::HttpRequest& req, const std::string& username,
                                     const std::string& password, int expiration) {
  auto refuse = [&](const std::string& why) {
    log_.warn("auth: ldap_user login \"" + username.substr(0, 64) + "\" from " + req.remote_address + " refused: " + why);
    limiter_.record_failure(req.remote_address, now_unix());
    auto out = auth_error(401, "Authentication failed: wrong user name or password");
    out.headers.emplace_back("WWW-Authenticate", "Basic realm=\"dialtone\"");
    return out;
  };
  if (config_.ldap_uri.empty()) {
    return auth_error(401, "The ldap_user backend is not configured: set auth.ldap_uri and auth.ldap_base_dn "
                           "in the kernel's conf.d");
  }
  // An empty password would be an anonymous bind, which LDAP servers accept.
  if (password.empty()) return refuse("empty password");
  std::string error;
  auto ld = connect(config_.ldap_uri, &error);
  if (!ld) {
    log_.error("auth: " + error);
    return auth_error(503, "LDAP server unavailable; see the server log");
  }
  if (int rc = simple_bind(ld.get(), config_.ldap_bind_dn, config_.ldap_bind_password); rc != LDAP_SUCCESS) {
    log_.error("auth: cannot bind to " + config_.ldap_uri + " as '" + config_.ldap_bind_dn + "': " +
               ldap_err2string(rc) + " (check auth.ldap_bind_dn and auth.ldap_bind_password)");
    return auth_error(503, "LDAP server unavailable; see the server log");
  }
  std::string filter = "(" + config_.ldap_login_attribute + "=" + filter_escape(username) + ")";
  char* attrs[] = {const_cast<char*>(config_.ldap_email_attribute.c_str()), nullptr};
  LDAPMessage* res = nullptr;
  timeval tv{5, 0};
  int rc = ldap_search_ext_s(ld.get(), config_.ldap_base_dn.c_str(), LDAP_SCOPE_SUBTREE, filter.c_str(), attrs, 0,
                             nullptr, nullptr, &tv, 2, &res);
  std::unique_ptr<LDAPMessage, int (*)(LDAPMessage*)> guard(res, ldap_msgfree);
  if (rc != LDAP_SUCCESS && rc != LDAP_SIZELIMIT_EXCEEDED) {
    log_.error("auth: LDAP search under '" + config_.ldap_base_dn + "' failed: " + ldap_err2string(rc));
    return auth_error(503, "LDAP server unavailable; see the server log");
  }
  if (ldap_count_entries(ld.get(), res) != 1) return refuse("not exactly one entry matches " + filter);
  LDAPMessage* entry = ldap_first_entry(ld.get(), res);
  char* dn_raw = ldap_get_dn(ld.get(), entry);
  std::string dn = dn_raw ? dn_raw : "";
  ldap_memfree(dn_raw);
  std::string email;
  if (berval** vals = ldap_get_values_len(ld.get(), entry, config_.ldap_email_attribute.c_str())) {
    if (vals[0]) email.assign(vals[0]->bv_val, vals[0]->bv_len);
    ldap_value_free_len(vals);
  }
  auto user_ld = connect(config_.ldap_uri, &error);
  if (!user_ld) return auth_error(503, "LDAP server unavailable; see the server log");
  if (simple_bind(user_ld.get(), dn, password) != LDAP_SUCCESS) return refuse("wrong password for " + dn);
  if (email.empty()) return refuse(dn + " has no " + config_.ldap_email_attribute);

  // The PBX account: an auth account with that email, else the confd user
  // with that email (when api.confd runs on this database).
  std::string uuid;
  if (auto a = store_.exec("SELECT uuid::text AS u FROM auth_user WHERE lower(email) = lower($1) LIMIT 1", {email});
      a && !a->rows.empty())
    uuid = a->get(0, "u");
  if (uuid.empty()) {
    auto has = store_.exec("SELECT to_regclass('confd_users') IS NOT NULL AS t");
    if (has && has->get(0, "t") == "t")
      if (auto c = store_.exec("SELECT uuid::text AS u FROM confd_users WHERE lower(email) = lower($1) LIMIT 1", {email});
          c && !c->rows.empty())
        uuid = c->get(0, "u");
  }
  if (uuid.empty()) return refuse("no PBX user has the email " + email);

  auto info = std::make_shared<sdk::TokenInfo>();
  info->auth_id = uuid;
  info->username = username;
  info->backend = "ldap_user";
  info->acls = config_.ldap_acls;
  auto token = issue_token(std::move(info), expiration);
  if (!token) {
    log_.error("auth: cannot create a token: " + token.error().message);
    return auth_error(503, "Token store unavailable; see the server log");
  }
  limiter_.record_success(req.remote_address);
  log_.info("auth: ldap_user login \"" + username.substr(0, 64) + "\" as " + uuid);
  return HttpResponse::json(200, token_json(*token));
}

}  // namespace dialtone::kernel
