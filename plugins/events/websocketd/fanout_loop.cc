#include "fanout_loop.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>

#include <fcntl.h>
#include <pthread.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <rapidjson/document.h>

namespace dialtone::plugins::events {

namespace {

constexpr std::size_t kMaxMessage = 65536;           // a client's request is a few bytes of JSON
constexpr auto kScanPeriod = std::chrono::milliseconds(200);  // pings, expiry, silence
constexpr auto kDrainTime = std::chrono::seconds(5);  // after our close frame, for the client's
constexpr int kMaxIov = 512;
// During a pass over many clients, events that came meanwhile join it every
// this many clients: the clients still to write get them in the same
// sendmsg, instead of every client waiting for the whole pass to start a
// new one (a pass over 1,000 loopback clients is about 10 ms of CPU, far
// more in wall time on a busy host).
constexpr std::size_t kInboxEvery = 64;

FramePtr control(std::string bytes) { return std::make_shared<const EventFrame>(EventFrame{{}, std::move(bytes)}); }

}  // namespace

struct FanoutLoop::TokenResult {
  std::uint64_t conn = 0;
  std::string token;
  bool renewal = false;
  bool ok = false;
  sdk::ErrorCode code = sdk::ErrorCode::internal;
  sdk::TokenInfo info;
};

// What other threads hand the loop. Shared with the executor's token checks,
// which may finish after the loop has gone.
struct FanoutLoop::Inbox {
  std::mutex m;
  int wake_fd = -1;
  bool closed = false;
  bool signalled = false;
  std::vector<FramePtr> events;
  std::vector<std::unique_ptr<Conn>> conns;
  std::vector<TokenResult> tokens;
  ~Inbox() {
    if (wake_fd >= 0) ::close(wake_fd);
  }
  // With `m` held: one eventfd write per batch, not per event.
  void wake() {
    if (signalled) return;
    signalled = true;
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd, &one, sizeof one);
  }
};

struct FanoutLoop::Group {
  std::string key;
  std::vector<std::string> subs;
  sdk::TokenInfo acl;  // the members' ACLs (and auth id, for `me`)
  std::unordered_map<std::string, bool> wants;
  std::deque<FramePtr> log;  // frames that passed, from sequence number `base`
  std::uint64_t base = 0;
  std::vector<Conn*> members;
  bool dirty = false;
  std::uint64_t head() const { return base + log.size(); }
};

struct FanoutLoop::Conn {
  std::uint64_t id = 0;
  std::shared_ptr<void> owner;  // keeps the socket open
  int fd = -1;
  sdk::TokenInfo token;
  std::set<std::string> subs;
  Group* group = nullptr;
  std::size_t member_index = 0;
  std::uint64_t cursor = 0;   // next frame of the group's log to write
  std::deque<FramePtr> own;   // replies, pings, and events carried over from a former group
  FramePtr partial;           // a frame written in part, finished before anything else
  std::size_t partial_off = 0;
  ClientFrameReader reader{kMaxMessage};
  enum class State { open, closing, draining, dead } state = State::open;
  bool writable = true, dirty = false, check_pending = false;
  Clock::time_point last_heard{}, stalled_since{}, next_ping{}, next_check{}, drain_until{};
};

FanoutLoop::FanoutLoop(StreamConfig cfg, sdk::Logger& log, std::shared_ptr<sdk::Auth> auth, sdk::Executor& executor,
                       std::atomic<int>& clients)
    : cfg_(cfg), log_(log), auth_(std::move(auth)), executor_(executor), clients_(clients),
      inbox_(std::make_shared<Inbox>()) {}

FanoutLoop::~FanoutLoop() { stop(); }

