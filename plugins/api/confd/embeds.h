// XiVO's representations of confd rows beyond their own columns: the
// relations a GET embeds (user -> lines, voicemail, incalls, groups...), the
// `links` objects, and the users list views (view=directory, view=summary).
// Each function returns SQL jsonb for the row alias `t`; `b` is the SQL text
// of the base URL links start with.
#pragma once

#include <string>

namespace dialtone::plugins::api::confd {

// {"links": [{"rel": rel, "href": b/path/<t.id>}]}
std::string links_embed(const std::string& b, const std::string& rel, const std::string& path);
std::string user_embed(const std::string& b);
std::string line_embed(const std::string& b);
std::string endpoint_sip_embed(const std::string& b);
std::string endpoint_custom_embed(const std::string& b);
std::string trunk_embed(const std::string& b);
std::string extension_embed(const std::string& b);
std::string voicemail_embed(const std::string& b);
std::string user_directory_view(const std::string& b);
std::string user_summary_view(const std::string& b);
// Call pickups: {"interceptors": {"users": [...], "groups": [...]}, "targets": {...}}.
std::string callpickup_embed(const std::string& b);
// Pagings: {"members": {"users": [...]}, "callers": {"users": [...]}}.
std::string paging_embed(const std::string& b);
// Parking lots: {"extensions": [{"id", "exten", "context"}]}.
std::string parkinglot_embed(const std::string& b);

// SQL of the main line's first extension of user `user_sql` (a column).
std::string main_extension_sql(const std::string& user_sql, const std::string& column);

}  // namespace dialtone::plugins::api::confd
