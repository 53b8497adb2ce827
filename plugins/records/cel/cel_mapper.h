// The call core's channel events as CEL rows (Asterisk's Channel Event
// Logging, the `cel` table XiVO builds its call logs and statistics on).
//
// @code
//   CelMapper m(lookup);                     // lookup: line username -> user, context
//   for (auto& row : m.map(event, now_ms)) queue(row);
// @endcode
//
// One mapper follows every open channel (its channel name, peer, linked id)
// so that a later event can name the peer's channel and the last channel of
// a call closes it with LINKEDID_END. Not thread-safe: one caller, the CEL
// plugin's bus delivery thread.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <dialtone/bus.h>

namespace dialtone::plugins::records {

// One row of `cel`, in XiVO's columns (id and call_log_id are the table's).
struct CelRow {
  std::uint64_t seq = 0;  // the writer's sequence, for crash recovery
  std::string eventtype;
  std::int64_t eventtime_ms = 0;
  std::string userdeftype, cid_name, cid_num, cid_ani, cid_rdnis, cid_dnid, exten, context, channame, appname,
      appdata;
  int amaflags = 3;  // Asterisk's DOCUMENTATION
  std::string accountcode, peeraccount, uniqueid, linkedid, userfield, peer;
  std::string extra;  // JSON object text or empty
};

// What the configuration says about a channel's endpoint; nullopt: not one
// of our lines (a trunk or a dialed URI: the call enters or leaves the PBX).
struct EndpointInfo {
  std::string user_uuid, user_name, context;
  std::int64_t line_id = 0;
  std::string userfield;  // the user's "user field", set on its outgoing calls as XiVO does
};
using EndpointLookup = std::function<std::optional<EndpointInfo>(const std::string& endpoint)>;
// The trunk a dialed URI leaves through (`sip:0123@10.0.0.1:5060` -> its SIP
// endpoint's name), empty when none: its channels are named after the trunk,
// as Asterisk names SIP/<peer>-... the channels it dials through a peer.
using TrunkLookup = std::function<std::string(const std::string& endpoint)>;

// SIP-style status of an ended channel -> Q.850 cause and Asterisk's DIALSTATUS.
int q850_of(int sip_status);
const char* dialstatus_of(int sip_status, bool answered);

class CelMapper {
 public:
  // `lookup` may be empty: then no endpoint is known and no call is marked
  // as entering or leaving (every call is internal).
  explicit CelMapper(EndpointLookup lookup, TrunkLookup trunk = {})
      : lookup_(std::move(lookup)), trunk_(std::move(trunk)) {}

  // The rows one bus event gives, in order; none for topics it does not know.
  std::vector<CelRow> map(const sdk::Event& event, std::int64_t now_ms);

  std::size_t open_channels() const { return channels_.size(); }

 private:
  struct Open {
    std::string channame, linkedid, peer;
    std::string cid_num, cid_name, exten;  // as created, for a LINKEDID_END written on another's event
    std::string userfield;  // its user's, written on its rows once the call goes out (XiVO)
    bool answered = false, held = false, outgoing = false;
    std::string app, app_data;  // the application running (APP_START without its APP_END yet)
  };
  EndpointLookup lookup_;
  TrunkLookup trunk_;
  std::unordered_map<std::string, Open> channels_;       // channel id -> state
  std::unordered_map<std::string, int> open_per_call_;   // linked id -> open channels
  std::uint64_t next_channel_ = 0;
};

}  // namespace dialtone::plugins::records
