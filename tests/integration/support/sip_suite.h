// A test suite whose calls go through the real dialtoned: backend.sip on a
// free UDP port with the shipped lua-dialplan, api.confd and the plugin files
// the suite adds, and SIPp phones (INTEGRATION_SCENARIOS) calling through it.
//
// @code
//   class RecordsE2E : public dialtone::testing::SipSuite {
//    protected:
//     static void SetUpTestSuite() {
//       start_dialtoned("records", {{"70-records-cel.conf", "[plugin]\nname = records.cel\n"}});
//       if (!d_->ready()) return;
//       if (auto e = create_user_line(*d_, "1000", R"({"firstname":"A"})", "u1000", "pw1000"); !e.empty())
//         setup_error_ = e;   // SetUp fails every test with it
//     }
//   };
// @endcode
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "tests/integration/support/dialtoned_fixture.h"

namespace dialtone::testing {

class SipSuite : public ::testing::Test {
 protected:
  // The suite's dialtoned, node `node`, with `files` besides backend.sip's
  // (40-sip.conf, `sip_extra` sections appended) and api.confd's.
  static void start_dialtoned(const std::string& node, std::map<std::string, std::string> files = {},
                              const std::string& sip_extra = "") {
    sip_port_ = free_tcp_udp_port();
    setup_error_.clear();
    files.emplace("40-sip.conf", sip_plugin_conf(sip_port_, node, sip_extra));
    files.emplace("50-confd.conf", "[plugin]\nname = api.confd\n");
    d_ = new Dialtoned({.plugin_files = std::move(files)});
  }
  // SIGTERM ends dialtoned with status 0: plugins unload in order and
  // nothing they built outlives their library.
  static void TearDownTestSuite() {
    if (d_ && d_->ready()) {
      int status = d_->stop();
      EXPECT_EQ(status, 0) << "dialtoned did not stop cleanly on SIGTERM\n" << d_->output();
    }
    delete d_;
    d_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(d_->ready()) << d_->error();
    ASSERT_TRUE(setup_error_.empty()) << setup_error_;
  }

  static Headers headers() { return {{"X-Auth-Token", d_->token()}}; }
  static SippPhones phones() { return {d_->dir(), sip_port_, INTEGRATION_SCENARIOS}; }
  static std::string scenario(const std::string& name) { return phones().scenario(name); }
  static int sipp(const std::string& args, std::string* out) { return phones().run(args, out); }
  static int client(const std::string& args, std::string* out) { return phones().client(args, out); }
  static int register_line(const std::string& user, const std::string& password, int port, std::string* out) {
    return phones().register_line(user, password, port, out);
  }

  static inline Dialtoned* d_ = nullptr;
  static inline int sip_port_ = 0;
  // What went wrong in SetUpTestSuite; every test fails with it.
  static inline std::string setup_error_;
};

}  // namespace dialtone::testing
