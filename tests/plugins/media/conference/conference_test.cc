// Conference rooms and the prompts of the dialplan's destinations, end to
// end: SIPp callers dial a room's extension (rows of confd_conferences and
// confd_conference_extensions) through the shipped lua-dialplan/lib; their
// SDP points at RTP peers of the test, which send a tone of their own and
// keep what they hear. Every check is on that audio (Goertzel shares of each
// caller's frequency, prompt energy) or on the room's participant count.
#include <algorithm>
#include <atomic>
#include <fstream>
#include <functional>
#include <iterator>
#include <thread>

#include <rapidjson/document.h>

#include <dialtone/services.h>

#include "plugins/media/engine/conference_api.h"
#include "tests/plugins/media/calls/sip_media_fixture.h"
#include "tests/plugins/media/engine/rtp_peer.h"

namespace dialtone::testing {
namespace {

namespace tm = testing::media;
using sdk::media::Codec;

// A caller talking: its peer sends a tone of `hz` until stopped (the peer's
// sender is not thread-safe: stop it before sending digits).
class Talker {
 public:
  Talker(tm::RtpPeer& peer, double hz) : peer_(peer), hz_(hz) { start(); }
  ~Talker() { stop(); }
  void start() {
    stop_ = false;
    thread_ = std::thread([this] {
      auto tone = tm::make_tone(hz_, 0.2, 8000);
      while (!stop_) peer_.send_audio(tone);
    });
  }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

 private:
  tm::RtpPeer& peer_;
  double hz_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

class ConferenceTest : public SipMediaTest {
 protected:
  static void SetUpTestSuite() {
    make_host({{"alice", "1001"}, {"bob", "1002"}}, CONFERENCE_DIALPLAN);
    start_media();
    // Room 1 (4010): open. Room 2 (4011): PIN 1234, organizer 9999.
    // Room 3 (4012): one participant at most.
    room("1", "4010", "", "", 0);
    room("2", "4011", "1234", "9999", 0);
    room("3", "4012", "", "", 1);
    // Room 4 (4013): a waiting room, PIN 1234, organizer 9999, a music
    // class without files (the wait prompt once, then silence).
    room("4", "4013", "1234", "9999", 0);
    host_->sql("UPDATE confd_conferences SET waiting_room = true, music_on_hold = 'none' WHERE id = 4");
    // An outgoing route 0XXXXXXXXX through a provider's trunk (a SIPp peer
    // started by the test that calls out).
    provider_port_ = free_port();
    auto trunk = add_peer_trunk("provider", "127.0.0.1:" + std::to_string(provider_port_), "default");
    outcall_ = host_->sql("INSERT INTO confd_outcalls (name, priority, patterns) "
                          "VALUES ('provider', 1, '[{\"pattern\":\"0XXXXXXXXX\"}]') RETURNING id");
    host_->sql("INSERT INTO confd_outcall_trunks VALUES ($1::int, $2::int, 1)", {outcall_, trunk});
  }
  static inline int provider_port_ = 0;
  static inline std::string outcall_;
  void SetUp() override { start_plugin(); }

  static void room(const std::string& id, const std::string& exten, const std::string& pin,
                   const std::string& admin_pin, int max_users) {
    host_->sql("INSERT INTO confd_conferences (id, name, pin, admin_pin, max_users) "
               "VALUES ($1::int, $2, NULLIF($3, ''), NULLIF($4, ''), $5::int)",
               {id, "room-" + exten, pin, admin_pin, std::to_string(max_users)});
    auto x = host_->sql("INSERT INTO confd_extensions (exten, context) VALUES ($1, 'default') RETURNING id", {exten});
    host_->sql("INSERT INTO confd_conference_extensions VALUES ($1::int, $2::int)", {id, x});
  }

