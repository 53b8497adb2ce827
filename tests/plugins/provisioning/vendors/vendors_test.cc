#include <gtest/gtest.h>

#include <Poco/DOM/DOMParser.h>
#include <Poco/DOM/Document.h>
#include <Poco/DOM/Element.h>
#include <Poco/DOM/NodeList.h>
#include <Poco/AutoPtr.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <dialtone/text.h>

#include "plugins/provisioning/aastra/aastra_description.h"
#include "plugins/provisioning/cisco_sccp/cisco_sccp_description.h"
#include "plugins/provisioning/cisco_spa/cisco_spa_description.h"
#include "plugins/provisioning/grandstream/grandstream_description.h"
#include "plugins/provisioning/null/null_description.h"
#include "plugins/provisioning/polycom/polycom_description.h"
#include "plugins/provisioning/provd/template_store.h"
#include "plugins/provisioning/snom/snom_description.h"
#include "plugins/provisioning/thomson/thomson_description.h"
#include "plugins/provisioning/yealink/yealink_description.h"
#include "plugins/provisioning/zero/zero_description.h"

namespace dialtone::plugins::provisioning {
namespace {

namespace fs = std::filesystem;
using sdk::DeviceRequest;

sdk::DeviceRequest ua(std::string agent, std::string path = "x.cfg") {
  sdk::DeviceRequest r;
  r.user_agent = std::move(agent);
  r.path = std::move(path);
  r.remote_ip = "10.0.0.7";
  return r;
}

sdk::DeviceRequest tftp(std::string path) {
  sdk::DeviceRequest r;
  r.protocol = sdk::DeviceRequest::Protocol::tftp;
  r.path = std::move(path);
  return r;
}

// A config as provd builds it: two lines, one key of each kind.
sdk::DeviceConfig sample(std::string vendor, std::string model, std::string mac) {
  sdk::DeviceConfig c;
  c.device = {std::move(vendor), std::move(model), "1.0", std::move(mac)};
  sdk::SipLine l1;
  l1.position = 1;
  l1.proxy_ip = "10.0.0.1";
  l1.proxy_port = 5060;
  l1.username = "alice1000";
  l1.auth_username = "alice-auth";
  l1.password = "s3cret&<x>";
  l1.display_name = "Alice \"Ops\" Martin";
  l1.number = "1000";
  l1.voicemail = "*98";
  sdk::SipLine l2 = l1;
  l2.position = 2;
  l2.username = "bob1001";
  l2.auth_username = "";
  l2.password = "pw2";
  l2.display_name = "Bob";
  l2.number = "1001";
  c.lines = {l1, l2};
  c.function_keys = {{1, sdk::FunctionKeyType::blf, "1002", "Carol", 1},
                     {2, sdk::FunctionKeyType::speed_dial, "0612345678", "Mobile", 1},
                     {3, sdk::FunctionKeyType::park, "700", "Park", 1}};
  c.timezone = "Europe/Paris";
  c.locale = "fr_FR";
  c.ntp_server = "10.0.0.2";
  c.directory_base_url = "http://10.0.0.1:9498/0.1/directories/input/default";
  c.provisioning_url = "http://10.0.0.1:8667";
  c.admin_username = "admin";
  c.admin_password = "adminpw";
  return c;
}

class Render : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("provd-vendors-" + std::to_string(::getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    store_ = std::make_unique<TemplateStore>(root_);
    store_->ensure_layout();
  }
  void TearDown() override { fs::remove_all(root_); }

  std::map<std::string, sdk::ProvisioningFile> files(const sdk::ProvisioningVendor& v,
                                                     const sdk::DeviceConfig& c) {
    MustacheRenderer r(*store_, {std::string(v.id()), c.device.model, sdk::mac_plain(c.device.mac)},
                       v.templates());
    auto out = v.files(c, r);
    EXPECT_TRUE(out.ok()) << (out.ok() ? "" : out.error().message);
    std::map<std::string, sdk::ProvisioningFile> m;
    if (out)
      for (auto& f : *out) m[f.path] = f;
    return m;
  }

  fs::path root_;
  std::unique_ptr<TemplateStore> store_;
};

// key = value (Yealink) or key: value (Aastra); later keys win, comments skipped.
std::map<std::string, std::string> parse_kv(const std::string& text, char sep) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string line;
  using sdk::text::trim;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto i = line.find(sep);
    if (i == std::string::npos) continue;
    out[trim(line.substr(0, i))] = trim(line.substr(i + 1));
  }
  return out;
}

Poco::AutoPtr<Poco::XML::Document> parse_xml(const std::string& text) {
  Poco::XML::DOMParser p;
  return p.parseString(text);
}

// Text of the first element `name` whose attribute idx (if given) matches.
std::string xml_text(Poco::XML::Document* d, const std::string& name, const std::string& idx = {}) {
  Poco::AutoPtr<Poco::XML::NodeList> l = d->getElementsByTagName(name);
  for (unsigned long i = 0; i < l->length(); ++i) {
    auto* e = static_cast<Poco::XML::Element*>(l->item(i));
    if (idx.empty() || e->getAttribute("idx") == idx) return e->innerText();
  }
  return "<missing>";
}

// What each vendor reads from a phone's request: the real User-Agents of
// their firmwares (and the file asked for, where the MAC is only there).
struct Detection {
  const char* name;
  const VendorDescription& (*describe)();
  const char *user_agent, *path;
  const char *vendor, *model, *version, *mac;
};

void PrintTo(const Detection& d, std::ostream* os) { *os << d.name; }

class UserAgents : public ::testing::TestWithParam<Detection> {};

