#include "plugins/api/confd/schema.h"

#include <string>

#include <dialtone/config.h>

namespace dialtone::plugins::api::confd {
namespace {

// Ranges are JSON lists [{"start":"1000","end":"1999"}] (incall ranges also
// carry "did_length") because the API exchanges them in that shape and the
// range check runs in SQL (confd_in_ranges).
constexpr const char* kV1 = R"SQL(
CREATE TABLE confd_contexts (
  id serial PRIMARY KEY,
  name text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9_.-]{1,39}$'),
  label text,
  type text NOT NULL DEFAULT 'internal'
    CHECK (type IN ('internal','incall','outcall','services','others')),
  description text,
  enabled boolean NOT NULL DEFAULT true,
  user_ranges jsonb NOT NULL DEFAULT '[]',
  group_ranges jsonb NOT NULL DEFAULT '[]',
  queue_ranges jsonb NOT NULL DEFAULT '[]',
  conference_room_ranges jsonb NOT NULL DEFAULT '[]',
  incall_ranges jsonb NOT NULL DEFAULT '[]');

-- True when `exten` is numeric, of the same length as a range's bounds and
-- between them (XiVO compares numbers of equal width).
CREATE FUNCTION confd_in_ranges(ranges jsonb, exten text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
  SELECT exten ~ '^[0-9]+$' AND EXISTS (
    SELECT 1 FROM jsonb_array_elements(ranges) r
    WHERE length(r->>'start') = length(exten)
      AND exten >= r->>'start' AND exten <= coalesce(nullif(r->>'end',''), r->>'start'))
$$;

CREATE TABLE confd_labels (
  id serial PRIMARY KEY,
  name text NOT NULL UNIQUE,
  description text);

CREATE TABLE confd_users (
  id serial PRIMARY KEY,
  uuid uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
  firstname text NOT NULL,
  lastname text,
  email text,
  language text CHECK (language IS NULL OR language IN ('de_DE','en_US','es_ES','fr_FR','fr_CA')),
  mobile_phone_number text,
  outgoing_caller_id text,
  enabled boolean NOT NULL DEFAULT true,
  supervision_enabled boolean NOT NULL DEFAULT true,
  call_transfer_enabled boolean NOT NULL DEFAULT false,
  dtmf_hangup_enabled boolean NOT NULL DEFAULT false,
  simultaneous_calls integer NOT NULL DEFAULT 5 CHECK (simultaneous_calls BETWEEN 1 AND 20),
  ring_seconds integer NOT NULL DEFAULT 30 CHECK (ring_seconds BETWEEN 0 AND 60 AND ring_seconds % 5 = 0),
  call_permission_password text,
  labels jsonb NOT NULL DEFAULT '[]',
  forward_busy_enabled boolean NOT NULL DEFAULT false,
  forward_busy_destination text,
  forward_noanswer_enabled boolean NOT NULL DEFAULT false,
  forward_noanswer_destination text,
  forward_unconditional_enabled boolean NOT NULL DEFAULT false,
  forward_unconditional_destination text,
  service_dnd_enabled boolean NOT NULL DEFAULT false,
  service_incallfilter_enabled boolean NOT NULL DEFAULT false);

CREATE TABLE confd_endpoints_sip (
  id serial PRIMARY KEY,
  username text NOT NULL UNIQUE,
  secret text NOT NULL,
  type text NOT NULL DEFAULT 'friend' CHECK (type IN ('friend','peer','user')),
  host text NOT NULL DEFAULT 'dynamic',
  options jsonb NOT NULL DEFAULT '[]');

CREATE SEQUENCE confd_provisioning_seq;
-- Six digits, unique: walks a permutation of 100000..999999 (524287 is prime
-- to 900000) and skips codes an admin set by hand.
CREATE FUNCTION confd_next_provisioning_code() RETURNS text LANGUAGE plpgsql AS $$
DECLARE c text;
BEGIN
  LOOP
    c := (100000 + (nextval('confd_provisioning_seq') * 524287) % 900000)::text;
    EXIT WHEN NOT EXISTS (SELECT 1 FROM confd_lines WHERE provisioning_code = c);
  END LOOP;
  RETURN c;
END $$;

CREATE TABLE confd_lines (
  id serial PRIMARY KEY,
  context text NOT NULL REFERENCES confd_contexts(name) ON UPDATE CASCADE,
  protocol text NOT NULL DEFAULT 'sip' CHECK (protocol IN ('sip')),
  provisioning_code text NOT NULL UNIQUE DEFAULT confd_next_provisioning_code()
    CHECK (provisioning_code ~ '^[1-9][0-9]{5}$'),
  position integer NOT NULL DEFAULT 1 CHECK (position BETWEEN 1 AND 99),
  caller_id_name text,
  caller_id_num text,
  device_id text,
  endpoint_sip_id integer UNIQUE REFERENCES confd_endpoints_sip(id) ON DELETE SET NULL);

CREATE TABLE confd_extensions (
  id serial PRIMARY KEY,
  exten text NOT NULL,
  context text NOT NULL REFERENCES confd_contexts(name) ON UPDATE CASCADE,
  commented boolean NOT NULL DEFAULT false,
  UNIQUE (exten, context));

CREATE TABLE confd_user_lines (
  user_id integer NOT NULL REFERENCES confd_users(id) ON DELETE CASCADE,
  line_id integer NOT NULL REFERENCES confd_lines(id) ON DELETE CASCADE,
  main_user boolean NOT NULL,
  main_line boolean NOT NULL,
  PRIMARY KEY (user_id, line_id));
CREATE INDEX confd_user_lines_line ON confd_user_lines(line_id);

CREATE TABLE confd_line_extensions (
  line_id integer NOT NULL REFERENCES confd_lines(id) ON DELETE CASCADE,
  extension_id integer NOT NULL UNIQUE REFERENCES confd_extensions(id) ON DELETE CASCADE,
  PRIMARY KEY (line_id, extension_id));

CREATE TABLE confd_voicemails (
  id serial PRIMARY KEY,
  number text NOT NULL CHECK (number ~ '^[0-9]+$'),
  context text NOT NULL REFERENCES confd_contexts(name) ON UPDATE CASCADE,
  name text NOT NULL,
  password text CHECK (password IS NULL OR password ~ '^[0-9#]*$'),
  email text,
  attach_audio boolean NOT NULL DEFAULT false,
  delete_messages boolean NOT NULL DEFAULT false,
  ask_password boolean NOT NULL DEFAULT true,
  enabled boolean NOT NULL DEFAULT true,
  UNIQUE (number, context));

CREATE TABLE confd_user_voicemails (
  user_id integer PRIMARY KEY REFERENCES confd_users(id) ON DELETE CASCADE,
  voicemail_id integer NOT NULL REFERENCES confd_voicemails(id) ON DELETE CASCADE);

CREATE TABLE confd_callpermissions (
  id serial PRIMARY KEY,
  name text NOT NULL UNIQUE,
  password text,
  mode text NOT NULL DEFAULT 'deny' CHECK (mode IN ('allow','deny')),
  extensions jsonb NOT NULL DEFAULT '[]',
  enabled boolean NOT NULL DEFAULT true,
  description text);

CREATE TABLE confd_user_callpermissions (
  user_id integer NOT NULL REFERENCES confd_users(id) ON DELETE CASCADE,
  callpermission_id integer NOT NULL REFERENCES confd_callpermissions(id) ON DELETE CASCADE,
  PRIMARY KEY (user_id, callpermission_id));

CREATE TABLE confd_user_funckeys (
  user_id integer NOT NULL REFERENCES confd_users(id) ON DELETE CASCADE,
  position integer NOT NULL CHECK (position BETWEEN 1 AND 999),
  blf boolean NOT NULL DEFAULT false,
  label text,
  destination jsonb NOT NULL,
  PRIMARY KEY (user_id, position));

CREATE TABLE confd_trunks (
  id serial PRIMARY KEY,
  context text REFERENCES confd_contexts(name) ON UPDATE CASCADE,
  description text,
  endpoint_sip_id integer UNIQUE REFERENCES confd_endpoints_sip(id) ON DELETE SET NULL);

CREATE TABLE confd_incalls (
  id serial PRIMARY KEY,
  preprocess_subroutine text,
  description text,
  caller_id_mode text CHECK (caller_id_mode IS NULL OR caller_id_mode IN ('prepend','overwrite','append')),
  caller_id_name text,
  destination jsonb NOT NULL DEFAULT '{"type":"none"}');

CREATE TABLE confd_incall_extensions (
  incall_id integer NOT NULL REFERENCES confd_incalls(id) ON DELETE CASCADE,
  extension_id integer NOT NULL UNIQUE REFERENCES confd_extensions(id) ON DELETE CASCADE,
  PRIMARY KEY (incall_id, extension_id));

CREATE TABLE confd_outcalls (
  id serial PRIMARY KEY,
  name text NOT NULL UNIQUE,
  description text,
  internal_caller_id boolean NOT NULL DEFAULT false,
  preprocess_subroutine text,
  priority integer NOT NULL DEFAULT 5 CHECK (priority BETWEEN 0 AND 100),
  ring_time integer CHECK (ring_time IS NULL OR ring_time >= 0),
  enabled boolean NOT NULL DEFAULT true,
  patterns jsonb NOT NULL DEFAULT '[]');

CREATE TABLE confd_outcall_trunks (
  outcall_id integer NOT NULL REFERENCES confd_outcalls(id) ON DELETE CASCADE,
  trunk_id integer NOT NULL REFERENCES confd_trunks(id) ON DELETE CASCADE,
  position integer NOT NULL,
  PRIMARY KEY (outcall_id, trunk_id));

CREATE TABLE confd_groups (
  id serial PRIMARY KEY,
  name text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9_-]{1,128}$'),
  label text,
  ring_strategy text NOT NULL DEFAULT 'all' CHECK (ring_strategy IN
    ('all','linear','least_recent','fewest_calls','memorized_round_robin','random','weight_random')),
  timeout integer CHECK (timeout IS NULL OR timeout >= 0),
  preprocess_subroutine text,
  enabled boolean NOT NULL DEFAULT true);

CREATE TABLE confd_group_members (
  group_id integer NOT NULL REFERENCES confd_groups(id) ON DELETE CASCADE,
  user_id integer NOT NULL REFERENCES confd_users(id) ON DELETE CASCADE,
  position integer NOT NULL,
  PRIMARY KEY (group_id, user_id));

CREATE TABLE confd_group_extensions (
  group_id integer NOT NULL REFERENCES confd_groups(id) ON DELETE CASCADE,
  extension_id integer NOT NULL UNIQUE REFERENCES confd_extensions(id) ON DELETE CASCADE,
  PRIMARY KEY (group_id, extension_id));

CREATE TABLE confd_schedules (
  id serial PRIMARY KEY,
  name text NOT NULL,
  timezone text,
  enabled boolean NOT NULL DEFAULT true,
  open_periods jsonb NOT NULL DEFAULT '[]',
  exceptional_periods jsonb NOT NULL DEFAULT '[]',
  closed_destination jsonb NOT NULL DEFAULT '{"type":"none"}');
)SQL";

