#include "plugins/records/call_logs/call_log_schema.h"

namespace dialtone::plugins::records {
namespace {

constexpr const char* kTable = R"sql(
CREATE TABLE IF NOT EXISTS call_log (
  id serial PRIMARY KEY,
  date timestamptz NOT NULL,
  date_answer timestamptz,
  date_end timestamptz,
  source_name text NOT NULL DEFAULT '',
  source_exten text NOT NULL DEFAULT '',
  source_line_identity text NOT NULL DEFAULT '',
  destination_name text NOT NULL DEFAULT '',
  destination_exten text NOT NULL DEFAULT '',
  destination_line_identity text NOT NULL DEFAULT '',
  user_field text NOT NULL DEFAULT '',
  answered boolean NOT NULL DEFAULT false,
  duration interval NOT NULL DEFAULT '0',
  direction text NOT NULL DEFAULT 'internal' CHECK (direction IN ('internal', 'inbound', 'outbound')),
  source_user_uuid uuid,
  destination_user_uuid uuid,
  status text NOT NULL DEFAULT '',
  ring_time interval NOT NULL DEFAULT '0',
  wait_time interval NOT NULL DEFAULT '0',
  talk_time interval NOT NULL DEFAULT '0',
  answered_by text NOT NULL DEFAULT '',
  transferred boolean NOT NULL DEFAULT false,
  linkedid text NOT NULL UNIQUE
);
CREATE INDEX IF NOT EXISTS call_log__idx__date ON call_log (date);
CREATE INDEX IF NOT EXISTS call_log__idx__source_user ON call_log (source_user_uuid, date);
CREATE INDEX IF NOT EXISTS call_log__idx__destination_user ON call_log (destination_user_uuid, date);
)sql";

// xivo-call-logd's rules, set-based: the caller's leg is the channel whose
// uniqueid is the linked id; the callee is the first leg answered, else the
// first leg created; the direction comes from the XIVO_INCALL/XIVO_OUTCALL
// user events; the duration (XiVO's "Period") is the talk time. An
// unanswered call's status is the caller's DIALSTATUS (busy, noanswer,
// cancel): the callee's leg only knows it was cancelled by the PBX. XiVO
// counts a call as answered when its caller is bridged: an application that
// answers the caller stands for that (a conference), except the voicemail
// (APP_START VoiceMail), which XiVO never bridges: such a call is not
// answered, its status is `voicemail`. A call another phone picked up
// (PICKUP) is answered by that phone's line. The picker's own call (to
// *8...) ends when its channel joins the picked-up call (its LINKEDID_END
// without the caller's CHAN_END; the rest of its rows are that call's): as
// in XiVO, where its bridge belongs to the other call, it is not answered,
// lasts 0 s, and its status is `pickup`.
constexpr const char* kGenerate = R"sql(
CREATE OR REPLACE FUNCTION call_logs_generate_for(ids text[]) RETURNS integer
LANGUAGE plpgsql AS $fn$
DECLARE
  made integer;
BEGIN
  DELETE FROM call_log WHERE linkedid = ANY(ids);
  WITH c AS (
    SELECT * FROM cel WHERE linkedid = ANY(ids)
  ), caller AS (
    SELECT DISTINCT ON (linkedid) linkedid, eventtime AS date, cid_name, cid_num, exten, channame,
           NULLIF(extra, '')::jsonb AS extra
    FROM c WHERE eventtype = 'CHAN_START' AND uniqueid = linkedid ORDER BY linkedid, id
  ), legs AS (
    -- One pass over the call's rows, grouped per callee channel (linear:
    -- a batch of thousands of calls costs thousands of times one call).
    SELECT linkedid, uniqueid,
           min(id) FILTER (WHERE eventtype = 'CHAN_START') AS id,
           min(eventtime) FILTER (WHERE eventtype = 'CHAN_START') AS start,
           (array_agg(cid_name ORDER BY id) FILTER (WHERE eventtype = 'CHAN_START'))[1] AS cid_name,
           (array_agg(cid_num ORDER BY id) FILTER (WHERE eventtype = 'CHAN_START'))[1] AS cid_num,
           (array_agg(channame ORDER BY id) FILTER (WHERE eventtype = 'CHAN_START'))[1] AS channame,
           (array_agg(NULLIF(extra, '')::jsonb ORDER BY id) FILTER (WHERE eventtype = 'CHAN_START'))[1] AS extra,
           min(eventtime) FILTER (WHERE eventtype = 'ANSWER') AS answer,
           max(eventtime) FILTER (WHERE eventtype = 'CHAN_END') AS stop,
           (array_agg(NULLIF(extra, '')::jsonb ORDER BY id DESC) FILTER (WHERE eventtype = 'HANGUP'))[1] AS hangup
    FROM c WHERE uniqueid <> linkedid
    GROUP BY linkedid, uniqueid
    HAVING count(*) FILTER (WHERE eventtype = 'CHAN_START') > 0
  ), answered_leg AS (
    SELECT DISTINCT ON (linkedid) * FROM legs WHERE answer IS NOT NULL ORDER BY linkedid, answer, id
  ), first_leg AS (
    SELECT DISTINCT ON (linkedid) * FROM legs ORDER BY linkedid, id
  ), longest_ring AS (
    SELECT linkedid, max(COALESCE(stop, start) - start) AS ring FROM legs GROUP BY linkedid
  ), agg AS (
    SELECT linkedid,
           COALESCE(max(eventtime) FILTER (WHERE eventtype = 'LINKEDID_END'),
                    max(eventtime) FILTER (WHERE eventtype = 'CHAN_END')) AS date_end,
           min(eventtime) FILTER (WHERE eventtype = 'ANSWER' AND uniqueid = linkedid) AS caller_answer,
           bool_or(eventtype = 'USER_DEFINED' AND userdeftype = 'XIVO_INCALL') AS incall,
           bool_or(eventtype = 'USER_DEFINED' AND userdeftype = 'XIVO_OUTCALL') AS outcall,
           bool_or(eventtype IN ('BLINDTRANSFER', 'ATTENDEDTRANSFER')) AS transferred,
           bool_or(eventtype = 'APP_START' AND appname = 'VoiceMail' AND uniqueid = linkedid) AS voicemail,
           bool_or(eventtype = 'LINKEDID_END') AND NOT bool_or(eventtype = 'CHAN_END' AND uniqueid = linkedid)
             AS handed_over,
           max(userfield) FILTER (WHERE userfield <> '') AS userfield,
           (array_agg(NULLIF(extra, '')::jsonb ->> 'pickup_channel' ORDER BY id DESC)
              FILTER (WHERE eventtype = 'PICKUP'))[1] AS picker,
           (array_agg(NULLIF(extra, '')::jsonb ->> 'dialstatus' ORDER BY id DESC)
              FILTER (WHERE eventtype = 'HANGUP' AND uniqueid = linkedid))[1] AS caller_status
    FROM c GROUP BY linkedid
  ), calls AS (
    SELECT caller.*, agg.date_end, agg.incall, agg.outcall, agg.transferred, agg.userfield, agg.caller_status,
           agg.voicemail, agg.picker, agg.handed_over,
           COALESCE(a.answer, agg.caller_answer) AS answer_any,
           NOT agg.handed_over AND (a.uniqueid IS NOT NULL OR (agg.caller_answer IS NOT NULL AND NOT agg.voicemail))
             AS answered,
           COALESCE(a.cid_name, f.cid_name, '') AS callee_name,
           COALESCE(a.channame, f.channame, '') AS callee_channame,
           COALESCE(a.extra, f.extra) AS callee_extra,
           a.channame AS answered_channame,
           CASE WHEN a.uniqueid IS NOT NULL THEN a.answer - a.start ELSE COALESCE(r.ring, '0') END AS ring,
           f.hangup ->> 'dialstatus' AS callee_status
    FROM caller JOIN agg USING (linkedid)
    LEFT JOIN answered_leg a USING (linkedid)
    LEFT JOIN first_leg f USING (linkedid)
    LEFT JOIN longest_ring r USING (linkedid)
  )
  INSERT INTO call_log (date, date_answer, date_end, source_name, source_exten, source_line_identity,
                        destination_name, destination_exten, destination_line_identity, user_field, answered,
                        duration, direction, source_user_uuid, destination_user_uuid, status, ring_time,
                        wait_time, talk_time, answered_by, transferred, linkedid)
  SELECT date, CASE WHEN answered THEN answer_any END, date_end, cid_name, cid_num, lower(regexp_replace(channame, '-[0-9a-f]+$', '')),
         callee_name, exten, lower(regexp_replace(callee_channame, '-[0-9a-f]+$', '')), COALESCE(userfield, ''),
         answered,
         CASE WHEN answered AND date_end IS NOT NULL THEN GREATEST(date_end - answer_any, '0') ELSE '0' END,
         CASE WHEN incall THEN 'inbound' WHEN outcall THEN 'outbound' ELSE 'internal' END,
         (extra ->> 'user_uuid')::uuid, (callee_extra ->> 'user_uuid')::uuid,
         CASE WHEN answered THEN 'answered' WHEN voicemail THEN 'voicemail' WHEN handed_over THEN 'pickup'
              ELSE lower(COALESCE(caller_status, callee_status, 'failed')) END,
         GREATEST(ring, '0'),
         GREATEST(COALESCE(answer_any, date_end, date) - date, '0'),
         CASE WHEN answered AND date_end IS NOT NULL THEN GREATEST(date_end - answer_any, '0') ELSE '0' END,
         CASE WHEN answered_channame IS NOT NULL THEN lower(regexp_replace(answered_channame, '-[0-9a-f]+$', ''))
              WHEN answered AND picker <> '' THEN lower(regexp_replace(picker, '-[0-9a-f]+$', ''))
              WHEN answered THEN 'application' ELSE '' END,
         transferred, linkedid
  FROM calls;
  GET DIAGNOSTICS made = ROW_COUNT;
  UPDATE cel SET call_log_id = cl.id FROM call_log cl
   WHERE cl.linkedid = ANY(ids) AND cel.linkedid = cl.linkedid AND cel.call_log_id IS DISTINCT FROM cl.id;
  RETURN made;
