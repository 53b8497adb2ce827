// Dialtone behind NAT (seed 5.19.3): the public addresses a NAT device maps
// to Dialtone, written in Via, Contact and the SDP of anchored media only
// toward peers outside the local networks; peers inside see the real
// addresses. Plain C++ (no sofia types).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <dialtone/result.h>

namespace dialtone::plugins::backend::sip {

// One of sip.local_net: 192.168.0.0/16, 10.1.2.3 (a /32), fd00::/8.
struct Subnet {
  int family = 0;  // AF_INET or AF_INET6
  std::array<std::uint8_t, 16> bytes{};
  int prefix = 0;
};

struct ExternalAddress {
  // Host (IP or name) and port written in Via and Contact toward outside
  // peers; port 0: the port Dialtone listens on for that transport.
  std::string signaling_host;
  int signaling_port = 0;
  int signaling_tls_port = 0;
  // Address written in c=/o= of anchored media toward outside peers
  // (empty: signaling_host).
  std::string media_host;
  std::vector<Subnet> local_nets;

  bool enabled() const { return !signaling_host.empty() || !media_host.empty(); }
  // Whether `peer` (an IP, bracketed or not, or a host name) is outside
  // the local networks. Names are outside (providers are reached by
  // name); an empty peer is inside (nothing is known of it).
  bool outside(const std::string& peer) const;
  const std::string& media() const { return media_host.empty() ? signaling_host : media_host; }
};

// Reads the options (sip.external_signaling_address = host[:port],
// sip.external_tls_port, sip.external_media_address, sip.local_net); an
// error names the option and the fix.
sdk::Result<ExternalAddress> parse_external_address(const std::string& signaling, int tls_port,
                                                    const std::string& media,
                                                    const std::vector<std::string>& local_nets);

// `sdp` with the address `internal` in its o= and c= lines replaced by
// `external`: anchored media advertised toward an outside peer. Lines
// naming another address (direct media: a phone's own) stay as they are.
std::string sdp_toward_outside(const std::string& sdp, const std::string& internal,
                               const std::string& external);

}  // namespace dialtone::plugins::backend::sip
