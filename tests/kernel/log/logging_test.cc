#include "kernel/log/logging.h"

#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

namespace dialtone::kernel {
namespace {

class LoggingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = std::filesystem::temp_directory_path() /
            ("dialtone_log_" + std::to_string(::getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".log");
    std::filesystem::remove(path_);
  }
  void TearDown() override { std::filesystem::remove(path_); }

  std::vector<std::string> lines() {
    std::ifstream in(path_);
    std::vector<std::string> out;
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
  }

  std::filesystem::path path_;
};

TEST_F(LoggingTest, WritesTimestampLevelAndIdTaggedLinesToTheFile) {
  Logging logging({.level = "info", .file = path_.string()});
  auto log = logging.logger("directory.ldap");
  log->info("connected to ldap://127.0.0.1");
  log->error("bind failed");
  logging.flush();
  auto l = lines();
  ASSERT_EQ(l.size(), 2u);
  std::regex shape(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3} info \[directory\.ldap\] connected to ldap://127\.0\.0\.1$)");
  EXPECT_TRUE(std::regex_match(l[0], shape)) << l[0];
  EXPECT_NE(l[1].find(" error [directory.ldap] bind failed"), std::string::npos) << l[1];
}

TEST_F(LoggingTest, LevelPerIdFilters) {
  Logging logging({.level = "info", .file = path_.string()});
  auto ldap = logging.logger("directory.ldap");
  auto sip = logging.logger("backend.sip");
  ldap->debug("hidden at info");
  logging.set_level("directory.ldap", sdk::LogLevel::debug);
  EXPECT_TRUE(ldap->enabled(sdk::LogLevel::debug));
  EXPECT_FALSE(sip->enabled(sdk::LogLevel::debug));
  ldap->debug("ldap debug shown");
  sip->debug("sip debug hidden");
  // An override also applies to loggers created later for the same id.
  logging.set_level("backend.sip", sdk::LogLevel::error);
  auto sip2 = logging.logger("backend.sip");
  sip2->warn("sip warn hidden");
  sip2->error("sip error shown");
  // The default level moves only ids without an override.
  logging.set_default_level(sdk::LogLevel::warn);
  auto other = logging.logger("kernel.core");
  other->info("core info hidden");
  other->warn("core warn shown");
  ldap->debug("ldap keeps its override");
  logging.flush();
  auto l = lines();
  ASSERT_EQ(l.size(), 4u);
  EXPECT_NE(l[0].find("[directory.ldap] ldap debug shown"), std::string::npos);
  EXPECT_NE(l[1].find("[backend.sip] sip error shown"), std::string::npos);
  EXPECT_NE(l[2].find("[kernel.core] core warn shown"), std::string::npos);
  EXPECT_NE(l[3].find("[directory.ldap] ldap keeps its override"), std::string::npos);
}

TEST_F(LoggingTest, EmbeddedNewlinesStayOnOneLine) {
  Logging logging({.level = "info", .file = path_.string()});
  auto log = logging.logger("lua");
  log->warn("extensions.lua:12: attempt to index nil\nstack traceback:\r\n\t[C]: in ?");
  logging.flush();
  auto l = lines();
  ASSERT_EQ(l.size(), 1u);
  EXPECT_NE(l[0].find(R"(attempt to index nil\nstack traceback:\r\n)"), std::string::npos) << l[0];
}

TEST_F(LoggingTest, ConcurrentWritersNeverInterleaveLines) {
  Logging logging({.level = "info", .file = path_.string()});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      auto log = logging.logger("writer" + std::to_string(t));
      for (int i = 0; i < 500; ++i) log->info("message " + std::to_string(i) + " end");
    });
  }
  for (auto& t : threads) t.join();
  logging.flush();
  auto l = lines();
  ASSERT_EQ(l.size(), 2000u);
  std::regex shape(R"(^\S+ info \[writer\d\] message \d+ end$)");
  for (auto& line : l) ASSERT_TRUE(std::regex_match(line, shape)) << line;
}

TEST_F(LoggingTest, ParsesLevelNames) {
  EXPECT_EQ(Logging::parse_level("debug"), sdk::LogLevel::debug);
  EXPECT_EQ(Logging::parse_level("WARNING"), sdk::LogLevel::warn);
  EXPECT_EQ(Logging::parse_level("err"), sdk::LogLevel::error);
  EXPECT_EQ(Logging::parse_level("off"), sdk::LogLevel::off);
  EXPECT_FALSE(Logging::parse_level("verbose").has_value());
}

