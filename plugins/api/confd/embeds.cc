#include "plugins/api/confd/embeds.h"

#include "plugins/api/confd/resource.h"

namespace dialtone::plugins::api::confd {
namespace {

std::string links(const std::string& b, const std::string& rel, const std::string& path, const std::string& id) {
  return "jsonb_build_array(" + sql_link(b, rel, path, id) + ")";
}

std::string extensions_of_line(const std::string& b, const std::string& line_sql) {
  return "(SELECT coalesce(jsonb_agg(jsonb_build_object('id', e.id, 'exten', e.exten, 'context', e.context, "
         "'links', " + links(b, "extensions", "extensions", "e.id") + ") ORDER BY e.id), '[]') "
         "FROM confd_line_extensions le JOIN confd_extensions e ON e.id = le.extension_id WHERE le.line_id = " +
         line_sql + ")";
}

std::string endpoint_sip_of(const std::string& b, const std::string& sip_sql) {
  return "(SELECT jsonb_build_object('id', s.id, 'username', s.username, 'links', " +
         links(b, "endpoint_sip", "endpoints/sip", "s.id") + ") FROM confd_endpoints_sip s WHERE s.id = " + sip_sql + ")";
}

std::string forward(const std::string& f) {
  return "'" + f + "', jsonb_build_object('enabled', t.forward_" + f + "_enabled, 'destination', t.forward_" + f +
         "_destination)";
}

}  // namespace

std::string links_embed(const std::string& b, const std::string& rel, const std::string& path) {
  return "jsonb_build_object('links', " + links(b, rel, path, "t.id") + ")";
}

std::string main_extension_sql(const std::string& user_sql, const std::string& column) {
  return "(SELECT e." + column + " FROM confd_user_lines ul JOIN confd_line_extensions le ON le.line_id = ul.line_id "
         "JOIN confd_extensions e ON e.id = le.extension_id WHERE ul.user_id = " + user_sql +
         " AND ul.main_line ORDER BY e.id LIMIT 1)";
}

std::string user_embed(const std::string& b) {
  return "jsonb_build_object("
         "'links', " + links(b, "users", "users", "t.id") + ", "
         "'lines', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', l.id, 'endpoint_sip', " +
         endpoint_sip_of(b, "l.endpoint_sip_id") + ", 'endpoint_sccp', NULL, 'endpoint_custom', NULL, "
         "'extensions', " + extensions_of_line(b, "l.id") + ", 'links', " + links(b, "lines", "lines", "l.id") +
         ") ORDER BY ul.main_line DESC, l.id), '[]') FROM confd_user_lines ul JOIN confd_lines l ON l.id = ul.line_id "
         "WHERE ul.user_id = t.id), "
         "'voicemail', (SELECT jsonb_build_object('id', v.id, 'name', v.name, 'links', " +
         links(b, "voicemails", "voicemails", "v.id") + ") FROM confd_user_voicemails uv JOIN confd_voicemails v "
         "ON v.id = uv.voicemail_id WHERE uv.user_id = t.id), "
         "'incalls', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', i.id, 'extensions', "
         "(SELECT coalesce(jsonb_agg(jsonb_build_object('id', e.id, 'exten', e.exten, 'context', e.context) ORDER BY e.id), '[]') "
         "FROM confd_incall_extensions ie JOIN confd_extensions e ON e.id = ie.extension_id WHERE ie.incall_id = i.id), "
         "'links', " + links(b, "incalls", "incalls", "i.id") + ") ORDER BY i.id), '[]') FROM confd_incalls i "
         "WHERE i.destination->>'type' = 'user' AND i.destination->>'user_id' = t.id::text), "
         "'groups', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', g.id, 'name', g.name, 'links', " +
         links(b, "groups", "groups", "g.id") + ") ORDER BY g.id), '[]') FROM confd_group_members m "
         "JOIN confd_groups g ON g.id = m.group_id WHERE m.user_id = t.id), "
         "'forwards', jsonb_build_object(" + forward("busy") + ", " + forward("noanswer") + ", " + forward("unconditional") + "), "
         "'services', jsonb_build_object('dnd', jsonb_build_object('enabled', t.service_dnd_enabled), "
         "'incallfilter', jsonb_build_object('enabled', t.service_incallfilter_enabled)), "
         "'fallbacks', jsonb_build_object('busy_destination', t.fallbacks->'busy_destination', "
         "'noanswer_destination', t.fallbacks->'noanswer_destination', "
         "'congestion_destination', t.fallbacks->'congestion_destination', "
         "'fail_destination', t.fallbacks->'fail_destination'), "
         "'agent', NULL, 'cti_profile', NULL, "
         "'schedules', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', s.id, 'name', s.name, 'links', " +
         links(b, "schedules", "schedules", "s.id") + ")), '[]') FROM confd_user_schedules us "
         "JOIN confd_schedules s ON s.id = us.schedule_id WHERE us.user_id = t.id), "
         "'switchboards', '[]'::jsonb)";
}

std::string line_embed(const std::string& b) {
  return "jsonb_build_object("
         "'links', " + links(b, "lines", "lines", "t.id") + ", "
         "'name', (SELECT s.username FROM confd_endpoints_sip s WHERE s.id = t.endpoint_sip_id), "
         "'device_slot', t.position, 'provisioning_extension', t.provisioning_code, 'registrar', 'default', "
         "'endpoint_sip', " + endpoint_sip_of(b, "t.endpoint_sip_id") + ", 'endpoint_sccp', NULL, 'endpoint_custom', NULL, "
         "'extensions', " + extensions_of_line(b, "t.id") + ", "
         "'users', (SELECT coalesce(jsonb_agg(jsonb_build_object('uuid', u.uuid, 'firstname', u.firstname, "
         "'lastname', u.lastname, 'links', " + links(b, "users", "users", "u.id") + ") ORDER BY ul.main_user DESC, u.id), '[]') "
         "FROM confd_user_lines ul JOIN confd_users u ON u.id = ul.user_id WHERE ul.line_id = t.id))";
}

std::string endpoint_sip_embed(const std::string& b) {
  return "jsonb_build_object("
         "'links', " + links(b, "endpoint_sip", "endpoints/sip", "t.id") + ", "
         "'line', (SELECT jsonb_build_object('id', l.id, 'links', " + links(b, "lines", "lines", "l.id") +
         ") FROM confd_lines l WHERE l.endpoint_sip_id = t.id), "
         "'trunk', (SELECT jsonb_build_object('id', k.id, 'links', " + links(b, "trunks", "trunks", "k.id") +
         ") FROM confd_trunks k WHERE k.endpoint_sip_id = t.id))";
}

std::string endpoint_custom_embed(const std::string& b) {
  return "jsonb_build_object("
         "'links', " + links(b, "endpoint_custom", "endpoints/custom", "t.id") + ", "
         "'line', NULL, "
         "'trunk', (SELECT jsonb_build_object('id', k.id, 'links', " + links(b, "trunks", "trunks", "k.id") +
         ") FROM confd_trunks k WHERE k.endpoint_custom_id = t.id))";
}

std::string trunk_embed(const std::string& b) {
  return "jsonb_build_object("
         "'links', " + links(b, "trunks", "trunks", "t.id") + ", "
         "'endpoint_sip', " + endpoint_sip_of(b, "t.endpoint_sip_id") + ", 'endpoint_sccp', NULL, "
         "'endpoint_custom', (SELECT jsonb_build_object('id', c.id, 'interface', c.interface, 'links', " +
         links(b, "endpoint_custom", "endpoints/custom", "c.id") +
         ") FROM confd_endpoints_custom c WHERE c.id = t.endpoint_custom_id))";
}

std::string extension_embed(const std::string& b) {
  return "jsonb_build_object("
         "'links', " + links(b, "extensions", "extensions", "t.id") + ", "
         "'lines', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', le.line_id, 'links', " +
         links(b, "lines", "lines", "le.line_id") + ")), '[]') FROM confd_line_extensions le WHERE le.extension_id = t.id), "
         "'incall', (SELECT jsonb_build_object('id', ie.incall_id, 'links', " + links(b, "incalls", "incalls", "ie.incall_id") +
         ") FROM confd_incall_extensions ie WHERE ie.extension_id = t.id), "
         "'group', (SELECT jsonb_build_object('id', ge.group_id, 'links', " + links(b, "groups", "groups", "ge.group_id") +
         ") FROM confd_group_extensions ge WHERE ge.extension_id = t.id))";
}

std::string voicemail_embed(const std::string& b) {
  return "jsonb_build_object("
         "'links', " + links(b, "voicemails", "voicemails", "t.id") + ", "
         "'users', (SELECT coalesce(jsonb_agg(jsonb_build_object('uuid', u.uuid, 'firstname', u.firstname, "
         "'lastname', u.lastname, 'links', " + links(b, "users", "users", "u.id") + ") ORDER BY u.id), '[]') "
         "FROM confd_user_voicemails uv JOIN confd_users u ON u.id = uv.user_id WHERE uv.voicemail_id = t.id))";
}

std::string user_directory_view(const std::string&) {
  return "jsonb_build_object('id', t.id, 'uuid', t.uuid, "
         "'line_id', (SELECT ul.line_id FROM confd_user_lines ul WHERE ul.user_id = t.id AND ul.main_line), "
         "'agent_id', NULL, 'firstname', t.firstname, 'lastname', t.lastname, 'email', t.email, "
         "'exten', " + main_extension_sql("t.id", "exten") + ", 'mobile_phone_number', t.mobile_phone_number, "
         "'voicemail_number', (SELECT v.number FROM confd_user_voicemails uv JOIN confd_voicemails v "
         "ON v.id = uv.voicemail_id WHERE uv.user_id = t.id), "
         "'userfield', t.userfield, 'description', t.description, 'context', " + main_extension_sql("t.id", "context") + ")";
}

std::string user_summary_view(const std::string&) {
  return "jsonb_build_object('id', t.id, 'uuid', t.uuid, 'firstname', t.firstname, 'lastname', t.lastname, "
         "'email', t.email, 'extension', " + main_extension_sql("t.id", "exten") + ", "
         "'context', " + main_extension_sql("t.id", "context") + ", "
         "'provisioning_code', (SELECT l.provisioning_code FROM confd_user_lines ul JOIN confd_lines l ON l.id = ul.line_id "
         "WHERE ul.user_id = t.id AND ul.main_line), "
         "'entity', 'default', "
         "'protocol', (SELECT l.protocol FROM confd_user_lines ul JOIN confd_lines l ON l.id = ul.line_id "
         "WHERE ul.user_id = t.id AND ul.main_line), 'enabled', t.enabled)";
}

}  // namespace dialtone::plugins::api::confd