TEST_P(UserAgents, GiveModelFirmwareAndMac) {
  auto& c = GetParam();
  DescribedVendor v{c.describe()};
  auto d = v.detect(ua(c.user_agent, c.path));
  ASSERT_TRUE(d) << c.user_agent;
  EXPECT_EQ(d->vendor, c.vendor);
  EXPECT_EQ(d->model, c.model);
  EXPECT_EQ(d->version, c.version);
  EXPECT_EQ(d->mac, c.mac);
}

INSTANTIATE_TEST_SUITE_P(
    Vendors, UserAgents,
    ::testing::Values(
        Detection{"YealinkV8x", yealink_description, "Yealink SIP-T46S 66.86.0.15 00:15:65:aa:bb:cc", "x.cfg",
                  "Yealink", "T46S", "66.86.0.15", "00:15:65:aa:bb:cc"},
        Detection{"YealinkV7x", yealink_description, "Yealink SIP-T28P 2.73.0.50 00:15:65:12:34:56", "x.cfg",
                  "Yealink", "T28P", "2.73.0.50", "00:15:65:12:34:56"},
        Detection{"Snom", snom_description, "Mozilla/4.0 (compatible; snom360-SIP 8.7.3.25)", "snom360-000413AABBCC.htm",
                  "Snom", "360", "8.7.3.25", "00:04:13:aa:bb:cc"},
        Detection{"Polycom", polycom_description, "FileTransport PolycomVVX-VVX_410-UA/5.9.0.9373",
                  "0004f2aabbcc-phone.cfg", "Polycom", "VVX410", "5.9.0.9373", "00:04:f2:aa:bb:cc"},
        Detection{"Aastra", aastra_description, "Aastra6731i MAC:00-08-5D-23-74-29 V:3.3.1.2235-SIP", "x.cfg", "Aastra",
                  "6731i", "3.3.1.2235", "00:08:5d:23:74:29"},
        Detection{"CiscoSpaPhone", cisco_spa_description, "Cisco/SPA504G-7.5.5 (0022555eab12)(CCQ162306EA)", "x.cfg",
                  "Cisco", "SPA504G", "7.5.5", "00:22:55:5e:ab:12"},
        Detection{"LinksysAdapter", cisco_spa_description, "Linksys/PAP2T-5.1.6(LS)", "spa001122334455.xml", "Cisco",
                  "PAP2T", "5.1.6(LS)", "00:11:22:33:44:55"},
        Detection{"CiscoSpaAdapter", cisco_spa_description, "Cisco/SPA112-1.4.1(SR1) (0011223344aa)", "x.cfg", "Cisco",
                  "SPA112", "1.4.1(SR1)", "00:11:22:33:44:aa"},
        Detection{"Grandstream", grandstream_description, "Grandstream Model HW GXP2170 SW 1.0.11.3 DevId 000b82aabbcc",
                  "x.cfg", "Grandstream", "GXP2170", "1.0.11.3", "00:0b:82:aa:bb:cc"},
        Detection{"Thomson", thomson_description, "THOMSON ST2030 hw5 fw2.74 00-14-7F-E1-47-B3", "x.cfg", "Thomson",
                  "ST2030", "2.74", "00:14:7f:e1:47:b3"}),
    [](const ::testing::TestParamInfo<Detection>& i) { return std::string(i.param.name); });

// Where each vendor's device file puts the sample's two lines, read back in
// the file's own syntax: a vendor that drops, mixes up or mis-escapes a line
// setting fails here.
enum class Syntax { equals, colon, xml, polycom_reg };

struct LineKeys {
  const char* name;
  const VendorDescription& (*describe)();
  const char *vendor, *model, *mac, *file;
  Syntax syntax;
  // line 1's user name, auth name, password, display name, server; line 2's user name
  const char *user, *auth, *password, *display_name, *server, *user2;
  const char* server_value;
};

// The value at `key`: "name" or "name#idx" for XML elements, an attribute
// of the <reg> element for Polycom.
std::string read_setting(const std::string& content, Syntax syntax, const std::string& key) {
  switch (syntax) {
    case Syntax::equals:
      return parse_kv(content, '=')[key];
    case Syntax::colon:
      return parse_kv(content, ':')[key];
    case Syntax::xml: {
      auto hash = key.find('#');
      auto doc = parse_xml(content);
      return xml_text(doc, key.substr(0, hash), hash == std::string::npos ? "" : key.substr(hash + 1));
    }
    case Syntax::polycom_reg: {
      auto doc = parse_xml(content);
      Poco::AutoPtr<Poco::XML::NodeList> regs = doc->getElementsByTagName("reg");
      return regs->length() ? static_cast<Poco::XML::Element*>(regs->item(0))->getAttribute(key) : "<missing>";
    }
  }
  return {};
}

void PrintTo(const LineKeys& k, std::ostream* os) { *os << k.name; }

class LineSettings : public Render, public ::testing::WithParamInterface<LineKeys> {};

TEST_P(LineSettings, CarryTheSampleLines) {
  auto& k = GetParam();
  DescribedVendor v{k.describe()};
  auto f = files(v, sample(k.vendor, k.model, k.mac));
  ASSERT_TRUE(f.count(k.file)) << k.file;
  auto at = [&](const char* key) { return read_setting(f[k.file].content, k.syntax, key); };
  EXPECT_EQ(at(k.user), "alice1000");
  EXPECT_EQ(at(k.auth), "alice-auth");
  EXPECT_EQ(at(k.password), "s3cret&<x>");
  EXPECT_EQ(at(k.display_name), "Alice \"Ops\" Martin");
  EXPECT_EQ(at(k.server), k.server_value);
  EXPECT_EQ(at(k.user2), "bob1001");
}

