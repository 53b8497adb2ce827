// Fax reception end to end (seed 5.14, FaxToMail): SIPp calls to DIDs whose
// incall destination is the application fax_to_mail, or bob with fax
// detection (5.14.2), the shipped dialplan (lib/incalls.lua, lib/faxes.lua),
// call:detect_fax (media.engine) and call:receive_fax (app.fax) on the real
// media engine, a fax machine (spandsp's T.30 sender) on the call's RTP, or a
// T.38 gateway; the SMTP sink the test starts gets the mail with the PDF,
// which has the pages sent. A caller that is no fax machine is let go without
// a file, one who speaks on a detecting DID reaches bob; a dead relay keeps
// the PDF and says so in one line.
#include <regex>
#include <sstream>

#include "plugins/app/fax/fax_app.h"
#include "tests/plugins/app/voicemail/smtp_sink.h"
#include "tests/plugins/media/calls/sip_media_fixture.h"
#include "tests/plugins/media/engine/fax_peer.h"

namespace dialtone::testing {
namespace {

namespace fs = std::filesystem;
namespace fx = plugins::fax;
using sdk::media::Codec;

// Pages of a PDF: its page objects (/Type /Page, not /Pages).
int pdf_pages(const std::string& pdf) {
  static const std::regex page(R"(/Type\s*/Page(?![s\w]))");
  return static_cast<int>(std::distance(std::sregex_iterator(pdf.begin(), pdf.end(), page), std::sregex_iterator()));
}

std::vector<fs::path> files_in(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(dir, ec)) out.push_back(e.path());
  return out;
}

class FaxCallTest : public SipMediaTest {
 protected:
  static void SetUpTestSuite() {
    make_host({{"alice", "1001"}, {"bob", "1002"}}, fs::path(SIP_TEST_DIR) / "fax_dialplan.lua");
    start_media({}, true);
    dir_ = fs::temp_directory_path() / ("dialtone-fax-test-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    smtp_ = new SmtpSink();
    fx::FaxConfig cfg;
    cfg.delivery.spool = dir_ / "spool";
    cfg.delivery.mail.host = "127.0.0.1";
    cfg.delivery.mail.port = smtp_->port();
    cfg.detect_seconds = 8;  // CED and DIS take about 4 s before a fax machine can answer
    cfg.station_id = "Dialtone";
    app_ = std::make_shared<fx::FaxApp>(cfg, [] { return std::shared_ptr<sdk::media::MediaEngine>(engine_); },
                                        &host_->executor(), &host_->log());
    auto core = host_->services().find<sdk::CallCore>();
    for (auto& v : app_->functions()) ASSERT_TRUE(core->register_verb(std::move(v)));
    // DID 5551234 of from-extern: fax to mail.
    host_->sql("INSERT INTO confd_contexts (name, type) VALUES ('from-extern', 'incall') ON CONFLICT DO NOTHING");
    auto i = host_->sql("INSERT INTO confd_incalls (destination) VALUES ('{\"type\": \"application\", "
                        "\"application\": \"fax_to_mail\", \"email\": \"fax@example.com\"}') RETURNING id");
    auto x = host_->sql("INSERT INTO confd_extensions (exten, context) VALUES ('5551234', 'from-extern') RETURNING id");
    host_->sql("INSERT INTO confd_incall_extensions VALUES ($1::int, $2::int)", {i, x});
    // DIDs 5551235 and 5551236: bob's, with fax detection for faxes to
    // detect@example.com; 8 s on the first (a fax machine repeats its calling
    // tone every 3.5 s: one missed burst must not fail the test), 2 s on the
    // second.
    for (auto [did, seconds] : {std::pair{"5551235", "8"}, std::pair{"5551236", "2"}}) {
      i = host_->sql("INSERT INTO confd_incalls (destination, fax_detect_enabled, fax_detect_timeout, fax_detect_email) "
                     "VALUES (jsonb_build_object('type', 'user', 'user_id', $1::int), true, $2::int, "
                     "'detect@example.com') RETURNING id", {user_ids_["bob"], seconds});
      x = host_->sql("INSERT INTO confd_extensions (exten, context) VALUES ($1, 'from-extern') RETURNING id", {did});
      host_->sql("INSERT INTO confd_incall_extensions VALUES ($1::int, $2::int)", {i, x});
    }
    // DID 5551237: bob's, with fax detection and no fax_detect_email; bob's
    // address is confd's (he has no voicemail), where the fax goes (XiVO's
    // XIVO_USEREMAIL).
    host_->sql("UPDATE confd_users SET email = 'bob@example.com' WHERE id = $1::int", {user_ids_["bob"]});
    i = host_->sql("INSERT INTO confd_incalls (destination, fax_detect_enabled, fax_detect_timeout) "
                   "VALUES (jsonb_build_object('type', 'user', 'user_id', $1::int), true, 8) RETURNING id",
                   {user_ids_["bob"]});
    x = host_->sql("INSERT INTO confd_extensions (exten, context) VALUES ('5551237', 'from-extern') RETURNING id");
    host_->sql("INSERT INTO confd_incall_extensions VALUES ($1::int, $2::int)", {i, x});
  }
  static void TearDownTestSuite() {
    SipMediaTest::TearDownTestSuite();
    app_.reset();
    delete smtp_;
    fs::remove_all(dir_);
  }

  // Starts SIPp's `scenario` calling the fax DID as alice, its audio on
  // `audio_port`, with more -key pairs in `keys`.
  void start_fax_call(Phone& p, std::uint16_t audio_port, const std::string& scenario,
                      const std::vector<std::string>& keys, const std::string& did = "5551234") {
    auto args = sipp_args(scenario, 1, "120s");
    args.insert(args.begin(), target_);
    std::vector<std::string> who{"-s", did, "-au", "alice", "-ap", "alicepw", "-key", "user", "alice",
                                 "-key", "rtp_port", std::to_string(audio_port)};
    args.insert(args.end(), who.begin(), who.end());
    args.insert(args.end(), keys.begin(), keys.end());
    p.rc = std::async(std::launch::async, [args, &p] { return run_sipp(args, &p.out); });
  }

  // A call to the fax DID (SIPp `scenario`, its audio on `audio_port`, more
  // -key pairs in `keys`); the engine endpoint's port once it answered. Fax
  // at its own pace: a generous SIPp timeout.
  std::uint16_t dial_fax_line(Phone& p, std::uint16_t audio_port, const std::string& scenario = "uac_media.xml",
                              std::vector<std::string> keys = {}, const std::string& did = "5551234") {
    start_fax_call(p, audio_port, scenario, keys, did);
    std::string audio = "127.0.0.1:" + std::to_string(audio_port);
    std::uint16_t port = 0;
    EXPECT_TRUE(eventually([&] {
      for (auto& c : host_->calls().channels())
        if (auto ep = engine_->channel_endpoint(c.id); ep && ep->stats().remote == audio) port = ep->local_port();
      return port != 0;
    })) << "the fax call was not answered by the engine; log:\n" << log_tail();
    return port;
  }

  // A call to the fax DID whose audio is `machine`'s; the machine starts
  // once the engine answered.
  void call_fax_line(Phone& p, media::FaxPeer& machine, const std::string& did = "5551234") {
    std::uint16_t port = dial_fax_line(p, machine.port(), "uac_media.xml", {}, did);
    ASSERT_NE(port, 0);
    machine.start(port);
  }

  // The mail number `index` of the sink: to `to`, the fax DID `did` in its
  // subject, a PDF of `pages` pages attached.
  static void expect_fax_mail(std::size_t index, int pages, const std::string& did = "5551234",
                              const std::string& to = "fax@example.com") {
    std::istringstream raw(smtp_->messages().at(index));
    Poco::Net::MailMessage mail;
    MailAttachments parts;
    mail.read(raw, parts);
    EXPECT_EQ(mail.getSubject(), "FAX reception to " + did);
    EXPECT_NE(mail.get("To", "").find(to), std::string::npos) << mail.get("To", "");
    std::string pdf;
    for (auto& [name, data] : parts.parts)
      if (name.size() > 4 && name.substr(name.size() - 4) == ".pdf") pdf = data;
    ASSERT_FALSE(pdf.empty()) << "no PDF attached: " << smtp_->messages()[index].substr(0, 1500);
    EXPECT_EQ(pdf.substr(0, 5), "%PDF-");
    EXPECT_EQ(pdf_pages(pdf), pages);
  }

  // A fax machine sending `pages` calls `did`, an incall of bob's with fax
  // detection: its calling tone sends the call to fax reception, the mail
  // to `to` has the PDF with the pages sent, and the spool is left empty.
  void expect_detected_fax_mailed(const std::string& did, int pages, const std::string& to) {
    auto sent = dir_ / ("sent-" + did + ".tif");
    ASSERT_TRUE(media::write_fax_tiff(sent, pages));
    media::FaxPeer machine(Codec::pcmu, 0, sent);
    std::size_t mails = smtp_->messages().size();
    Phone trunk;
    ASSERT_NO_FATAL_FAILURE(call_fax_line(trunk, machine, did));
    ASSERT_TRUE(eventually([&] { return smtp_->messages().size() > mails; }, std::chrono::seconds(120)))
        << "no mail reached the relay; sender's T.30 result " << machine.result() << "; log:\n" << log_tail();
    EXPECT_EQ(trunk.finish(), 0) << trunk.out;  // Dialtone hung up after the fax
    ASSERT_TRUE(eventually([&] { return machine.done(); })) << "the sender never ended";
    EXPECT_EQ(machine.result(), 0) << "the sender's T.30 completion code";
    EXPECT_EQ(machine.pages_sent(), pages);
    EXPECT_TRUE(host_->logger().contains("fax detected (cng)")) << log_tail();
    EXPECT_TRUE(host_->logger().contains("receiving it for " + to)) << log_tail();
    expect_fax_mail(mails, pages, did, to);
    // Mailed, with no directory asked for: nothing stays in the spool.
    EXPECT_TRUE(eventually([&] { return files_in(dir_ / "spool").empty(); }));
    expect_media_idle();
  }

  static inline fs::path dir_;
  static inline SmtpSink* smtp_ = nullptr;
  static inline std::shared_ptr<fx::FaxApp> app_;
};

// A fax gateway (the seed's SPA with FAX_Enable_T38) answers G.711, then
// moves the call to T.38 with a re-INVITE: the engine answers the image
// stream on its port and receives the fax as a T.38 terminal over UDPTL,
// with a datagram in five lost on the way (UDPTL redundancy covers them).
TEST_F(FaxCallTest, T38ReInviteFromGatewayMailsAPdfWithThePagesSent) {
  auto sent = dir_ / "sent-t38.tif";
  ASSERT_TRUE(media::write_fax_tiff(sent, 1));
  LoopbackUdp audio;  // the gateway's audio port: nothing is sent from it
  media::T38Peer gateway(sent, 5);
  std::size_t mails = smtp_->messages().size();
  Phone trunk;
  std::uint16_t port = dial_fax_line(trunk, static_cast<std::uint16_t>(audio.port()), "uac_t38.xml",
                                     {"-key", "t38_port", std::to_string(gateway.port())});
  ASSERT_NE(port, 0);
  gateway.start(port);  // before the re-INVITE is answered its datagrams are dropped: T.30 repeats
  ASSERT_TRUE(eventually([&] { return smtp_->messages().size() > mails; }, std::chrono::seconds(120)))
      << "no mail reached the relay; sender's T.30 result " << gateway.result() << ", datagrams heard "
      << gateway.datagrams_in() << "; log:\n" << log_tail();
  EXPECT_EQ(trunk.finish(), 0) << trunk.out;  // the 200 accepted the image stream; Dialtone hung up after the fax
  ASSERT_TRUE(eventually([&] { return gateway.done(); })) << "the sender never ended";
  EXPECT_EQ(gateway.result(), 0) << "the sender's T.30 completion code";
  EXPECT_EQ(gateway.pages_sent(), 1);
  EXPECT_TRUE(host_->logger().contains("moved to T.38")) << log_tail();
  expect_fax_mail(mails, 1);
  EXPECT_TRUE(eventually([&] { return files_in(dir_ / "spool").empty(); }));
  expect_media_idle();
}

// A gateway that offers T.38 beside its audio but waits to be moved: once
// fax reception starts, Dialtone re-INVITEs it to T.38 (UDPTL with
// redundancy) and receives the page as a T.38 terminal, a datagram in five
// lost on the way.
TEST_F(FaxCallTest, T38CapableCallerIsMovedToT38ByDialtone) {
  auto sent = dir_ / "sent-t38-ours.tif";
  ASSERT_TRUE(media::write_fax_tiff(sent, 1));
  LoopbackUdp audio;
  media::T38Peer gateway(sent, 5);
  std::size_t mails = smtp_->messages().size();
  Phone trunk;
  start_fax_call(trunk, audio.port(), "uac_t38_answer.xml", {"-key", "t38_port", std::to_string(gateway.port())});
  // Moved: the endpoint sends UDPTL to the gateway's T.38 port.
  std::string t38 = "127.0.0.1:" + std::to_string(gateway.port());
  std::uint16_t port = 0;
  ASSERT_TRUE(eventually([&] {
    for (auto& c : host_->calls().channels())
      if (auto ep = engine_->channel_endpoint(c.id); ep && ep->stats().remote == t38) port = ep->local_port();
    return port != 0;
  })) << "the call was not moved to T.38; log:\n" << log_tail();
  EXPECT_TRUE(host_->logger().contains("moved to T.38 by Dialtone")) << log_tail();
  gateway.start(port);
  ASSERT_TRUE(eventually([&] { return smtp_->messages().size() > mails; }, std::chrono::seconds(120)))
      << "no mail reached the relay; sender's T.30 result " << gateway.result() << ", datagrams heard "
      << gateway.datagrams_in() << "; log:\n" << log_tail();
  EXPECT_EQ(trunk.finish(), 0) << trunk.out;  // it accepted our re-INVITE; Dialtone hung up after the fax
  ASSERT_TRUE(eventually([&] { return gateway.done(); })) << "the sender never ended";
  EXPECT_EQ(gateway.result(), 0) << "the sender's T.30 completion code";
  EXPECT_EQ(gateway.pages_sent(), 1);
  expect_fax_mail(mails, 1);
  expect_media_idle();
}

TEST_F(FaxCallTest, CallerThatIsNoFaxMachineIsLetGoWithoutFile) {
  media::FaxPeer phone(Codec::pcmu, 0, {});  // a person: silence, no fax tones
  std::size_t mails = smtp_->messages().size();
  Phone trunk;
  ASSERT_NO_FATAL_FAILURE(call_fax_line(trunk, phone));
  EXPECT_EQ(trunk.finish(), 0) << trunk.out;  // let go after fax.detect_timeout (8 s here)
  EXPECT_TRUE(host_->logger().contains("no fax received (not a fax")) << log_tail();
  EXPECT_TRUE(files_in(dir_ / "spool").empty());
  EXPECT_EQ(smtp_->messages().size(), mails);
  expect_media_idle();
}

// Fax detection (seed 5.14.2): the DID of bob's incall listens; the fax
// machine's calling tone (CNG, which spandsp's sender sends first) sends the
// call to fax reception: the mail to the incall's fax_detect_email has the
// PDF with both pages, and the spool is left empty. (The incall destination
// fax_to_mail is what the T.38 and no-fax tests below call.)
TEST_F(FaxCallTest, FaxDetectedOnAUsersDidIsMailedAsAPdfWithThePagesSent) {
  expect_detected_fax_mailed("5551235", 2, "detect@example.com");
}

// The same on a DID whose incall names no fax_detect_email: the PDF is
// mailed to the user the incall sends its calls to, at his e-mail address.
TEST_F(FaxCallTest, FaxDetectedOnAUsersDidWithoutFaxEmailIsMailedToTheUser) {
  expect_detected_fax_mailed("5551237", 1, "bob@example.com");
}

// A person calling such a DID: no calling tone in 2 s (the caller speaks,
// a 500 Hz tone), so the call goes on to bob, who hears the caller.
TEST_F(FaxCallTest, CallerWhoSpeaksOnAFaxDetectingDidReachesTheUser) {
  media::RtpPeer pa(Codec::pcmu, 0, 101), pb(Codec::pcma, 8, 101);  // bob's phone answers PCMA
  Phone bob, alice;
  callee(bob, "bob", "uas_engine_answer.xml", 1, {"-key", "rtp_port", std::to_string(pb.port()), "-d", "0"});
  caller(alice, "alice", "5551236", "uac_media.xml", 1, {"-key", "rtp_port", std::to_string(pa.port())});
  std::string ca = connect_engine(pa);
  ASSERT_FALSE(ca.empty());
  // She speaks while the line listens, and hears the ring tone, not silence.
  pa.send_audio(media::make_tone(500, 1.0, 8000));
  EXPECT_TRUE(eventually([&] { return media::loud_samples(pa.audio(), 8000) > 1600; }))
      << "the caller heard nothing while the line listened";
  ASSERT_FALSE(connect_engine(pb).empty()) << "bob was not rung after the detection time";
  EXPECT_TRUE(hears_tone(pa, pb, 500)) << "bob does not hear the caller; log:\n" << log_tail();
  EXPECT_FALSE(host_->logger().contains("fax detected")) << log_tail();
  hang_up_and_finish(ca, {&alice, &bob});
}

TEST(FaxDelivery, DeadRelayKeepsThePdfAndSaysSoInOneLine) {
  auto dir = fs::temp_directory_path() / ("dialtone-fax-relay-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  TestLogger log;
  fx::DeliveryConfig cfg;
  cfg.spool = dir;
  cfg.mail.host = "127.0.0.1";
  {
    LoopbackUdp taken;  // a port nothing listens on with TCP
    cfg.mail.port = taken.port();
  }
  fx::FaxDelivery delivery(cfg, log);
  fx::ReceivedFax fax;
  fax.tiff = dir / "0123456789-1700000000-call1.tif";
  ASSERT_TRUE(media::write_fax_tiff(fax.tiff, 1));
  fax.pages = 1;
  fax.call_id = "call1";
  fax.srcnum = "0123456789";
  fax.dstnum = "5551234";
  fax.email = "fax@example.com";
  auto d = delivery.deliver(fax);
  EXPECT_FALSE(d.mailed);
  EXPECT_EQ(d.document, dir / "0123456789-1700000000-call1.pdf");
  EXPECT_TRUE(fs::exists(d.document)) << "the fax must be kept when the relay is down";
  EXPECT_FALSE(fs::exists(fax.tiff)) << "converted: the TIFF is replaced by the PDF";
  std::size_t errors = 0;
  for (auto& l : log.lines())
    if (l.find("not mailed") != std::string::npos) {
      ++errors;
      EXPECT_NE(l.find("kept in " + d.document.string()), std::string::npos) << l;
    }
  EXPECT_EQ(errors, 1u);
  fs::remove_all(dir);
}

TEST(FaxDelivery, MailTextsTakeXivoSubstitutions) {
  fx::ReceivedFax fax;
  fax.srcnum = "0123";
  fax.dstnum = "5551234";
  fax.pages = 3;
  EXPECT_EQ(fx::substitute("FAX reception to %(dstnum)s", fax), "FAX reception to 5551234");
  EXPECT_EQ(fx::substitute("%(pages)s from %(srcnum)s at 100%%, %(other)s", fax), "3 from 0123 at 100%, %(other)s");
}

}  // namespace
}  // namespace dialtone::testing
