// WebSocket framing for events.websocketd (RFC 6455 5): the server's
// unmasked frames, built once and shared, and an incremental reader of the
// client's masked frames for a non-blocking socket.
//
// @code
//   auto f = event_frame("calls.channel.created", R"({"id":"c1"})");
//   ClientFrameReader r(65536);
//   std::vector<ClientMessage> got;
//   if (r.feed(bytes, n, got) != ClientFrameReader::Status::ok) ...;  // close 1002 or 1009
// @endcode
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace dialtone::plugins::events {

enum Opcode : int { kContinuation = 0x0, kText = 0x1, kBinary = 0x2, kClose = 0x8, kPing = 0x9, kPong = 0xA };

// One FIN frame of `opcode` around `payload`, unmasked (server to client).
std::string server_frame(int opcode, std::string_view payload);
// {"name": topic, "data": body} as one text frame; an empty body is null.
std::string event_frame(std::string_view topic, std::string_view body);
// A close frame with its status code and reason.
std::string close_frame(int code, std::string_view reason);
// {"op": op, "code": code[, "msg": msg]} as one text frame.
std::string reply_frame(std::string_view op, int code, std::string_view msg = {});

// A whole message (fragments joined) or a control frame from the client.
struct ClientMessage {
  int opcode = 0;
  std::string payload;
};

// Reads the client's frames from whatever bytes the socket gave, across
// reads. Not thread-safe: one per connection, used by its loop thread.
class ClientFrameReader {
 public:
  enum class Status { ok, protocol_error /* close 1002 */, too_big /* close 1009 */ };
  explicit ClientFrameReader(std::size_t max_message) : max_(max_message) {}
  // Appends `n` bytes; every message they complete is appended to `out`.
  Status feed(const char* data, std::size_t n, std::vector<ClientMessage>& out);

 private:
  std::size_t max_;
  std::string buf_;
  std::string message_;
  int message_op_ = -1;  // the data message being reassembled, -1: none
};

// The bus's pattern rule: `*` one dotted segment, `#` zero or more.
bool topic_matches(std::string_view pattern, std::string_view topic);

}  // namespace dialtone::plugins::events
