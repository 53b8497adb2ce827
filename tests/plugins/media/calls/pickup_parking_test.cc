// Pickup (seed 5.12 directed, 5.17 group, a BLF key's Replaces) and parking
// (seed 5.25) end to end, on what the people on the phones notice: SIPp
// phones through backend.sip, the real media engine and the project's
// dialplan (lib/pickup.lua, lib/parking.lua). Who ends up talking to whom is
// checked on the audio: each side's RTP peer sends its own tone and the
// other must hear it (Goertzel); a phone that stops ringing got a CANCEL
// (its SIPp scenario fails otherwise).
#include <algorithm>

#include <rapidjson/document.h>

#include <dialtone/services.h>

#include "tests/plugins/media/calls/sip_media_fixture.h"
#include "tests/plugins/media/engine/rtp_peer.h"

namespace dialtone::testing {
namespace {

namespace tm = testing::media;
using sdk::media::Codec;

class PickupParkingTest : public SipMediaTest {
 protected:
  static void SetUpTestSuite() {
    make_host({{"alice", "1001"}, {"bob", "1002"}, {"carol", "1003"}, {"dave", "1004"}},
              std::filesystem::path(SIP_TEST_DIR) / "media_dialplan.lua");
    start_media();
  }
  void SetUp() override {
    start_plugin();
    events_before_ = host_->test_bus().events().size();
  }

  // `user` dials `number` from a SIPp phone whose RTP is `peer`.
  void dial(Phone& p, const std::string& user, const std::string& number, tm::RtpPeer& peer,
            const std::string& file = "uac_media.xml", std::vector<std::string> extra = {}) {
    extra.insert(extra.end(), {"-key", "rtp_port", std::to_string(peer.port())});
    caller(p, user, number, file, 1, extra);
  }
  // The channel of `user`'s own call (inbound), once it exists.
  std::string inbound_of(const std::string& user) {
    std::string id;
    EXPECT_TRUE(eventually([&] {
      for (auto& c : host_->calls().channels())
        if (c.backend == "sip" && c.endpoint == user && c.direction == sdk::ChannelDirection::inbound) id = c.id;
      return !id.empty();
    })) << "no call from " << user << "\n" << log_tail();
    return id;
  }
  // Waits until `user`'s phone rings (its leg alerting).
  void wait_ringing(const std::string& user) {
    EXPECT_TRUE(eventually([&] {
      for (auto& c : host_->calls().channels())
        if (c.endpoint == user && c.direction == sdk::ChannelDirection::outbound &&
            c.state == sdk::ChannelState::ringing)
          return true;
      return false;
    })) << user << " never rang\n" << log_tail();
  }
  // `peer` sends to the engine endpoint answering `channel`.
  void connect(const std::string& channel, tm::RtpPeer& peer) {
    std::shared_ptr<sdk::media::Endpoint> ep;
    ASSERT_TRUE(eventually([&] { return (ep = engine_->channel_endpoint(channel)) != nullptr; }))
        << "channel " << channel << " is not answered by the engine\n" << log_tail();
    peer.set_remote(ep->local_port());
  }
  // Two parties talk: each hears the other's tone.
  static void expect_talking(tm::RtpPeer& a, tm::RtpPeer& b) {
    EXPECT_TRUE(hears_tone(a, b, 500)) << "the second party does not hear the first";
    EXPECT_TRUE(hears_tone(b, a, 900)) << "the first party does not hear the second";
  }
  // The first event of this test on `topic` whose body holds `text`.
  std::optional<sdk::Event> event(const std::string& topic, const std::string& text = {}) {
    std::optional<sdk::Event> found;
    eventually([&] {
      auto all = host_->test_bus().events();
      for (std::size_t i = events_before_; i < all.size(); ++i)
        if (all[i].topic == topic && all[i].body.find(text) != std::string::npos) {
          found = all[i];
          return true;
        }
      return false;
    });
    return found;
  }
  void expect_media_idle() override {
    SipMediaTest::expect_media_idle();
    EXPECT_TRUE(host_->calls().parked_calls().empty()) << "a parking slot is still taken";
  }
  // Hangs up `channel` from Dialtone's side: its phone gets a BYE, and the
  // party bridged with it too.
  void hang_up(const std::string& channel) { ASSERT_TRUE(host_->calls().hangup_channel(channel)); }
  // `user`'s call once the engine answers it, `peer` sending to its endpoint.
  std::string answered(const std::string& user, tm::RtpPeer& peer) {
    auto id = inbound_of(user);
    connect(id, peer);
    return id;
  }