sdk::Status FanoutLoop::start() {
  inbox_->wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (inbox_->wake_fd < 0 || epoll_ < 0)
    return sdk::Error::invalid(std::string("events.websocketd: cannot create its event loop: ") + std::strerror(errno));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;
  ::epoll_ctl(epoll_, EPOLL_CTL_ADD, inbox_->wake_fd, &ev);
  thread_ = std::thread([this] { run(); });
  pthread_setname_np(thread_.native_handle(), "ws-fanout");  // top -H, perf: the stream's CPU
  return {};
}

void FanoutLoop::stop() {
  if (thread_.joinable()) {
    stopping_ = true;
    {
      std::lock_guard l(inbox_->m);
      inbox_->signalled = false;
      inbox_->wake();
    }
    thread_.join();
  }
  std::vector<std::unique_ptr<Conn>> late;
  {
    std::lock_guard l(inbox_->m);
    inbox_->closed = true;
    late.swap(inbox_->conns);
  }
  auto bye = close_frame(1001, "server stopping");
  for (auto& [id, c] : conns_) {
    if (c->state == Conn::State::open) ::send(c->fd, bye.data(), bye.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  }
  clients_ -= static_cast<int>(conns_.size() + late.size());
  conns_.clear();
  groups_.clear();
  if (epoll_ >= 0) ::close(epoll_);
  epoll_ = -1;
}

void FanoutLoop::adopt(int fd, std::shared_ptr<void> owner, sdk::TokenInfo token) {
  auto c = std::make_unique<Conn>();
  c->id = next_id_++;
  c->fd = fd;
  c->owner = std::move(owner);
  c->token = std::move(token);
  // Frames are batched here, so Nagle would only add delay (up to a delayed ACK).
  int one = 1;
  ::setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (cfg_.socket_buffer > 0) ::setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &cfg_.socket_buffer, sizeof cfg_.socket_buffer);
  ::fcntl(c->fd, F_SETFL, ::fcntl(c->fd, F_GETFL) | O_NONBLOCK);
  std::lock_guard l(inbox_->m);
  if (inbox_->closed) {
    --clients_;
    return;
  }
  inbox_->conns.push_back(std::move(c));
  inbox_->wake();
}

void FanoutLoop::publish(FramePtr frame) {
  std::lock_guard l(inbox_->m);
  if (inbox_->closed) return;
  inbox_->events.push_back(std::move(frame));
  inbox_->wake();
}

void FanoutLoop::run() {
  epoll_event evs[256];
  now_ = Clock::now();
  next_scan_ = now_ + kScanPeriod;
  while (!stopping_) {
    auto wake_at = pass_due_ != Clock::time_point{} ? std::min(next_scan_, pass_due_) : next_scan_;
    auto wait_ms = std::chrono::ceil<std::chrono::milliseconds>(wake_at - Clock::now()).count();
    int n = ::epoll_wait(epoll_, evs, 256, static_cast<int>(std::max<long long>(0, wait_ms)));
    now_ = Clock::now();
    for (int i = 0; i < n; ++i) {
      auto* c = static_cast<Conn*>(evs[i].data.ptr);
      if (!c) {
        std::uint64_t v;
        [[maybe_unused]] auto r = ::read(inbox_->wake_fd, &v, sizeof v);
        continue;
      }
      if (c->state == Conn::State::dead) continue;
      if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) on_readable(*c);
      if ((evs[i].events & EPOLLOUT) && c->state != Conn::State::dead) {
        c->writable = true;
        mark_dirty(*c);
      }
    }
    take_inbox();
    if (now_ >= next_scan_) {
      scan();
      next_scan_ = now_ + kScanPeriod;
    }
    if (!dirty_groups_.empty() && cfg_.batch_delay.count() > 0) {
      // The first events since the last pass: wait for those that follow.
      if (pass_due_ == Clock::time_point{}) pass_due_ = now_ + cfg_.batch_delay;
      if (now_ >= pass_due_) pass_due_ = {};
    }
    if (pass_due_ == Clock::time_point{}) mark_dirty_groups();
    process_dirty();
    reap();
    trim_groups();
  }
}

