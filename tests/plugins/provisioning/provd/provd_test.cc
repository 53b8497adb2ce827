#include <gtest/gtest.h>

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <fstream>
#include <sstream>

#include <dialtone/testing/fake_host.h>

#include "kernel/http/http_server.h"
#include "kernel/store/pg_store.h"
#include "plugins/provisioning/null/null_description.h"
#include "plugins/provisioning/polycom/polycom_description.h"
#include "plugins/provisioning/provd/provd.h"
#include "plugins/provisioning/snom/snom_description.h"
#include "plugins/provisioning/yealink/yealink_description.h"
#include "tests/support/openapi_fields.h"
#include "tests/support/openapi_spec.h"
#include "tests/plugins/provisioning/provd/provd_fixture.h"
#include "tests/support/pg_fixture.h"

// PluginHarness needs the symbol; this binary holds no plugin.
extern "C" const dialtone_plugin_manifest dialtone_plugin_manifest_v1 = {};

namespace dialtone::plugins::provisioning {
namespace {

namespace fs = std::filesystem;

class TokenAuth final : public sdk::Auth {
 public:
  sdk::Result<sdk::TokenInfo> check(std::string_view token, std::string_view) override {
    if (token != "tok") return sdk::Error{sdk::ErrorCode::unauthorized, "bad token"};
    sdk::TokenInfo t;
    t.token = "tok";
    t.acls = {"provd.#"};
    return t;
  }
  bool acl_allows(const sdk::TokenInfo&, std::string_view) const override { return true; }
};

struct Reply {
  int status = 0;
  std::string body;
  std::string location;
};

std::string url_encode(const std::string& s) {
  std::string out;
  Poco::URI::encode(s, "?#[]@!$&'()*+,;=/:{}\"", out);
  return out;
}

Reply http(int port, const std::string& method, const std::string& path,
           const std::string& user_agent = {}, const std::string& body = {},
           const std::string& token = {},
           const std::string& content_type = "application/vnd.proformatique.provd+json") {
  Poco::Net::HTTPClientSession s("127.0.0.1", static_cast<Poco::UInt16>(port));
  s.setTimeout(Poco::Timespan(10, 0));
  Poco::Net::HTTPRequest req(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
  if (!user_agent.empty()) req.set("User-Agent", user_agent);
  if (!token.empty()) req.set("X-Auth-Token", token);
  if (!body.empty()) {
    req.setContentType(content_type);
    req.setContentLength(static_cast<std::streamsize>(body.size()));
  }
  auto& os = s.sendRequest(req);
  os << body;
  Poco::Net::HTTPResponse resp;
  auto& is = s.receiveResponse(resp);
  Reply r;
  r.status = resp.getStatus();
  r.location = resp.get("Location", "");
  Poco::StreamCopier::copyToString(is, r.body);
  return r;
}

// Fetches `file` with tftp-hpa as a phone does; nullopt when the transfer fails.
std::optional<std::string> tftp_get(int port, const std::string& file, const fs::path& dir,
                                    bool blksize = false) {
  auto out = dir / ("got-" + file);
  fs::remove(out);
  std::string cmd = "cd " + dir.string() + " && timeout 20 tftp -m binary 127.0.0.1 " +
                    std::to_string(port) + (blksize ? " -c get " : " -c get ") + file + " got-" +
                    file + " >/dev/null 2>&1";
  if (blksize)
    cmd = "cd " + dir.string() + " && printf 'binary\\nblksize 1024\\nget " + file + " got-" + file +
          "\\nquit\\n' | timeout 20 tftp 127.0.0.1 " + std::to_string(port) + " >/dev/null 2>&1";
  int rc = std::system(cmd.c_str());
  (void)rc;
  std::ifstream in(out, std::ios::binary);
  if (!in || fs::file_size(out) == 0) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// An IPv4 address of this host other than 127.x, to be a non-loopback client.
std::string first_non_loopback_ipv4() {
  ifaddrs* all = nullptr;
  if (getifaddrs(&all) != 0) return {};
  std::string found;
  for (auto* i = all; i && found.empty(); i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || (i->ifa_flags & IFF_LOOPBACK)) continue;
    char buf[INET_ADDRSTRLEN];
    auto* in = reinterpret_cast<sockaddr_in*>(i->ifa_addr);
    if (inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf)) found = buf;
  }
  freeifaddrs(all);
  return found;
}

class ThrowingVendor final : public sdk::ProvisioningVendor {
 public:
  std::string_view id() const override { return "provisioning.broken"; }
  std::string_view vendor() const override { return "Broken"; }
  std::string_view version() const override { return "0.0.1"; }
  std::vector<sdk::ModelInfo> models() const override { return {{"B1", 1, 0}}; }
  std::optional<sdk::DeviceInfo> detect(const sdk::DeviceRequest& r) const override {
    if (r.user_agent.rfind("Broken", 0) != 0) return std::nullopt;
    return sdk::DeviceInfo{"Broken", "B1", "1", sdk::mac_in(r.user_agent)};
  }
  std::vector<sdk::TemplateFile> templates() const override { return {}; }
  sdk::Result<std::vector<sdk::ProvisioningFile>> files(const sdk::DeviceConfig&,
                                                        const sdk::TemplateRenderer&) const override {
    throw std::runtime_error("template engine exploded");
  }
};

class ProvdTest : public ProvdStoreTest {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(ProvdStoreTest::SetUp());
    ASSERT_NO_FATAL_FAILURE(provide_vendor("yealink", yealink_description()));
    ASSERT_NO_FATAL_FAILURE(provide_vendor("snom", snom_description()));
    ASSERT_NO_FATAL_FAILURE(provide_vendor("polycom", polycom_description()));
    ASSERT_NO_FATAL_FAILURE(provide_vendor("null", null_description()));
    http_ = std::make_unique<kernel::HttpServerImpl>(
        // "provd" on every interface so that a test can reach it from a
        // non-loopback address of this host.
        std::vector<kernel::ListenerConfig>{{.name = "provd", .host = "0.0.0.0"}, {.name = "provd_phones"}, {.name = "confd"}},
        host_.log());
    http_->set_auth(&auth_);
    ASSERT_TRUE(host_.services().provide<sdk::Auth>("kernel", std::shared_ptr<sdk::Auth>(&auth_, [](sdk::Auth*) {})));
    start_provd();
  }