  // The first calls.park.parked holding `text`: its channel and slot; empty
  // (the test failed, `phones` finished) when nothing was parked.
  std::pair<std::string, std::string> parked(const std::string& text, std::initializer_list<Phone*> phones) {
    auto e = event("calls.park.parked", text);
    if (!e) {
      std::string out;
      for (auto* p : phones) {
        p->finish();
        out += p->out;
      }
      ADD_FAILURE() << "not parked (" << text << "):\n" << log_tail() << out;
      return {};
    }
    rapidjson::Document d;
    d.Parse(e->body.c_str());
    return {d["id"].GetString(), d["slot"].GetString()};
  }
  // The party parked on `channel` (RTP at `pp`, its phone `party`) hears the
  // music; carol dials `slot` and the two talk; carol is hung up, and both
  // phones must finish their scenarios.
  void retrieve_and_talk(const std::string& channel, tm::RtpPeer& pp, Phone& party, const std::string& slot,
                         Phone& carol, tm::RtpPeer& pc) {
    connect(channel, pp);
    EXPECT_TRUE(eventually([&] { return tm::loud_samples(pp.audio(), 8000) > 8000; })) << "the parked party hears nothing";
    dial(carol, "carol", slot, pc);
    auto cc = answered("carol", pc);
    ASSERT_TRUE(event("calls.park.retrieved", "\"retriever\":\"" + cc + "\"")) << log_tail();
    expect_talking(pp, pc);
    hang_up_and_finish(cc, {&carol, &party});
  }

  // bob talks to alice (RTP at `pa`), dials the parking extension `exten`
  // (he is parked), then transfers alice there with Replaces naming that
  // call; bob's phone must get NOTIFY 100, NOTIFY 200 and BYE on both calls.
  // The slot's channel (now alice's) and its slot; empty when not parked.
  std::pair<std::string, std::string> park_by_attended_transfer(Phone& alice, Phone& bob, tm::RtpPeer& pa,
                                                                const std::string& exten) {
    callee(alice, "alice", "uas_media_transferred.xml", 1, {"-key", "rtp_port", std::to_string(pa.port())});
    if (::testing::Test::HasFatalFailure()) return {};
    caller(bob, "bob", "1001", "xfer_attended_to_park.xml", 2,
           {"-r", "1", "-rp", "1000", "-cid_str", "%u-%p-xfer", "-key", "park_exten", exten});
    auto parked_slot = parked("\"endpoint\":\"bob\"", {&alice, &bob});
    if (parked_slot.first.empty()) return {};
    EXPECT_EQ(bob.finish(), 0) << "bob should get NOTIFY 100, NOTIFY 200 and BYE on both calls:\n" << bob.out
                               << log_tail();
    return parked_slot;
  }

  // alice (RTP at `pa`) calls bob, whose phone rings until a pickup cancels it.
  void alice_rings_bob(Phone& alice, Phone& bob, tm::RtpPeer& pa) {
    ASSERT_NO_FATAL_FAILURE(callee(bob, "bob", "uas_ring_cancel.xml"));
    dial(alice, "alice", "1002", pa, "uac_media_ringing.xml");
    wait_ringing("bob");
  }
  // After alice_rings_bob, `taker` (RTP at `pt`) took the call: bob's phone
  // stopped ringing (CANCEL) and alice and the taker talk. Their channels.
  std::pair<std::string, std::string> expect_taken(Phone& bob, const std::string& taker, tm::RtpPeer& pa,
                                                   tm::RtpPeer& pt) {
    auto ca = answered("alice", pa), ct = answered(taker, pt);
    EXPECT_EQ(bob.finish(), 0) << "bob's phone was not cancelled:\n" << bob.out;
    expect_talking(pa, pt);
    return {ca, ct};
  }