void FanoutLoop::take_inbox() {
  std::vector<FramePtr> events;
  std::vector<std::unique_ptr<Conn>> conns;
  std::vector<TokenResult> tokens;
  {
    std::lock_guard l(inbox_->m);
    events.swap(inbox_->events);
    conns.swap(inbox_->conns);
    tokens.swap(inbox_->tokens);
    inbox_->signalled = false;
  }
  for (auto& c : conns) add(std::move(c));
  for (auto& f : events) fan_out(f);
  for (auto& t : tokens) apply(t);
}

void FanoutLoop::add(std::unique_ptr<Conn> c) {
  c->last_heard = now_;
  c->next_ping = now_ + cfg_.ping_interval;
  c->next_check = now_ + cfg_.token_check_interval;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.ptr = c.get();
  if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
    log_.warn(std::string("events.websocketd: client ") + c->token.username + " dropped: " + std::strerror(errno));
    --clients_;
    return;
  }
  auto id = c->id;
  conns_.emplace(id, std::move(c));
}

void FanoutLoop::fan_out(const FramePtr& f) {
  for (auto& [key, g] : groups_) {
    if (!wants(*g, f->topic)) continue;
    g->log.push_back(f);
    if (!g->dirty) {
      g->dirty = true;
      dirty_groups_.push_back(g.get());
    }
  }
}

bool FanoutLoop::wants(Group& g, const std::string& topic) {
  auto it = g.wants.find(topic);
  if (it != g.wants.end()) return it->second;
  if (g.wants.size() >= 4096) g.wants.clear();  // topics named after lines or trunks are many
  bool wanted = false;
  for (auto& s : g.subs)
    if (topic_matches(s, topic)) {
      wanted = true;
      break;
    }
  wanted = wanted && auth_->acl_allows(g.acl, "events." + topic);
  g.wants.emplace(topic, wanted);
  return wanted;
}

void FanoutLoop::on_readable(Conn& c) {
  char buf[16384];
  std::vector<ClientMessage> msgs;
  for (;;) {
    ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
    if (n > 0) {
      c.last_heard = now_;
      if (c.state != Conn::State::open && c.state != Conn::State::closing) continue;
      msgs.clear();
      auto st = c.reader.feed(buf, static_cast<std::size_t>(n), msgs);
      for (auto& m : msgs) {
        on_message(c, m);
        if (c.state == Conn::State::dead) return;
      }
      if (st != ClientFrameReader::Status::ok && c.state == Conn::State::open) {
        if (st == ClientFrameReader::Status::too_big)
          close_with(c, 1009, "message too big: requests are small JSON objects");
        else
          close_with(c, 1002, "protocol error: frames from a client are masked and well formed");
      }
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    kill(c);  // the client closed, or the connection broke
    return;
  }
}

void FanoutLoop::on_message(Conn& c, ClientMessage& m) {
  switch (m.opcode) {
    case kPing:
      if (c.state == Conn::State::open) send_own(c, server_frame(kPong, m.payload));
      return;
    case kClose: {
      if (c.state != Conn::State::open) return kill(c);  // the answer to our close
      int code = m.payload.size() >= 2
                     ? (static_cast<unsigned char>(m.payload[0]) << 8) | static_cast<unsigned char>(m.payload[1])
                     : 1000;
      return close_with(c, code, "");
    }
    case kText:
      if (c.state == Conn::State::open) on_op(c, m.payload);
      return;
    default:
      return;  // pongs only say the client is there; binary means nothing here
  }
}

void FanoutLoop::on_op(Conn& c, const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str(), text.size());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("op") || !d["op"].IsString())
    return send_own(c, reply_frame("error", 400,
                                   "expected {\"op\": \"subscribe\"|\"unsubscribe\"|\"token\"|\"heartbeat\", ...}"));
  std::string op = d["op"].GetString();
  if (op == "heartbeat") return send_own(c, reply_frame("heartbeat", 0));
  const rapidjson::Value* data = d.HasMember("data") && d["data"].IsObject() ? &d["data"] : nullptr;
  if (op == "token") {
    if (!data || !data->HasMember("token") || !(*data)["token"].IsString())
      return send_own(c, reply_frame("token", 400, "expected {\"op\": \"token\", \"data\": {\"token\": \"...\"}}"));
    return check_token(c, (*data)["token"].GetString(), true);
  }
  std::string name;
  if (data && data->HasMember("event_name") && (*data)["event_name"].IsString()) name = (*data)["event_name"].GetString();
  if ((op != "subscribe" && op != "unsubscribe") || name.empty())
    return send_own(c, reply_frame(op == "subscribe" || op == "unsubscribe" ? op : "error", 400,
                                   "expected {\"op\": \"subscribe\"|\"unsubscribe\", \"data\": {\"event_name\": \"...\"}}"));
  if (op == "subscribe")
    c.subs.insert(name);
  else
    c.subs.erase(name);
  regroup(c);
  send_own(c, reply_frame(op, 0));
}