// XiVO 2017 user fields, function key templates, fallbacks and the system
// settings the API exposes (/infos uuid, live reload).
constexpr const char* kV3 = R"SQL(
ALTER TABLE confd_users
  ADD COLUMN caller_id text,
  ADD COLUMN userfield text,
  ADD COLUMN description text,
  ADD COLUMN timezone text,
  ADD COLUMN username text UNIQUE,
  ADD COLUMN password text,
  ADD COLUMN music_on_hold text,
  ADD COLUMN preprocess_subroutine text,
  ADD COLUMN call_record_enabled boolean NOT NULL DEFAULT false,
  ADD COLUMN online_call_record_enabled boolean NOT NULL DEFAULT false,
  ADD COLUMN fallbacks jsonb NOT NULL DEFAULT '{}';

CREATE TABLE confd_funckey_templates (
  id serial PRIMARY KEY,
  name text,
  keys jsonb NOT NULL DEFAULT '{}');

CREATE TABLE confd_user_funckey_templates (
  user_id integer NOT NULL REFERENCES confd_users(id) ON DELETE CASCADE,
  template_id integer NOT NULL REFERENCES confd_funckey_templates(id) ON DELETE CASCADE,
  PRIMARY KEY (user_id, template_id));

CREATE TABLE confd_settings (
  name text PRIMARY KEY,
  value jsonb NOT NULL);
