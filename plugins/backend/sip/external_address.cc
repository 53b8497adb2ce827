#include "plugins/backend/sip/external_address.h"

#include <arpa/inet.h>
#include <algorithm>
#include <sys/socket.h>

namespace dialtone::plugins::backend::sip {

namespace {

std::string unbracket(const std::string& ip) {
  if (ip.size() > 2 && ip.front() == '[' && ip.back() == ']') return ip.substr(1, ip.size() - 2);
  return ip;
}

// The address family and bytes of a numeric IP; family 0 for a name.
Subnet address_of(const std::string& text) {
  Subnet s;
  std::string ip = unbracket(text);
  if (inet_pton(AF_INET, ip.c_str(), s.bytes.data()) == 1) {
    s.family = AF_INET;
    s.prefix = 32;
  } else if (inet_pton(AF_INET6, ip.c_str(), s.bytes.data()) == 1) {
    s.family = AF_INET6;
    s.prefix = 128;
  }
  return s;
}

bool contains(const Subnet& net, const Subnet& ip) {
  if (net.family != ip.family) return false;
  int bits = net.prefix;
  for (std::size_t i = 0; bits > 0; ++i, bits -= 8) {
    std::uint8_t mask = bits >= 8 ? 0xff : static_cast<std::uint8_t>(0xff << (8 - bits));
    if ((net.bytes[i] & mask) != (ip.bytes[i] & mask)) return false;
  }
  return true;
}

// "host", "host:port", "[v6]", "[v6]:port": false when the port is not a number.
bool split_host_port(const std::string& text, std::string& host, int& port) {
  port = 0;
  std::string rest;
  if (!text.empty() && text.front() == '[') {
    auto end = text.find(']');
    if (end == std::string::npos) return false;
    host = text.substr(0, end + 1);
    rest = text.substr(end + 1);
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    auto colon = text.find(':');
    host = text.substr(0, colon);
    rest = text.substr(colon);
  } else {
    host = text;  // a name, an IPv4 address or a bare IPv6 address
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
  }
  if (rest.empty()) return !host.empty();
  if (rest.size() < 2 || rest[0] != ':') return false;
  try {
    std::size_t used = 0;
    port = std::stoi(rest.substr(1), &used);
    return used == rest.size() - 1 && port > 0 && port < 65536 && !host.empty();
  } catch (...) {
    return false;
  }
}

}  // namespace

bool ExternalAddress::outside(const std::string& peer) const {
  if (peer.empty()) return false;
  Subnet ip = address_of(peer);
  if (ip.family == 0) return true;
  for (auto& net : local_nets)
    if (contains(net, ip)) return false;
  return true;
}

sdk::Result<ExternalAddress> parse_external_address(const std::string& signaling, int tls_port,
                                                    const std::string& media,
                                                    const std::vector<std::string>& local_nets) {
  ExternalAddress out;
  if (!signaling.empty() &&
      !split_host_port(signaling, out.signaling_host, out.signaling_port))
    return sdk::Error::invalid("sip.external_signaling_address: '" + signaling +
                               "' is not host[:port]; write e.g. 203.0.113.10 or pbx.example.com:5060");
  out.signaling_tls_port = tls_port;
  out.media_host = unbracket(media);
  if (!out.media_host.empty() && address_of(out.media_host).family == 0)
    return sdk::Error::invalid("sip.external_media_address: '" + media +
                               "' is not an IP address (SDP needs one); write e.g. 203.0.113.10");
  if (out.media_host.empty() && !out.signaling_host.empty() &&
      address_of(out.signaling_host).family == 0)
    return sdk::Error::invalid("sip.external_signaling_address is a name: set "
                               "sip.external_media_address to the public IP address for SDP");
  for (auto& item : local_nets) {
    if (item.empty()) continue;
    auto slash = item.find('/');
    Subnet net = address_of(item.substr(0, slash));
    int max = net.family == AF_INET ? 32 : 128;
    bool ok = net.family != 0;
    if (ok && slash != std::string::npos) {
      try {
        std::size_t used = 0;
        net.prefix = std::stoi(item.substr(slash + 1), &used);
        ok = used == item.size() - slash - 1 && net.prefix >= 0 && net.prefix <= max;
      } catch (...) {
        ok = false;
      }
    }
    if (!ok)
      return sdk::Error::invalid("sip.local_net: '" + item +
                                 "' is not a subnet; write e.g. 192.168.0.0/16, 10.0.0.0/8");
    out.local_nets.push_back(net);
  }
  if (out.enabled() && out.local_nets.empty())
    return sdk::Error::invalid("sip.local_net is empty while an external address is set: list the "
                               "networks of the phones (e.g. 192.168.0.0/16), or every peer gets "
                               "the external address");
  return out;
}

std::string sdp_toward_outside(const std::string& sdp, const std::string& internal,
                               const std::string& external) {
  if (internal.empty() || external.empty() || internal == external) return sdp;
  std::string out;
  out.reserve(sdp.size() + 16);
  std::size_t at = 0;
  while (at < sdp.size()) {
    auto end = sdp.find('\n', at);
    std::string line = sdp.substr(at, end == std::string::npos ? std::string::npos : end - at + 1);
    at = end == std::string::npos ? sdp.size() : end + 1;
    if (line.rfind("c=", 0) == 0 || line.rfind("o=", 0) == 0) {
      // The address is the last field: "... IN IP4 <addr>[\r]\n".
      std::size_t stop = line.find_last_not_of("\r\n") + 1;
      std::size_t start = line.rfind(' ', stop) + 1;
      if (start >= 2 && line.compare(start, stop - start, internal) == 0) {
        std::string family = external.find(':') != std::string::npos ? "IP6" : "IP4";
        std::size_t fam = line.rfind(' ', start - 2) + 1;
        line = line.substr(0, fam) + family + " " + external + line.substr(stop);
      }
    }
    out += line;
  }
  return out;
}

}  // namespace dialtone::plugins::backend::sip
