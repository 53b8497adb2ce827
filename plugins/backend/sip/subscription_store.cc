// Subscriptions kept in the store (sip_subscriptions): saved when a
// SUBSCRIBE is accepted or refreshed, removed when the subscription ends.
// What a stop leaves behind is read back at the next start, and each of
// those phones is told to subscribe again (SipStack::deactivate), so BLF
// keys and MWI lamps follow again at once instead of after their refresh.
#include <cstdlib>
#include <ctime>

#include "plugins/backend/sip/sip_plugin.h"

namespace dialtone::plugins::backend::sip {

std::vector<SavedSubscription> SipPlugin::take_saved_subscriptions() {
  std::vector<SavedSubscription> out;
  auto* store = host_.store();
  if (!store) return out;
  auto r = store->exec(
      "DELETE FROM sip_subscriptions WHERE node = $1 RETURNING call_id, local_tag, local_uri, remote, target, "
      "route, event, line, extract(epoch FROM expires_at)::bigint",
      {node_});
  if (!r) {
    host_.log().warn("sip: subscriptions of the last run not read: " + r.error().message);
    return out;
  }
  const auto now = static_cast<std::int64_t>(::time(nullptr));
  for (auto& row : r->rows) {
    auto text = [&](std::size_t i) { return row.size() > i && row[i] ? *row[i] : std::string(); };
    SavedSubscription s{text(0), text(1), text(2), text(3), text(4), text(5), text(6), text(7), 0};
    s.expires_at = std::atoll(text(8).c_str());
    if (s.expires_at > now && !s.target.empty()) out.push_back(std::move(s));
  }
  return out;
}

void SipPlugin::subscription_saved(const SavedSubscription& saved) {
  queue_subscription_write(SubscriptionWrite::save, saved);
}

// The SIP thread keeps only a subscription's key after its start (the rest
// of the dialog is in its row): a refresh moves the row's expiry.
void SipPlugin::subscription_refreshed(const std::string& call_id, const std::string& local_tag,
                                       std::int64_t expires_at) {
  SavedSubscription refreshed;
  refreshed.call_id = call_id;
  refreshed.local_tag = local_tag;
  refreshed.expires_at = expires_at;
  queue_subscription_write(SubscriptionWrite::refresh, std::move(refreshed));
}

void SipPlugin::subscription_gone(const std::string& call_id, const std::string& local_tag) {
  SavedSubscription gone;
  gone.call_id = call_id;
  gone.local_tag = local_tag;
  queue_subscription_write(SubscriptionWrite::gone, std::move(gone));
}

void SipPlugin::queue_subscription_write(SubscriptionWrite write, SavedSubscription sub) {
  if (!host_.store()) return;
  bool flush = false;
  {
    std::lock_guard<std::mutex> lock(subscription_writes_->mutex);
    subscription_writes_->pending.emplace_back(write, std::move(sub));
    if (!subscription_writes_->in_flight && !subscription_writes_->stopped) {
      subscription_writes_->in_flight = true;
      flush = true;
    }
  }
  if (flush) flush_subscriptions();
}

// One transaction per batch on an executor thread, in the order the SIP
// thread reported them; the SIP thread never waits for PostgreSQL.
void SipPlugin::flush_subscriptions() {
  auto writes = subscription_writes_;
  auto* store = host_.store();
  sdk::Logger* log = &host_.log();
  std::string node = node_;
  host_.executor().post([writes, store, log, node] {
    while (true) {
      decltype(writes->pending) batch;
      {
        std::lock_guard<std::mutex> lock(writes->mutex);
        batch.swap(writes->pending);
        if (batch.empty() || writes->stopped) {
          writes->in_flight = false;
          return;
        }
      }
      auto s = store->transaction([&](sdk::Transaction& tx) -> sdk::Status {
        using Write = SubscriptionWrite;
        for (auto& [write, sub] : batch) {
          auto r = write == Write::save
                       ? tx.exec("INSERT INTO sip_subscriptions (call_id, local_tag, node, local_uri, remote, target, "
                                  "route, event, line, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
                                  "to_timestamp($10::bigint)) ON CONFLICT (call_id, local_tag) DO UPDATE SET "
                                  "node = EXCLUDED.node, target = EXCLUDED.target, expires_at = EXCLUDED.expires_at",
                                  {sub.call_id, sub.local_tag, node, sub.local_uri, sub.remote, sub.target, sub.route,
                                   sub.event, sub.line, std::to_string(sub.expires_at)})
                   : write == Write::refresh
                       ? tx.exec("UPDATE sip_subscriptions SET node = $3, expires_at = to_timestamp($4::bigint) "
                                 "WHERE call_id = $1 AND local_tag = $2",
                                 {sub.call_id, sub.local_tag, node, std::to_string(sub.expires_at)})
                       : tx.exec("DELETE FROM sip_subscriptions WHERE call_id = $1 AND local_tag = $2",
                                 {sub.call_id, sub.local_tag});
          if (!r) return r.error();
        }
        return {};
      });
      if (!s) log->error("sip: could not save subscriptions: " + s.error().message);
    }
  });
}

}  // namespace dialtone::plugins::backend::sip
