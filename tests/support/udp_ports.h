// Waiting for another process (SIPp, baresip) to listen on a UDP port.
//
//   auto uas = std::async(std::launch::async, [&] { return run_uas(port); });
//   ASSERT_TRUE(dialtone::testing::wait_udp_bound(port)) << "the UAS did not bind";
//   // now ringing it cannot race its start
#pragma once

namespace dialtone::testing {

// True once /proc/net/udp lists a socket bound to the port (any address);
// false after about 20 s.
bool wait_udp_bound(int port);

// True when a socket of `type` (SOCK_DGRAM, SOCK_STREAM) can bind
// 127.0.0.1:port at the time of asking (nobody holds it).
bool port_free(int type, int port);

// RTP ports for the media engines tests create: below the SIPp media ports
// free_media_port() hands out (31100-32700), clear of the relay ports a
// robustness test holds (31000-31003) and between the product's default
// ranges (the SIP relay's 10000-30000, the media engine's 40000-50000), so an engine in a test running in parallel never binds a
// port a SIPp phone was just given. Engines may share the range: a port in
// use is skipped.
inline constexpr int kTestEnginePortMin = 30100;
inline constexpr int kTestEnginePortMax = 30999;

}  // namespace dialtone::testing
