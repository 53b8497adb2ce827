// backend.dahdi's conf.d sections for the end-to-end tests: E1 spans laid
// out as system.conf numbers them (31 channels a span from `first`, the
// D-channel in slot 16), so a test names only what differs.
//
// @code
//   std::string conf = "[plugin]\nname = backend.dahdi\n" +
//                      e1_span(1, 1, "pri_cpe", "driver = simulated\npeer = 2\n") +
//                      e1_span(2, 32, "pri_net", "driver = simulated\npeer = 1\n");
//   // [span.1] ... bchan = 1-15,17-31  dchan = 16 ...
// @endcode
#pragma once

#include <string>

namespace dialtone::testing {

// [span.`n`] on channels first..first+30, D-channel first+15, with
// `signalling` and the lines in `extra` (driver, peer, group, context...).
inline std::string e1_span(int n, int first, const std::string& signalling, const std::string& extra) {
  auto ch = [first](int offset) { return std::to_string(first + offset); };
  return "[span." + std::to_string(n) + "]\n" + extra + "bchan = " + ch(0) + "-" + ch(14) + "," + ch(16) + "-" +
         ch(30) + "\ndchan = " + ch(15) + "\nsignalling = " + signalling + "\n";
}

}  // namespace dialtone::testing