  void start_provd(int unknown_limit = 30, const std::function<void(ProvdSettings&)>& tweak = {}) {
    ProvdSettings s;
    s.phones_host = "10.0.0.1";
    s.tftp_host = "127.0.0.1";
    s.tftp_port = 0;
    s.template_check = std::chrono::milliseconds(0);
    s.unknown_limit = unknown_limit;
    s.timezone = "Europe/Paris";
    if (tweak) tweak(s);
    // A restarted provd mounts its routes again: the previous one's (which
    // point at it) must go first, or they would keep answering.
    if (started_) http_->unmount_all("kernel");
    provd_ = std::make_unique<Provd>(host_, *store_, http_.get(), s);
    auto st = provd_->start();
    ASSERT_TRUE(st.ok()) << st.error().message;
    if (!started_) {
      ASSERT_TRUE(http_->start().ok());
      started_ = true;
    }
  }

  void TearDown() override {
    if (provd_) provd_->stop();
    if (http_) http_->stop();
    provd_.reset();
    http_.reset();
    ProvdStoreTest::TearDown();
  }

  int phones() { return http_->port("provd_phones"); }
  int rest() { return http_->port("provd"); }

  // A config with one line and assigns it to the device with `mac`.
  void configure_line(const std::string& mac, const std::string& user, const std::string& pw) {
    auto c = http(rest(), "POST", "/provd/cfg_mgr/configs", "",
                  R"({"config": {"id": "line-)" + user + R"(", "parent_ids": ["base"], "raw_config": {"sip_lines": {"1": {"username": ")" +
                      user + R"(", "password": ")" + pw + R"(", "display_name": "User )" + user + R"("}}}}})",
                  "tok");
    ASSERT_EQ(c.status, 201) << c.body;
    auto q = http(rest(), "GET", "/provd/dev_mgr/devices?q=%7B%22mac%22%3A%22" + mac + "%22%7D", "", "", "tok");
    ASSERT_EQ(q.status, 200);
    auto id_at = q.body.find("\"id\":\"");
    ASSERT_NE(id_at, std::string::npos) << q.body;
    auto id = q.body.substr(id_at + 6, 32);
    auto p = http(rest(), "PUT", "/provd/dev_mgr/devices/" + id, "",
                  R"({"device": {"config": "line-)" + user + R"("}})", "tok");
    ASSERT_EQ(p.status, 204) << p.body;
  }

  TokenAuth auth_;
  std::unique_ptr<kernel::HttpServerImpl> http_;
  std::unique_ptr<Provd> provd_;
  bool started_ = false;
};

TEST_F(ProvdTest, UnknownYealinkIsAddedInAutoprovAndGetsItsFiles) {
  auto r = http(phones(), "GET", "/001565aabbcc.cfg", "Yealink SIP-T46S 66.86.0.15 00:15:65:aa:bb:cc");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("account.1.user_name = autoprov"), std::string::npos) << r.body;
  auto c = http(phones(), "GET", "/y000000000066.cfg", "Yealink SIP-T46S 66.86.0.15 00:15:65:aa:bb:cc");
  EXPECT_EQ(c.status, 200);
  EXPECT_NE(c.body.find("static.auto_provision.server.url = http://10.0.0.1:8667"), std::string::npos);
  auto devs = provd_->devices();
  ASSERT_EQ(devs.size(), 1u);
  EXPECT_EQ(devs[0].mac, "00:15:65:aa:bb:cc");
  EXPECT_EQ(devs[0].model, "T46S");
  EXPECT_EQ(devs[0].version, "66.86.0.15");
  EXPECT_EQ(devs[0].added, "auto");
  EXPECT_EQ(devs[0].ip, "127.0.0.1");
  EXPECT_TRUE(host_.log().contains("provd: unknown device request from 127.0.0.1: 001565aabbcc.cfg"));
  EXPECT_TRUE(host_.log().contains("provd: sensitive file served to 127.0.0.1: 001565aabbcc.cfg"));
}

TEST_F(ProvdTest, ConfiguredDeviceGetsItsLineAfterRestRoundTrip) {
  ASSERT_EQ(http(phones(), "GET", "/snom360.htm", "Mozilla/4.0 (compatible; snom360-SIP 8.7.3.25 000413AABBCC)").status, 200);
  configure_line("00:04:13:aa:bb:cc", "1001", "pw1001");
  auto r = http(phones(), "GET", "/snom360-000413AABBCC.htm", "Mozilla/4.0 (compatible; snom360-SIP 8.7.3.25 000413AABBCC)");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.body.find(R"(<user_name idx="1" perm="R">1001</user_name>)"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find(R"(<user_pass idx="1" perm="R">pw1001</user_pass>)"), std::string::npos);
  // Raw view merges the parent "base".
  auto raw = http(rest(), "GET", "/provd/cfg_mgr/configs/line-1001/raw", "", "", "tok");
  EXPECT_EQ(raw.status, 200);
  EXPECT_NE(raw.body.find("\"sip_proxy_ip\":\"10.0.0.1\""), std::string::npos) << raw.body;
  // Survives a restart: everything is in PostgreSQL.
  provd_->stop();
  http_->unmount_all("kernel");
  start_provd();
  auto dev = provd_->devices();
  ASSERT_EQ(dev.size(), 1u);
  EXPECT_EQ(dev[0].config, "line-1001");
  EXPECT_TRUE(dev[0].configured);
}

TEST_F(ProvdTest, RestDeviceCrudAndListSelectors) {
  auto c = http(rest(), "POST", "/provd/dev_mgr/devices", "",
                R"({"device": {"mac": "00:15:65:00:00:02", "ip": "10.1.1.2", "plugin": "provisioning.yealink", "vendor": "Yealink", "model": "T42S"}})",
                "tok");
  ASSERT_EQ(c.status, 201) << c.body;
  auto id = c.body.substr(7, 32);
  EXPECT_EQ(http(rest(), "GET", "/provd/dev_mgr/devices/" + id, "", "", "tok").status, 200);
  auto l = http(rest(), "GET", "/provd/dev_mgr/devices?q=%7B%22ip%22%3A%2210.1.1.2%22%7D&fields=mac,added", "", "", "tok");
  EXPECT_EQ(l.body, R"({"devices":[{"mac":"00:15:65:00:00:02","added":"manual"}]})");
  EXPECT_EQ(http(rest(), "GET", "/provd/dev_mgr/devices", "", "", "").status, 401);
  EXPECT_EQ(http(rest(), "POST", "/provd/dev_mgr/devices", "", R"({"device": {"mac": "00:15:65:00:00:02"}})", "tok").status, 409);
  EXPECT_EQ(http(rest(), "POST", "/provd/dev_mgr/devices", "", R"({"device": {"mac": "zz"}})", "tok").status, 400);
  auto pv = http(rest(), "GET", "/provd/dev_mgr/devices/" + id + "/preview", "", "", "tok");
  EXPECT_EQ(pv.status, 200);
  EXPECT_NE(pv.body.find("y000000000067.cfg"), std::string::npos);
  EXPECT_EQ(http(rest(), "DELETE", "/provd/dev_mgr/devices/" + id, "", "", "tok").status, 204);
  EXPECT_EQ(http(rest(), "GET", "/provd/dev_mgr/devices/" + id, "", "", "tok").status, 404);
  auto info = http(rest(), "GET", "/provd/pg_mgr/plugins/provisioning.yealink/info", "", "", "tok");
  EXPECT_NE(info.body.find("\"Yealink, T46S\":{\"sip.lines\":16"), std::string::npos) << info.body;
}