  // A parking lot reached at `exten`: `values` are its (name, slots_start,
  // slots_end, timeout[, timeout_destination]) as SQL.
  struct Lot {
    std::string id, extension;
  };
  static Lot add_lot(const std::string& exten, const std::string& columns, const std::string& values) {
    Lot l;
    l.id = host_->sql("INSERT INTO confd_parkinglots (" + columns + ") VALUES (" + values + ") RETURNING id");
    l.extension = host_->sql("INSERT INTO confd_extensions (exten, context) VALUES ($1, 'default') RETURNING id", {exten});
    host_->sql("INSERT INTO confd_parkinglot_extensions (parkinglot_id, extension_id) VALUES ($1, $2)",
               {l.id, l.extension});
    return l;
  }
  static Lot add_lot(const std::string& exten, const std::string& values) {
    return add_lot(exten, "name, slots_start, slots_end, timeout", values);
  }
  static void remove_lot(const Lot& l) {
    host_->sql("DELETE FROM confd_parkinglots WHERE id = $1", {l.id});
    host_->sql("DELETE FROM confd_extensions WHERE id = $1", {l.extension});
  }

  // `user`'s BLF key on `target` (a SUBSCRIBE for the dialog package) in
  // the background, running `file`; subscribed once this returns.
  void watch(Phone& p, const std::string& user, const std::string& target, const std::string& file) {
    auto args = sipp_args(file, 1, "25s");
    args.insert(args.begin(), target_);
    std::vector<std::string> keys{"-au", user, "-ap", user + "pw", "-key", "user", user, "-key", "target", target,
                                  "-key", "event", "dialog", "-key", "accept", "application/dialog-info+xml",
                                  "-key", "expires", "600"};
    args.insert(args.end(), keys.begin(), keys.end());
    p.rc = std::async(std::launch::async, [args, &p] { return run_sipp(args, &p.out); });
    ASSERT_TRUE(eventually([&] { return plugin_->subscriptions() == 1; })) << "no subscription\n" << log_tail();
  }

