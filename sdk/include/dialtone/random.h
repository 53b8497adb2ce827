// Random identifiers: SIP Call-IDs and tags, generated usernames and
// secrets, provisioning passwords.
//
// @code
//   #include <dialtone/random.h>
//   auto call_id = dialtone::sdk::random_token(20) + "@dialtone";  // [a-z0-9]
//   auto hex = dialtone::sdk::random_token(16, "0123456789abcdef");
// @endcode
//
// Each thread has its own generator, seeded from the kernel's random source,
// so a call costs no system call and takes no lock (the SIP thread uses it).
#pragma once

#include <sys/random.h>

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <random>
#include <string>
#include <string_view>

namespace dialtone::sdk {

inline constexpr std::string_view kTokenAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";

// `n` characters drawn uniformly from `alphabet` (not empty).
inline std::string random_token(std::size_t n, std::string_view alphabet = kTokenAlphabet) {
  static thread_local std::mt19937_64 rng = [] {
    std::uint32_t seed[8] = {};
    if (::getrandom(seed, sizeof seed, 0) != static_cast<ssize_t>(sizeof seed))
      for (auto& s : seed) s = std::random_device{}();
    std::seed_seq seq(std::begin(seed), std::end(seed));
    return std::mt19937_64(seq);
  }();
  std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
  std::string out(n, '\0');
  for (auto& c : out) c = alphabet[pick(rng)];
  return out;
}

}  // namespace dialtone::sdk
