// kernel/auth/api.yml and kernel/calls/api.yml against the running kernel:
// the spec served on the auth listener without a token names exactly the
// routes the kernel mounts itself (token routes on "auth", POST /0.1/reload on
// "confd"), the one served on "calld" exactly the calls routes, each with its ACL.
#include <gtest/gtest.h>

#include "kernel/core/kernel.h"
#include "test_support.h"
#include "tests/kernel/http/http_test_util.h"
#include "tests/support/openapi_spec.h"
#include "tests/support/pg_fixture.h"

namespace dialtone::kernel {
namespace {

TEST(KernelOpenApi, ServedSpecDescribesExactlyTheKernelsRoutes) {
  testing::TempDir tmp;
  std::string k = "[plugin]\nname = kernel\n[store]\ndsn = " + dialtone::testing::test_dsn() +
                  "\n[lua]\nscript = " + (tmp / "dialplan.lua").string() + "\n";
  for (auto l : {"confd", "auth", "dird", "phoned", "provd", "provd_phones", "calld"})
    k += std::string("[http.") + l + "]\nlisten = 127.0.0.1:0\n";
  testing::write_file(tmp / "dialplan.lua", "");
  testing::write_file(tmp / "conf.d" / "00-kernel.conf", k);
  std::filesystem::create_directories(tmp / "plugins");
  CommandLine cli;
  cli.config_dir = tmp / "conf.d";
  cli.plugin_dir = tmp / "plugins";
  cli.data_dir = tmp / "data";
  Kernel kernel(load_setup(cli));
  auto started = kernel.start();
  ASSERT_TRUE(started) << started.error().message;

  auto served = dialtone::testing::get(kernel.http_port("auth"), "/0.1/api/api.yml");
  ASSERT_EQ(served.status, 200) << served.body;
  EXPECT_EQ(served.header("Content-Type"), "application/x-yaml");
  auto spec = dialtone::testing::read_openapi(served.body);
  EXPECT_TRUE(spec.problems.empty()) << spec.problems.front();

  auto calls_served = dialtone::testing::get(kernel.http_port("calld"), "/1.0/api/api.yml");
  ASSERT_EQ(calls_served.status, 200) << calls_served.body;
  auto calls_spec = dialtone::testing::read_openapi(calls_served.body);
  EXPECT_TRUE(calls_spec.problems.empty()) << calls_spec.problems.front();

  std::map<std::string, std::string> mounted, calls_mounted;
  for (auto& r : kernel.routes()) {
    ASSERT_TRUE(r.owner.rfind("kernel", 0) == 0) << r.owner << " mounted " << r.path;
    if (r.listener == "calld") {
      calls_mounted[dialtone::testing::route_key(r.method, r.path)] = r.acl;
      continue;
    }
    EXPECT_TRUE(r.listener == "auth" || r.path == "/0.1/reload") << r.path << " on " << r.listener;
    mounted[dialtone::testing::route_key(r.method, r.path)] = r.acl;
  }
  EXPECT_EQ(spec.operations, mounted);
  EXPECT_EQ(spec.operations["POST /0.1/reload"], "dialtone.reload");
  EXPECT_EQ(calls_spec.operations, calls_mounted);
  EXPECT_EQ(calls_spec.operations["DELETE /1.0/calls/{call_id}"], "ctid-ng.calls.{call_id}.delete");
  kernel.stop();
}

}  // namespace
}  // namespace dialtone::kernel
