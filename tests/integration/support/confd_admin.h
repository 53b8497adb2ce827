// What an admin sets up over confd's REST API, one call per resource, for
// end-to-end tests against a running dialtoned: contexts and their
// inclusions, users with a SIP line and an extension, peer trunks, outgoing
// routes and incoming calls. Every helper fails the current test (gtest
// non-fatal failures) with the answer's body when confd refuses.
//
// @code
//   ConfdAdmin admin(d);
//   admin.context(R"({"name":"default","type":"internal","user_ranges":[{"start":"1000","end":"1099"}]})");
//   auto alice = admin.user_line("1001", "Alice", "Doe", "alice", "alicepw", "default");
//   auto t = admin.trunk("to-b", "127.0.0.1:5070", "from-extern");
//   admin.outcall("to-b", 1, R"([{"pattern":"**99."}])", t, "default");
// @endcode
#pragma once

#include <map>
#include <string>
#include <vector>

#include "tests/integration/support/dialtoned_fixture.h"

namespace dialtone::testing {

class ConfdAdmin {
 public:
  explicit ConfdAdmin(Dialtoned& d) : d_(d) {}

  HttpAnswer post(const std::string& path, const std::string& body);
  HttpAnswer put(const std::string& path, const std::string& body);
  HttpAnswer get(const std::string& path);

  // POST /1.1/contexts with `json`; its id (also kept under its name).
  std::string context(const std::string& json);
  const std::string& context_id(const std::string& name) { return contexts_[name]; }
  // `context` includes `included` (replacing its inclusions).
  void include(const std::string& context, const std::string& included);
  // A user `firstname lastname` with a SIP line (`username`/`secret`) and the
  // extension `exten` in `context`; the user's id.
  std::string user_line(const std::string& exten, const std::string& firstname, const std::string& lastname,
                        const std::string& username, const std::string& secret, const std::string& context);
  // A peer trunk to `host` (host[:port]) whose incoming calls land in
  // `context`, with endpoint `options` (a JSON list of [key, value] pairs);
  // the trunk's id.
  std::string trunk(const std::string& username, const std::string& host, const std::string& context,
                    const std::string& options = "[]", const std::string& secret = "unused");
  // A customized trunk (seed 5.19.5) dialing `interface`, e.g. dahdi/g1:
  // the trunk and its custom endpoint, associated; the trunk's id.
  std::string custom_trunk(const std::string& interface, const std::string& context);
  // An outgoing route over `trunk_id` attached to `context`; its id.
  std::string outcall(const std::string& name, int priority, const std::string& patterns_json,
                      const std::string& trunk_id, const std::string& context);
  // The same over `trunk_ids`, tried in this order.
  std::string outcall(const std::string& name, int priority, const std::string& patterns_json,
                      const std::vector<std::string>& trunk_ids, const std::string& context);
  // An incoming call on DID `exten` of the incall context `context` to
  // `destination_json`; its id.
  std::string incall(const std::string& exten, const std::string& context, const std::string& destination_json);

 private:
  Headers auth() { return {{"X-Auth-Token", d_.token()}}; }
  void expect_put(const std::string& path, const std::string& body = "");

  Dialtoned& d_;
  std::map<std::string, std::string> contexts_;  // name -> id
};

}  // namespace dialtone::testing