INSTANTIATE_TEST_SUITE_P(
    Vendors, LineSettings,
    ::testing::Values(
        LineKeys{"Yealink", yealink_description, "Yealink", "T46S", "00:15:65:aa:bb:cc", "001565aabbcc.cfg",
                 Syntax::equals, "account.1.user_name", "account.1.auth_name", "account.1.password",
                 "account.1.display_name", "account.1.sip_server.1.address", "account.2.user_name", "10.0.0.1"},
        LineKeys{"Snom", snom_description, "Snom", "360", "00:04:13:aa:bb:cc", "snom360-000413AABBCC.htm", Syntax::xml,
                 "user_name#1", "user_pname#1", "user_pass#1", "user_realname#1", "user_host#1", "user_name#2",
                 "10.0.0.1:5060"},
        LineKeys{"Polycom", polycom_description, "Polycom", "VVX410", "00:04:f2:aa:bb:cc", "0004f2aabbcc-phone.cfg",
                 Syntax::polycom_reg, "reg.1.address", "reg.1.auth.userId", "reg.1.auth.password", "reg.1.displayName",
                 "reg.1.server.1.address", "reg.2.address", "10.0.0.1"},
        LineKeys{"Aastra", aastra_description, "Aastra", "6731i", "00:08:5d:23:74:29", "00085D237429.cfg", Syntax::colon,
                 "sip line1 user name", "sip line1 auth name", "sip line1 password", "sip line1 display name",
                 "sip line1 proxy ip", "sip line2 user name", "10.0.0.1"},
        LineKeys{"CiscoSpa", cisco_spa_description, "Cisco", "SPA504G", "00:22:55:5e:ab:12", "spa0022555eab12.xml",
                 Syntax::xml, "User_ID_1_", "Auth_ID_1_", "Password_1_", "Display_Name_1_", "Proxy_1_", "User_ID_2_",
                 "10.0.0.1:5060"},
        LineKeys{"Grandstream", grandstream_description, "Grandstream", "GXP2170", "00:0b:82:aa:bb:cc",
                 "cfg000b82aabbcc.xml", Syntax::xml, "P35", "P36", "P34", "P3", "P47", "P404", "10.0.0.1:5060"},
        LineKeys{"Thomson", thomson_description, "Thomson", "ST2030", "00:14:7f:e1:47:b3", "ST2030S_00147FE147B3.txt",
                 Syntax::equals, "TEL1Number", "regid1", "regpwd1", "DisplayName1", "ProxyServerMP1", "TEL2Number",
                 "10.0.0.1"}),
    [](const ::testing::TestParamInfo<LineKeys>& i) { return std::string(i.param.name); });

TEST_F(Render, YealinkDetectsTftpFileNamesAndNotOtherVendors) {
  DescribedVendor y{yealink_description()};
  auto t = y.detect(tftp("y000000000028.cfg"));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->model, "T46G");
  auto m = y.detect(tftp("001565aabbcc.cfg"));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->mac, "00:15:65:aa:bb:cc");
  EXPECT_FALSE(y.detect(ua("Mozilla/4.0 (compatible; snom360-SIP 8.7.3.25)")));
}

TEST_F(Render, YealinkFilesCarryLinesKeysAndSettings) {
  DescribedVendor y{yealink_description()};
  auto f = files(y, sample("Yealink", "T46S", "00:15:65:aa:bb:cc"));
  ASSERT_TRUE(f.count("y000000000066.cfg"));
  ASSERT_TRUE(f.count("001565aabbcc.cfg"));
  EXPECT_FALSE(f["y000000000066.cfg"].sensitive);
  EXPECT_TRUE(f["001565aabbcc.cfg"].sensitive);
  EXPECT_EQ(f["001565aabbcc.cfg"].content.rfind("#!version:1.0.0.1\n", 0), 0u);
  auto kv = parse_kv(f["001565aabbcc.cfg"].content, '=');
  EXPECT_EQ(kv["account.1.sip_server.1.port"], "5060");
  EXPECT_EQ(kv["account.2.auth_name"], "bob1001");  // no auth name: the user name
  EXPECT_EQ(kv["linekey.1.type"], "16");
  EXPECT_EQ(kv["linekey.1.value"], "1002");
  EXPECT_EQ(kv["linekey.2.type"], "13");
  EXPECT_EQ(kv["linekey.3.type"], "10");
  EXPECT_EQ(kv["local_time.time_zone"], "+1");
  EXPECT_EQ(kv["local_time.ntp_server1"], "10.0.0.2");
  EXPECT_EQ(kv["lang.gui"], "French");
  // The remote phone book is the lookup route, where the phone puts what
  // the user typed in place of #SEARCH (the input route answers a form).
  EXPECT_EQ(kv["remote_phonebook.data.1.url"],
            "http://10.0.0.1:9498/0.1/directories/lookup/default/yealink?term=#SEARCH");
  EXPECT_EQ(kv["security.user_password"], "admin:adminpw");
}

TEST_F(Render, YealinkValueWithLineBreakCannotInjectAKey) {
  DescribedVendor y{yealink_description()};
  auto c = sample("Yealink", "T46S", "00:15:65:aa:bb:cc");
  c.lines[0].display_name = "Eve\nsecurity.user_password = admin:owned";
  auto kv = parse_kv(files(y, c)["001565aabbcc.cfg"].content, '=');
  EXPECT_EQ(kv["security.user_password"], "admin:adminpw");
}