INSERT INTO confd_settings VALUES
  ('uuid', to_jsonb(gen_random_uuid()::text)),
  ('live_reload', '{"enabled": true}');
)SQL";


// What the dialplan applies beyond the 2017 fields (seeds 5.5, 5.16, 5.29):
// group ring settings and fallbacks, member penalties (weights of
// weight_random), schedules attached to users, groups, incalls and outcalls
// (one each, as XiVO), and call permissions on groups, outcalls and incalls.
constexpr const char* kV4 = R"SQL(
ALTER TABLE confd_groups
  ADD COLUMN user_timeout integer DEFAULT 15 CHECK (user_timeout IS NULL OR user_timeout >= 0),
  ADD COLUMN retry_delay integer NOT NULL DEFAULT 5 CHECK (retry_delay >= 0),
  ADD COLUMN ring_in_use boolean NOT NULL DEFAULT true,
  ADD COLUMN music_on_hold text,
  ADD COLUMN fallbacks jsonb NOT NULL DEFAULT '{}';

ALTER TABLE confd_group_members
  ADD COLUMN penalty integer NOT NULL DEFAULT 0 CHECK (penalty BETWEEN 0 AND 99);

CREATE TABLE confd_user_schedules (
  user_id integer PRIMARY KEY REFERENCES confd_users(id) ON DELETE CASCADE,
  schedule_id integer NOT NULL REFERENCES confd_schedules(id) ON DELETE CASCADE);
