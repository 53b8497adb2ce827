// CelMapper: the call core's channel events give the CEL rows Asterisk would
// write for the same call, in order, with the peer's channel name, the
// Q.850 cause and LINKEDID_END after the call's last channel.
#include <gtest/gtest.h>

#include "plugins/records/cel/cel_mapper.h"

namespace {

using dialtone::plugins::records::CelMapper;
using dialtone::plugins::records::CelRow;
using dialtone::plugins::records::EndpointInfo;

std::string body(const std::string& id, const std::string& call, const std::string& endpoint, const char* dir,
                 const char* state, const std::string& peer = "", int cause = -1) {
  std::string b = R"({"id":")" + id + R"(","call_id":")" + call + R"(","backend":"sip","endpoint":")" + endpoint +
                  R"(","direction":")" + dir + R"(","state":")" + state +
                  R"(","caller_number":"1001","caller_name":"Alice","callee_number":"1002","callee_name":"",)" +
                  R"("protocol_id":"abc","peer":")" + peer + R"(","created_at_ms":1700000000000,"answered_at_ms":0)";
  if (cause >= 0) b += ",\"cause\":" + std::to_string(cause);
  return b + "}";
}

std::vector<std::string> types(const std::vector<CelRow>& rows) {
  std::vector<std::string> out;
  for (auto& r : rows) out.push_back(r.eventtype + (r.userdeftype.empty() ? "" : ":" + r.userdeftype));
  return out;
}

CelMapper lines_only() {
  return CelMapper([](const std::string& endpoint) -> std::optional<EndpointInfo> {
    if (endpoint == "alice") return EndpointInfo{"uuid-a", "Alice Liddell", "default", 1, ""};
    if (endpoint == "bob") return EndpointInfo{"uuid-b", "Bob Marley", "default", 2, ""};
    return std::nullopt;
  });
}

TEST(CelMapper, AnsweredInternalCall) {
  auto m = lines_only();
  std::vector<CelRow> all;
  auto feed = [&](const char* topic, const std::string& b) {
    auto rows = m.map({topic, b}, 1700000001000);
    all.insert(all.end(), rows.begin(), rows.end());
  };
  feed("calls.channel.created", body("c-1", "c-1", "alice", "inbound", "down"));
  feed("calls.channel.created", body("c-2", "c-1", "bob", "outbound", "down"));
  feed("calls.channel.state", body("c-2", "c-1", "bob", "outbound", "ringing"));
  feed("calls.channel.state", body("c-2", "c-1", "bob", "outbound", "up", "c-1"));
  feed("calls.channel.state", body("c-1", "c-1", "alice", "inbound", "up", "c-2"));
  feed("calls.channel.ended", body("c-1", "c-1", "alice", "inbound", "ended", "c-2", 200));
  feed("calls.channel.ended", body("c-2", "c-1", "bob", "outbound", "ended", "", 200));
  EXPECT_EQ(types(all), (std::vector<std::string>{"CHAN_START", "CHAN_START", "ANSWER", "BRIDGE_ENTER", "ANSWER",
                                                  "BRIDGE_ENTER", "BRIDGE_EXIT", "HANGUP", "CHAN_END", "BRIDGE_EXIT",
                                                  "HANGUP", "CHAN_END", "LINKEDID_END"}));
  EXPECT_EQ(all[0].cid_num, "1001");
  EXPECT_EQ(all[0].cid_name, "Alice");
  EXPECT_EQ(all[0].exten, "1002");
  EXPECT_EQ(all[0].context, "default");
  EXPECT_EQ(all[0].channame.rfind("SIP/alice-", 0), 0u) << all[0].channame;
  EXPECT_NE(all[0].extra.find("\"user_uuid\":\"uuid-a\""), std::string::npos) << all[0].extra;
  // The callee's leg carries the callee: his name from the configuration.
  EXPECT_EQ(all[1].cid_num, "1002");
  EXPECT_EQ(all[1].cid_name, "Bob Marley");
  EXPECT_EQ(all[1].linkedid, "c-1");
  EXPECT_EQ(all[1].uniqueid, "c-2");
  EXPECT_EQ(all[3].peer, all[0].channame) << "BRIDGE_ENTER names the peer's channel";
  EXPECT_NE(all[7].extra.find("\"hangupcause\":16"), std::string::npos) << all[7].extra;
  EXPECT_NE(all[7].extra.find("\"dialstatus\":\"ANSWER\""), std::string::npos) << all[7].extra;
  EXPECT_EQ(all.back().linkedid, "c-1");
  EXPECT_EQ(m.open_channels(), 0u);
}