TEST_F(Render, SnomDetectsAndRendersXmlSettings) {
  DescribedVendor s{snom_description()};
  auto t = s.detect(tftp("snom360-000413AABBCC.htm"));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->model, "360");
  EXPECT_EQ(t->mac, "00:04:13:aa:bb:cc");

  auto f = files(s, sample("Snom", "360", "00:04:13:aa:bb:cc"));
  ASSERT_TRUE(f.count("snom360.htm"));
  ASSERT_TRUE(f.count("snom360-000413AABBCC.htm"));
  EXPECT_TRUE(f["snom360-000413AABBCC.htm"].sensitive);
  auto doc = parse_xml(f["snom360-000413AABBCC.htm"].content);
  EXPECT_EQ(xml_text(doc, "fkey", "0"), "blf <sip:1002@10.0.0.1>");
  EXPECT_EQ(xml_text(doc, "fkey", "1"), "speed 0612345678");
  EXPECT_EQ(xml_text(doc, "timezone"), "FRA+1");
  EXPECT_EQ(xml_text(doc, "dkey_directory"),
            "url http://10.0.0.1:9498/0.1/directories/input/default/snom");
  EXPECT_NO_THROW(parse_xml(f["snom360.htm"].content));
}

TEST_F(Render, PolycomDetectsAndRendersRegAttributes) {
  DescribedVendor p{polycom_description()};
  ASSERT_TRUE(p.detect(tftp("000000000000.cfg")));

  auto f = files(p, sample("Polycom", "VVX410", "00:04:f2:aa:bb:cc"));
  ASSERT_TRUE(f.count("000000000000.cfg"));
  ASSERT_TRUE(f.count("0004f2aabbcc-phone.cfg"));
  EXPECT_FALSE(f["000000000000.cfg"].sensitive);
  EXPECT_TRUE(f["0004f2aabbcc-phone.cfg"].sensitive);
  auto master = parse_xml(f["000000000000.cfg"].content);
  Poco::AutoPtr<Poco::XML::NodeList> apps = master->getElementsByTagName("APPLICATION");
  ASSERT_EQ(apps->length(), 1u);
  EXPECT_EQ(static_cast<Poco::XML::Element*>(apps->item(0))->getAttribute("CONFIG_FILES"),
            "[PHONE_MAC_ADDRESS]-phone.cfg");
  auto doc = parse_xml(f["0004f2aabbcc-phone.cfg"].content);
  Poco::AutoPtr<Poco::XML::NodeList> regs = doc->getElementsByTagName("reg");
  ASSERT_EQ(regs->length(), 1u);
  auto* reg = static_cast<Poco::XML::Element*>(regs->item(0));
  EXPECT_EQ(reg->getAttribute("reg.1.server.1.port"), "5060");
  Poco::AutoPtr<Poco::XML::NodeList> att = doc->getElementsByTagName("attendant");
  auto* a = static_cast<Poco::XML::Element*>(att->item(0));
  EXPECT_EQ(a->getAttribute("attendant.resourceList.1.address"), "1002");
  EXPECT_EQ(a->getAttribute("attendant.resourceList.2.type"), "automata");
  Poco::AutoPtr<Poco::XML::NodeList> tcp = doc->getElementsByTagName("tcpIpApp");
  EXPECT_EQ(static_cast<Poco::XML::Element*>(tcp->item(0))->getAttribute("tcpIpApp.sntp.gmtOffset"), "3600");
  auto dir = parse_xml(f["0004f2aabbcc-directory.xml"].content);
  EXPECT_EQ(xml_text(dir, "ct"), "0612345678");
}

TEST_F(Render, AastraDetectsAndRendersColonSeparatedKeys) {
  DescribedVendor v{aastra_description()};
  auto f = files(v, sample("Aastra", "6731i", "00:08:5d:23:74:29"));
  ASSERT_TRUE(f.count("aastra.cfg"));
  ASSERT_TRUE(f.count("00085D237429.cfg"));
  auto kv = parse_kv(f["00085D237429.cfg"].content, ':');
  EXPECT_EQ(kv["sip line1 proxy port"], "5060");
  EXPECT_EQ(kv["prgkey1 type"], "blf");
  EXPECT_EQ(kv["prgkey1 value"], "1002");
  EXPECT_EQ(kv["time zone name"], "FR-Paris");
}

TEST_F(Render, CiscoSpaDetectsAndRendersFlatProfile) {
  DescribedVendor v{cisco_spa_description()};
  auto f = files(v, sample("Cisco", "SPA504G", "00:22:55:5e:ab:12"));
  ASSERT_TRUE(f.count("spa0022555eab12.xml"));
  auto doc = parse_xml(f["spa0022555eab12.xml"].content);
  EXPECT_EQ(xml_text(doc, "Time_Zone"), "GMT+01:00");
}

TEST_F(Render, GrandstreamDetectsAndRendersPValues) {
  DescribedVendor v{grandstream_description()};
  auto f = files(v, sample("Grandstream", "GXP2170", "00:0b:82:aa:bb:cc"));
  ASSERT_TRUE(f.count("cfg000b82aabbcc.xml"));
  auto doc = parse_xml(f["cfg000b82aabbcc.xml"].content);
  EXPECT_EQ(xml_text(doc, "P323"), "1");
  EXPECT_EQ(xml_text(doc, "P326"), "1002");
}

