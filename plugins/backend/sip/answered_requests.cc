#include "plugins/backend/sip/answered_requests.h"

namespace dialtone::plugins::backend::sip {

bool AnsweredRequests::begin(std::string key, std::int64_t now_ms) {
  // One hash look-up: entered first, taken back if the key was there.
  entries_.push_back(Entry{std::move(key), now_ms + lifetime_ms_, {}});
  Entry& e = entries_.back();
  if (!index_.emplace(e.key, &e).second) {
    entries_.pop_back();
    return false;
  }
  if (max_entries_ && index_.size() > max_entries_) drop_oldest();
  return true;
}

void AnsweredRequests::answer(std::string_view key, Answer a) {
  auto it = index_.find(key);
  if (it != index_.end()) it->second->answer = std::move(a);
}

const AnsweredRequests::Answer* AnsweredRequests::find(std::string_view key) const {
  auto it = index_.find(key);
  return it == index_.end() ? nullptr : &it->second->answer;
}

void AnsweredRequests::expire(std::int64_t now_ms) {
  while (!entries_.empty() && entries_.front().until_ms <= now_ms) drop_oldest();
  // The index keeps the buckets it once grew to: give them back once empty.
  if (entries_.empty() && index_.bucket_count() > 1024) {
    std::deque<Entry>().swap(entries_);
    decltype(index_)().swap(index_);
  }
}

void AnsweredRequests::drop_oldest() {
  if (entries_.empty()) return;
  index_.erase(entries_.front().key);
  entries_.pop_front();
}

}  // namespace dialtone::plugins::backend::sip