CREATE TABLE confd_group_schedules (
  group_id integer PRIMARY KEY REFERENCES confd_groups(id) ON DELETE CASCADE,
  schedule_id integer NOT NULL REFERENCES confd_schedules(id) ON DELETE CASCADE);
CREATE TABLE confd_incall_schedules (
  incall_id integer PRIMARY KEY REFERENCES confd_incalls(id) ON DELETE CASCADE,
  schedule_id integer NOT NULL REFERENCES confd_schedules(id) ON DELETE CASCADE);
CREATE TABLE confd_outcall_schedules (
  outcall_id integer PRIMARY KEY REFERENCES confd_outcalls(id) ON DELETE CASCADE,
  schedule_id integer NOT NULL REFERENCES confd_schedules(id) ON DELETE CASCADE);

CREATE TABLE confd_group_callpermissions (
  group_id integer NOT NULL REFERENCES confd_groups(id) ON DELETE CASCADE,
  callpermission_id integer NOT NULL REFERENCES confd_callpermissions(id) ON DELETE CASCADE,
  PRIMARY KEY (group_id, callpermission_id));
CREATE TABLE confd_outcall_callpermissions (
  outcall_id integer NOT NULL REFERENCES confd_outcalls(id) ON DELETE CASCADE,
  callpermission_id integer NOT NULL REFERENCES confd_callpermissions(id) ON DELETE CASCADE,
  PRIMARY KEY (outcall_id, callpermission_id));
CREATE TABLE confd_incall_callpermissions (
  incall_id integer NOT NULL REFERENCES confd_incalls(id) ON DELETE CASCADE,
  callpermission_id integer NOT NULL REFERENCES confd_callpermissions(id) ON DELETE CASCADE,
  PRIMARY KEY (incall_id, callpermission_id));
)SQL";

// Boss-secretary filters (seed 5.2, XiVO's call filters): a filter, its
// bosses (recipients) and secretaries (surrogates). A member's id is the
// number after *37 that turns the filter on or off for that member.
constexpr const char* kV5 = R"SQL(
CREATE TABLE confd_callfilters (
  id serial PRIMARY KEY,
  name text NOT NULL UNIQUE,
  strategy text NOT NULL DEFAULT 'all-recipients-then-linear-surrogates' CHECK (strategy IN (
    'all-recipients-then-linear-surrogates', 'all-recipients-then-all-surrogates',
    'all-surrogates-then-all-recipients', 'linear-surrogates-then-all-recipients', 'all')),
  source text NOT NULL DEFAULT 'all' CHECK (source IN ('internal', 'external', 'all')),
  caller_id_mode text CHECK (caller_id_mode IS NULL OR caller_id_mode IN ('prepend', 'overwrite', 'append')),
  caller_id_name text,
  surrogates_timeout integer CHECK (surrogates_timeout IS NULL OR surrogates_timeout >= 0),
  description text,
  enabled boolean NOT NULL DEFAULT true,
  fallbacks jsonb NOT NULL DEFAULT '{}');

