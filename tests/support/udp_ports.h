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

}  // namespace dialtone::testing