TEST_F(Render, YealinkCommonFileNameIsAModelNotAMac) {
  DescribedVendor y{yealink_description()};
  // Over HTTP the User-Agent may lack the MAC: the common file must not lend one.
  auto d = y.detect(ua("Yealink SIP-T46G 28.81.0.110", "y000000000028.cfg"));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->model, "T46G");
  EXPECT_EQ(d->mac, "");
  auto own = y.detect(ua("Yealink SIP-T46G 28.81.0.110", "001565aabbcc.cfg"));
  ASSERT_TRUE(own);
  EXPECT_EQ(own->mac, "00:15:65:aa:bb:cc");
  auto t = y.detect(tftp("y000000000028.cfg"));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->mac, "");
}

TEST_F(Render, YealinkV7xModelsGetTheirCommonFileAndFirmware) {
  DescribedVendor y{yealink_description()};
  struct Case {
    const char *model, *common, *firmware;
  };
  for (auto c : {Case{"T32G", "y000000000032.cfg", "32.70.1.33.rom"},
                 Case{"T42G", "y000000000029.cfg", "29.71.0.155.rom"},
                 Case{"T21P", "y000000000034.cfg", "34.72.0.75.rom"},
                 Case{"T28P", "y000000000000.cfg", "2.73.0.50.rom"},
                 Case{"W52P", "y000000000025.cfg", "25.73.0.40.rom"}}) {
    SCOPED_TRACE(c.model);
    auto t = y.detect(tftp(c.common));
    ASSERT_TRUE(t);
    EXPECT_EQ(t->model, c.model);
    auto f = files(y, sample("Yealink", c.model, "00:15:65:aa:bb:cc"));
    ASSERT_TRUE(f.count(c.common));
    auto kv = parse_kv(f[c.common].content, '=');
    EXPECT_EQ(kv["static.firmware.url"], std::string("http://10.0.0.1:8667/firmware/") + c.firmware);
  }
  // V8x firmwares are not bundled: no firmware line.
  auto f = files(y, sample("Yealink", "T46S", "00:15:65:aa:bb:cc"));
  EXPECT_EQ(parse_kv(f["y000000000066.cfg"].content, '=').count("static.firmware.url"), 0u);
}

TEST_F(Render, CiscoSpaAnalogAdapterGetsItsSecondPortAndKeys) {
  DescribedVendor v{cisco_spa_description()};
  auto f = files(v, sample("Cisco", "SPA2102", "00:11:22:33:44:55"));
  auto doc = parse_xml(f["spa001122334455.xml"].content);
  EXPECT_EQ(xml_text(doc, "Proxy_2_"), "10.0.0.1:5060");
  EXPECT_EQ(xml_text(doc, "Extended_Function_1_"), "fnc=blf+sd+cp;sub=1002@10.0.0.1;nme=Carol");
}

TEST_F(Render, CiscoSccpDetectsTftpNamesAndRendersCnfXml) {
  DescribedVendor v{cisco_sccp_description()};
  auto d = v.detect(tftp("SEP001AA1B2C3D4.cnf.xml"));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->vendor, "Cisco");
  EXPECT_EQ(d->mac, "00:1a:a1:b2:c3:d4");
  ASSERT_TRUE(v.detect(tftp("CTLSEP001AA1B2C3D4.tlv")));
  auto x = v.detect(tftp("XMLDefault.cnf.xml"));
  ASSERT_TRUE(x);
  EXPECT_EQ(x->mac, "");
  EXPECT_FALSE(v.detect(tftp("y000000000028.cfg")));
  EXPECT_FALSE(v.sync_event(*d));

  auto f = files(v, sample("Cisco", "7941G", "00:1a:a1:b2:c3:d4"));
  ASSERT_TRUE(f.count("XMLDefault.cnf.xml"));
  ASSERT_TRUE(f.count("SEP001AA1B2C3D4.cnf.xml"));
  EXPECT_TRUE(f["SEP001AA1B2C3D4.cnf.xml"].sensitive);
  EXPECT_FALSE(f["XMLDefault.cnf.xml"].sensitive);
  auto doc = parse_xml(f["SEP001AA1B2C3D4.cnf.xml"].content);
  EXPECT_EQ(xml_text(doc, "deviceProtocol"), "SCCP");
  EXPECT_EQ(xml_text(doc, "processNodeName"), "10.0.0.1");
  EXPECT_EQ(xml_text(doc, "loadInformation"), "SCCP41.9-4-2SR3-1S");
  EXPECT_EQ(xml_text(doc, "timeZone"), "Romance Standard/Daylight Time");
  Poco::AutoPtr<Poco::XML::NodeList> locale = doc->getElementsByTagName("userLocale");
  ASSERT_EQ(locale->length(), 1u);
  auto* user_locale = static_cast<Poco::XML::Element*>(locale->item(0));
  EXPECT_EQ(user_locale->getChildElement("name")->innerText(), "French_France");
  EXPECT_EQ(user_locale->getChildElement("langCode")->innerText(), "fr");
  EXPECT_EQ(xml_text(doc, "name"), "10.0.0.2");  // the NTP server
  EXPECT_EQ(xml_text(doc, "networkLocale"), "France");
  EXPECT_EQ(xml_text(doc, "directoryURL"), "http://10.0.0.1:9498/0.1/directories/input/default/cisco");
  auto def = parse_xml(f["XMLDefault.cnf.xml"].content);
  EXPECT_EQ(xml_text(def, "processNodeName"), "10.0.0.1");
}