TEST_F(LoggingTest, UnknownLevelIsReportedAndInfoIsUsed) {
  Logging logging({.level = "verbose", .file = path_.string()});
  EXPECT_EQ(logging.default_level(), sdk::LogLevel::info);
  auto log = logging.logger("kernel.core");
  log->debug("hidden");
  log->info("shown");
  logging.flush();
  auto l = lines();
  ASSERT_EQ(l.size(), 2u);
  EXPECT_NE(l[0].find("unknown log level 'verbose'"), std::string::npos) << l[0];
  EXPECT_NE(l[1].find("shown"), std::string::npos);
}

TEST_F(LoggingTest, UnopenableFileFallsBackToStderrWithOneLineNamingIt) {
  // A regular file as the parent directory fails even for root.
  std::string bad = "/etc/hostname/dialtone.log";
  ::testing::internal::CaptureStderr();
  {
    Logging logging({.level = "info", .file = bad});
    logging.logger("kernel.core")->info("still logging");
  }
  auto err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("cannot open log file '" + bad + "'"), std::string::npos) << err;
  EXPECT_NE(err.find("[kernel.core] still logging"), std::string::npos) << err;
}

TEST_F(LoggingTest, LoggerOutlivesLogging) {
  std::unique_ptr<sdk::Logger> log;
  {
    Logging logging({.level = "info", .file = path_.string()});
    log = logging.logger("plugin");
  }
  log->info("still written");
  log.reset();
  auto l = lines();
  ASSERT_EQ(l.size(), 1u);
  EXPECT_NE(l[0].find("[plugin] still written"), std::string::npos);
}

TEST_F(LoggingTest, CriticalLineIsOnDiskWhenTheCallReturns) {
  Logging logging({.level = "info", .file = path_.string()});
  auto log = logging.logger("kernel");
  for (int i = 0; i < 100; ++i) log->info("before " + std::to_string(i));
  log->log(sdk::LogLevel::critical, "cannot go on");
  // No flush(): a critical line waits for the queue.
  auto l = lines();
  ASSERT_EQ(l.size(), 101u);
  EXPECT_NE(l[100].find("critical [kernel] cannot go on"), std::string::npos) << l[100];
}

// The writer thread is stuck on a pipe nobody reads: callers still return,
// the oldest queued lines are dropped and counted, the newest kept.
TEST_F(LoggingTest, FullQueueDropsOldestLinesInsteadOfBlockingTheCaller) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  std::fflush(stderr);
  const int saved = ::dup(2);
  ASSERT_GE(saved, 0);
  ASSERT_EQ(::dup2(fds[1], 2), 2);
  std::size_t dropped = 0;
  std::string read_back;
  std::thread reader;
  {
    Logging logging({.level = "info", .file = "", .queue_size = 64});
    auto log = logging.logger("backend.sip");
    // Far more than the pipe (64 KiB) and the queue hold together.
    for (int i = 0; i < 20000; ++i) log->info("line " + std::to_string(i) + " of a burst");
    dropped = logging.dropped();
    reader = std::thread([&] {
      char buf[65536];
      for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) read_back.append(buf, static_cast<std::size_t>(n));
    });
    logging.flush();
  }
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  ::close(fds[1]);
  reader.join();
  ::close(fds[0]);
  EXPECT_GT(dropped, 0u);
  EXPECT_NE(read_back.find("[backend.sip] line 19999 of a burst"), std::string::npos);
  EXPECT_NE(read_back.find("log lines were dropped because the log queue was full"), std::string::npos);
}

TEST_F(LoggingTest, FatalSignalWritesTheQueuedLinesFirst) {
  EXPECT_EXIT(
      {
        Logging logging({.level = "info", .file = path_.string()});
        Logging::install_fatal_handlers();
        auto log = logging.logger("kernel");
        for (int i = 0; i < 5000; ++i) log->info("queued " + std::to_string(i));
        ::raise(SIGSEGV);
      },
      ::testing::KilledBySignal(SIGSEGV), "");
  auto l = lines();
  ASSERT_EQ(l.size(), 5000u);
  EXPECT_NE(l.back().find("queued 4999"), std::string::npos) << l.back();
}

}  // namespace
}  // namespace dialtone::kernel