// xivo-provd's selector operators in q, as xivo-provd-client sends them.
TEST_F(ProvdTest, ListSelectorOperators) {
  for (auto* d : {R"({"device": {"mac": "00:15:65:00:00:11", "ip": "10.1.1.11", "vendor": "Yealink", "model": "T42S"}})",
                  R"({"device": {"mac": "00:15:65:00:00:12", "ip": "10.1.1.12", "vendor": "Snom", "model": "D785"}})",
                  R"({"device": {"mac": "00:15:65:00:00:13", "vendor": "Polycom", "model": "VVX 400"}})"})
    ASSERT_EQ(http(rest(), "POST", "/provd/dev_mgr/devices", "", d, "tok").status, 201);
  auto macs = [&](const std::string& q) {
    auto r = http(rest(), "GET", "/provd/dev_mgr/devices?fields=mac&sort=mac&q=" + url_encode(q), "", "", "tok");
    EXPECT_EQ(r.status, 200) << q << ": " << r.body;
    std::string out;
    for (auto at = r.body.find("00:15:65:00:00:"); at != std::string::npos; at = r.body.find("00:15:65:00:00:", at + 1))
      out += r.body.substr(at + 15, 2) + " ";
    return out;
  };
  EXPECT_EQ(macs(R"({"vendor": {"$in": ["Yealink", "Snom"]}})"), "11 12 ");
  EXPECT_EQ(macs(R"({"vendor": {"$nin": ["Yealink", "Snom"]}})"), "13 ");
  EXPECT_EQ(macs(R"({"model": {"$contains": "VVX"}})"), "13 ");
  EXPECT_EQ(macs(R"({"ip": {"$exists": false}})"), "13 ");
  EXPECT_EQ(macs(R"({"ip": {"$gt": "10.1.1.11", "$le": "10.1.1.12"}})"), "12 ");
  EXPECT_EQ(macs(R"({"vendor": {"$ne": "Snom"}, "mac": {"$in": ["00-15-65-00-00-11", "00:15:65:00:00:13"]}})"), "11 13 ");
  EXPECT_EQ(macs(R"({"mac": "001565000012"})"), "12 ");
  auto bad = http(rest(), "GET", "/provd/dev_mgr/devices?q=" + url_encode(R"({"ip": {"$regex": "10"}})"), "", "", "tok");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("invalid operator: $regex"), std::string::npos) << bad.body;
}

// pg_mgr install answers 201 and the operation to poll, as xivo-provd does.
TEST_F(ProvdTest, PluginInstallAnswersWithTheOperationToPoll) {
  auto dir = fs::temp_directory_path() / ("provd-pgmgr-" + std::to_string(::getpid()));
  fs::create_directories(dir / "repo");
  std::ofstream(dir / "repo" / "provisioning_acme.so") << "not really a plugin";
  provd_->stop();
  start_provd(30, [&](ProvdSettings& s) {
    s.plugin_repository = dir / "repo";
    s.plugin_dir = dir / "plugins";
  });
  auto r = http(rest(), "POST", "/provd/pg_mgr/install/install", "", R"({"id": "provisioning.acme"})", "tok");
  ASSERT_EQ(r.status, 201) << r.body;
  ASSERT_EQ(r.location.rfind("/provd/pg_mgr/install/install/", 0), 0u) << r.location;
  EXPECT_TRUE(fs::exists(dir / "plugins" / "provisioning_acme.so"));
  auto op = http(rest(), "GET", r.location, "", "", "tok");
  EXPECT_EQ(op.status, 200);
  EXPECT_EQ(op.body, R"({"status":"success"})");
  EXPECT_EQ(http(rest(), "POST", "/provd/pg_mgr/install/uninstall", "", R"({"id": "provisioning.acme"})", "tok").status, 204);
  fs::remove_all(dir);
}