TEST_F(Render, ThomsonDetectsAndRendersIniSections) {
  DescribedVendor v{thomson_description()};
  auto t = v.detect(tftp("ST2030S_00147FE147B3.txt"));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->model, "ST2030");
  EXPECT_EQ(t->mac, "00:14:7f:e1:47:b3");
  auto inf = v.detect(tftp("TB30S.inf"));
  ASSERT_TRUE(inf);
  EXPECT_EQ(inf->model, "TB30");

  auto c = sample("Thomson", "ST2030", "00:14:7f:e1:47:b3");
  auto f = files(v, c);
  ASSERT_TRUE(f.count("ST2030S.inf"));
  ASSERT_TRUE(f.count("ST2030S_00147FE147B3.txt"));
  EXPECT_TRUE(f["ST2030S_00147FE147B3.txt"].sensitive);
  auto kv = parse_kv(f["ST2030S_00147FE147B3.txt"].content, '=');
  EXPECT_EQ(kv["VoiceMailTelNum"], "*98");
  EXPECT_EQ(kv["FeatureKeyExt01"], "S/<sip:1002>");
  EXPECT_EQ(kv["FeatureKeyExt02"], "L/<sip:0612345678>");
  EXPECT_EQ(kv["NtpZoneNum"], "22");
  EXPECT_EQ(kv["LanguageType"], "1");
  EXPECT_EQ(kv["CountryCode"], "FR");
  EXPECT_EQ(kv["Phonebook1_url"],
            "http://10.0.0.1:9498/0.1/directories/lookup/default/thomson?term=#SEARCH");
  EXPECT_EQ(kv["config_sn"].size(), 12u);
  // The phone applies a file only when config_sn changes.
  c.lines[0].password = "changed";
  auto changed = parse_kv(files(v, c)["ST2030S_00147FE147B3.txt"].content, '=');
  EXPECT_NE(changed["config_sn"], kv["config_sn"]);
  auto inf_kv = parse_kv(f["ST2030S.inf"].content, '=');
  EXPECT_EQ(inf_kv["config"], "http://10.0.0.1:8667/");
  EXPECT_EQ(inf_kv["fwurl"], "http://10.0.0.1:8667/binary/v2030SG.R11.1.SED.101223.2.74.zz");
}

TEST_F(Render, NullAndZeroAreOneDescriptionEach) {
  DescribedVendor null_v{null_description()}, zero_v{zero_description()};
  EXPECT_EQ(null_v.policy(), sdk::ServePolicy::refuse);
  EXPECT_EQ(zero_v.policy(), sdk::ServePolicy::configure);
  EXPECT_FALSE(null_v.detect(ua("Yealink SIP-T46S 66.86.0.15 00:15:65:aa:bb:cc", "001565aabbcc.cfg")));
  EXPECT_FALSE(zero_v.detect(tftp("001565aabbcc.cfg")));
  EXPECT_TRUE(files(zero_v, sample("zero", "", "00:15:65:aa:bb:cc")).empty());
}

// provd's forward keys (raw_config type "forward", value *21<exten> ...) and
// the DND service key (*25) are speed dials on the feature code, labeled, on
// every vendor with function keys.
sdk::DeviceConfig with_feature_keys(std::string vendor, std::string model, std::string mac) {
  auto c = sample(std::move(vendor), std::move(model), std::move(mac));
  c.function_keys.push_back({4, sdk::FunctionKeyType::forward, "*211002", "Fwd Carol", 1});
  c.function_keys.push_back({5, sdk::FunctionKeyType::speed_dial, "*25", "DND", 1});
  return c;
}

// Every element `name` with its idx attribute -> its text, and its label attribute.
std::map<std::string, std::pair<std::string, std::string>> xml_all(Poco::XML::Document* d,
                                                                   const std::string& name) {
  std::map<std::string, std::pair<std::string, std::string>> out;
  Poco::AutoPtr<Poco::XML::NodeList> l = d->getElementsByTagName(name);
  for (unsigned long i = 0; i < l->length(); ++i) {
    auto* e = static_cast<Poco::XML::Element*>(l->item(i));
    out[e->getAttribute("idx")] = {e->innerText(), e->getAttribute("label")};
  }
  return out;
}

