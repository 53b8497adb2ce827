#include "plugins/view/phoned/subnets.h"

#include <arpa/inet.h>

#include <cstring>

#include <dialtone/text.h>

namespace dialtone::plugins::view {
namespace {

struct Address {
  bool v6 = false;
  std::array<std::uint8_t, 16> bytes{};
};

bool parse_address(const std::string& text, Address& out) {
  in_addr a4{};
  if (inet_pton(AF_INET, text.c_str(), &a4) == 1) {
    out.v6 = false;
    std::memcpy(out.bytes.data(), &a4, 4);
    return true;
  }
  in6_addr a6{};
  if (inet_pton(AF_INET6, text.c_str(), &a6) == 1) {
    static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(&a6, kMapped, 12) == 0) {
      out.v6 = false;
      std::memcpy(out.bytes.data(), reinterpret_cast<const std::uint8_t*>(&a6) + 12, 4);
    } else {
      out.v6 = true;
      std::memcpy(out.bytes.data(), &a6, 16);
    }
    return true;
  }
  return false;
}

bool prefix_equal(const std::array<std::uint8_t, 16>& a, const std::array<std::uint8_t, 16>& b,
                  int prefix) {
  int full = prefix / 8;
  if (std::memcmp(a.data(), b.data(), full) != 0) return false;
  int rest = prefix % 8;
  if (rest == 0) return true;
  std::uint8_t mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (a[full] & mask) == (b[full] & mask);
}

using sdk::text::trim;

}  // namespace

sdk::Result<SubnetList> SubnetList::parse(std::string_view list) {
  SubnetList out;
  std::size_t start = 0;
  while (start <= list.size()) {
    auto end = list.find(',', start);
    if (end == std::string_view::npos) end = list.size();
    std::string item = trim(list.substr(start, end - start));
    start = end + 1;
    if (item.empty()) continue;
    auto slash = item.find('/');
    std::string host = item.substr(0, slash);
    Address addr;
    if (!parse_address(host, addr))
      return sdk::Error::invalid("'" + item + "' is not an IP subnet; write it like 192.168.1.0/24");
    int max = addr.v6 ? 128 : 32;
    int prefix = max;
    if (slash != std::string::npos) {
      std::string bits = item.substr(slash + 1);
      bool digits = !bits.empty() && bits.size() <= 3 &&
                    bits.find_first_not_of("0123456789") == std::string::npos;
      if (!digits || std::stoi(bits) > max)
        return sdk::Error::invalid("'" + item + "' has a bad prefix length; use 0-" +
                                   std::to_string(max));
      prefix = std::stoi(bits);
    }
    out.subnets_.push_back({addr.v6, addr.bytes, prefix});
  }
  return out;
}

bool SubnetList::contains(std::string_view address) const {
  Address addr;
  if (!parse_address(std::string(address), addr)) return false;
  for (const auto& s : subnets_) {
    if (s.v6 == addr.v6 && prefix_equal(s.bytes, addr.bytes, s.prefix)) return true;
  }
  return false;
}

}  // namespace dialtone::plugins::view