// xivo-provd-client's calls that a XiVO tool makes, with its media type and
// bodies: configure_service.infos() pops each param's links;
// config_manager.find(selector, fields, skip, limit, sort) sends q, fields,
// sort and sort_ord (a list field matches on one element); a device made by
// XiVO names its plugin "null" or "xivo-<vendor>-<version>" and reconfigure
// then renders it; an operation is deleted after polling; the install
// service lists installed and installable plugins; reload takes an id.
TEST_F(ProvdTest, XivoProvdClientFindsConfigsReconfiguresAndListsPlugins) {
  auto infos = http(rest(), "GET", "/provd/configure", "", "", "tok");
  ASSERT_EQ(infos.status, 200);
  EXPECT_NE(infos.body.find(R"("id":"NAT")"), std::string::npos) << infos.body;
  EXPECT_NE(infos.body.find(R"("links":[{"rel":"srv.configure.param","href":"/provd/configure/NAT"}])"),
            std::string::npos) << infos.body;

  ASSERT_EQ(http(rest(), "POST", "/provd/cfg_mgr/configs", "",
                 R"({"config": {"id": "site1", "parent_ids": [], "raw_config": {"ip": "10.0.0.5"}}})", "tok").status, 201);
  ASSERT_EQ(http(rest(), "POST", "/provd/cfg_mgr/configs", "",
                 R"({"config": {"id": "line-a", "parent_ids": ["site1", "base"], "raw_config": {}}})", "tok").status, 201);
  auto child = http(rest(), "GET", "/provd/cfg_mgr/configs?q=" + url_encode(R"({"parent_ids": "site1"})"), "", "", "tok");
  ASSERT_EQ(child.status, 200) << child.body;
  EXPECT_NE(child.body.find(R"("id":"line-a")"), std::string::npos) << child.body;
  EXPECT_EQ(child.body.find(R"("id":"site1")"), std::string::npos) << child.body;
  auto ids = http(rest(), "GET", "/provd/cfg_mgr/configs?q=" + url_encode(R"({"id": {"$in": ["site1", "line-a"]}})") +
                                    "&fields=id&sort=id&sort_ord=DESC", "", "", "tok");
  EXPECT_EQ(ids.body, R"({"configs":[{"id":"site1"},{"id":"line-a"}]})");
  auto raw = http(rest(), "GET", "/provd/cfg_mgr/configs?fields=id&q=" + url_encode(R"({"raw_config.ip": "10.0.0.5"})"),
                  "", "", "tok");
  EXPECT_EQ(raw.body, R"({"configs":[{"id":"site1"}]})");

  // XiVO's registrar configs (the wizard's "default", xivo-confd's
  // /registrars) carry X_type and their addresses beside raw_config: kept,
  // read back, found with q, replaced by an update.
  ASSERT_EQ(http(rest(), "POST", "/provd/cfg_mgr/configs", "",
                 R"({"config": {"id": "reg1", "X_type": "registrar", "displayname": "local", "parent_ids": [],
                     "raw_config": {"X_key": "xivo"}, "proxy_main": "10.0.0.2", "registrar_main": "10.0.0.2"}})",
                 "tok").status, 201);
  auto reg = http(rest(), "GET", "/provd/cfg_mgr/configs/reg1", "", "", "tok");
  EXPECT_NE(reg.body.find(R"("X_type":"registrar")"), std::string::npos) << reg.body;
  EXPECT_NE(reg.body.find(R"("proxy_main":"10.0.0.2")"), std::string::npos) << reg.body;
  auto regs = http(rest(), "GET", "/provd/cfg_mgr/configs?fields=id,proxy_main&q=" +
                                      url_encode(R"({"X_type": "registrar"})"), "", "", "tok");
  EXPECT_EQ(regs.body, R"({"configs":[{"id":"reg1","proxy_main":"10.0.0.2"}]})");
  ASSERT_EQ(http(rest(), "PUT", "/provd/cfg_mgr/configs/reg1", "",
                 R"({"config": {"id": "reg1", "X_type": "registrar", "parent_ids": [], "raw_config": {},
                     "proxy_main": "10.0.0.3"}})", "tok").status, 204);
  reg = http(rest(), "GET", "/provd/cfg_mgr/configs/reg1", "", "", "tok");
  EXPECT_NE(reg.body.find(R"("proxy_main":"10.0.0.3")"), std::string::npos) << reg.body;
  EXPECT_EQ(reg.body.find("displayname"), std::string::npos) << "an update replaces the config: " << reg.body;

  for (const char* plugin : {"null", "xivo-yealink-v80"}) {
    auto c = http(rest(), "POST", "/provd/dev_mgr/devices", "",
                  std::string(R"({"device": {"mac": "00:15:65:00:0a:)") + (plugin[0] == 'n' ? "01" : "02") +
                      R"(", "vendor": "Yealink", "model": "T46S", "plugin": ")" + plugin + R"(", "config": "line-a"}})",
                  "tok");
    ASSERT_EQ(c.status, 201) << c.body;
    auto id = c.body.substr(7, 32);
    auto re = http(rest(), "POST", "/provd/dev_mgr/reconfigure", "", R"({"id": ")" + id + R"("})", "tok");
    EXPECT_EQ(re.status, 204) << plugin << ": " << re.body;
  }

  auto sync = http(rest(), "POST", "/provd/dev_mgr/synchronize", "",
                   R"({"id": ")" + provd_->devices()[0].id + R"("})", "tok");
  ASSERT_EQ(sync.status, 201);
  EXPECT_EQ(http(rest(), "DELETE", sync.location, "", "", "tok").status, 204);
  EXPECT_EQ(http(rest(), "GET", sync.location, "", "", "tok").status, 404);

  auto installed = http(rest(), "GET", "/provd/pg_mgr/install/installed", "", "", "tok");
  ASSERT_EQ(installed.status, 200);
  EXPECT_NE(installed.body.find(R"("provisioning.yealink":{"version":)"), std::string::npos) << installed.body;
  auto installable = http(rest(), "GET", "/provd/pg_mgr/install/installable", "", "", "tok");
  EXPECT_EQ(installable.body, R"({"pkgs":{}})");
  auto plugin = http(rest(), "GET", "/provd/pg_mgr/plugins/provisioning.yealink", "", "", "tok");
  EXPECT_NE(plugin.body.find(R"("links":[{"rel":"pg.info","href":"/provd/pg_mgr/plugins/provisioning.yealink/info"}])"),
            std::string::npos) << plugin.body;
  EXPECT_EQ(http(rest(), "POST", "/provd/pg_mgr/reload", "", R"({"id": "null"})", "tok").status, 204);
  EXPECT_EQ(http(rest(), "POST", "/provd/pg_mgr/reload", "", R"({"id": "acme"})", "tok").status, 404);
}

TEST_F(ProvdTest, SensitiveFileRefusedToAnotherAddress) {
  auto c = http(rest(), "POST", "/provd/dev_mgr/devices", "",
                R"({"device": {"mac": "00:15:65:00:00:03", "ip": "10.9.9.9", "plugin": "provisioning.yealink", "vendor": "Yealink", "model": "T46S"}})",
                "tok");
  ASSERT_EQ(c.status, 201);
  auto r = http(phones(), "GET", "/001565000003.cfg", "Yealink SIP-T46S 66.86.0.15 00:15:65:00:00:03");
  EXPECT_EQ(r.status, 403);
  EXPECT_TRUE(host_.log().contains("provd: refused sensitive file 001565000003.cfg"));
  // The common file holds no secret: served.
  EXPECT_EQ(http(phones(), "GET", "/y000000000066.cfg", "Yealink SIP-T46S 66.86.0.15 00:15:65:00:00:03").status, 200);
}

TEST_F(ProvdTest, UnknownDeviceFloodIsRateLimited) {
  provd_->stop();
  http_->unmount_all("kernel");
  start_provd(/*unknown_limit=*/3);
  int limited = 0;
  for (int i = 0; i < 6; ++i) {
    char mac[32];
    std::snprintf(mac, sizeof mac, "0015650100%02d", i);
    auto r = http(phones(), "GET", std::string("/") + mac + ".cfg",
                  std::string("Yealink SIP-T46S 66.86.0.15 ") + mac);
    if (r.status == 429) ++limited;
  }
  EXPECT_EQ(limited, 3);
  // NAT off: one device per source address: only the newest keeps 127.0.0.1.
  auto devs = provd_->devices();
  EXPECT_EQ(devs.size(), 3u);
  EXPECT_EQ(std::count_if(devs.begin(), devs.end(), [](auto& d) { return d.ip == "127.0.0.1"; }), 1);
  EXPECT_TRUE(host_.log().contains("provd: too many unknown device requests from 127.0.0.1"));
}

