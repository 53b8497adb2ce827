#include <gtest/gtest.h>

#include <map>
#include <sstream>

#include <dialtone/mustache.h>
#include <dialtone/testing/fake_host.h>

#include "acme_vendor.h"

namespace sdk = dialtone::sdk;
using dialtone::plugins::provisioning::DescribedVendor;

// Exported by DIALTONE_PLUGIN in acme_vendor.cc.
extern "C" const dialtone_plugin_vtable* dialtone_plugin_entry_v1();

// key=value lines of a rendered file; a value can never add a line.
std::map<std::string, std::string> parse(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto eq = line.find('=');
    if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return out;
}

// Through the entry points dialtoned calls.
TEST(AcmeVendor, PluginProvidesTheVendorWhileStarted) {
  dialtone::testing::FakeHost host("provisioning.acme");
  const auto* vt = dialtone_plugin_entry_v1();
  sdk::Error err;
  void* self = vt->create(&host, &err);
  ASSERT_NE(self, nullptr);
  sdk::Options opts;
  ASSERT_TRUE(vt->configure(self, &opts, &err));
  ASSERT_TRUE(vt->start(self, &err));
  auto v = host.services().find<sdk::ProvisioningVendor>("provisioning.acme");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->vendor(), "Acme");
  ASSERT_TRUE(vt->stop(self, &err));
  EXPECT_FALSE(host.services().find<sdk::ProvisioningVendor>("provisioning.acme"));
  vt->destroy(self);
}

TEST(AcmeVendor, DetectsItsUserAgentAndFileNames) {
  DescribedVendor v{acme_description()};
  sdk::DeviceRequest r;
  r.user_agent = "Acme A100 2.1.0 00:11:22:33:44:55";
  auto d = v.detect(r);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->model, "A100");
  EXPECT_EQ(d->mac, "00:11:22:33:44:55");
  EXPECT_EQ(d->version, "2.1.0");
  sdk::DeviceRequest tftp;
  tftp.protocol = sdk::DeviceRequest::Protocol::tftp;
  tftp.path = "acme-00112233aabb.cfg";
  auto t = v.detect(tftp);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->mac, "00:11:22:33:aa:bb");
  r.user_agent = "Yealink SIP-T46S 66.86.0.15 00:15:65:aa:bb:cc";
  EXPECT_FALSE(v.detect(r));
}

TEST(AcmeVendor, OneSensitiveFilePerDeviceRenderedAsProvdDoes) {
  DescribedVendor v{acme_description()};
  sdk::DeviceConfig c;
  c.device = {"Acme", "A100", "2.1.0", "00:11:22:33:44:55"};
  sdk::SipLine line;
  line.proxy_ip = "10.0.0.1";
  line.username = "alice";
  line.password = "pw";
  line.display_name = "Alice\nline1.password=stolen";
  c.lines = {line};
  c.function_keys = {{1, sdk::FunctionKeyType::blf, "1002", "Carol", 1}};
  c.locale = "fr_FR";
  c.timezone = "Europe/Paris";
  c.directory_base_url = "http://10.0.0.1:9498/0.1/directories/input/default";
  dialtone::mustache::BundledRenderer renderer(v.templates());
  auto f = v.files(c, renderer);
  ASSERT_TRUE(f) << f.error().message;
  ASSERT_EQ(f->size(), 1u);
  EXPECT_EQ((*f)[0].path, "acme-001122334455.cfg");
  EXPECT_TRUE((*f)[0].sensitive);
  auto kv = parse((*f)[0].content);
  EXPECT_EQ(kv["line1.server"], "10.0.0.1:5060");
  EXPECT_EQ(kv["line1.password"], "pw");
  EXPECT_EQ(kv["key1"], "blf:1002:Carol");
  EXPECT_EQ(kv["timezone"], "+1");
  EXPECT_EQ(kv["language"], "fr-FR");
  EXPECT_EQ(kv["directory"], "http://10.0.0.1:9498/0.1/directories/lookup/default/acme?term=#SEARCH");
  // Without a MAC there is nothing to serve.
  c.device.mac.clear();
  auto none = v.files(c, renderer);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}
