#include "plugins/backend/sip/answered_requests.h"

#include <functional>

namespace dialtone::plugins::backend::sip {

namespace {
constexpr std::size_t kFirstSlots = 1024;
}

std::uint64_t AnsweredRequests::hash_of(std::string_view key) {
  return std::hash<std::string_view>{}(key);
}

std::size_t AnsweredRequests::slot_of(std::string_view key, std::uint64_t hash) const {
  std::size_t mask = index_.size() - 1;
  for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
    const Slot& s = index_[i];
    if (!s.entry || (s.hash == hash && s.entry->key == key)) return i;
  }
}

bool AnsweredRequests::begin(std::string key, std::int64_t now_ms) {
  if (index_.empty()) index_.resize(kFirstSlots);
  std::uint64_t hash = hash_of(key);
  std::size_t i = slot_of(key, hash);
  if (index_[i].entry) return false;  // a retransmission
  entries_.push_back(Entry{std::move(key), now_ms + lifetime_ms_, {}});
  index_[i] = {hash, &entries_.back()};
  if (entries_.size() * 2 > index_.size()) grow();
  if (max_entries_ && entries_.size() > max_entries_) drop_oldest();
  return true;
}

void AnsweredRequests::answer(std::string_view key, Answer a) {
  if (index_.empty()) return;
  std::size_t i = slot_of(key, hash_of(key));
  if (index_[i].entry) index_[i].entry->answer = std::move(a);
}

const AnsweredRequests::Answer* AnsweredRequests::find(std::string_view key) const {
  if (index_.empty()) return nullptr;
  std::size_t i = slot_of(key, hash_of(key));
  return index_[i].entry ? &index_[i].entry->answer : nullptr;
}

void AnsweredRequests::expire(std::int64_t now_ms) {
  while (!entries_.empty() && entries_.front().until_ms <= now_ms) drop_oldest();
  // Give back what a burst grew once it is over.
  if (entries_.empty() && index_.size() > kFirstSlots) {
    std::deque<Entry>().swap(entries_);
    std::vector<Slot>().swap(index_);
  }
}

void AnsweredRequests::grow() {
  std::vector<Slot> old(index_.size() * 2);
  old.swap(index_);
  std::size_t mask = index_.size() - 1;
  for (const Slot& s : old) {
    if (!s.entry) continue;
    std::size_t i = s.hash & mask;
    while (index_[i].entry) i = (i + 1) & mask;
    index_[i] = s;
  }
}

void AnsweredRequests::erase_slot(std::size_t i) {
  // Backward shift: later slots of the same run move up so that every key
  // stays reachable from its home slot without passing a free one.
  std::size_t mask = index_.size() - 1;
  std::size_t hole = i;
  for (std::size_t j = (i + 1) & mask; index_[j].entry; j = (j + 1) & mask) {
    std::size_t home = index_[j].hash & mask;
    // Movable when its home is not in (hole, j] (cyclically).
    bool between = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (between) continue;
    index_[hole] = index_[j];
    hole = j;
  }
  index_[hole] = {};
}

void AnsweredRequests::drop_oldest() {
  if (entries_.empty()) return;
  const Entry& e = entries_.front();
  erase_slot(slot_of(e.key, hash_of(e.key)));
  entries_.pop_front();
}

}  // namespace dialtone::plugins::backend::sip