TEST(CelMapper, BusyCalleeAndTrunkDirection) {
  auto m = lines_only();
  std::vector<CelRow> all;
  auto feed = [&](const char* topic, const std::string& b) {
    auto rows = m.map({topic, b}, 1700000001000);
    all.insert(all.end(), rows.begin(), rows.end());
  };
  // From a trunk (not a line) to bob, who is busy.
  feed("calls.channel.created", body("t-1", "t-1", "provider", "inbound", "down"));
  feed("calls.channel.created", body("t-2", "t-1", "bob", "outbound", "down"));
  feed("calls.channel.ended", body("t-2", "t-1", "bob", "outbound", "ended", "", 486));
  feed("calls.channel.ended", body("t-1", "t-1", "provider", "inbound", "ended", "", 486));
  EXPECT_EQ(types(all), (std::vector<std::string>{"CHAN_START", "USER_DEFINED:XIVO_INCALL", "CHAN_START", "HANGUP",
                                                  "CHAN_END", "HANGUP", "CHAN_END", "LINKEDID_END"}));
  EXPECT_NE(all[3].extra.find("\"hangupcause\":17"), std::string::npos) << all[3].extra;
  EXPECT_NE(all[3].extra.find("\"dialstatus\":\"BUSY\""), std::string::npos) << all[3].extra;
}

// XiVO's outgoing call sets the calling user's user field on the caller's
// channel: alice's rows carry it once her call leaves through a trunk, and
// an internal call's rows do not. The leg to the dialed URI is named after
// the trunk it leaves through, as Asterisk's SIP/<peer>-... channels.
TEST(CelMapper, OutgoingCallsCarryTheCallersUserField) {
  CelMapper m(
      [](const std::string& endpoint) -> std::optional<EndpointInfo> {
        if (endpoint == "alice") return EndpointInfo{"uuid-a", "Alice Liddell", "default", 1, "CP1234"};
        if (endpoint == "bob") return EndpointInfo{"uuid-b", "Bob Marley", "default", 2, "B-77"};
        return std::nullopt;
      },
      [](const std::string& endpoint) { return endpoint == "sip:0123@10.0.0.1" ? "provider" : ""; });
  (void)m.map({"calls.channel.created", body("o-1", "o-1", "alice", "inbound", "down")}, 1);
  auto out = m.map({"calls.channel.created", body("o-2", "o-1", "sip:0123@10.0.0.1", "outbound", "down")}, 2);
  ASSERT_EQ(types(out), (std::vector<std::string>{"CHAN_START", "USER_DEFINED:XIVO_OUTCALL"}));
  EXPECT_EQ(out[0].channame.rfind("SIP/provider-", 0), 0u) << out[0].channame;
  EXPECT_EQ(out[0].userfield, "");
  EXPECT_EQ(out[1].userfield, "CP1234");
  auto up = m.map({"calls.channel.state", body("o-1", "o-1", "alice", "inbound", "up", "o-2")}, 3);
  ASSERT_FALSE(up.empty());
  for (auto& r : up) EXPECT_EQ(r.userfield, "CP1234") << r.eventtype;
  // bob calls alice: internal, no user field anywhere.
  std::vector<CelRow> internal;
  for (auto& b : {std::pair{"calls.channel.created", body("i-1", "i-1", "bob", "inbound", "down")},
                  std::pair{"calls.channel.created", body("i-2", "i-1", "alice", "outbound", "down")},
                  std::pair{"calls.channel.state", body("i-1", "i-1", "bob", "inbound", "up", "i-2")}})
    for (auto& r : m.map({b.first, b.second}, 4)) internal.push_back(r);
  ASSERT_EQ(internal.size(), 4u);
  for (auto& r : internal) EXPECT_EQ(r.userfield, "") << r.eventtype;
}