END
$fn$;

CREATE OR REPLACE FUNCTION call_logs_generate(cel_count integer) RETURNS integer
LANGUAGE plpgsql AS $fn$
BEGIN
  RETURN call_logs_generate_for(ARRAY(
    SELECT DISTINCT recent.linkedid
    FROM (SELECT linkedid FROM cel WHERE call_log_id IS NULL ORDER BY id DESC LIMIT cel_count) recent
    WHERE EXISTS (SELECT 1 FROM cel e WHERE e.linkedid = recent.linkedid AND e.eventtype = 'LINKEDID_END')));
END
$fn$;
)sql";

// For reporting tools: one row per call, times in seconds.
constexpr const char* kView = R"sql(
CREATE OR REPLACE VIEW call_log_stats AS
SELECT id AS call_log_id,
       date AS start_time,
       date_answer AS answer_time,
       date_end AS end_time,
       direction,
       status,
       answered,
       answered_by,
       source_exten, source_name, source_user_uuid,
       destination_exten, destination_name, destination_user_uuid,
       extract(epoch FROM ring_time)::numeric(12, 3) AS ring_seconds,
       extract(epoch FROM wait_time)::numeric(12, 3) AS wait_seconds,
       extract(epoch FROM talk_time)::numeric(12, 3) AS talk_seconds,
       transferred,
       linkedid
FROM call_log;
)sql";

// Migration 2 first installed a generation whose cost grew with the square
// of the calls per statement; 4 replaces it on databases that ran 2, 5 on
// those that ran 4 (voicemail calls not answered), 6 on those that ran 5
// (answered_by of a pickup), 7 on those that ran 6 (the picker's own call).
// Each installs the latest.
constexpr sdk::Migration kMigrations[] = {
    {1, "create call_log", kTable},
    {2, "call log generation from cel", kGenerate},
    {3, "call_log_stats view", kView},
    {4, "call log generation in one pass per call", kGenerate},
    {5, "call logs: a call that ends in a voicemail is not answered", kGenerate},
    {6, "call logs: a picked-up call is answered by the phone that took it", kGenerate},
    {7, "call logs: the picker's own call ends unanswered when it joins the picked-up call", kGenerate},
};

}  // namespace

std::span<const sdk::Migration> call_log_migrations() { return kMigrations; }

}  // namespace dialtone::plugins::records
