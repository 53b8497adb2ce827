// What a finished server transaction must remember, for requests answered
// without one (REGISTER, and the 401/407 challenges): RFC 3261 17.2.2 keeps a non-INVITE transaction for
// timer J (64*T1, 32 s over UDP) to answer retransmissions with the same
// response. Sofia keeps the whole request and response for that (about 10 KB
// per request); this table keeps the transaction's key and the few fields
// that rebuild the answer (about 250 bytes), so a burst of 60,000
// registrations costs megabytes, not a gigabyte, and nothing once timer J
// has run out.
//
// A key is entered when the request is taken (answer() not yet called: its
// retransmissions are dropped while the credentials are looked up) and
// forgotten `lifetime` later, oldest first; past `max_entries` the oldest go
// early (a retransmission then only finds the nonce already used, and is
// dropped as before).
//
// Every new request is looked up here before anything else, so the index is
// an open-addressing table of (key hash, entry) pairs: a look-up reads one
// slot, and a key is compared only when its hash matches (a node-based
// unordered_map cost 3-6 % of the SIP thread in a REGISTER burst, walking
// its nodes through cache misses).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace dialtone::plugins::backend::sip {

class AnsweredRequests {
 public:
  struct Answer {
    int status = 0;       // 0: still being answered
    std::string phrase;   // empty: the status's usual phrase
    std::string headers;  // "Name: value" lines joined by CRLF, as sent
  };

  AnsweredRequests(std::int64_t lifetime_ms, std::size_t max_entries)
      : lifetime_ms_(lifetime_ms), max_entries_(max_entries) {}

  // Takes `key` at `now_ms`; false when it is already there (a retransmission).
  bool begin(std::string key, std::int64_t now_ms);
  // The final answer to the request taken under `key` (ignored if forgotten).
  void answer(std::string_view key, Answer a);
  // The request under `key`, or null for a new one.
  const Answer* find(std::string_view key) const;
  // Forgets what is older than the lifetime.
  void expire(std::int64_t now_ms);

  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::string key;
    std::int64_t until_ms = 0;
    Answer answer;
  };
  struct Slot {
    std::uint64_t hash = 0;
    Entry* entry = nullptr;  // null: free
  };
  static std::uint64_t hash_of(std::string_view key);
  // The slot holding `key`, or the free slot where it would go.
  std::size_t slot_of(std::string_view key, std::uint64_t hash) const;
  void erase_slot(std::size_t i);
  void grow();
  void drop_oldest();

  std::int64_t lifetime_ms_;
  std::size_t max_entries_;
  // Oldest first; a deque's elements stay where they are when either end
  // changes, so the index points into it.
  std::deque<Entry> entries_;
  // Linear probing, a power of two long, at most half full; erased with
  // backward shifting (no tombstones).
  std::vector<Slot> index_;
};

}  // namespace dialtone::plugins::backend::sip