// The auth service may ask the database: never on this thread.
void FanoutLoop::check_token(Conn& c, const std::string& token, bool renewal) {
  std::weak_ptr<Inbox> inbox = inbox_;
  executor_.post([inbox, auth = auth_, id = c.id, token, renewal] {
    TokenResult r;
    r.conn = id;
    r.token = token;
    r.renewal = renewal;
    auto t = auth->check(token, "");
    r.ok = static_cast<bool>(t);
    if (t)
      r.info = *t;
    else
      r.code = t.error().code;
    auto in = inbox.lock();
    if (!in) return;
    std::lock_guard l(in->m);
    if (in->closed) return;
    in->tokens.push_back(std::move(r));
    in->wake();
  });
}

void FanoutLoop::apply(TokenResult& r) {
  auto it = conns_.find(r.conn);
  if (it == conns_.end()) return;
  Conn& c = *it->second;
  if (r.renewal) {
    if (c.state != Conn::State::open) return;
    if (!r.ok) return send_own(c, reply_frame("token", 401, "invalid or expired token; the current one stays"));
    c.token = std::move(r.info);  // its expiry and ACLs apply from now on
    regroup(c);
    return send_own(c, reply_frame("token", 0));
  }
  c.check_pending = false;
  if (c.state != Conn::State::open || c.token.token != r.token) return;
  if (r.ok || r.code == sdk::ErrorCode::unavailable) return;  // the store down revokes nothing
  log_.info("events.websocketd: client " + c.token.username + " closed: its token was revoked");
  close_with(c, 4001, "token revoked or expired: connect again with a new token");
}

void FanoutLoop::scan() {
  const auto silent_limit = 2 * cfg_.ping_interval + std::chrono::seconds(1);
  const auto wall = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  for (auto& [id, cp] : conns_) {
    Conn& c = *cp;
    if (c.state == Conn::State::dead) continue;
    if (c.state == Conn::State::draining) {
      if (now_ >= c.drain_until) kill(c);
      continue;
    }
    if (now_ - c.last_heard > silent_limit) {
      log_.info("events.websocketd: client " + c.token.username +
                " closed: it answered no ping for two ping intervals");
      kill(c);
      continue;
    }
    if (c.stalled_since != Clock::time_point{} && now_ - c.stalled_since > silent_limit) {
      log_.info("events.websocketd: client " + c.token.username + " closed: it read nothing for two ping intervals");
      kill(c);
      continue;
    }
    if (!c.writable && pending(c)) {
      c.writable = true;  // should an edge have been missed, a try costs one EAGAIN
      mark_dirty(c);
    }
    if (c.state != Conn::State::open) continue;
    if (c.token.expires_at > 0 && wall >= c.token.expires_at) {
      log_.info("events.websocketd: client " + c.token.username + " closed: its token expired");
      close_with(c, 4001, "token expired: connect again with a new token, or renew it with {\"op\": \"token\"}");
      continue;
    }
    if (now_ >= c.next_ping) {
      send_own(c, server_frame(kPing, ""));
      c.next_ping = now_ + cfg_.ping_interval;
    }
    if (now_ >= c.next_check && !c.check_pending) {
      c.check_pending = true;
      c.next_check = now_ + cfg_.token_check_interval;
      check_token(c, c.token.token, false);
    }
  }
}

