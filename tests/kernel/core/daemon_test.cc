// dialtoned as a process: start on a private PostgreSQL cluster, print the
// listeners, reload on SIGHUP without restarting plugins, stop on SIGTERM;
// and a database it cannot reach gives one line and a non-zero exit.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "test_support.h"
#include "tests/support/child_process.h"

namespace dialtone::kernel {
namespace {

using testing::install_fixture;
using testing::TempDir;
using testing::write_file;

using dialtone::testing::slurp;

// Waits until `file` contains `text`; generous bound for a loaded machine.
// `pid` is a copy: the test still stops and reaps its own.
bool wait_for(pid_t pid, const std::filesystem::path& file, const std::string& text) {
  return dialtone::testing::wait_file_holds(pid, file, text, std::chrono::seconds(120));
}

class DaemonTest : public ::testing::Test {
 protected:
  DaemonTest() {
    // The private cluster runs as the postgres user when dialtoned is root.
    std::filesystem::permissions(tmp_.path(), std::filesystem::perms(0755));
    std::string k = "[plugin]\nname = kernel\n";
    for (auto l : {"confd", "auth", "dird", "phoned", "provd", "provd_phones", "calld"})
      k += std::string("[http.") + l + "]\nlisten = 127.0.0.1:0\n";
    write_file(conf_ / "00-kernel.conf", k);
    install_fixture(plugins_, "good");
  }
  ~DaemonTest() override {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  void spawn() {
    pid_ = fork();
    if (pid_ == 0) {
      freopen((tmp_ / "out").c_str(), "w", stdout);
      freopen((tmp_ / "err").c_str(), "w", stderr);
      execl(DIALTONED_BIN, "dialtoned", "--config-dir", conf_.c_str(), "--plugin-dir", plugins_.c_str(),
            "--data-dir", (tmp_ / "data").c_str(), nullptr);
      _exit(127);
    }
  }
  int wait_exit() { return dialtone::testing::wait_exit(pid_, std::chrono::seconds(120)); }
  TempDir tmp_;
  std::filesystem::path conf_ = tmp_ / "conf.d";
  std::filesystem::path plugins_ = tmp_ / "plugins";
  pid_t pid_ = -1;
};

TEST_F(DaemonTest, ServesReloadsOnSighupAndStopsOnSigterm) {
  auto good = write_file(conf_ / "50-good.conf", "[plugin]\nname = fixture.good\n[good]\ngreeting = a\n");
  spawn();
  ASSERT_TRUE(wait_for(pid_, tmp_ / "out", "listening: provd_phones http://127.0.0.1:"))
      << slurp(tmp_ / "out") << slurp(tmp_ / "err");
  auto out = slurp(tmp_ / "out");
  EXPECT_NE(out.find("listening: confd http://127.0.0.1:"), std::string::npos);
  EXPECT_NE(out.find("admin-password"), std::string::npos) << out;
  EXPECT_TRUE(std::filesystem::is_directory(tmp_ / "data" / "plugins" / "fixture.good"));

  write_file(good, "[plugin]\nname = fixture.good\n[good]\ngreeting = b\nport = 7\n");
  kill(pid_, SIGHUP);
  ASSERT_TRUE(wait_for(pid_, tmp_ / "err", "SIGHUP: configuration reloaded")) << slurp(tmp_ / "err");
  auto err = slurp(tmp_ / "err");
  EXPECT_NE(err.find("reloaded fixture.good: good.greeting"), std::string::npos) << err;
  EXPECT_NE(err.find("fixture.good: restart needed for good.port"), std::string::npos) << err;

  // A broken file is refused with file:line and the running configuration stays.
  write_file(good, "[plugin]\nname = fixture.good\n[good]\nport = many\n");
  kill(pid_, SIGHUP);
  ASSERT_TRUE(wait_for(pid_, tmp_ / "err", "SIGHUP: reload refused")) << slurp(tmp_ / "err");
  EXPECT_NE(slurp(tmp_ / "err").find(good.string() + ":4: bad value 'many' for good.port"), std::string::npos);

  kill(pid_, SIGTERM);
  EXPECT_EQ(wait_exit(), 0);
  err = slurp(tmp_ / "err");
  EXPECT_NE(err.find("stopped fixture.good"), std::string::npos) << err;
  EXPECT_EQ(err.find("started fixture.good", err.find("SIGHUP")), std::string::npos);  // never restarted
}

TEST_F(DaemonTest, UnreachableDatabaseIsOneLineAndExitOne) {
  write_file(conf_ / "01-store.conf",
             "[plugin]\nname = kernel\n[store]\ndsn = host=127.0.0.1 port=1 dbname=x connect_timeout=5\n");
  spawn();
  EXPECT_EQ(wait_exit(), 1);
  auto err = slurp(tmp_ / "err");
  EXPECT_NE(err.find("dialtoned: store: cannot connect to"), std::string::npos) << err;
  EXPECT_NE(err.find("check store.dsn"), std::string::npos) << err;
}

}  // namespace
}  // namespace dialtone::kernel
