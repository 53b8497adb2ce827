#include <gtest/gtest.h>

#include <dialtone/testing/fake_host.h>

#include "acme_vendor.h"

namespace sdk = dialtone::sdk;

// Exported by DIALTONE_PLUGIN in acme_vendor.cc.
extern "C" const dialtone_plugin_vtable* dialtone_plugin_entry_v1();

// Stands in for provd's mustache renderer: returns the bundled template as
// is, enough to check which template files() asks for and what it returns.
class BundledRenderer final : public sdk::TemplateRenderer {
 public:
  explicit BundledRenderer(std::vector<sdk::TemplateFile> t) : t_(std::move(t)) {}
  sdk::Result<std::string> render(std::string_view name, const sdk::TemplateData&,
                                  sdk::Escape) const override {
    for (auto& f : t_)
      if (f.name == name) return f.content;
    return sdk::Error::not_found(std::string(name));
  }

 private:
  std::vector<sdk::TemplateFile> t_;
};

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
  auto v = host.services().find<sdk::ProvisioningVendor>("acme");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->vendor(), "Acme");
  ASSERT_TRUE(vt->stop(self, &err));
  EXPECT_FALSE(host.services().find<sdk::ProvisioningVendor>("acme"));
  vt->destroy(self);
}

TEST(AcmeVendor, DetectsItsUserAgent) {
  AcmeVendor v;
  sdk::DeviceRequest r;
  r.user_agent = "Acme A100 2.1.0 00:11:22:33:44:55";
  auto d = v.detect(r);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->mac, "00:11:22:33:44:55");
  EXPECT_EQ(d->version, "2.1.0");
  r.user_agent = "Yealink SIP-T46S 66.86.0.15 00:15:65:aa:bb:cc";
  EXPECT_FALSE(v.detect(r));
}

TEST(AcmeVendor, OneSensitiveFilePerDevice) {
  AcmeVendor v;
  sdk::DeviceConfig c;
  c.device = {"Acme", "A100", "2.1.0", "00:11:22:33:44:55"};
  BundledRenderer r(v.templates());
  auto f = v.files(c, r);
  ASSERT_TRUE(f);
  ASSERT_EQ(f->size(), 1u);
  EXPECT_EQ((*f)[0].path, "acme-001122334455.cfg");
  EXPECT_TRUE((*f)[0].sensitive);
}