CREATE TABLE confd_callfilter_members (
  id serial PRIMARY KEY,
  callfilter_id integer NOT NULL REFERENCES confd_callfilters(id) ON DELETE CASCADE,
  user_id integer NOT NULL REFERENCES confd_users(id) ON DELETE CASCADE,
  role text NOT NULL CHECK (role IN ('boss', 'secretary')),
  position integer NOT NULL DEFAULT 0,
  timeout integer CHECK (timeout IS NULL OR timeout >= 0),
  active boolean NOT NULL DEFAULT false,
  UNIQUE (callfilter_id, user_id));
)SQL";

// Conference rooms (seed 5.7) and their extensions.
constexpr const char* kV6 = R"SQL(
CREATE TABLE confd_conferences (
  id serial PRIMARY KEY,
  name text,
  max_users integer NOT NULL DEFAULT 0 CHECK (max_users >= 0),
  pin text CHECK (pin IS NULL OR pin ~ '^[0-9]{1,80}$'),
  admin_pin text CHECK (admin_pin IS NULL OR admin_pin ~ '^[0-9]{1,80}$'),
  announce_join_leave boolean NOT NULL DEFAULT true,
  music_on_hold text,
  preprocess_subroutine text);

CREATE TABLE confd_conference_extensions (
  conference_id integer NOT NULL REFERENCES confd_conferences(id) ON DELETE CASCADE,
  extension_id integer NOT NULL UNIQUE REFERENCES confd_extensions(id) ON DELETE CASCADE,
  PRIMARY KEY (conference_id, extension_id));
)SQL";

// Call pickup groups (seed 5.17): who may intercept (interceptors) and
// whose calls (targets), users or groups; and parking lots (seed 5.25),
// reached by their extension, with the default lot XiVO ships (slots
// 701-750; its extension, 700 by default, is the dialplan's until an
// extension is associated).
constexpr const char* kV7 = R"SQL(
CREATE TABLE confd_callpickups (
  id serial PRIMARY KEY,
  name text NOT NULL UNIQUE,
  description text,
  enabled boolean NOT NULL DEFAULT true);
CREATE TABLE confd_callpickup_users (
  callpickup_id integer NOT NULL REFERENCES confd_callpickups(id) ON DELETE CASCADE,
  category text NOT NULL CHECK (category IN ('interceptor', 'target')),
  user_id integer NOT NULL REFERENCES confd_users(id) ON DELETE CASCADE,
  PRIMARY KEY (callpickup_id, category, user_id));
CREATE TABLE confd_callpickup_groups (
  callpickup_id integer NOT NULL REFERENCES confd_callpickups(id) ON DELETE CASCADE,
  category text NOT NULL CHECK (category IN ('interceptor', 'target')),
  group_id integer NOT NULL REFERENCES confd_groups(id) ON DELETE CASCADE,
  PRIMARY KEY (callpickup_id, category, group_id));

CREATE TABLE confd_parkinglots (
  id serial PRIMARY KEY,
  name text,
  slots_start text NOT NULL CHECK (slots_start ~ '^[0-9]{1,9}$'),
  slots_end text NOT NULL CHECK (slots_end ~ '^[0-9]{1,9}$'),
  timeout integer DEFAULT 45 CHECK (timeout IS NULL OR timeout >= 0),
  music_on_hold text,
  timeout_destination jsonb,
  CHECK (slots_start::bigint <= slots_end::bigint));
CREATE TABLE confd_parkinglot_extensions (
  parkinglot_id integer NOT NULL REFERENCES confd_parkinglots(id) ON DELETE CASCADE,
  extension_id integer NOT NULL UNIQUE REFERENCES confd_extensions(id) ON DELETE CASCADE,
  PRIMARY KEY (parkinglot_id, extension_id));
INSERT INTO confd_parkinglots (name, slots_start, slots_end, timeout, music_on_hold)
  VALUES ('default', '701', '750', 45, 'default');
)SQL";

// Music on hold classes (seed 5.22); their files live in moh.path/<name>.
constexpr const char* kV8 = R"SQL(
CREATE TABLE confd_moh (
  id serial PRIMARY KEY,
  uuid uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
  name text NOT NULL UNIQUE CHECK (name ~ '^[a-zA-Z0-9][-_.a-zA-Z0-9]{0,19}$'),
  label text CHECK (label IS NULL OR length(label) <= 128),
  mode text NOT NULL DEFAULT 'files' CHECK (mode IN ('custom', 'files', 'mp3')),
  application text CHECK (application IS NULL OR length(application) <= 256),
  sort text CHECK (sort IS NULL OR sort IN ('alphabetical', 'random', 'random_start')));