bool FanoutLoop::pending(const Conn& c) const {
  return c.partial || !c.own.empty() || (c.group && c.cursor < c.group->head());
}

std::size_t FanoutLoop::lag(const Conn& c) const {
  return c.own.size() + (c.group ? static_cast<std::size_t>(c.group->head() - c.cursor) : 0);
}

void FanoutLoop::flush(Conn& c) {
  iovec iov[kMaxIov];
  for (;;) {
    int n = 0;
    std::size_t total = 0;
    auto add = [&](const char* p, std::size_t len) {
      iov[n].iov_base = const_cast<char*>(p);
      iov[n].iov_len = len;
      ++n;
      total += len;
    };
    if (c.partial) add(c.partial->bytes.data() + c.partial_off, c.partial->bytes.size() - c.partial_off);
    for (auto& f : c.own) {
      if (n == kMaxIov) break;
      add(f->bytes.data(), f->bytes.size());
    }
    if (c.group) {
      for (auto i = c.cursor; i < c.group->head() && n < kMaxIov; ++i) {
        auto& f = c.group->log[static_cast<std::size_t>(i - c.group->base)];
        add(f->bytes.data(), f->bytes.size());
      }
    }
    if (n == 0) {
      c.stalled_since = {};
      return;
    }
    msghdr mh{};
    mh.msg_iov = iov;
    mh.msg_iovlen = static_cast<std::size_t>(n);
    ssize_t w = ::sendmsg(c.fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        c.writable = false;
        if (c.stalled_since == Clock::time_point{}) c.stalled_since = now_;
        return;
      }
      return kill(c);  // the client is gone
    }
    consume(c, static_cast<std::size_t>(w));
    if (static_cast<std::size_t>(w) < total) {  // the socket is full: epoll says when it drained
      c.writable = false;
      c.stalled_since = now_;
      return;
    }
  }
}

void FanoutLoop::consume(Conn& c, std::size_t left) {
  // Whole frames leave their queue; a frame cut short becomes `partial`.
  auto take = [&](const FramePtr& f, std::size_t off) -> bool {
    std::size_t size = f->bytes.size() - off;
    if (left >= size) {
      left -= size;
      return true;
    }
    if (left == 0) return false;
    c.partial = f;
    c.partial_off = off + left;
    left = 0;
    return true;
  };
  if (c.partial) {
    FramePtr p = c.partial;
    c.partial.reset();
    std::size_t off = c.partial_off;
    c.partial_off = 0;
    if (!take(p, off)) {
      c.partial = p;
      c.partial_off = off;
      return;
    }
  }
  while (!c.own.empty() && left > 0) {
    FramePtr f = c.own.front();
    if (!take(f, 0)) return;
    c.own.pop_front();
  }
  if (c.group) {
    while (c.cursor < c.group->head() && left > 0) {
      if (!take(c.group->log[static_cast<std::size_t>(c.cursor - c.group->base)], 0)) return;
      ++c.cursor;
    }
  }
}