TEST_F(Render, ForwardAndDndKeysReachEveryVendor) {
  {
    DescribedVendor v{yealink_description()};
    auto kv = parse_kv(files(v, with_feature_keys("Yealink", "T46S", "00:15:65:aa:bb:cc"))["001565aabbcc.cfg"].content, '=');
    EXPECT_EQ(kv["linekey.4.type"], "13");  // speed dial
    EXPECT_EQ(kv["linekey.4.value"], "*211002");
    EXPECT_EQ(kv["linekey.4.label"], "Fwd Carol");
    EXPECT_EQ(kv["linekey.5.value"], "*25");
    EXPECT_EQ(kv["linekey.5.label"], "DND");
  }
  {
    DescribedVendor v{snom_description()};
    auto doc = parse_xml(files(v, with_feature_keys("Snom", "360", "00:04:13:aa:bb:cc"))["snom360-000413AABBCC.htm"].content);
    auto keys = xml_all(doc, "fkey");
    EXPECT_EQ(keys["3"], std::make_pair(std::string("speed *211002"), std::string("Fwd Carol")));
    EXPECT_EQ(keys["4"], std::make_pair(std::string("speed *25"), std::string("DND")));
  }
  {
    DescribedVendor v{polycom_description()};
    auto f = files(v, with_feature_keys("Polycom", "VVX410", "00:04:f2:aa:bb:cc"));
    auto dir = parse_xml(f["0004f2aabbcc-directory.xml"].content);
    Poco::AutoPtr<Poco::XML::NodeList> items = dir->getElementsByTagName("item");
    std::map<std::string, std::string> by_number;  // ct -> fn
    for (unsigned long i = 0; i < items->length(); ++i) {
      auto* e = static_cast<Poco::XML::Element*>(items->item(i));
      auto* ct = e->getChildElement("ct");
      auto* fn = e->getChildElement("fn");
      if (ct && fn) by_number[ct->innerText()] = fn->innerText();
    }
    EXPECT_EQ(by_number["*211002"], "Fwd Carol");
    EXPECT_EQ(by_number["*25"], "DND");
  }
  {
    DescribedVendor v{aastra_description()};
    auto kv = parse_kv(files(v, with_feature_keys("Aastra", "6731i", "00:08:5d:23:74:29"))["00085D237429.cfg"].content, ':');
    EXPECT_EQ(kv["prgkey4 type"], "speeddial");
    EXPECT_EQ(kv["prgkey4 value"], "*211002");
    EXPECT_EQ(kv["prgkey4 label"], "Fwd Carol");
    EXPECT_EQ(kv["prgkey5 value"], "*25");
  }
  {
    DescribedVendor v{cisco_spa_description()};
    auto doc = parse_xml(files(v, with_feature_keys("Cisco", "SPA504G", "00:22:55:5e:ab:12"))["spa0022555eab12.xml"].content);
    EXPECT_EQ(xml_text(doc, "Extended_Function_4_"), "fnc=sd;ext=*211002@10.0.0.1;nme=Fwd Carol");
    EXPECT_EQ(xml_text(doc, "Extended_Function_5_"), "fnc=sd;ext=*25@10.0.0.1;nme=DND");
  }
  {
    DescribedVendor v{grandstream_description()};
    auto doc = parse_xml(files(v, with_feature_keys("Grandstream", "GXP2170", "00:0b:82:aa:bb:cc"))["cfg000b82aabbcc.xml"].content);
    // Key 4: P335 mode (0 speed dial), P337 label, P338 value.
    EXPECT_EQ(xml_text(doc, "P335"), "0");
    EXPECT_EQ(xml_text(doc, "P337"), "Fwd Carol");
    EXPECT_EQ(xml_text(doc, "P338"), "*211002");
    EXPECT_EQ(xml_text(doc, "P342"), "*25");
  }
}

// XiVO's exten_pickup_call (confd's pickup code, provd's confd sync): the
// phone's directed pickup code, which its BLF key dials before the watched
// extension when pressed while that line rings; none without it.
TEST_F(Render, DirectedPickupCodeReachesThePhones) {
  auto with_code = [](sdk::DeviceConfig c) {
    c.pickup_code = "*88";
    return c;
  };
  {
    DescribedVendor v{yealink_description()};
    auto c = sample("Yealink", "T46S", "00:15:65:aa:bb:cc");
    EXPECT_EQ(parse_kv(files(v, c)["001565aabbcc.cfg"].content, '=').count("features.pickup.direct_pickup_code"), 0u);
    auto kv = parse_kv(files(v, with_code(c))["001565aabbcc.cfg"].content, '=');
    EXPECT_EQ(kv["features.pickup.direct_pickup_enable"], "1");
    EXPECT_EQ(kv["features.pickup.direct_pickup_code"], "*88");
  }
  {
    DescribedVendor v{snom_description()};
    auto doc = parse_xml(files(v, with_code(sample("Snom", "360", "00:04:13:aa:bb:cc")))["snom360-000413AABBCC.htm"].content);
    EXPECT_EQ(xml_text(doc, "fkey", "0"), "blf <sip:1002@10.0.0.1>|*88");
    EXPECT_EQ(xml_text(doc, "fkey", "1"), "speed 0612345678");
  }
  {
    DescribedVendor v{aastra_description()};
    auto kv = parse_kv(files(v, with_code(sample("Aastra", "6731i", "00:08:5d:23:74:29")))["00085D237429.cfg"].content, ':');
    EXPECT_EQ(kv["directed call pickup prefix"], "*88");
  }
  {
    DescribedVendor v{cisco_spa_description()};
    auto doc = parse_xml(files(v, with_code(sample("Cisco", "SPA504G", "00:22:55:5e:ab:12")))["spa0022555eab12.xml"].content);
    EXPECT_EQ(xml_text(doc, "Call_Pickup_Code"), "*88");
  }
  {
    DescribedVendor v{polycom_description()};
    auto c = sample("Polycom", "VVX410", "00:04:f2:aa:bb:cc");
    auto attr = [](const std::string& content, const char* tag, const char* name) {
      auto doc = parse_xml(content);
      Poco::AutoPtr<Poco::XML::NodeList> l = doc->getElementsByTagName(tag);
      return l->length() ? static_cast<Poco::XML::Element*>(l->item(0))->getAttribute(name) : std::string("(none)");
    };
    auto without = files(v, c)["0004f2aabbcc-phone.cfg"].content;
    EXPECT_EQ(attr(without, "call", "call.directedCallPickupString"), "(none)");
    auto phone = files(v, with_code(c))["0004f2aabbcc-phone.cfg"].content;
    EXPECT_EQ(attr(phone, "call", "call.directedCallPickupMethod"), "legacy");
    EXPECT_EQ(attr(phone, "call", "call.directedCallPickupString"), "*88");
    EXPECT_EQ(attr(phone, "feature", "feature.directedCallPickup.enabled"), "1");
    EXPECT_EQ(attr(phone, "attendant", "attendant.resourceList.1.address"), "1002");  // the BLF key it picks up from
  }
  {
    DescribedVendor v{grandstream_description()};
    auto c = sample("Grandstream", "GXP2170", "00:0b:82:aa:bb:cc");
    EXPECT_EQ(files(v, c)["cfg000b82aabbcc.xml"].content.find("<P1347>"), std::string::npos);
    auto doc = parse_xml(files(v, with_code(c))["cfg000b82aabbcc.xml"].content);
    EXPECT_EQ(xml_text(doc, "P1347"), "*88");  // BLF Call-pickup Prefix
    EXPECT_EQ(xml_text(doc, "P323"), "1");     // the BLF key it applies to
    EXPECT_EQ(xml_text(doc, "P326"), "1002");
  }
}

