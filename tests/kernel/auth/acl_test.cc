#include "kernel/auth/acl.h"

#include <regex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kernel/auth/auth_service.h"

namespace dialtone::kernel {
namespace {

constexpr const char* kMe = "2f1d4f60-1111-4aaa-8bbb-000000000001";
constexpr const char* kOther = "7c2a9e10-2222-4ccc-9ddd-000000000002";

struct AclCase {
  std::vector<std::string> granted;
  std::string required;
  bool allowed;
};

TEST(Acl, TableOfGrantsAndRequirements) {
  std::string me = kMe, other = kOther;
  const std::vector<AclCase> cases = {
      // exact
      {{"confd.users.read"}, "confd.users.read", true},
      {{"confd.users.read"}, "confd.users.create", false},
      {{"confd.users.read"}, "confd.users", false},
      {{"confd.users"}, "confd.users.read", false},
      {{"confd.users.read"}, "dird.users.read", false},
      // `*`: exactly one segment
      {{"confd.users.*"}, "confd.users.read", true},
      {{"confd.users.*"}, "confd.users.17.read", false},
      {{"confd.*.read"}, "confd.users.read", true},
      {{"confd.*.read"}, "confd.users.lines.read", false},
      {{"confd.users.*.*"}, "confd.users.17.read", true},
      {{"*"}, "confd", true},
      {{"*"}, "confd.users", false},
      // `#`: zero or more segments
      {{"#"}, "confd.users.17.read", true},
      {{"#"}, "a", true},
      {{"confd.#"}, "confd.users.17.lines.read", true},
      {{"confd.#"}, "confd", true},
      {{"confd.#"}, "dird.me.read", false},
      {{"confd.#.read"}, "confd.users.17.read", true},
      {{"confd.#.read"}, "confd.read", true},
      {{"confd.#.read"}, "confd.users.17.update", false},
      {{"confd.users.#.lines.*"}, "confd.users.1.2.lines.read", true},
      {{"confd.users.#.lines.*"}, "confd.users.lines.read", true},
      {{"confd.users.#.lines.*"}, "confd.users.1.lines", false},
      {{"#.read"}, "confd.users.read", true},
      {{"#.read"}, "confd.users.update", false},
      {{"confd.#.#"}, "confd.x", true},
      // `me`: the token's own auth_id, or the literal `me`
      {{"confd.users.me.read"}, "confd.users." + me + ".read", true},
      {{"confd.users.me.read"}, "confd.users." + other + ".read", false},
      {{"confd.users.me.read"}, "confd.users.me.read", true},
      {{"confd.users.me.#"}, "confd.users." + me + ".forwards.read", true},
      {{"confd.users.me.#"}, "confd.users." + other + ".forwards.read", false},
      {{"confd.users.me.#.read"}, "confd.users." + me + ".funckeys.3.read", true},
      {{"confd.users.me.funckeys.*.*"}, "confd.users." + me + ".funckeys.3.update", true},
      {{"confd.users.me.funckeys.*.*"}, "confd.users." + me + ".lines.read", false},
      {{"confd.users.me"}, "confd.users." + me, true},
      {{"confd.users.17.read"}, "confd.users.me.read", false},
      // several grants: any one suffices
      {{"dird.#", "confd.users.read"}, "confd.users.read", true},
      {{"dird.#", "confd.users.read"}, "confd.lines.read", false},
      // `!` negation wins over any grant, in any order
      {{"confd.#", "!confd.users.*.delete"}, "confd.users.17.delete", false},
      {{"!confd.users.*.delete", "confd.#"}, "confd.users.17.delete", false},
      {{"confd.#", "!confd.users.*.delete"}, "confd.users.17.read", true},
      {{"#", "!confd.users.me.delete"}, "confd.users." + me + ".delete", false},
      {{"#", "!confd.users.me.delete"}, "confd.users." + other + ".delete", true},
      {{"!confd.#"}, "confd.users.read", false},
      // nothing granted
      {{}, "confd.users.read", false},
      {{""}, "confd.users.read", false},
      // empty requirement: any valid token
      {{}, "", true},
      // a parameter value containing wildcards is matched literally
      {{"confd.users.me.read"}, "confd.users.*.read", false},
      {{"confd.users.17.read"}, "confd.users.#.read", false},
  };
  for (const auto& c : cases) {
    std::string granted;
    for (const auto& g : c.granted) granted += "'" + g + "' ";
    EXPECT_EQ(acl_allows(c.granted, me, c.required), c.allowed) << "granted " << granted << "required " << c.required;
  }
}

TEST(Acl, MeNeverMatchesWithoutAnAuthId) {
  EXPECT_FALSE(acl_allows({"confd.users.me.read"}, "", "confd.users..read"));
  EXPECT_TRUE(acl_allows({"confd.users.me.read"}, "", "confd.users.me.read"));
}

TEST(Acl, VeryLongRequirementIsRefusedNotSlow) {
  std::string required = "a";
  for (int i = 0; i < 500; ++i) required += ".a";
  EXPECT_FALSE(acl_allows({"#.b.#.c.#.d"}, kMe, required));
  EXPECT_FALSE(acl_allows({"#"}, kMe, required));
}

TEST(Password, HashIsPbkdf2WithSaltAndVerifiesOnlyTheRightPassword) {
  auto h = hash_password("s3cret pass");
  EXPECT_TRUE(std::regex_match(h, std::regex(R"(pbkdf2_sha256\$100000\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44})")))
      << h;
  EXPECT_EQ(h.find("s3cret"), std::string::npos);
  EXPECT_TRUE(verify_password("s3cret pass", h));
  EXPECT_FALSE(verify_password("s3cret pas", h));
  EXPECT_FALSE(verify_password("", h));
  EXPECT_NE(hash_password("s3cret pass"), h) << "salt must differ per hash";
  EXPECT_FALSE(verify_password("s3cret pass", "plain"));
  EXPECT_FALSE(verify_password("s3cret pass", "pbkdf2_sha256$0$AAAA$AAAA"));
  EXPECT_FALSE(verify_password("s3cret pass", "pbkdf2_sha256$x$AAAA$AAAA"));
}

TEST(LoginLimiter, BansAnAddressAfterMaxFailuresInTheWindowOnly) {
  LoginLimiter l(5, 60, 300);
  const std::string a = "192.0.2.1", b = "192.0.2.2";
  std::int64_t t = 1000;
  for (int i = 1; i <= 4; ++i) {
    auto o = l.record_failure(a, t);
    EXPECT_EQ(o.failures, i);
    EXPECT_FALSE(o.banned_now);
  }
  EXPECT_EQ(l.banned_for(a, t), 0);
  auto fifth = l.record_failure(a, t + 1);
  EXPECT_TRUE(fifth.banned_now);
  EXPECT_EQ(fifth.failures, 5);
  EXPECT_EQ(l.banned_for(a, t + 1), 300);
  EXPECT_EQ(l.banned_for(a, t + 100), 201);
  // Another address is untouched.
  EXPECT_EQ(l.banned_for(b, t + 1), 0);
  EXPECT_FALSE(l.record_failure(b, t + 1).banned_now);
  // A successful login does not lift a ban.
  l.record_success(a);
  EXPECT_GT(l.banned_for(a, t + 2), 0);
  // The ban expires.
  EXPECT_EQ(l.banned_for(a, t + 301), 0);
}

TEST(LoginLimiter, FailuresOutsideTheWindowAreForgotten) {
  LoginLimiter l(3, 60, 300);
  const std::string a = "2001:db8::1";
  EXPECT_FALSE(l.record_failure(a, 0).banned_now);
  EXPECT_FALSE(l.record_failure(a, 30).banned_now);
  // The first failure left the window: two inside, no ban.
  auto o = l.record_failure(a, 61);
  EXPECT_EQ(o.failures, 2);
  EXPECT_FALSE(o.banned_now);
  EXPECT_TRUE(l.record_failure(a, 62).banned_now);
}

TEST(LoginLimiter, SuccessForgetsEarlierFailures) {
  LoginLimiter l(3, 60, 300);
  const std::string a = "198.51.100.7";
  l.record_failure(a, 0);
  l.record_failure(a, 1);
  l.record_success(a);
  EXPECT_EQ(l.record_failure(a, 2).failures, 1);
}

}  // namespace
}  // namespace dialtone::kernel
