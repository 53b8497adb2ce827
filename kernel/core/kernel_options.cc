#include "kernel/core/kernel_options.h"

namespace dialtone::kernel {

using sdk::OptionType;

#define DIALTONE_LISTENER_OPTIONS(NAME, LISTEN)                                                  \
  {"http." NAME ".listen", OptionType::address, LISTEN, "address the " NAME " listener binds"},  \
      {"http." NAME ".tls_cert", OptionType::path, "",                                         \
       "PEM certificate; with tls_key, the " NAME " listener speaks HTTPS"},                    \
      {"http." NAME ".tls_key", OptionType::path, "", "PEM private key for tls_cert"},           \
      {"http." NAME ".max_body", OptionType::integer, "1048576",                                \
       "largest request body accepted, in bytes (413 above)", sdk::kNone, nullptr, 0},         \
      {"http." NAME ".subnets", OptionType::subnets, "",                                        \
       "clients allowed to connect (CIDR list); empty allows any"}

const sdk::OptionSpec kKernelOptions[] = {
    {"kernel.data_dir", OptionType::path, "/var/lib/dialtone",
     "state directory: plugins/<id>/ data, the private database cluster, the admin password"},
    {"kernel.plugin_dir", OptionType::path, "",
     "where plugin .so files are loaded from; empty: <bindir>/../plugins, else <bindir>/../lib/dialtone/plugins"},
    {"log.level", OptionType::choice, "info", "default log level", sdk::kReloadable,
     "trace|debug|info|warn|error|critical|off"},
    {"log.file", OptionType::path, "", "log file; empty logs to stderr"},
    {"store.dsn", OptionType::string, "",
     "PostgreSQL connection string; empty starts a private cluster under <data_dir>/pg",
     sdk::kSecret},
    {"store.pool_size", OptionType::integer, "8", "database connections in the pool", sdk::kNone,
     nullptr, 1, 256},
    DIALTONE_LISTENER_OPTIONS("confd", "127.0.0.1:9486"),
    DIALTONE_LISTENER_OPTIONS("auth", "127.0.0.1:9497"),
    DIALTONE_LISTENER_OPTIONS("dird", "127.0.0.1:9489"),
    DIALTONE_LISTENER_OPTIONS("phoned", "127.0.0.1:9498"),
    DIALTONE_LISTENER_OPTIONS("provd", "127.0.0.1:8666"),
    DIALTONE_LISTENER_OPTIONS("provd_phones", "127.0.0.1:8667"),
    DIALTONE_LISTENER_OPTIONS("calld", "127.0.0.1:9500"),
    {"http.tls_self_signed", OptionType::boolean, "false",
     "HTTPS on every listener without tls_cert/tls_key, with a certificate generated once in <data_dir>/tls"},
    {"auth.token_expiration", OptionType::duration, "7200s", "lifetime of a new token"},
    {"auth.max_failures", OptionType::integer, "5",
     "failed logins from one address within failure_window before it is banned", sdk::kNone,
     nullptr, 1, 1000000},
    {"auth.failure_window", OptionType::duration, "60s", "window counting failed logins"},
    {"auth.ban", OptionType::duration, "300s", "how long a banned address is refused"},
    {"auth.ldap_uri", OptionType::string, "",
     "LDAP server of the ldap_user token backend (e.g. ldap://127.0.0.1); empty: backend off"},
    {"auth.ldap_bind_dn", OptionType::string, "", "DN the ldap_user backend searches as (empty: anonymous)"},
    {"auth.ldap_bind_password", OptionType::string, "", "password of auth.ldap_bind_dn"},
    {"auth.ldap_base_dn", OptionType::string, "", "where the ldap_user backend searches logins"},
    {"auth.ldap_login_attribute", OptionType::string, "uid", "attribute holding the login name"},
    {"auth.ldap_email_attribute", OptionType::string, "mail",
     "attribute whose value is the email of the PBX user the token belongs to"},
    {"auth.ldap_acls", OptionType::list, "confd.users.me.#", "ACLs of ldap_user tokens"},
    {"auth.user_acls", OptionType::list, "confd.users.me.#, ctid-ng.users.me.#, dird.directories.#, dird.personal.#",
     "ACLs of xivo_user tokens of confd users (their username and password)"},
    {"lua.script", OptionType::path, "lua-dialplan/extensions.lua",
     "dialplan entry script; a relative default resolves against the parent of the conf.d directory"},
    {"lua.states", OptionType::integer, "2", "Lua interpreter states (dialplan threads)",
     sdk::kNone, nullptr, 1, 256},
    {},
};

#undef DIALTONE_LISTENER_OPTIONS

}  // namespace dialtone::kernel