INSERT INTO confd_moh (name, label, mode, sort) VALUES ('default', 'Default', 'files', 'alphabetical');
)SQL";

// Routing per context (seed 5.23): XiVO's context inclusion (contextinclude)
// and the contexts an outgoing route is attached to (none: every context).
constexpr const char* kV9 = R"SQL(
CREATE TABLE confd_context_includes (
  context_id integer NOT NULL REFERENCES confd_contexts(id) ON DELETE CASCADE,
  included_id integer NOT NULL REFERENCES confd_contexts(id) ON DELETE CASCADE,
  position integer NOT NULL,
  PRIMARY KEY (context_id, included_id),
  CHECK (context_id <> included_id));

CREATE TABLE confd_outcall_contexts (
  outcall_id integer NOT NULL REFERENCES confd_outcalls(id) ON DELETE CASCADE,
  context_id integer NOT NULL REFERENCES confd_contexts(id) ON DELETE CASCADE,
  PRIMARY KEY (outcall_id, context_id));
)SQL";

// Paging groups (seed 5.24): dialed as *11<number>; their members' phones
// answer on their own. `caller` rows are the users allowed to page.
constexpr const char* kV10 = R"SQL(
CREATE TABLE confd_pagings (
  id serial PRIMARY KEY,
  number text NOT NULL UNIQUE CHECK (number ~ '^[0-9]{1,32}$'),
  name text CHECK (name IS NULL OR length(name) <= 128),
  announce_caller boolean NOT NULL DEFAULT true,
  announce_sound text CHECK (announce_sound IS NULL OR length(announce_sound) <= 64),
  caller_notification boolean NOT NULL DEFAULT true,
  duplex boolean NOT NULL DEFAULT false,
  ignore_forward boolean NOT NULL DEFAULT false,
  record boolean NOT NULL DEFAULT false,
  timeout integer NOT NULL DEFAULT 30 CHECK (timeout >= 0 AND timeout <= 86400),
  enabled boolean NOT NULL DEFAULT true);
CREATE TABLE confd_paging_users (
  paging_id integer NOT NULL REFERENCES confd_pagings(id) ON DELETE CASCADE,
  user_id integer NOT NULL REFERENCES confd_users(id) ON DELETE CASCADE,
  caller boolean NOT NULL,
  PRIMARY KEY (paging_id, user_id, caller));

-- Voicemail limits (wazo-confd's max_messages; XiVO's maxsecs and the
-- other voicemail.conf options as [name, value] pairs).
ALTER TABLE confd_voicemails
  ADD COLUMN max_messages integer CHECK (max_messages IS NULL OR max_messages >= 0),
  ADD COLUMN options jsonb NOT NULL DEFAULT '[]';
)SQL";

// Custom endpoints (XiVO's "Customized" trunks): an interface the call core
// dials as `<interface>/<number><interface_suffix>`, e.g. dahdi/g1 for the
// spans of DAHDI group 1 (seed 5.19.5).
constexpr const char* kV11 = R"SQL(
CREATE TABLE confd_endpoints_custom (
  id serial PRIMARY KEY,
  interface text NOT NULL CHECK (interface ~ '^[A-Za-z][A-Za-z0-9_-]*/[^\s]{1,120}$'),
  interface_suffix text CHECK (interface_suffix IS NULL OR interface_suffix ~ '^[^\s/]{0,32}$'),
  context text REFERENCES confd_contexts(name) ON UPDATE CASCADE,
  enabled boolean NOT NULL DEFAULT true);
ALTER TABLE confd_trunks
  ADD COLUMN endpoint_custom_id integer UNIQUE REFERENCES confd_endpoints_custom(id) ON DELETE SET NULL;
)SQL";

// Conference rooms' waiting room (XiVO's *Waiting room*, seed 5.7.1):
// participants wait, unheard, with music until an organizer is in.
constexpr const char* kV13 = R"SQL(
ALTER TABLE confd_conferences ADD COLUMN waiting_room boolean NOT NULL DEFAULT false;
)SQL";