  std::size_t events_before_ = 0;
};

// alice calls bob (1002), whose phone rings; carol dials *81002: bob's
// phone stops ringing (CANCEL), alice and carol talk.
TEST_F(PickupParkingTest, DirectedPickupTakesTheRingingCall) {
  Phone bob, alice, carol;
  tm::RtpPeer pa, pc;
  ASSERT_NO_FATAL_FAILURE(alice_rings_bob(alice, bob, pa));
  dial(carol, "carol", "*81002", pc);
  auto [ca, cc] = expect_taken(bob, "carol", pa, pc);
  auto picked = event("calls.pickup", "\"picker\":\"" + cc + "\"");
  ASSERT_TRUE(picked) << "no calls.pickup event";
  EXPECT_NE(picked->body.find("\"id\":\"" + ca + "\""), std::string::npos) << picked->body;
  EXPECT_NE(picked->body.find("\"ringing_endpoint\":\"sip/bob\""), std::string::npos) << picked->body;
  hang_up_and_finish(cc, {&carol, &alice});  // carol hangs up: alice's call ends with it
}

// Group pickup (*8): carol intercepts bob's calls (a pickup group); dave,
// who intercepts nothing, is refused while bob rings; carol takes the call.
TEST_F(PickupParkingTest, GroupPickupServesOnlyInterceptors) {
  auto group = host_->sql("INSERT INTO confd_callpickups (name) VALUES ('reception') RETURNING id");
  host_->sql("INSERT INTO confd_callpickup_users (callpickup_id, category, user_id) VALUES ($1, 'interceptor', $2), "
             "($1, 'target', $3)", {group, user_ids_["carol"], user_ids_["bob"]});
  Phone bob, alice, dave, carol;
  tm::RtpPeer pa, pd, pc;
  ASSERT_NO_FATAL_FAILURE(alice_rings_bob(alice, bob, pa));
  dial(dave, "dave", "*8", pd, "uac_media_480.xml");
  EXPECT_EQ(dave.finish(), 0) << "dave should be refused with 480:\n" << dave.out;
  dial(carol, "carol", "*8", pc);
  auto [ca, cc] = expect_taken(bob, "carol", pa, pc);
  hang_up_and_finish(ca, {&carol, &alice});
  host_->sql("DELETE FROM confd_callpickups WHERE id = $1", {group});
}

// The same through groups: carol intercepts as a member of an interceptor
// group, bob is rung as a member of a target group.
TEST_F(PickupParkingTest, GroupPickupThroughGroupMembership) {
  auto front = host_->sql("INSERT INTO confd_groups (name) VALUES ('front') RETURNING id");
  auto sales = host_->sql("INSERT INTO confd_groups (name) VALUES ('sales') RETURNING id");
  host_->sql("INSERT INTO confd_group_members (group_id, user_id, position) VALUES ($1, $2, 1), ($3, $4, 1)",
             {front, user_ids_["carol"], sales, user_ids_["bob"]});
  auto group = host_->sql("INSERT INTO confd_callpickups (name) VALUES ('by-groups') RETURNING id");
  host_->sql("INSERT INTO confd_callpickup_groups (callpickup_id, category, group_id) VALUES ($1, 'interceptor', $2), "
             "($1, 'target', $3)", {group, front, sales});
  Phone bob, alice, carol;
  tm::RtpPeer pa, pc;
  ASSERT_NO_FATAL_FAILURE(alice_rings_bob(alice, bob, pa));
  dial(carol, "carol", "*8", pc);
  auto cc = expect_taken(bob, "carol", pa, pc).second;
  hang_up_and_finish(cc, {&carol, &alice});
  host_->sql("DELETE FROM confd_callpickups WHERE id = $1", {group});
  host_->sql("DELETE FROM confd_groups WHERE id IN ($1, $2)", {front, sales});
}

// Picking up where nothing rings: refused with 480, nothing left over.
TEST_F(PickupParkingTest, PickingUpNothingIsRefused) {
  Phone carol;
  tm::RtpPeer pc;
  dial(carol, "carol", "*81002", pc, "uac_media_480.xml");
  EXPECT_EQ(carol.finish(), 0) << carol.out;
  auto line = host_->logger().lines();
  EXPECT_TRUE(std::any_of(line.begin(), line.end(), [](const std::string& l) {
    return l.find("nothing picked up") != std::string::npos && l.find("1002") != std::string::npos;
  })) << log_tail();
  expect_media_idle();
}

// A BLF key: the ringing leg's event carries its Call-ID and tags (what
// the dialog NOTIFY shows); dave's INVITE with Replaces naming that dialog
// takes the call.
TEST_F(PickupParkingTest, InviteWithReplacesToARingingDialogPicksItUp) {
  Phone bob, alice, dave;
  tm::RtpPeer pa, pd;
  ASSERT_NO_FATAL_FAILURE(alice_rings_bob(alice, bob, pa));
  auto ringing = event("calls.channel.state", "\"local_tag\"");
  ASSERT_TRUE(ringing) << "the ringing leg's event has no tags\n" << log_tail();
  rapidjson::Document d;
  d.Parse(ringing->body.c_str());
  std::string call_id = d["protocol_id"].GetString(), phone = d["local_tag"].GetString(),
              ours = d["remote_tag"].GetString();
  EXPECT_EQ(std::string(d["endpoint"].GetString()), "bob");
  EXPECT_FALSE(call_id.empty() || phone.empty() || ours.empty()) << ringing->body;
  // As a Yealink builds it from the dialog-info: to-tag the remote, from-tag the local.
  dial(dave, "dave", "1002", pd, "uac_media_replaces.xml",
       {"-key", "replaces_callid", call_id, "-key", "to_tag", ours, "-key", "from_tag", phone});
  auto cd = expect_taken(bob, "dave", pa, pd).second;
  hang_up_and_finish(cd, {&dave, &alice});
}

// alice dials 700: parked in 701, she hears the slot then music; bob dials
// 700: 702 (slots rotate); carol dials 702 and talks to bob; dave dials 702
// again: empty, he hears the "invalid park" prompt and Dialtone hangs up.
TEST_F(PickupParkingTest, ParkRotatesSlotsAndDialingTheSlotTakesTheCall) {
  Phone alice, bob, carol, dave;
  tm::RtpPeer pa, pb, pc, pd;
  dial(alice, "alice", "700", pa);
  auto ca = answered("alice", pa);
  auto parked = event("calls.park.parked", "\"id\":\"" + ca + "\"");
  ASSERT_TRUE(parked) << log_tail();
  EXPECT_NE(parked->body.find("\"slot\":\"701\""), std::string::npos) << parked->body;
  // The slot number, then the music: alice hears sound all along.
  EXPECT_TRUE(eventually([&] { return tm::loud_samples(pa.audio(), 8000) > 8000; })) << "alice hears nothing";
  dial(bob, "bob", "700", pb);
  auto cb = answered("bob", pb);
  auto second = event("calls.park.parked", "\"id\":\"" + cb + "\"");
  ASSERT_TRUE(second) << log_tail();
  EXPECT_NE(second->body.find("\"slot\":\"702\""), std::string::npos) << second->body;
  dial(carol, "carol", "702", pc);
  auto cc = answered("carol", pc);
  ASSERT_TRUE(event("calls.park.retrieved", "\"retriever\":\"" + cc + "\"")) << log_tail();
  expect_talking(pb, pc);
  dial(dave, "dave", "702", pd);  // empty now
  answered("dave", pd);
  EXPECT_EQ(dave.finish(), 0) << "dave's call should end after the prompt:\n" << dave.out;
  EXPECT_GT(tm::loud_samples(pd.audio(), 8000), 4000u) << "dave heard no prompt";
  ASSERT_EQ(host_->calls().parked_calls().size(), 1u);
  EXPECT_EQ(host_->calls().parked_calls()[0].slot, 701);
  hang_up(cc);
  hang_up(ca);
  for (auto* p : {&alice, &bob, &carol}) EXPECT_EQ(p->finish(), 0) << p->out;
  expect_media_idle();
}

// bob answers alice, then parks her with a blind transfer to 700: alice's
// media moves into the engine (re-INVITE without SDP, answered in the ACK),
// bob is told the transfer succeeded and hung up, alice waits in a slot with
// bob as her parker; carol dials the slot and talks to her.
TEST_F(PickupParkingTest, BlindTransferToTheParkingExtensionParksTheCaller) {
  Phone bob, alice, carol;
  ASSERT_NO_FATAL_FAILURE(callee(bob, "bob", "xfer_blind_to_park.xml", 1, {"-key", "park_exten", "700"}));
  tm::RtpPeer pa, pc;
  dial(alice, "alice", "1002", pa, "uac_media_transferred.xml");
  auto [ca, slot] = parked("\"parker_endpoint\":\"sip/bob\"", {&alice, &bob});
  ASSERT_FALSE(ca.empty());
  auto parked_call = host_->calls().channel(ca);
  ASSERT_TRUE(parked_call);
  EXPECT_EQ(parked_call->caller_number, "1001");
  EXPECT_EQ(bob.finish(), 0) << "bob should get NOTIFY 200 then BYE:\n" << bob.out;
  retrieve_and_talk(ca, pa, alice, slot, carol, pc);
}

// alice calls bob, then parks him with a blind transfer to 700 (the caller
// transfers its callee): bob's media moves into the engine (re-INVITE
// without SDP, answered in the ACK), alice is told the transfer succeeded
// and hung up, bob waits in a slot with alice as his parker; carol dials the
// slot and talks to him.
TEST_F(PickupParkingTest, CallerBlindTransferToTheParkingExtensionParksTheCallee) {
  Phone bob, alice, carol;
  tm::RtpPeer pb, pc;
  ASSERT_NO_FATAL_FAILURE(callee(bob, "bob", "uas_media_transferred.xml", 1, {"-key", "rtp_port", std::to_string(pb.port())}));
  caller(alice, "alice", "1002", "xfer_blind_to_park_by_caller.xml", 1, {"-key", "park_exten", "700"});
  auto [cb, slot] = parked("\"parker_endpoint\":\"sip/alice\"", {&alice, &bob});
  ASSERT_FALSE(cb.empty());
  EXPECT_EQ(alice.finish(), 0) << "alice should get NOTIFY 200 then BYE:\n" << alice.out;
  retrieve_and_talk(cb, pb, bob, slot, carol, pc);
}

// bob talks to alice, calls 700 (he is parked and hears his slot), then
// transfers alice there (REFER with Replaces naming his parked call): alice
// takes his place in the slot (re-INVITE without SDP, the engine's answer in
// the ACK), bob is released from both calls; carol dials the slot and talks
// to alice.
TEST_F(PickupParkingTest, AttendedTransferToTheParkingExtensionParksTheParty) {
  Phone alice, bob, carol;
  tm::RtpPeer pa, pc;
  auto [slot_channel, slot] = park_by_attended_transfer(alice, bob, pa, "700");
  ASSERT_FALSE(slot_channel.empty());
  // The slot's channel goes on, carrying alice.
  ASSERT_EQ(host_->calls().parked_calls().size(), 1u);
  EXPECT_EQ(host_->calls().parked_calls().front().channel, slot_channel);
  EXPECT_TRUE(event("calls.channel.transferred", "\"target_channel\":\"" + slot_channel + "\""))
      << "no calls.channel.transferred for bob naming the slot's channel";
  // The call core carried it out: the SIP stack put alice in the slot's
  // call at the core's request (ChannelDriver::replace), not on its own.
  EXPECT_TRUE(host_->logger().contains("takes the place of " + slot_channel + " in its application")) << log_tail();
  retrieve_and_talk(slot_channel, pa, alice, slot, carol, pc);
}

// alice dials 700 (the dialplan answers and parks her), then sends a blind
// REFER to 1002: she talks to no channel, so there is nobody to hand over.
// The call core refuses it (a final NOTIFY 400 after the 202), nobody is
// rung, no transfer is published, and she stays parked until she hangs up.
TEST_F(PickupParkingTest, BlindReferFromACallerInAnApplicationIsRefusedByTheCallCore) {
  Phone alice;
  caller(alice, "alice", "700", "xfer_blind_from_application.xml", 1, {"-key", "refer_exten", "1002"});
  EXPECT_EQ(alice.finish(), 0) << "alice should get 202, NOTIFY 400, then hang up:\n" << alice.out << log_tail();
  EXPECT_TRUE(host_->logger().contains("talks to nobody: there is no party to transfer")) << log_tail();
  auto all = host_->test_bus().events();
  for (std::size_t i = events_before_; i < all.size(); ++i) {
    EXPECT_NE(all[i].topic, "calls.channel.transferred") << all[i].body;
    if (all[i].topic == "calls.channel.created") {
      EXPECT_EQ(all[i].body.find("\"endpoint\":\"bob\""), std::string::npos) << "bob was rung: " << all[i].body;
    }
  }
  expect_media_idle();
}

// bob parks alice with an attended transfer to the lot (as above; lot
// timeout 3 s, no timeout destination): he parked her, so when nobody takes
// her his line rings again, from the parked call, and the two talk.
TEST_F(PickupParkingTest, AttendedTransferToParkingRingsTheTransferorBackOnTimeout) {
  auto lot = add_lot("880", "'xfer', '881', '881', 3");
  Phone alice, bob, bob_again;
  tm::RtpPeer pa, pb(Codec::pcma, 8, 101);
  auto parked_slot = park_by_attended_transfer(alice, bob, pa, "880");
  const std::string slot_channel = parked_slot.first;
  ASSERT_FALSE(slot_channel.empty());
  ASSERT_NO_FATAL_FAILURE(callee(bob_again, "bob", "uas_engine_answer.xml", 1,
                                 {"-key", "rtp_port", std::to_string(pb.port()), "-d", "0"}));
  ASSERT_TRUE(event("calls.park.timeout", "\"parker_endpoint\":\"sip/bob\"")) << log_tail();
  connect(slot_channel, pa);
  ASSERT_FALSE(connect_engine(pb).empty()) << "bob was not called back\n" << log_tail();
  expect_talking(pa, pb);
  hang_up_and_finish(slot_channel, {&alice, &bob_again});
  remove_lot(lot);
}

// Nobody takes a call bob parked (lot timeout 1 s, no timeout destination):
// it rings bob's line again, from the parked call, and once bob answers the
// two talk.
TEST_F(PickupParkingTest, TimeoutCallsTheParkerBack) {
  auto lot = add_lot("890", "'back', '891', '891', 1");
  Phone bob, alice, bob_again;
  ASSERT_NO_FATAL_FAILURE(callee(bob, "bob", "xfer_blind_to_park.xml", 1, {"-key", "park_exten", "890"}));
  tm::RtpPeer pa, pb(Codec::pcma, 8, 101);  // bob's phone answers PCMA
  dial(alice, "alice", "1002", pa, "uac_media_transferred.xml");
  EXPECT_EQ(bob.finish(), 0) << bob.out;
  // bob's phone, free again, answers what rings it next: the call back.
  ASSERT_NO_FATAL_FAILURE(callee(bob_again, "bob", "uas_engine_answer.xml", 1,
                                 {"-key", "rtp_port", std::to_string(pb.port()), "-d", "0"}));
  auto timeout = event("calls.park.timeout", "\"parker_endpoint\":\"sip/bob\"");
  ASSERT_TRUE(timeout) << log_tail();
  rapidjson::Document d;
  d.Parse(timeout->body.c_str());
  std::string ca = d["id"].GetString();
  connect(ca, pa);
  ASSERT_FALSE(connect_engine(pb).empty()) << "bob was not called back";
  expect_talking(pa, pb);
  hang_up_and_finish(ca, {&alice, &bob_again});
  remove_lot(lot);
}

// A lot of one slot: the parked caller hanging up frees the slot
// (abandoned); a second call while the slot is taken is refused (full, a
// prompt then hang-up); a lot whose time runs out sends the call to its
// timeout destination (here: hang up).
TEST_F(PickupParkingTest, AbandonFullLotAndTimeout) {
  auto lot = add_lot("860", "'small', '861', '861', 0");
  auto brief = add_lot("870", "name, slots_start, slots_end, timeout, timeout_destination",
                       "'brief', '871', '879', 1, '{\"type\": \"hangup\"}'");
  Phone alice, bob, carol, dave;
  tm::RtpPeer pa, pb, pc, pd;
  dial(alice, "alice", "860", pa, "uac_media_hangup.xml");  // hangs up 1.5 s after the answer
  auto ca = inbound_of("alice");
  ASSERT_TRUE(event("calls.park.parked", "\"id\":\"" + ca + "\"")) << log_tail();
  EXPECT_EQ(alice.finish(), 0) << alice.out;
  auto abandoned = event("calls.park.abandoned", "\"id\":\"" + ca + "\"");
  ASSERT_TRUE(abandoned) << log_tail();
  EXPECT_NE(abandoned->body.find("\"slot\":\"861\""), std::string::npos) << abandoned->body;
  EXPECT_TRUE(eventually([&] { return host_->calls().parked_calls().empty(); }));
  dial(carol, "carol", "860", pc);  // the slot is free again
  auto cc = inbound_of("carol");
  ASSERT_TRUE(event("calls.park.parked", "\"id\":\"" + cc + "\"")) << log_tail();
  dial(bob, "bob", "860", pb);  // full
  answered("bob", pb);
  EXPECT_EQ(bob.finish(), 0) << "bob's call should end after the prompt:\n" << bob.out;
  EXPECT_GT(tm::loud_samples(pb.audio(), 8000), 4000u) << "bob heard no prompt";
  auto lines = host_->logger().lines();
  EXPECT_TRUE(std::any_of(lines.begin(), lines.end(), [&](const std::string& l) {
    return l.find("parking lot " + lot.id + " refused it: full") != std::string::npos;
  })) << log_tail();
  hang_up(cc);
  EXPECT_EQ(carol.finish(), 0) << carol.out;
  dial(dave, "dave", "870", pd);  // nobody takes it: hung up after 1 s
  auto cd = inbound_of("dave");
  ASSERT_TRUE(event("calls.park.timeout", "\"id\":\"" + cd + "\"")) << log_tail();
  EXPECT_EQ(dave.finish(), 0) << "dave's call should be hung up at the timeout:\n" << dave.out;
  expect_media_idle();
  remove_lot(lot);
  remove_lot(brief);
}

// A BLF key on a slot: idle, lit while a call is parked there (the parked
// caller as remote party), idle again once it is taken out; each NOTIFY body
// is checked by the watcher's scenario.
TEST_F(PickupParkingTest, BlfKeyOnASlotLightsWhileACallIsParked) {
  auto lot = add_lot("880", "'watched', '881', '881', 0");
  Phone dave, alice, carol;
  ASSERT_NO_FATAL_FAILURE(watch(dave, "dave", "881", "subscribe_park_slot.xml"));
  tm::RtpPeer pa, pc;
  dial(alice, "alice", "880", pa);
  auto ca = inbound_of("alice");
  ASSERT_TRUE(event("calls.park.parked", "\"id\":\"" + ca + "\"")) << log_tail();
  dial(carol, "carol", "881", pc);
  auto cc = inbound_of("carol");
  ASSERT_TRUE(event("calls.park.retrieved", "\"id\":\"" + ca + "\"")) << log_tail();
  EXPECT_EQ(dave.finish(), 0) << "the slot's NOTIFYs:\n" << dave.out;
  hang_up_and_finish(cc, {&carol, &alice});
  remove_lot(lot);
}

}  // namespace
}  // namespace dialtone::testing