TEST(CelMapper, EventsOfUnknownChannelsAndBadBodiesGiveNothing) {
  auto m = lines_only();
  EXPECT_TRUE(m.map({"calls.channel.state", body("x", "x", "alice", "inbound", "up")}, 1).empty());
  EXPECT_TRUE(m.map({"calls.channel.created", "not json"}, 1).empty());
  EXPECT_TRUE(m.map({"config.user.created", "{}"}, 1).empty());
}

TEST(CelMapper, HoldAndTransferEventsWhenTheCoreSendsThem) {
  auto m = lines_only();
  (void)m.map({"calls.channel.created", body("h-1", "h-1", "alice", "inbound", "down")}, 1);
  EXPECT_EQ(types(m.map({"calls.channel.held", body("h-1", "h-1", "alice", "inbound", "up")}, 2)),
            std::vector<std::string>{"HOLD"});
  EXPECT_TRUE(m.map({"calls.channel.held", body("h-1", "h-1", "alice", "inbound", "up")}, 2).empty());
  EXPECT_EQ(types(m.map({"calls.channel.unheld", body("h-1", "h-1", "alice", "inbound", "up")}, 3)),
            std::vector<std::string>{"UNHOLD"});
  EXPECT_EQ(types(m.map({"calls.channel.transferred", body("h-1", "h-1", "alice", "inbound", "up")}, 4)),
            std::vector<std::string>{"BLINDTRANSFER"});
  auto attended = body("h-1", "h-1", "alice", "inbound", "up");
  attended.insert(attended.size() - 1, R"(,"kind":"attended","target_channel":"h-9")");
  auto rows = m.map({"calls.channel.transferred", attended}, 5);
  ASSERT_EQ(types(rows), std::vector<std::string>{"ATTENDEDTRANSFER"});
  EXPECT_EQ(rows[0].extra, R"({"target_channel":"h-9"})");
}

