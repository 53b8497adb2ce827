// The event-driven writer of events.websocketd: one thread runs epoll over
// its share of the clients' non-blocking sockets (docs/api/events.md,
// "Back-pressure"). Clients with the same subscriptions and ACLs form one
// group: whether a topic passes their filter is decided once per group and
// topic, and the group keeps one log of the shared, pre-encoded frames that
// passed, in which each client only has a cursor. A client's queue is thus
// the part of its group's log it has not written yet (plus its own replies);
// beyond websocketd.queue_size it is closed (1008). What queued for a client
// goes out in one sendmsg; a socket that is full is written again when epoll
// says it drained. Events that come during a pass over many clients join it
// (the clients not written yet get them in the same sendmsg). The thread is
// named ws-fanout.
//
// @code
//   FanoutLoop loop(cfg, host.log(), auth, host.executor(), clients);
//   if (auto s = loop.start(); !s) return s;
//   loop.adopt(ws->impl()->sockfd(), ws, token);  // upgrade handler; `ws` owns the socket
//   loop.publish(std::make_shared<const EventFrame>(EventFrame{topic, event_frame(topic, body)}));
//   loop.stop();
// @endcode
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <dialtone/auth.h>
#include <dialtone/host.h>
#include <dialtone/result.h>

#include "ws_frames.h"

namespace dialtone::plugins::events {

struct StreamConfig {
  std::size_t queue_size = 1024;
  std::chrono::milliseconds ping_interval{30000};
  std::chrono::milliseconds token_check_interval{60000};
  int socket_buffer = 0;
  // Events are written this long after the first of them came, so that the
  // events of one moment (a call's two channels, its answer and bridge) go
  // out in one pass over the clients instead of one pass each (each pass is
  // a sendmsg per client). 0: at once.
  std::chrono::milliseconds batch_delay{5};
};

// An encoded frame, shared by every client it goes to; `topic` is empty for
// a client's own control frames and replies.
struct EventFrame {
  std::string topic;
  std::string bytes;
};
using FramePtr = std::shared_ptr<const EventFrame>;

class FanoutLoop {
 public:
  // `clients` counts the open streams of every loop: adopt()'s caller adds
  // one, the loop takes it back when the stream ends.
  FanoutLoop(StreamConfig cfg, sdk::Logger& log, std::shared_ptr<sdk::Auth> auth, sdk::Executor& executor,
             std::atomic<int>& clients);
  ~FanoutLoop();
  FanoutLoop(const FanoutLoop&) = delete;
  FanoutLoop& operator=(const FanoutLoop&) = delete;

  sdk::Status start();
  // Joins the thread and closes every stream (1001). Idempotent.
  void stop();
  // Any thread: the upgraded connection `fd` of `token` becomes this loop's;
  // `owner` keeps the socket open and closes it when released.
  void adopt(int fd, std::shared_ptr<void> owner, sdk::TokenInfo token);
  // Any thread, never blocks on a socket: the frame goes to every client
  // whose subscriptions and ACLs take its topic.
  void publish(FramePtr frame);

 private:
  struct Inbox;
  struct Conn;
  struct Group;
  struct TokenResult;
  using Clock = std::chrono::steady_clock;

  void run();
  void take_inbox();
  void add(std::unique_ptr<Conn> c);
  void fan_out(const FramePtr& f);
  void on_readable(Conn& c);
  void on_message(Conn& c, ClientMessage& m);
  void on_op(Conn& c, const std::string& text);
  void apply(TokenResult& r);
  void check_token(Conn& c, const std::string& token, bool renewal);
  void scan();
  void flush(Conn& c);
  void consume(Conn& c, std::size_t bytes);
  bool pending(const Conn& c) const;
  std::size_t lag(const Conn& c) const;
  void regroup(Conn& c);
  void leave_group(Conn& c);
  bool wants(Group& g, const std::string& topic);
  void send_own(Conn& c, std::string bytes);
  void close_with(Conn& c, int code, std::string_view reason);
  void kill(Conn& c);
  void mark_dirty(Conn& c);
  void mark_dirty_groups();
  void process_dirty();
  void reap();
  void trim_groups();

  StreamConfig cfg_;
  sdk::Logger& log_;
  std::shared_ptr<sdk::Auth> auth_;
  sdk::Executor& executor_;
  std::atomic<int>& clients_;
  std::shared_ptr<Inbox> inbox_;
  int epoll_ = -1;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> next_id_{1};

  // The loop thread's own state.
  Clock::time_point now_{};
  Clock::time_point next_scan_{};
  Clock::time_point pass_due_{};  // with batch_delay: when the events waiting are written
  std::unordered_map<std::uint64_t, std::unique_ptr<Conn>> conns_;
  std::unordered_map<std::string, std::unique_ptr<Group>> groups_;
  std::vector<Conn*> dirty_;
  std::vector<Group*> dirty_groups_;
  std::vector<Conn*> dead_;
};

}  // namespace dialtone::plugins::events
