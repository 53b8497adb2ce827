// The SIP thread: sofia's event loop, the agent's transports opened and
// closed, and the inbox through which other threads post work to it.
#include "plugins/backend/sip/stack_impl.h"

// Sofia's hook on its clock (su_time.h's su_time() calls it on every reading;
// exported by libsofia-sip-ua, not declared in its headers).
extern "C" void (*_su_time)(su_time_t* tv);

namespace dialtone::plugins::backend::sip {

namespace {
// Sofia's loop waits for its next timer in whole milliseconds rounded down,
// so a timer due in less than 1 ms is waited for with epoll_wait(0), again
// and again until it is due. With every call's transaction timers (hundreds
// of deadlines a second) the SIP thread spun so most of the time it was not
// reading: 375 epoll_wait calls per call at 200 calls/s, nearly all with a
// zero timeout. Read to the next whole millisecond, the clock makes every
// deadline and every wait whole milliseconds: a timer fires up to 1 ms
// early, never in a spin.
void whole_milliseconds(su_time_t* tv) {
  if (!tv) return;
  unsigned long up = (tv->tv_usec + 999) / 1000 * 1000;
  if (up >= 1000000) {
    ++tv->tv_sec;
    up -= 1000000;
  }
  tv->tv_usec = up;
}
}  // namespace

void SipStack::Impl::run(int port) {
  _su_time = &whole_milliseconds;
  su_init();
  std::string err = open(port);
  {
    std::lock_guard<std::mutex> lock(start_mutex);
    start_error = err;
    start_done = true;
  }
  start_cv.notify_all();
  if (err.empty()) su_root_run(root);
  close();
  su_deinit();
}

std::string SipStack::Impl::open(int port) {
  root = su_root_create(nullptr);
  if (!root) return "cannot create the SIP event loop";
  inbox->fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (inbox->fd < 0) return "cannot create an eventfd for the SIP thread";
  su_wait_create(inbox_wait, inbox->fd, SU_WAIT_IN);
  inbox_index = su_root_register(root, inbox_wait, &Impl::on_inbox, this, 0);

  bool udp = std::find(cfg.transports.begin(), cfg.transports.end(), "udp") != cfg.transports.end();
  bool tcp = std::find(cfg.transports.begin(), cfg.transports.end(), "tcp") != cfg.transports.end();
  std::string url = "sip:" + cfg.host + ":" + std::to_string(port);
  if (udp && !tcp) url += ";transport=udp";
  if (tcp && !udp) url += ";transport=tcp";
  agent = nta_agent_create(root, URL_STRING_MAKE(url.c_str()), &Impl::on_stray, this,
                           NTATAG_UA(1), NTATAG_CANCEL_487(1), NTATAG_SERVER_RPORT(cfg.force_rport ? 2 : 1),
                           NTATAG_MAXSIZE(65536),
                           NTATAG_SIP_T1X64(static_cast<unsigned>(cfg.transaction_timeout.count())),
                           // The kernel's default (208 KB, about 90 datagrams) overflows
                           // in 10 ms at 1,500 calls/s whenever the SIP thread is
                           // descheduled; every drop is a retransmission later.
                           TPTAG_UDP_RMEM(kUdpBuffer), TPTAG_UDP_WMEM(kUdpBuffer),
                           // RFC 5626 3.5.1: a phone's double-CRLF ping on TCP/TLS gets
                           // the CRLF pong that tells it its NAT binding is alive
                           // (sofia answers none by default).
                           TPTAG_PONG2PING(1),
                           TAG_IF(!cfg.resolv_conf.empty(), SRESTAG_RESOLV_CONF(cfg.resolv_conf.c_str())),
                           TAG_END());
  if (!agent)
    return "cannot listen on " + url + " (address in use or not local?); set sip.listen";
  open_tls();
  limit_connections(tcp);
  // No default leg: requests outside dialogs go to on_stray (front_door).
  contact = sip_contact_dup(home.get(), nta_agent_contact(agent));
  if (contact && contact->m_url->url_port) bound_port = std::atoi(contact->m_url->url_port);
  else bound_port = port;
  if (udp && !receive_delay.find_sockets(bound_port))
    log.warn("sip: the UDP socket on port " + std::to_string(bound_port) +
             " was not found: sip.max_queue_delay is not applied");
  sweep_timer = su_timer_create(su_root_task(root), 1000);
  // su_timer_set_interval() fires once; su_timer_run() every second.
  su_timer_run(sweep_timer, &Impl::on_sweep, this);
  load_registrations();
  with_trunks([] {});  // loaded now so that trunks are qualified from the start
  return {};
}

void SipStack::Impl::close() {
  inbox->close();
  subscriptions->close();
  mwi->close();
  close_connections();
  for (auto& [_, call] : calls) release(*call);
  calls.clear();
  call_count = 0;
  close_registrations();
  if (sweep_timer) su_timer_destroy(sweep_timer);
  sweep_timer = nullptr;
  drop_requests();
  close_dns();
  if (agent) nta_agent_destroy(agent);
  agent = nullptr;
  if (root && inbox_index >= 0) su_root_deregister(root, inbox_index);
  if (inbox->fd >= 0) ::close(inbox->fd);
  inbox->fd = -1;
  if (root) su_root_destroy(root);
  root = nullptr;
}

int SipStack::Impl::on_inbox(void* magic, su_wait_t* w, void* arg) {
  auto* self = static_cast<Impl*>(arg);
  std::uint64_t n;
  // One read resets the eventfd counter (not a semaphore eventfd).
  ssize_t got = ::read(self->inbox->fd, &n, sizeof n);
  (void)got;
  std::deque<std::function<void()>> tasks;
  {
    std::lock_guard<std::mutex> lock(self->inbox->mutex);
    tasks.swap(self->inbox->tasks);
  }
  for (auto& t : tasks) t();
  return 0;
}

void SipStack::Impl::on_sweep(void* magic, su_timer_t*, void* arg) {
  auto* self = static_cast<Impl*>(arg);
  self->expire_bindings();
  self->bans.expire(std::chrono::steady_clock::now());
  self->sample_transactions();
  self->answered.expire(mono_ms());
  self->report_overload();
  // Sofia keeps each finished transaction with its messages until it ends
  // (64*T1: timers J and M), about 30 KB per call, so 1,000 calls/s hold
  // ~1 GB at peak; once freed, malloc keeps those pages in the SIP thread's
  // arena. Hand them back every minute, and as soon as a burst has ended
  // (the transactions fell to half of their peak, by 1,000 or more).
  std::size_t now_held =
      self->server_transactions + self->client_transactions + self->answered.size();
  self->held_peak = std::max(self->held_peak, now_held);
  bool burst_over = self->held_peak >= now_held + 1000 && now_held <= self->held_peak / 2;
  if (++self->sweeps % 60 == 0 || burst_over) {
    malloc_trim(0);
    self->held_peak = now_held;
  }
  // Probes and deadlines run from the inbox, outside sofia's timer dispatch.
  self->later([self] {
    self->expire_requests();
    self->qualify_tick();
  });
}

void SipStack::Impl::sample_transactions() {
  usize_t irq = 0, orq = 0, legs = 0;
  nta_agent_get_stats(agent, NTATAG_S_IRQ_HASH_USED_REF(irq), NTATAG_S_ORQ_HASH_USED_REF(orq),
                      NTATAG_S_LEG_HASH_USED_REF(legs), TAG_END());
  server_transactions = irq;
  client_transactions = orq;
  dialog_legs = legs;
  ++transaction_samples;
}

}  // namespace dialtone::plugins::backend::sip