TEST_F(ProvdTest, NullPluginDevicesGet404) {
  ASSERT_EQ(http(rest(), "POST", "/provd/dev_mgr/devices", "",
                 R"({"device": {"mac": "00:15:65:00:00:04", "ip": "127.0.0.1", "plugin": "provisioning.null"}})", "tok")
                .status,
            201);
  EXPECT_EQ(http(phones(), "GET", "/001565000004.cfg", "Yealink SIP-T46S 66.86.0.15 00:15:65:00:00:04").status, 404);
}

TEST_F(ProvdTest, TftpServesFilesAsPhonesFetchThem) {
  auto dir = host_.data_dir() / "tftp-client";
  fs::create_directories(dir);
  // Polycom: the master file first (no MAC known yet), then its own file.
  auto master = tftp_get(provd_->tftp_port(), "000000000000.cfg", dir);
  ASSERT_TRUE(master);
  EXPECT_NE(master->find("[PHONE_MAC_ADDRESS]-phone.cfg"), std::string::npos);
  auto phone = tftp_get(provd_->tftp_port(), "0004f2aabbcc-phone.cfg", dir, /*blksize=*/true);
  ASSERT_TRUE(phone);
  EXPECT_NE(phone->find("reg.1.address=\"autoprov\""), std::string::npos) << *phone;
  ASSERT_EQ(provd_->devices().size(), 1u);
  EXPECT_EQ(provd_->devices()[0].mac, "00:04:f2:aa:bb:cc");
  EXPECT_FALSE(tftp_get(provd_->tftp_port(), "nothing-here.bin", dir));
  // A large static file crosses many blocks.
  std::string big(100000, 'x');
  for (std::size_t i = 0; i < big.size(); i += 7) big[i] = static_cast<char>('a' + i % 26);
  fs::create_directories(host_.data_dir() / "static");
  std::ofstream(host_.data_dir() / "static" / "firmware.bin", std::ios::binary) << big;
  auto fw = tftp_get(provd_->tftp_port(), "firmware.bin", dir);
  ASSERT_TRUE(fw);
  EXPECT_EQ(*fw, big);
}

// A Yealink fetches its model's common file, whose name is a model code and
// not a MAC: the phone stays one device, whichever file comes first.
TEST_F(ProvdTest, YealinkCommonFileOverTftpStaysTheSamePhone) {
  auto dir = host_.data_dir() / "tftp-client";
  fs::create_directories(dir);
  auto common = tftp_get(provd_->tftp_port(), "y000000000028.cfg", dir);
  ASSERT_TRUE(common);
  EXPECT_NE(common->find("static.auto_provision.server.url"), std::string::npos) << *common;
  ASSERT_EQ(provd_->devices().size(), 1u);
  EXPECT_EQ(provd_->devices()[0].mac, "");
  EXPECT_EQ(provd_->devices()[0].model, "T46G");
  auto own = tftp_get(provd_->tftp_port(), "001565aabbcc.cfg", dir);
  ASSERT_TRUE(own);
  EXPECT_NE(own->find("account.1.user_name = autoprov"), std::string::npos) << *own;
  ASSERT_TRUE(tftp_get(provd_->tftp_port(), "y000000000028.cfg", dir));
  auto devs = provd_->devices();
  ASSERT_EQ(devs.size(), 1u);
  EXPECT_EQ(devs[0].mac, "00:15:65:aa:bb:cc");
  EXPECT_EQ(devs[0].model, "T46G");
}

