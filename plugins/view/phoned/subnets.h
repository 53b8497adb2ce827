// CIDR allow-list for phone requests (IPv4 and IPv6; IPv4-mapped IPv6
// addresses match IPv4 subnets).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <dialtone/result.h>

namespace dialtone::plugins::view {

class SubnetList {
 public:
  // "127.0.0.0/8, 192.168.1.0/24, ::1/128"; a bare address is a single host.
  static sdk::Result<SubnetList> parse(std::string_view list);
  bool contains(std::string_view address) const;
  bool empty() const { return subnets_.empty(); }

 private:
  struct Subnet {
    bool v6 = false;
    std::array<std::uint8_t, 16> bytes{};
    int prefix = 0;
  };
  std::vector<Subnet> subnets_;
};

}  // namespace dialtone::plugins::view