  void call(Phone& p, const std::string& number, tm::RtpPeer& peer) {
    caller(p, "alice", number, "../../../media/calls/scenarios/uac_media.xml", 1, {"-key", "rtp_port", std::to_string(peer.port())});
  }
  // Points the peer at the engine endpoint that answered its call (the one
  // sending to the peer's address); false when none came.
  bool connect(tm::RtpPeer& peer) {
    bool found = eventually([&] {
      for (auto& c : host_->calls().channels())
        if (auto ep = engine_->channel_endpoint(c.id); ep && ep->stats().remote == peer.address()) {
          peer.set_remote(ep->local_port());
          return true;
        }
      return false;
    });
    EXPECT_TRUE(found) << "no engine endpoint for " << peer.address() << "; log:\n" << log_tail();
    return found;
  }
  static std::string log_tail() {
    auto lines = host_->logger().lines();
    std::string out;
    for (std::size_t i = lines.size() > 30 ? lines.size() - 30 : 0; i < lines.size(); ++i) out += lines[i] + "\n";
    return out;
  }
  static std::size_t log_count(const std::string& needle) {
    auto lines = host_->logger().lines();
    return static_cast<std::size_t>(std::count_if(lines.begin(), lines.end(), [&](const std::string& l) {
      return l.find(needle) != std::string::npos;
    }));
  }
  // Waits for a prompt (or music) to be heard from now on.
  static bool hears_sound(tm::RtpPeer& peer, std::size_t loud = 800) {
    peer.clear();
    return eventually([&] { return tm::loud_samples(peer.audio(), 8000) >= loud; });
  }
  // True once one second heard by `peer` holds every frequency of `present`
  // (each at least 30 % of the energy) and none of `absent` (under 2 %).
  // Windows with a join sound or a prompt fail and the next one is tried.
  static bool hears(tm::RtpPeer& peer, std::initializer_list<double> present, std::initializer_list<double> absent,
                    std::string* last = nullptr) {
    for (int window = 0; window < 30; ++window) {
      peer.clear();
      if (!eventually([&] { return peer.audio_size() >= 8000; })) return false;
      auto a = peer.audio();
      a.resize(8000);
      bool ok = tm::loud_samples(a, 8000) >= 7000;
      std::string seen;
      for (double f : present) {
        double s = tm::tone_share(a, 8000, f);
        ok = ok && s > 0.3;
        seen += std::to_string(int(f)) + " Hz: " + std::to_string(s) + "  ";
      }
      for (double f : absent) {
        double s = tm::tone_share(a, 8000, f);
        ok = ok && s < 0.02;
        seen += std::to_string(int(f)) + " Hz: " + std::to_string(s) + "  ";
      }
      if (last) *last = seen;
      if (ok) return true;
    }
    return false;
  }
  static bool silent(tm::RtpPeer& peer) {
    for (int window = 0; window < 30; ++window) {
      peer.clear();
      if (!eventually([&] { return peer.audio_size() >= 8000; })) return false;
      if (tm::loud_samples(peer.audio(), 8000, 300) == 0) return true;
    }
    return false;
  }
  // calld's conference route `method` `path` with its path parameters, as
  // the media plugin mounts it (rooms confd does not have answer 404).
  static sdk::HttpResponse route(const std::string& method, const std::string& path, const std::string& room,
                                 const std::string& participant = {}) {
    auto exists = [](const std::string& id) {
      return host_->config().snapshot()->conferences.count(std::stoll(id)) > 0;
    };
    for (auto& r : plugins::media::conference_routes(verbs_->shared_rooms(), exists))
      if (r.method == method && r.path == path) {
        sdk::HttpRequest req;
        req.method = method;
        req.params["conference_id"] = room;
        if (!participant.empty()) req.params["participant_id"] = participant;
        return r.handler(req);
      }
    return sdk::HttpResponse::empty(599);
  }
  // The participants calld lists for `room`.
  static rapidjson::Document participants(const std::string& room) {
    rapidjson::Document d;
    auto r = route("GET", "/1.0/conferences/{conference_id}/participants", room);
    d.Parse(r.body.c_str());
    return d;
  }
  // The channel of the `i`th participant of `room` (in joining order).
  static std::string participant(const std::string& room, rapidjson::SizeType i) {
    auto d = participants(room);
    if (!d.IsObject() || !d["items"].IsArray() || d["items"].Size() <= i) return {};
    return d["items"][i]["id"].GetString();
  }
  // Over three seconds heard by `peer`, `hz` never holds a tenth of the sound.
  static bool never_hears(tm::RtpPeer& peer, double hz) {
    for (int window = 0; window < 3; ++window) {
      peer.clear();
      if (!eventually([&] { return peer.audio_size() >= 8000; })) return false;
      auto a = peer.audio();
      a.resize(8000);
      if (tm::tone_share(a, 8000, hz) > 0.1) return false;
    }
    return true;
  }
  void expect_media_idle() {
    expect_idle();
    EXPECT_TRUE(eventually([&] { return engine_->attached_channels() == 0; })) << "endpoint not freed";
    EXPECT_TRUE(eventually([&] { return engine_->endpoint_count() == 0; })) << "endpoint still open";
  }

};

// Three callers in room 4010, each sending its own tone: each hears the two
// others and not itself. A caller who mutes itself (DTMF 1) is no longer
// heard; # leaves the room and the script ends the call.
TEST_F(ConferenceTest, ThreeCallersEachHearTheOtherTwoAndNotThemselves) {
  tm::RtpPeer pa(Codec::pcmu, 0, 101), pb(Codec::pcmu, 0, 101), pc(Codec::pcmu, 0, 101);
  Phone a, b, c;
  call(a, "4010", pa);
  ASSERT_TRUE(connect(pa));
  // Alone in the room: the music on hold.
  EXPECT_TRUE(hears_sound(pa, 4000)) << "no music for the caller alone in the room";
  call(b, "4010", pb);
  ASSERT_TRUE(connect(pb));
  call(c, "4010", pc);
  ASSERT_TRUE(connect(pc));
  ASSERT_TRUE(eventually([&] { return verbs_->rooms().participants("1") == 3; })) << log_tail();

  constexpr double fa = 500, fb = 1000, fc = 1700;
  {
    Talker ta(pa, fa), tb(pb, fb), tc(pc, fc);
    std::string seen;
    EXPECT_TRUE(hears(pa, {fb, fc}, {fa}, &seen)) << "a: " << seen;
    EXPECT_TRUE(hears(pb, {fa, fc}, {fb}, &seen)) << "b: " << seen;
    EXPECT_TRUE(hears(pc, {fa, fb}, {fc}, &seen)) << "c: " << seen;
    // a mutes itself: b hears c only, a still hears both.
    ta.stop();
    pa.send_digits("1");
    ta.start();
    EXPECT_TRUE(hears(pb, {fc}, {fa, fb}, &seen)) << "b, a muted: " << seen;
    EXPECT_TRUE(hears(pa, {fb, fc}, {fa}, &seen)) << "a, muted: " << seen;
  }
  for (auto* p : {&pa, &pb, &pc}) p->send_digits("#");
  EXPECT_EQ(a.finish(), 0) << a.out;
  EXPECT_EQ(b.finish(), 0) << b.out;
  EXPECT_EQ(c.finish(), 0) << c.out;
  EXPECT_EQ(verbs_->rooms().participants("1"), 0u);
  expect_media_idle();
}

// Room 4011 asks for its PIN: a wrong one is refused and asked again, the
// right one lets the caller in; the organizer PIN lets a second caller in as
// organizer, whose DTMF 2 mutes the others; three wrong PINs end the call.
TEST_F(ConferenceTest, PinIsAskedRefusedAndAccepted) {
  const std::string wrong = "wrong PIN for conference room 2";
  tm::RtpPeer p1(Codec::pcmu, 0, 101), org(Codec::pcmu, 0, 101), p3(Codec::pcmu, 0, 101);
  Phone c1, c2, c3;
  call(c1, "4011", p1);
  ASSERT_TRUE(connect(p1));
  ASSERT_TRUE(hears_sound(p1)) << "no PIN prompt";
  auto before = log_count(wrong);
  p1.send_digits("0000#");
  ASSERT_TRUE(eventually([&] { return log_count(wrong) == before + 1; })) << log_tail();
  EXPECT_EQ(verbs_->rooms().participants("2"), 0u);
  ASSERT_TRUE(hears_sound(p1)) << "PIN not asked again";  // conf-invalidpin, conf-getpin
  p1.send_digits("1234#");
  ASSERT_TRUE(eventually([&] { return verbs_->rooms().participants("2") == 1; })) << log_tail();

  call(c2, "4011", org);
  ASSERT_TRUE(connect(org));
  ASSERT_TRUE(hears_sound(org)) << "no PIN prompt";
  org.send_digits("9999#");
  ASSERT_TRUE(eventually([&] { return verbs_->rooms().participants("2") == 2; })) << log_tail();
  {
    Talker t1(p1, 700);
    std::string seen;
    EXPECT_TRUE(hears(org, {700}, {}, &seen)) << seen;
    org.send_digits("2");  // the organizer mutes the others
    EXPECT_TRUE(silent(org)) << "the organizer still hears the muted participant";
  }

  call(c3, "4011", p3);
  ASSERT_TRUE(connect(p3));
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(hears_sound(p3)) << "no PIN prompt, try " << i + 1;
    auto n = log_count(wrong);
    p3.send_digits("5555#");
    ASSERT_TRUE(eventually([&] { return log_count(wrong) == n + 1; })) << log_tail();
  }
  EXPECT_EQ(c3.finish(), 0) << c3.out;  // Dialtone hung up after the third
  EXPECT_EQ(verbs_->rooms().participants("2"), 2u);