TEST_F(ProvdTest, CustomTemplateSurvivesVendorUpgradeAndChangesRegenerate) {
  ASSERT_EQ(http(phones(), "GET", "/001565aabbcd.cfg", "Yealink SIP-T46S 66.86.0.15 00:15:65:aa:bb:cd").status, 200);
  auto vdir = provd_->templates().root() / "vendor" / "provisioning.yealink";
  fs::create_directories(vdir);
  std::ofstream(vdir / "yealink-custom-device") << "features.custom = 42\n";
  EXPECT_TRUE(provd_->check_templates());
  auto r = http(phones(), "GET", "/001565aabbcd.cfg", "Yealink SIP-T46S 66.86.0.15 00:15:65:aa:bb:cd");
  EXPECT_NE(r.body.find("features.custom = 42"), std::string::npos) << r.body;

  // Upgrade: the plugin is replaced by a version with different bundled templates.
  class YealinkV2 final : public sdk::ProvisioningVendor {
   public:
    YealinkV2() = default;
    std::string_view id() const override { return base_.id(); }
    std::string_view vendor() const override { return base_.vendor(); }
    std::string_view version() const override { return "2.0.0"; }
    std::vector<sdk::ModelInfo> models() const override { return base_.models(); }
    std::optional<sdk::DeviceInfo> detect(const sdk::DeviceRequest& r) const override { return base_.detect(r); }
    std::vector<sdk::TemplateFile> templates() const override {
      auto t = base_.templates();
      for (auto& f : t)
        if (f.name == "device.cfg") f.content = "#!version:1.0.0.1\nbundled = v2\n{{> yealink-custom-device}}";
      return t;
    }
    sdk::Result<std::vector<sdk::ProvisioningFile>> files(const sdk::DeviceConfig& c,
                                                          const sdk::TemplateRenderer& rr) const override {
      return base_.files(c, rr);
    }
   private:
    DescribedVendor base_{yealink_description()};
  };
  host_.services().withdraw<sdk::ProvisioningVendor>("yealink");
  ASSERT_TRUE(host_.services().provide<sdk::ProvisioningVendor>("yealink", std::make_shared<YealinkV2>()));
  EXPECT_EQ(provd_->regenerate_all(), 1u);
  r = http(phones(), "GET", "/001565aabbcd.cfg", "Yealink SIP-T46S 66.86.0.15 00:15:65:aa:bb:cd");
  EXPECT_NE(r.body.find("bundled = v2"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("features.custom = 42"), std::string::npos) << r.body;
}

TEST_F(ProvdTest, ThrowingVendorIsReportedAndOthersKeepServing) {
  ASSERT_TRUE(host_.services().provide<sdk::ProvisioningVendor>("broken", std::make_shared<ThrowingVendor>()));
  auto b = http(phones(), "GET", "/b.cfg", "Broken B1 00:aa:bb:cc:dd:ee");
  EXPECT_EQ(b.status, 500);
  EXPECT_TRUE(host_.log().contains("template engine exploded"));
  // Another vendor's phone keeps being served.
  auto y = http(phones(), "GET", "/001565aabbce.cfg", "Yealink SIP-T46S 66.86.0.15 00:15:65:aa:bb:ce");
  EXPECT_EQ(y.status, 200);
}

TEST_F(ProvdTest, SynchronizeWithoutSipBackendReportsWhy) {
  ASSERT_EQ(http(phones(), "GET", "/001565aabbcf.cfg", "Yealink SIP-T46S 66.86.0.15 00:15:65:aa:bb:cf").status, 200);
  auto id = provd_->devices()[0].id;
  auto r = http(rest(), "POST", "/provd/dev_mgr/synchronize", "", "{\"id\": \"" + id + "\"}", "tok");
  ASSERT_EQ(r.status, 201);
  auto op = http(rest(), "GET", "/provd/dev_mgr/synchronize/1", "", "", "tok");
  EXPECT_NE(op.body.find("no SIP backend provides provisioning.sip_notifier"), std::string::npos) << op.body;

  struct Notifier final : sdk::SipNotifier {
    std::vector<sdk::SyncTarget> sent;
    void notify_check_sync(const sdk::SyncTarget& t, sdk::SyncDone done) override {
      sent.push_back(t);
      done({});
    }
  };
  auto n = std::make_shared<Notifier>();
  ASSERT_TRUE(host_.services().provide<sdk::SipNotifier>("sip", n));
  std::optional<sdk::Status> answered;
  provd_->synchronize(id, [&](sdk::Status s) { answered = std::move(s); });
  ASSERT_TRUE(answered.has_value());
  ASSERT_TRUE(answered->ok());
  ASSERT_EQ(n->sent.size(), 1u);
  EXPECT_EQ(n->sent[0].event, "check-sync;reboot=false");
  EXPECT_EQ(n->sent[0].device_ip, "127.0.0.1");
  EXPECT_EQ(n->sent[0].sip_username, "autoprov");
}

TEST_F(ProvdTest, DhcpCommitAddsTheDeviceWithItsVendorAndTheFilesFollow) {
  // Option 60 "yealink" as XiVO's dhcpd hook sends it: code in 3 digits, hex bytes.
  auto r = http(rest(), "POST", "/provd/dev_mgr/dhcpinfo", "",
                R"({"dhcp_info": {"op": "commit", "ip": "127.0.0.1", "mac": "00:15:65:dd:00:01",
                    "options": ["06079.65.61.6c.69.6e.6b", "0554.5"]}})",
                "tok");
  ASSERT_EQ(r.status, 204) << r.body;
  auto devs = provd_->devices();
  ASSERT_EQ(devs.size(), 1u);
  EXPECT_EQ(devs[0].mac, "00:15:65:dd:00:01");
  EXPECT_EQ(devs[0].ip, "127.0.0.1");
  EXPECT_EQ(devs[0].vendor, "Yealink");
  EXPECT_EQ(devs[0].plugin, "provisioning.yealink");
  EXPECT_EQ(devs[0].config, "autoprov");
  EXPECT_EQ(devs[0].added, "auto");
  // The phone then asks for its file: the same device, no new one.
  auto f = http(phones(), "GET", "/001565dd0001.cfg", "Yealink SIP-T46S 66.86.0.15 00:15:65:dd:00:01");
  EXPECT_EQ(f.status, 200);
  EXPECT_NE(f.body.find("account.1.user_name = autoprov"), std::string::npos);
  ASSERT_EQ(provd_->devices().size(), 1u);
  EXPECT_EQ(provd_->devices()[0].model, "T46S");

  // A new lease moves the device; expiry of an old lease does not touch it.
  ASSERT_EQ(http(rest(), "POST", "/provd/dev_mgr/dhcpinfo", "",
                 R"({"dhcp_info": {"op": "commit", "ip": "10.0.0.50", "mac": "00:15:65:dd:00:01"}})", "tok")
                .status,
            204);
  EXPECT_EQ(provd_->devices()[0].ip, "10.0.0.50");
  ASSERT_EQ(http(rest(), "POST", "/provd/dev_mgr/dhcpinfo", "",
                 R"({"dhcp_info": {"op": "expiry", "ip": "127.0.0.1", "mac": "00:15:65:dd:00:01"}})", "tok")
                .status,
            204);
  EXPECT_EQ(provd_->devices()[0].ip, "10.0.0.50");
  ASSERT_EQ(http(rest(), "POST", "/provd/dev_mgr/dhcpinfo", "",
                 R"({"dhcp_info": {"op": "release", "ip": "10.0.0.50", "mac": "00:15:65:dd:00:01"}})", "tok")
                .status,
            204);
  EXPECT_EQ(provd_->devices()[0].ip, "");
}