TEST_F(Render, TemplateLayersDeviceOverModelOverVendorOverSite) {
  DescribedVendor y{yealink_description()};
  auto c = sample("Yealink", "T46S", "00:15:65:aa:bb:cc");
  auto write = [&](const fs::path& p, const std::string& text) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    // Every write below adds a file, so the tree's signature must move.
    ASSERT_TRUE(store_->changed()) << p;
  };
  // Site partial appended by every Yealink device file.
  write(root_ / "site" / "yealink-custom-device", "features.site = 1\n");
  auto kv = parse_kv(files(y, c)["001565aabbcc.cfg"].content, '=');
  EXPECT_EQ(kv["features.site"], "1");
  write(root_ / "vendor" / "provisioning.yealink" / "device.cfg", "layer = vendor\n");
  EXPECT_EQ(parse_kv(files(y, c)["001565aabbcc.cfg"].content, '=')["layer"], "vendor");
  write(root_ / "model" / "provisioning.yealink" / "T46S" / "device.cfg", "layer = model\n");
  EXPECT_EQ(parse_kv(files(y, c)["001565aabbcc.cfg"].content, '=')["layer"], "model");
  write(root_ / "device" / "001565aabbcc" / "device.cfg", "layer = device\n");
  EXPECT_EQ(parse_kv(files(y, c)["001565aabbcc.cfg"].content, '=')["layer"], "device");
  // Another device of the same model still gets the model layer.
  auto other = sample("Yealink", "T46S", "00:15:65:00:00:01");
  EXPECT_EQ(parse_kv(files(y, other)["001565000001.cfg"].content, '=')["layer"], "model");
}

TEST_F(Render, BrokenTemplateIsAnErrorNamingIt) {
  DescribedVendor y{yealink_description()};
  fs::create_directories(root_ / "vendor" / "provisioning.yealink");
  std::ofstream(root_ / "vendor" / "provisioning.yealink" / "device.cfg") << "{{#lines}}unclosed\n";
  store_->changed();
  auto c = sample("Yealink", "T46S", "00:15:65:aa:bb:cc");
  MustacheRenderer r(*store_, {"provisioning.yealink", "T46S", "001565aabbcc"}, y.templates());
  auto out = y.files(c, r);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.error().message.find("device.cfg"), std::string::npos);
}

TEST(Description, EveryShippedVendorPassesItsCheck) {
  for (auto* d : {&aastra_description(), &cisco_sccp_description(), &cisco_spa_description(),
                  &grandstream_description(), &null_description(), &polycom_description(),
                  &snom_description(), &thomson_description(), &yealink_description(),
                  &zero_description()}) {
    auto ok = DescribedVendor::check(*d);
    EXPECT_TRUE(ok) << (ok ? "" : ok.error().message);
  }
}

// A plugin whose description cannot work is refused at start with a
// sentence naming the plugin and the part to fix.
TEST(Description, BrokenDescriptionIsRefusedNamingWhatToFix) {
  auto base = [] {
    VendorDescription d;
    d.id = "provisioning.broken";
    d.vendor = "Broken";
    d.user_agents = {{.regex = "^Broken (\\S+)", .model = 1}};
    d.files = {{.path = "{{mac_plain}}.cfg", .template_name = "device.cfg"}};
    d.templates = {{"device.cfg", "{{#lines}}{{username}}{{/lines}}"}};
    return d;
  };
  ASSERT_TRUE(DescribedVendor::check(base()));
  auto message = [](const VendorDescription& d) {
    auto ok = DescribedVendor::check(d);
    return ok ? std::string() : ok.error().message;
  };
  auto bad_regex = base();
  bad_regex.user_agents[0].regex = "^Broken (";
  EXPECT_NE(message(bad_regex).find("provisioning.broken: pattern '^Broken (' does not compile"),
            std::string::npos) << message(bad_regex);
  auto bad_group = base();
  bad_group.user_agents[0].mac = 3;
  EXPECT_NE(message(bad_group).find("has no group 3"), std::string::npos) << message(bad_group);
  auto missing = base();
  missing.files[0].template_name = "phone.cfg";
  EXPECT_NE(message(missing).find("uses template 'phone.cfg', which is not bundled"),
            std::string::npos) << message(missing);
  auto unparsable = base();
  unparsable.templates[0].content = "{{#lines}}unclosed";
  EXPECT_NE(message(unparsable).find("template 'device.cfg' does not parse"), std::string::npos)
      << message(unparsable);
}

TEST(Mac, NormalizesTheSpellingsPhonesUse) {
  EXPECT_EQ(sdk::normalize_mac("00:15:65:AA:BB:CC"), "00:15:65:aa:bb:cc");
  EXPECT_EQ(sdk::normalize_mac("00-08-5D-23-74-29"), "00:08:5d:23:74:29");
  EXPECT_EQ(sdk::normalize_mac("001565aabbcc"), "00:15:65:aa:bb:cc");
  EXPECT_EQ(sdk::normalize_mac("0015"), "");
  EXPECT_EQ(sdk::mac_in("snom360-000413AABBCC.htm"), "00:04:13:aa:bb:cc");
  EXPECT_EQ(sdk::mac_in("000000000000.cfg"), "");
}

}  // namespace
}  // namespace dialtone::plugins::provisioning