  p1.send_digits("#");
  org.send_digits("#");
  EXPECT_EQ(c1.finish(), 0) << c1.out;
  EXPECT_EQ(c2.finish(), 0) << c2.out;
  expect_media_idle();
}

// Room 4012 takes one participant: the second caller hears conf-full and
// Dialtone hangs up; the first one, alone, hears music throughout.
TEST_F(ConferenceTest, FullRoomRefusesTheNextCaller) {
  tm::RtpPeer p1(Codec::pcmu, 0, 101), p2(Codec::pcmu, 0, 101);
  Phone c1, c2;
  call(c1, "4012", p1);
  ASSERT_TRUE(connect(p1));
  ASSERT_TRUE(eventually([&] { return verbs_->rooms().participants("3") == 1; })) << log_tail();
  call(c2, "4012", p2);
  ASSERT_TRUE(connect(p2));
  EXPECT_TRUE(hears_sound(p2)) << "no conf-full prompt";
  EXPECT_EQ(c2.finish(), 0) << c2.out;
  EXPECT_TRUE(host_->logger().contains("conference room 3 is full"));
  EXPECT_EQ(verbs_->rooms().participants("3"), 1u);
  EXPECT_TRUE(hears_sound(p1, 4000)) << "no music for the caller alone in the room";
  p1.send_digits("#");
  EXPECT_EQ(c1.finish(), 0) << c1.out;
  expect_media_idle();
}

// Room 4013 is a waiting room (seed 5.7.1): two callers with the PIN hear
// conf-waitforleader (the music of a room with a class would follow; this
// one has none, so a leak would be heard) and not each other until the
// organizer comes; then all three talk.
// Through calld's routes the organizer's tools work: the list (who waits,
// who is organizer), mute (the organizer no longer hears that caller), kick
// (it hears conf-kicked and is hung up). When the organizer leaves, the one
// left waits again.
TEST_F(ConferenceTest, WaitingRoomHoldsCallersUntilTheOrganizerWhoListsMutesAndKicks) {
  const std::string list = "/1.0/conferences/{conference_id}/participants";
  const std::string one = "/1.0/conferences/{conference_id}/participants/{participant_id}";
  tm::RtpPeer p1(Codec::pcmu, 0, 101), p2(Codec::pcmu, 0, 101), org(Codec::pcmu, 0, 101);
  Phone c1, c2, c3;
  for (auto [phone, peer] : {std::pair{&c1, &p1}, std::pair{&c2, &p2}}) {
    call(*phone, "4013", *peer);
    ASSERT_TRUE(connect(*peer));
    ASSERT_TRUE(hears_sound(*peer)) << "no PIN prompt";
    peer->send_digits("1234#");
  }
  ASSERT_TRUE(eventually([&] { return verbs_->rooms().participants("4") == 2; })) << log_tail();
  auto d = participants("4");
  ASSERT_EQ(d["total"].GetInt(), 2);
  for (auto& p : d["items"].GetArray()) {
    EXPECT_TRUE(p["waiting"].GetBool());
    EXPECT_FALSE(p["admin"].GetBool());
    EXPECT_STREQ(p["caller_id_num"].GetString(), "1001");
  }
  {
    // Waiting: once the prompt is over, 2 does not hear 1.
    EXPECT_TRUE(silent(p2)) << "the wait prompt never ended";
    Talker t1(p1, 700);
    EXPECT_TRUE(never_hears(p2, 700)) << "a waiting caller is heard";
  }

  call(c3, "4013", org);
  ASSERT_TRUE(connect(org));
  ASSERT_TRUE(hears_sound(org)) << "no PIN prompt";
  org.send_digits("9999#");
  ASSERT_TRUE(eventually([&] { return verbs_->rooms().participants("4") == 3; })) << log_tail();
  d = participants("4");
  EXPECT_TRUE(d["items"][2]["admin"].GetBool());
  for (auto& p : d["items"].GetArray()) EXPECT_FALSE(p["waiting"].GetBool());
  std::string first = participant("4", 0);
  {
    Talker t1(p1, 700);
    std::string seen;
    EXPECT_TRUE(hears(org, {700}, {}, &seen)) << "the organizer does not hear caller 1: " << seen;
    EXPECT_TRUE(hears(p2, {700}, {}, &seen)) << "caller 2 does not hear caller 1: " << seen;
    EXPECT_EQ(route("PUT", one + "/mute", "4", first).status, 204);
    EXPECT_TRUE(silent(org)) << "the organizer still hears the muted caller";
    EXPECT_TRUE(participants("4")["items"][0]["muted"].GetBool());
  }
  EXPECT_EQ(route("PUT", one + "/unmute", "4", first).status, 204);
  EXPECT_FALSE(participants("4")["items"][0]["muted"].GetBool());
  // Kicked: conf-kicked, then Dialtone hangs up.
  EXPECT_EQ(route("DELETE", one, "4", first).status, 204);
  EXPECT_TRUE(hears_sound(p1)) << "no conf-kicked prompt";
  EXPECT_EQ(c1.finish(), 0) << c1.out;
  EXPECT_EQ(verbs_->rooms().participants("4"), 2u);
  EXPECT_EQ(route("DELETE", one, "4", first).status, 404);  // no longer in
  EXPECT_EQ(route("GET", list, "99").status, 404);          // no such room in confd
  EXPECT_EQ(route("PUT", one + "/mute", "4", "nobody").status, 404);

  // The organizer leaves: caller 2 waits again (the wait prompt).
  org.send_digits("#");
  EXPECT_EQ(c3.finish(), 0) << c3.out;
  EXPECT_TRUE(eventually([&] { return participants("4")["items"][0]["waiting"].GetBool(); }));
  EXPECT_TRUE(hears_sound(p2)) << "no wait prompt once the organizer left";
  p2.send_digits("#");
  EXPECT_EQ(c2.finish(), 0) << c2.out;
  EXPECT_EQ(participants("4")["total"].GetInt(), 0);
  expect_media_idle();
}

// The conference routes are those plugins/media/engine/conferences_api.yml
// describes, with the same ACLs.
TEST_F(ConferenceTest, ConferencesOpenApiFileDescribesEveryRoute) {
  std::ifstream in(std::string(SIP_LUA_LIB_DIR) + "/../../plugins/media/engine/conferences_api.yml");
  ASSERT_TRUE(in);
  std::string yml((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (auto& r : plugins::media::conference_routes(verbs_->shared_rooms(), nullptr)) {
    EXPECT_NE(yml.find("\"" + r.path + "\":"), std::string::npos) << r.path;
    EXPECT_NE(yml.find("x-acl: \"" + r.acl + "\""), std::string::npos) << r.acl;
    std::string m = r.method;
    for (auto& c : m) c = static_cast<char>(std::tolower(c));
    EXPECT_NE(yml.find("    " + m + ":"), std::string::npos) << r.method;
  }
}

// Call permissions with a password (seed 5.5), at each level XiVO checks:
// alice is asked (agent-pass) and types the password as RFC 4733 digits. A
// wrong one plays auth-incorrect and ends the call; with the right one (each
// level's own: the prompt and that password show the level's rule applied)
// the dialplan goes on: the callee (bob's phone for a user's or a group's
// permission, the provider behind the outgoing route for an outcall's) is
// rung with an offer of the media engine, as alice's call is answered; it
// answers and each hears the other.
TEST_F(ConferenceTest, CallPermissionPasswordTypedAsDtmf) {
  auto permission = [](const std::string& name, const std::string& exten, const std::string& password) {
    return host_->sql("INSERT INTO confd_callpermissions (name, extensions, mode, password) "
                      "VALUES ($1, jsonb_build_array($2::text), 'deny', $3) RETURNING id",
                      {name, exten, password});
  };
  auto legs_to_bob = [] {
    std::size_t n = 0;
    for (auto& e : host_->test_bus().events())
      if (e.topic == "calls.channel.created" && e.body.find("bob") != std::string::npos) ++n;
    return n;
  };
  // alice dials `number`, is asked, types `typed`: without `answerer`,
  // refused (one more log line `refused`); with it (started here), the
  // callee answers and they talk (no such line).
  auto attempt = [&](const std::string& number, const std::string& typed, const std::string& refused,
                     const std::function<void(Phone&, tm::RtpPeer&)>& answerer) {
    SCOPED_TRACE(number + " " + typed);
    const bool right = answerer != nullptr;
    tm::RtpPeer pa(Codec::pcmu, 0, 101), pb(Codec::pcma, 8, 101);
    Phone alice, callee;
    auto refusals = log_count(refused);
    auto legs = legs_to_bob();
    call(alice, number, pa);
    ASSERT_TRUE(connect(pa));
    ASSERT_TRUE(hears_sound(pa)) << "no password prompt";
    if (right) answerer(callee, pb);
    pa.send_digits(typed);
    if (!right) {
      EXPECT_TRUE(hears_sound(pa)) << "no auth-incorrect prompt";
    } else {
      ASSERT_TRUE(connect(pb)) << "the callee was not rung after the right password";
      EXPECT_TRUE(hears_tone(pa, pb, 700)) << "the callee does not hear alice\n" << log_tail();
      EXPECT_TRUE(hears_tone(pb, pa, 1100)) << "alice does not hear the callee\n" << log_tail();
      std::string ca;
      for (auto& c : host_->calls().channels())
        if (auto ep = engine_->channel_endpoint(c.id); ep && ep->stats().remote == pa.address()) ca = c.id;
      ASSERT_TRUE(host_->calls().hangup_channel(ca)) << ca;
      EXPECT_EQ(callee.finish(), 0) << callee.out;
    }
    EXPECT_EQ(alice.finish(), 0) << alice.out << log_tail();
    EXPECT_EQ(log_count(refused), refusals + (right ? 0 : 1)) << log_tail();
    if (number == "1002") {
      EXPECT_EQ(legs_to_bob() > legs, right) << "a leg to bob";
    }
    expect_media_idle();
  };
  auto bob_answers = [&](Phone& bob, tm::RtpPeer& pb) {
    callee(bob, "bob", "../../../media/calls/scenarios/uas_engine_answer.xml", 1,
           {"-key", "rtp_port", std::to_string(pb.port()), "-d", "0"});
  };
  const std::string wrong = "(it asks for a password: wrong password)";

  // alice's own permission.
  auto p = permission("bob-code", "1002", "4242");
  host_->sql("INSERT INTO confd_user_callpermissions VALUES ($1::int, $2::int)", {user_ids_["alice"], p});
  const std::string by_user = "may not call 1002: call permission 'bob-code' " + wrong;
  attempt("1002", "1111#", by_user, nullptr);
  attempt("1002", "4242#", by_user, bob_answers);
  host_->sql("DELETE FROM confd_callpermissions WHERE id = $1::int", {p});

  // The permission of a group alice is a member of (the group has no number).
  auto g = host_->sql("INSERT INTO confd_groups (name) VALUES ('sales') RETURNING id");
  host_->sql("INSERT INTO confd_group_members (group_id, user_id, position) VALUES ($1::int, $2::int, 1)",
             {g, user_ids_["alice"]});
  p = permission("sales-code", "1002", "5151");
  host_->sql("INSERT INTO confd_group_callpermissions VALUES ($1::int, $2::int)", {g, p});
  attempt("1002", "5151#", "call permission 'sales-code'", bob_answers);
  host_->sql("DELETE FROM confd_callpermissions WHERE id = $1::int", {p});
  host_->sql("DELETE FROM confd_groups WHERE id = $1::int", {g});

  // The outgoing route's: 0XXXXXXXXX through the provider's trunk.
  p = permission("route-code", "0X.", "6161");
  host_->sql("INSERT INTO confd_outcall_callpermissions VALUES ($1::int, $2::int)", {outcall_, p});
  attempt("0123456789", "6161#", "call permission 'route-code'", [&](Phone& provider, tm::RtpPeer& pb) {
    provider.rc = peer("../../../media/calls/scenarios/uas_engine_answer.xml", provider_port_, &provider.out,
                       {"-key", "rtp_port", std::to_string(pb.port()), "-d", "0"});
  });
  host_->sql("DELETE FROM confd_callpermissions WHERE id = $1::int", {p});
}

}  // namespace
}  // namespace dialtone::testing