void FanoutLoop::regroup(Conn& c) {
  std::string key;
  if (!c.subs.empty()) {
    for (auto& s : c.subs) key += s + '\x1f';
    key += '\x1e';
    bool me = false;
    for (auto& a : c.token.acls) {
      key += a + '\x1f';
      me = me || a.find("me") != std::string::npos;
    }
    if (me) key += '\x1e' + c.token.auth_id;
  }
  if (c.group && c.group->key == key) return;
  if (c.group) {
    // What the former filter let through is still owed, in order.
    for (auto i = c.cursor; i < c.group->head(); ++i)
      c.own.push_back(c.group->log[static_cast<std::size_t>(i - c.group->base)]);
    leave_group(c);
  }
  if (key.empty()) return;
  auto& g = groups_[key];
  if (!g) {
    g = std::make_unique<Group>();
    g->key = key;
    g->subs.assign(c.subs.begin(), c.subs.end());
    g->acl.acls = c.token.acls;
    g->acl.auth_id = c.token.auth_id;
  }
  c.group = g.get();
  c.member_index = g->members.size();
  g->members.push_back(&c);
  c.cursor = g->head();
}

void FanoutLoop::leave_group(Conn& c) {
  if (!c.group) return;
  auto& m = c.group->members;
  m[c.member_index] = m.back();
  m[c.member_index]->member_index = c.member_index;
  m.pop_back();
  c.group = nullptr;
  c.cursor = 0;
}

void FanoutLoop::send_own(Conn& c, std::string bytes) {
  c.own.push_back(control(std::move(bytes)));
  mark_dirty(c);
}

void FanoutLoop::close_with(Conn& c, int code, std::string_view reason) {
  leave_group(c);
  c.own.clear();  // what was queued is dropped; a frame begun is finished
  c.own.push_back(control(close_frame(code, reason)));
  c.state = Conn::State::closing;
  mark_dirty(c);
}

void FanoutLoop::kill(Conn& c) {
  if (c.state == Conn::State::dead) return;
  c.state = Conn::State::dead;
  leave_group(c);
  dead_.push_back(&c);
}

void FanoutLoop::mark_dirty(Conn& c) {
  if (c.dirty) return;
  c.dirty = true;
  dirty_.push_back(&c);
}

void FanoutLoop::mark_dirty_groups() {
  for (auto* g : dirty_groups_) {
    g->dirty = false;
    for (auto* m : g->members) mark_dirty(*m);
  }
  dirty_groups_.clear();
}

void FanoutLoop::process_dirty() {
  for (std::size_t i = 0; i < dirty_.size(); ++i) {
    if (i > 0 && i % kInboxEvery == 0) {
      // Clients written already in this pass are marked again, at the end.
      take_inbox();
      mark_dirty_groups();
    }
    Conn& c = *dirty_[i];
    c.dirty = false;
    if (c.state == Conn::State::dead) continue;
    if (c.writable) flush(c);
    if (c.state == Conn::State::open && lag(c) > cfg_.queue_size) {
      // Said when it happens: the close frame itself waits until the client
      // reads what its socket already holds.
      log_.warn("events.websocketd: client " + c.token.username +
                " closed: it read slower than events came (more than " + std::to_string(cfg_.queue_size) +
                " queued; raise websocketd.queue_size if legitimate)");
      close_with(c, 1008, "client too slow: event queue overflowed");  // flushed when its turn comes again
    }
    if (c.state == Conn::State::closing && !pending(c)) {
      ::shutdown(c.fd, SHUT_WR);
      c.state = Conn::State::draining;
      c.drain_until = now_ + kDrainTime;
    }
  }
  dirty_.clear();
}

void FanoutLoop::reap() {
  for (auto* c : dead_) {
    conns_.erase(c->id);  // closes the socket
    --clients_;
  }
  dead_.clear();
}

void FanoutLoop::trim_groups() {
  for (auto it = groups_.begin(); it != groups_.end();) {
    Group& g = *it->second;
    if (g.members.empty()) {
      it = groups_.erase(it);
      continue;
    }
    if (!g.log.empty()) {
      std::uint64_t low = g.head();
      for (auto* m : g.members) low = std::min(low, m->cursor);
      while (g.base < low) {
        g.log.pop_front();
        ++g.base;
      }
    }
    ++it;
  }
}

}  // namespace dialtone::plugins::events