// XiVO's dhcpd hook and tools on the PBX push leases with no token (xivo-provd's
// REST API had none); Dialtone leaves only that route open, and only to the
// loopback address: the rest of the management API still needs a token.
TEST_F(ProvdTest, DhcpInfoFromLoopbackNeedsNoTokenTheRestOfTheApiDoes) {
  const std::string lease =
      R"({"dhcp_info": {"op": "commit", "ip": "10.0.0.77", "mac": "00:15:65:dd:00:07",
          "options": ["06079.65.61.6c.69.6e.6b"]}})";
  auto r = http(rest(), "POST", "/provd/dev_mgr/dhcpinfo", "", lease);
  ASSERT_EQ(r.status, 204) << r.body;
  ASSERT_EQ(provd_->devices().size(), 1u);
  EXPECT_EQ(provd_->devices()[0].ip, "10.0.0.77");
  EXPECT_EQ(provd_->devices()[0].vendor, "Yealink");

  // Management routes stay closed without a token, as xivo-provd-client sends none.
  for (auto [method, path] : {std::pair{"GET", "/provd/dev_mgr/devices"}, {"GET", "/provd"},
                              {"GET", "/provd/cfg_mgr/configs"}, {"POST", "/provd/dev_mgr/reconfigure"}}) {
    auto m = http(rest(), method, path, "", std::string(method) == "POST" ? R"({"id": "x"})" : "");
    EXPECT_EQ(m.status, 401) << path << " " << m.body;
  }

  // From a non-loopback address of this host, dhcpinfo needs the token too.
  std::string other = first_non_loopback_ipv4();
  ASSERT_FALSE(other.empty()) << "the test host has no non-loopback IPv4 address";
  auto remote = [&](const std::string& token) {
    Poco::Net::HTTPClientSession s(other, static_cast<Poco::UInt16>(rest()));
    s.setTimeout(Poco::Timespan(10, 0));
    Poco::Net::HTTPRequest req("POST", "/provd/dev_mgr/dhcpinfo", Poco::Net::HTTPMessage::HTTP_1_1);
    if (!token.empty()) req.set("X-Auth-Token", token);
    const std::string body =
        R"({"dhcp_info": {"op": "commit", "ip": "10.0.0.88", "mac": "00:15:65:dd:00:07"}})";
    req.setContentType("application/vnd.proformatique.provd+json");
    req.setContentLength(static_cast<std::streamsize>(body.size()));
    s.sendRequest(req) << body;
    Poco::Net::HTTPResponse resp;
    std::string out;
    Poco::StreamCopier::copyToString(s.receiveResponse(resp), out);
    return std::pair{static_cast<int>(resp.getStatus()), out};
  };
  auto refused = remote("");
  EXPECT_EQ(refused.first, 401) << refused.second;
  EXPECT_NE(refused.second.find("loopback"), std::string::npos) << refused.second;
  EXPECT_EQ(remote("wrong").first, 401);
  EXPECT_EQ(provd_->devices()[0].ip, "10.0.0.77");  // nothing changed
  auto ok = remote("tok");
  EXPECT_EQ(ok.first, 204) << ok.second;
  EXPECT_EQ(provd_->devices()[0].ip, "10.0.0.88");
}

TEST_F(ProvdTest, DhcpUnknownVendorThenPhoneRequestTakesThePlugin) {
  // Option 77 (user class) "SomePhone": no vendor plugin claims it.
  ASSERT_EQ(http(rest(), "POST", "/provd/dev_mgr/dhcpinfo", "",
                 R"({"dhcp_info": {"op": "commit", "ip": "127.0.0.1", "mac": "00:04:13:dd:00:02",
                     "options": ["07753.6f.6d.65.50.68.6f.6e.65"]}})", "tok")
                .status,
            204);
  ASSERT_EQ(provd_->devices().size(), 1u);
  EXPECT_EQ(provd_->devices()[0].plugin, "");
  auto r = http(phones(), "GET", "/snom360-000413DD0002.htm", "Mozilla/4.0 (compatible; snom360-SIP 8.7.3.25 000413DD0002)");
  EXPECT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(provd_->devices().size(), 1u);
  EXPECT_EQ(provd_->devices()[0].plugin, "provisioning.snom");
  EXPECT_EQ(provd_->devices()[0].vendor, "Snom");
}