// IVR menus (seed 5.20; wazo-confd's /ivr): sounds are names or paths the
// media engine plays; destinations are JSON as on incalls; `choices` a list
// of {"exten", "destination"}.
constexpr const char* kV14 = R"SQL(
CREATE TABLE confd_ivr (
  id serial PRIMARY KEY,
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 128),
  description text,
  greeting_sound text,
  menu_sound text NOT NULL,
  invalid_sound text,
  abort_sound text,
  timeout integer NOT NULL DEFAULT 5 CHECK (timeout BETWEEN 0 AND 3600),
  max_tries integer NOT NULL DEFAULT 3 CHECK (max_tries BETWEEN 1 AND 100),
  invalid_destination jsonb,
  timeout_destination jsonb,
  abort_destination jsonb,
  choices jsonb NOT NULL DEFAULT '[]');
)SQL";

// Fax detection on incalls (XiVO's incall columns faxdetectenable,
// faxdetecttimeout, faxdetectemail: the web interface's Fax tab) and
// automatic call recording of the calls an incall or a group takes (as the
// users' call_record_enabled).
constexpr const char* kV15 = R"SQL(
ALTER TABLE confd_incalls
  ADD COLUMN fax_detect_enabled boolean NOT NULL DEFAULT false,
  ADD COLUMN fax_detect_timeout integer NOT NULL DEFAULT 4 CHECK (fax_detect_timeout BETWEEN 1 AND 60),
  ADD COLUMN fax_detect_email text,
  ADD COLUMN call_record_enabled boolean NOT NULL DEFAULT false;
ALTER TABLE confd_groups
  ADD COLUMN call_record_enabled boolean NOT NULL DEFAULT false;
)SQL";

// Feature extensions (XiVO's extensions of context xivo-features, type
// extenfeatures; wazo-confd's /extensions/features): the code of each
// feature, "_*21." for a code followed by digits; seeded with
// sdk::kDefaultFeatureExtensions.
const char* v12() {
  static const std::string sql = [] {
    std::string s =
        "CREATE TABLE confd_feature_extensions ("
        " id serial PRIMARY KEY,"
        " feature text NOT NULL UNIQUE,"
        " exten text NOT NULL UNIQUE CHECK (exten ~ '^(_?[0-9*#]{1,40}|_[0-9*#]{1,40}[.])$'),"
        " enabled boolean NOT NULL DEFAULT true);"
        "INSERT INTO confd_feature_extensions (feature, exten, enabled) VALUES ";
    bool first = true;
    for (auto& d : sdk::kDefaultFeatureExtensions) {
      s += std::string(first ? "" : ", ") + "('" + d.feature + "', '" + d.exten + "', " +
           (d.enabled ? "true" : "false") + ")";
      first = false;
    }
    return s + ";";
  }();
  return sql.c_str();
}

std::span<const sdk::Migration> all_migrations() {
  static const sdk::Migration kMigrations[] = {
      {1, "confd configuration schema", kV1},
      {2, "confd list indexes",
       "CREATE INDEX confd_users_firstname ON confd_users (firstname, id);"
       "CREATE INDEX confd_users_lastname ON confd_users (lastname, id);"
       "CREATE INDEX confd_extensions_context ON confd_extensions (context, exten);"},
      {3, "confd XiVO 2017 fields, function key templates, settings", kV3},
      {4, "confd group settings, fallbacks, schedule and call permission links", kV4},
      {5, "confd boss-secretary call filters", kV5},
      {6, "confd conference rooms", kV6},
      {7, "confd call pickups and parking lots", kV7},
      {8, "confd music on hold classes", kV8},
      {9, "confd context inclusion and outgoing routes per context", kV9},
      {10, "confd paging groups, voicemail limits", kV10},
      {11, "confd custom endpoints (DAHDI and other interfaces) on trunks", kV11},
      {12, "confd feature extensions", v12()},
      {13, "confd conference waiting room", kV13},
      {14, "confd IVR menus", kV14},
      {15, "confd incall fax detection, incall and group call recording", kV15},
  };
  return kMigrations;
}

}  // namespace

std::span<const sdk::Migration> migrations() { return all_migrations(); }

}  // namespace dialtone::plugins::api::confd