// Parking and pickup as the call core publishes them (calls.park.*,
// calls.pickup: the channel's body plus the service's string fields) give
// Asterisk's PARK_START / PARK_END (with the reason) and PICKUP rows.
TEST(CelMapper, ParkAndPickupEventsGiveXivosRows) {
  auto m = lines_only();
  (void)m.map({"calls.channel.created", body("p-1", "p-1", "alice", "inbound", "down")}, 1);
  (void)m.map({"calls.channel.created", body("p-2", "p-2", "bob", "inbound", "down")}, 1);
  auto with = [](std::string b, const std::string& fields) { return b.insert(b.size() - 1, "," + fields); };
  auto parked = m.map({"calls.park.parked", with(body("p-1", "p-1", "alice", "inbound", "up"),
                                                  R"("slot":"701","lot":"default","parker":"p-2","parker_endpoint":"sip/bob","timeout":"45")")},
                      2);
  ASSERT_EQ(types(parked), std::vector<std::string>{"PARK_START"});
  EXPECT_EQ(parked[0].uniqueid, "p-1");
  EXPECT_EQ(parked[0].linkedid, "p-1");
  EXPECT_NE(parked[0].extra.find(R"("parking_lot":"default","parking_space":"701","parker_dial_string":"sip/bob")"),
            std::string::npos)
      << parked[0].extra;
  EXPECT_NE(parked[0].extra.find(R"("parker":"SIP/bob-)"), std::string::npos) << parked[0].extra;
  auto slot = R"("slot":"701","lot":"default")";
  auto end = [&](const char* topic, const std::string& more) {
    auto rows = m.map({topic, with(body("p-1", "p-1", "alice", "inbound", "up"), more)}, 3);
    return rows.size() == 1 && rows[0].eventtype == "PARK_END" ? rows[0].extra : "rows: " + std::to_string(rows.size());
  };
  EXPECT_NE(end("calls.park.retrieved", std::string(slot) + R"(,"retriever":"p-2")").find(R"("reason":"ParkedCallUnparked")"),
            std::string::npos);
  EXPECT_NE(end("calls.park.retrieved", std::string(slot) + R"(,"retriever":"p-2")").find(R"("retriever":"SIP/bob-)"),
            std::string::npos);
  EXPECT_NE(end("calls.park.timeout", slot).find(R"("reason":"ParkedCallTimeOut")"), std::string::npos);
  EXPECT_NE(end("calls.park.abandoned", slot).find(R"("reason":"ParkedCallGiveUp")"), std::string::npos);
  // bob's phone picks up a call ringing on carol's (gone already).
  auto picked = m.map({"calls.pickup", with(body("p-1", "p-1", "alice", "inbound", "up"),
                                            R"("picker":"p-2","ringing_channel":"p-9","ringing_endpoint":"sip/carol")")},
                      4);
  // bob's own call ends there (ThePickerJoinsThePickedUpCall).
  ASSERT_EQ(types(picked), (std::vector<std::string>{"PICKUP", "LINKEDID_END"}));
  EXPECT_EQ(picked[0].uniqueid, "p-1");
  EXPECT_NE(picked[0].extra.find(R"("pickup_channel":"SIP/bob-)"), std::string::npos) << picked[0].extra;
  EXPECT_NE(picked[0].extra.find(R"("ringing_channel":"sip/carol")"), std::string::npos) << picked[0].extra;
  // Not a service the mapper knows: nothing.
  EXPECT_TRUE(m.map({"calls.park.moved", body("p-1", "p-1", "alice", "inbound", "up")}, 5).empty());
}

// The picker's channel joins the call it picked up, as Asterisk's joins the
// caller's bridge (the oldest linked id wins): its own call ends there
// (LINKEDID_END under its own linked id, the channel still up), its bridge
// and hangup rows are the picked-up call's, whose LINKEDID_END waits for it.
TEST(CelMapper, ThePickerJoinsThePickedUpCall) {
  auto m = lines_only();
  (void)m.map({"calls.channel.created", body("k-1", "k-1", "alice", "inbound", "down")}, 1);
  (void)m.map({"calls.channel.created", body("k-3", "k-1", "carol", "outbound", "down")}, 1);
  (void)m.map({"calls.channel.created", body("k-2", "k-2", "bob", "inbound", "down")}, 2);
  EXPECT_EQ(types(m.map({"calls.channel.ended", body("k-3", "k-1", "carol", "outbound", "ended", "", 487)}, 3)),
            (std::vector<std::string>{"HANGUP", "CHAN_END"}));
  (void)m.map({"calls.channel.state", body("k-1", "k-1", "alice", "inbound", "up")}, 3);
  auto answered = m.map({"calls.channel.state", body("k-2", "k-2", "bob", "inbound", "up")}, 3);
  ASSERT_EQ(types(answered), std::vector<std::string>{"ANSWER"});
  EXPECT_EQ(answered[0].linkedid, "k-2");
  auto b = body("k-1", "k-1", "alice", "inbound", "up");
  auto picked = m.map({"calls.pickup", b.insert(b.size() - 1, R"(,"picker":"k-2","ringing_channel":"k-3")")}, 4);
  ASSERT_EQ(types(picked), (std::vector<std::string>{"PICKUP", "LINKEDID_END"}));
  EXPECT_EQ(picked[1].uniqueid, "k-2");
  EXPECT_EQ(picked[1].linkedid, "k-2");
  EXPECT_EQ(picked[1].channame.rfind("SIP/bob-", 0), 0u) << picked[1].channame;
  EXPECT_EQ(picked[1].cid_name, "Alice");  // the picker's own caller id (body(): caller Alice 1001)
  auto bridged = m.map({"calls.channel.state", body("k-2", "k-2", "bob", "inbound", "up", "k-1")}, 5);
  ASSERT_EQ(types(bridged), std::vector<std::string>{"BRIDGE_ENTER"});
  EXPECT_EQ(bridged[0].uniqueid, "k-2");
  EXPECT_EQ(bridged[0].linkedid, "k-1");
  EXPECT_EQ(types(m.map({"calls.channel.ended", body("k-1", "k-1", "alice", "inbound", "ended", "", 200)}, 6)),
            (std::vector<std::string>{"HANGUP", "CHAN_END"}));
  auto last = m.map({"calls.channel.ended", body("k-2", "k-2", "bob", "inbound", "ended", "", 200)}, 7);
  ASSERT_EQ(types(last), (std::vector<std::string>{"BRIDGE_EXIT", "HANGUP", "CHAN_END", "LINKEDID_END"}));
  for (auto& r : last) EXPECT_EQ(r.linkedid, "k-1") << r.eventtype;
  EXPECT_EQ(m.open_channels(), 0u);
}

// call:app_event around a dialplan application (voicemail) gives Asterisk's
// APP_START / APP_END with the application and its argument.
TEST(CelMapper, ApplicationEventsGiveAppStartAndEnd) {
  auto m = lines_only();
  (void)m.map({"calls.channel.created", body("a-1", "a-1", "alice", "inbound", "down")}, 1);
  auto app = [](const char* phase) {
    auto b = body("a-1", "a-1", "alice", "inbound", "up");
    return b.insert(b.size() - 1, std::string(R"(,"phase":")") + phase + R"(","app":"VoiceMail","data":"1002@default")");
  };
  auto start = m.map({"calls.channel.app", app("start")}, 2);
  ASSERT_EQ(types(start), std::vector<std::string>{"APP_START"});
  EXPECT_EQ(start[0].appname, "VoiceMail");
  EXPECT_EQ(start[0].appdata, "1002@default");
  EXPECT_EQ(start[0].uniqueid, "a-1");
  EXPECT_EQ(start[0].channame.rfind("SIP/alice-", 0), 0u) << start[0].channame;
  auto end = m.map({"calls.channel.app", app("end")}, 3);
  ASSERT_EQ(types(end), std::vector<std::string>{"APP_END"});
  EXPECT_EQ(end[0].appname, "VoiceMail");
  EXPECT_TRUE(m.map({"calls.channel.app", app("middle")}, 4).empty());

  // The caller hangs up inside the next application: its APP_END comes with
  // the channel's end, before the HANGUP, and only once.
  (void)m.map({"calls.channel.app", app("start")}, 5);
  auto gone = m.map({"calls.channel.ended", body("a-1", "a-1", "alice", "inbound", "ended", "", 200)}, 6);
  ASSERT_EQ(types(gone), (std::vector<std::string>{"APP_END", "HANGUP", "CHAN_END", "LINKEDID_END"}));
  EXPECT_EQ(gone[0].appname, "VoiceMail");
  EXPECT_EQ(gone[0].appdata, "1002@default");
  auto m2 = lines_only();
  (void)m2.map({"calls.channel.created", body("a-2", "a-2", "alice", "inbound", "down")}, 1);
  auto ended = m2.map({"calls.channel.ended", body("a-2", "a-2", "alice", "inbound", "ended", "", 200)}, 2);
  EXPECT_EQ(types(ended), (std::vector<std::string>{"HANGUP", "CHAN_END", "LINKEDID_END"}));
}

// The core's duration_ms counts from the answer: an answered channel's end
// is answered_at_ms + duration_ms, whenever the event is delivered.
TEST(CelMapper, EndTimeFromTheCoresDuration) {
  auto m = lines_only();
  (void)m.map({"calls.channel.created", body("d-1", "d-1", "alice", "inbound", "down")}, 1);
  auto ended = body("d-1", "d-1", "alice", "inbound", "ended", "", 200);
  auto at = ended.find("\"answered_at_ms\":0");
  ended.replace(at, 18, "\"answered_at_ms\":1700000002000,\"duration_ms\":1500");
  auto rows = m.map({"calls.channel.ended", ended}, 1800000000000);
  ASSERT_EQ(types(rows), (std::vector<std::string>{"HANGUP", "CHAN_END", "LINKEDID_END"}));
  for (auto& r : rows) EXPECT_EQ(r.eventtime_ms, 1700000003500) << r.eventtype;
}

}  // namespace