TEST_F(ProvdTest, DhcpBadInputNamesTheField) {
  auto post = [&](const std::string& body) { return http(rest(), "POST", "/provd/dev_mgr/dhcpinfo", "", body, "tok"); };
  auto r = post(R"({"dhcp_info": {"op": "renew", "ip": "10.0.0.1", "mac": "00:15:65:00:00:09"}})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("op 'renew' must be commit, expiry or release"), std::string::npos) << r.body;
  r = post(R"({"dhcp_info": {"op": "commit", "ip": "10.0.0", "mac": "00:15:65:00:00:09"}})");
  EXPECT_NE(r.body.find("ip '10.0.0' must be an IPv4 address"), std::string::npos) << r.body;
  r = post(R"({"dhcp_info": {"op": "commit", "ip": "10.0.0.1", "mac": "nope"}})");
  EXPECT_NE(r.body.find("mac 'nope' must be a MAC address"), std::string::npos) << r.body;
  r = post(R"({"dhcp_info": {"op": "commit", "ip": "10.0.0.1", "mac": "00:15:65:00:00:09", "options": ["60yealink"]}})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("option '60yealink'"), std::string::npos) << r.body;
  EXPECT_EQ(post("{}").status, 400);
  EXPECT_TRUE(provd_->devices().empty());
  // Without a token from loopback (the DHCP hook), bad input is named all the same.
  r = http(rest(), "POST", "/provd/dev_mgr/dhcpinfo", "", R"({"dhcp_info": {"op": "commit"}})", "");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("ip '' must be an IPv4 address"), std::string::npos) << r.body;
}

// The field contract of plugins/provisioning/provd/api.yml (as served):
// every field declared for an answer is in the real answer, on a device
// that has a config with a line.
TEST_F(ProvdTest, EveryDeclaredFieldIsReturned) {
  auto spec = YAML::Load(http(rest(), "GET", "/provd/api/api.yml").body);
  using testing::missing_fields;
  auto dev = http(rest(), "POST", "/provd/dev_mgr/devices", "",
                  R"({"device": {"mac": "00:15:65:00:0f:01", "ip": "10.1.1.9", "plugin": "provisioning.yealink", "vendor": "Yealink", "model": "T46S", "version": "66.86.0.15", "description": "desk"}})",
                  "tok");
  ASSERT_EQ(dev.status, 201) << dev.body;
  EXPECT_EQ(missing_fields(spec, "POST", "/provd/dev_mgr/devices", dev.body, 201), "") << dev.body;
  auto id = dev.body.substr(7, 32);
  auto cfg = http(rest(), "POST", "/provd/cfg_mgr/configs", "",
                  R"({"config": {"id": "fields", "parent_ids": ["base"], "raw_config": {"sip_lines": {"1": {"username": "f"}}}}})",
                  "tok");
  ASSERT_EQ(cfg.status, 201) << cfg.body;
  EXPECT_EQ(missing_fields(spec, "POST", "/provd/cfg_mgr/configs", cfg.body, 201), "") << cfg.body;
  ASSERT_EQ(http(rest(), "PUT", "/provd/dev_mgr/devices/" + id, "", R"({"device": {"config": "fields"}})", "tok").status, 204);
  auto sync = http(rest(), "POST", "/provd/dev_mgr/synchronize", "", R"({"id": ")" + id + R"("})", "tok");
  ASSERT_EQ(sync.status, 201);
  const std::pair<std::string, std::string> routes[] = {
      {"/provd", "/provd"},
      {"/provd/dev_mgr/devices", "/provd/dev_mgr/devices"},
      {"/provd/dev_mgr/devices/{id}", "/provd/dev_mgr/devices/" + id},
      {"/provd/dev_mgr/devices/{id}/preview", "/provd/dev_mgr/devices/" + id + "/preview"},
      {"/provd/dev_mgr/synchronize/{op}", sync.location},
      {"/provd/cfg_mgr/configs", "/provd/cfg_mgr/configs"},
      {"/provd/cfg_mgr/configs/{id}", "/provd/cfg_mgr/configs/fields"},
      {"/provd/cfg_mgr/configs/{id}/raw", "/provd/cfg_mgr/configs/fields/raw"},
      {"/provd/pg_mgr/plugins", "/provd/pg_mgr/plugins"},
      {"/provd/pg_mgr/plugins/{id}", "/provd/pg_mgr/plugins/provisioning.yealink"},
      {"/provd/pg_mgr/plugins/{id}/info", "/provd/pg_mgr/plugins/provisioning.yealink/info"},
      {"/provd/pg_mgr/install/installed", "/provd/pg_mgr/install/installed"},
      {"/provd/pg_mgr/install/installable", "/provd/pg_mgr/install/installable"},
      {"/provd/configure", "/provd/configure"},
      {"/provd/configure/{param}", "/provd/configure/NAT"}};
  for (auto& [declared, path] : routes) {
    auto r = http(rest(), "GET", path, "", "", "tok");
    ASSERT_EQ(r.status, 200) << path << ": " << r.body;
    EXPECT_EQ(missing_fields(spec, "GET", declared, r.body), "") << path << ": " << r.body;
  }
}

// plugins/provisioning/provd/api.yml, served without a token on the real
// listener, names exactly the routes mounted on "provd" and "provd_phones".
TEST_F(ProvdTest, ServedOpenApiSpecDescribesExactlyTheMountedRoutes) {
  auto served = http(rest(), "GET", "/provd/api/api.yml");
  ASSERT_EQ(served.status, 200) << served.body;
  auto spec = testing::read_openapi(served.body);
  EXPECT_TRUE(spec.problems.empty()) << spec.problems.front();
  std::map<std::string, std::string> mounted;
  std::map<std::string, std::string> on_confd;
  for (auto& r : http_->routes()) {
    EXPECT_TRUE(r.listener == "provd" || r.listener == "provd_phones" || r.listener == "confd") << r.path;
    (r.listener == "confd" ? on_confd : mounted)[testing::route_key(r.method, r.path)] = r.acl;
  }
  EXPECT_EQ(spec.operations, mounted);
  // /1.1/devices on the confd listener has its own file.
  auto devices = http(http_->port("confd"), "GET", "/1.1/api/devices.yml");
  ASSERT_EQ(devices.status, 200) << devices.body;
  auto devices_spec = testing::read_openapi(devices.body);
  EXPECT_TRUE(devices_spec.problems.empty()) << devices_spec.problems.front();
  EXPECT_EQ(devices_spec.operations, on_confd);
}

// xivo-confd-client's devices flow on the confd listener, with its headers
// (Accept and Content-Type application/json) and bodies: devices.create,
// list(mac=), get, update() of what get() returned (links and read-only
// fields included, ignored), synchronize, autoprov, list_lines, delete; and
// the field contract of confd_devices.yml on the answers.
TEST_F(ProvdTest, ConfdDevicesAsXivoConfdClientManagesThem) {
  auto confd = http_->port("confd");
  const std::string kJson = "application/json";
  auto spec = YAML::Load(http(confd, "GET", "/1.1/api/devices.yml").body);
  using testing::missing_fields;
  auto made = http(confd, "POST", "/1.1/devices", "",
                   R"({"mac": "00-15-65-0C-0D-01", "vendor": "Yealink", "model": "T46S", "plugin": "xivo-yealink-v80", "unknown": 1})",
                   "tok", kJson);
  ASSERT_EQ(made.status, 201) << made.body;
  EXPECT_EQ(missing_fields(spec, "POST", "/1.1/devices", made.body, 201), "") << made.body;
  EXPECT_NE(made.body.find(R"("mac":"00:15:65:0c:0d:01")"), std::string::npos) << made.body;
  EXPECT_NE(made.body.find(R"("status":"autoprov")"), std::string::npos) << made.body;
  auto id_at = made.body.find(R"("id":")");
  auto id = made.body.substr(id_at + 6, 32);
  EXPECT_EQ(http(confd, "POST", "/1.1/devices", "", R"({"mac": "00:15:65:0c:0d:01"})", "tok", kJson).status, 400);

  auto list = http(confd, "GET", "/1.1/devices?mac=00:15:65:0c:0d:01", "", "", "tok", kJson);
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_NE(list.body.find(R"("total":1)"), std::string::npos) << list.body;
  EXPECT_EQ(missing_fields(spec, "GET", "/1.1/devices", list.body), "") << list.body;
  auto got = http(confd, "GET", "/1.1/devices/" + id, "", "", "tok", kJson);
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(missing_fields(spec, "GET", "/1.1/devices/{id}", got.body), "") << got.body;
  auto edited = got.body;
  edited.replace(edited.find(R"("description":"")"), 16, R"("description":"desk 4")");
  EXPECT_EQ(http(confd, "PUT", "/1.1/devices/" + id, "", edited, "tok", kJson).status, 204);
  EXPECT_EQ(provd_->device(id)->description, "desk 4");
  EXPECT_EQ(provd_->device(id)->mac, "00:15:65:0c:0d:01");

  EXPECT_EQ(http(confd, "GET", "/1.1/devices/" + id + "/synchronize", "", "", "tok", kJson).status, 204);
  EXPECT_EQ(http(confd, "GET", "/1.1/devices/" + id + "/autoprov", "", "", "tok", kJson).status, 204);
  auto lines = http(confd, "GET", "/1.1/devices/" + id + "/lines", "", "", "tok", kJson);
  ASSERT_EQ(lines.status, 200) << lines.body;
  EXPECT_EQ(lines.body, R"({"total":0,"items":[]})");
  EXPECT_EQ(http(confd, "GET", "/1.1/devices", "", "", "").status, 401);
  EXPECT_EQ(http(confd, "DELETE", "/1.1/devices/" + id, "", "", "tok", kJson).status, 204);
  auto gone = http(confd, "GET", "/1.1/devices/" + id, "", "", "tok", kJson);
  EXPECT_EQ(gone.status, 404);
  EXPECT_NE(gone.body.find("Device was not found"), std::string::npos) << gone.body;
}

}  // namespace
}  // namespace dialtone::plugins::provisioning
