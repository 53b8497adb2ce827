// In-process publish/subscribe on dotted topics (XiVO's bus topics: call,
// channel, user, presence, config changes...).
//
// @code
//   auto sub = host.bus().subscribe("calls.channel.#", [](const dialtone::sdk::Event& e) {
//     // runs on this subscription's own delivery thread
//     auto id = e.text("id");                      // a field, whichever way it was published
//     auto at = e.number("created_at_ms", -1);
//     forward(e.json());                           // the JSON text, written once if asked
//   });
//   host.bus().publish("config.user.created", R"({"id":42})");      // as JSON text
//   host.bus().publish("hello.greeted", {{"message", "hi"}, {"count", 3}});  // as fields
//   // `sub` unsubscribes when destroyed.
// @endcode
//
// Patterns: `*` matches one segment, `#` zero or more. Each subscription has a
// bounded queue: publish() never blocks; when a subscriber's queue is full the
// event is dropped for that subscriber only, counted and logged.
//
// An event is published either as JSON text (`body`) or as flat fields
// (`fields`: strings, integers, booleans). Readers use text()/number()/flag()
// either way: a JSON body is parsed for them once, on the first read. Who
// needs bytes (a WebSocket, a spool) calls json(): fields are written as one
// JSON object once, on the first call, so events nobody sends out as text
// are never serialised.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace dialtone::sdk {

// One field of an event. `json`: a nested JSON value (object, array, null,
// fraction) kept as its text, for a JSON body read as fields.
struct EventField {
  enum class Type : std::uint8_t { string, integer, boolean, json };
  std::string key;
  Type type = Type::string;
  std::string text;         // string, json
  std::int64_t number = 0;  // integer; 1 or 0 for a boolean

  EventField() = default;
  EventField(std::string k, std::string v) : key(std::move(k)), text(std::move(v)) {}
  EventField(std::string k, const char* v) : key(std::move(k)), text(v) {}
  EventField(std::string k, std::int64_t v) : key(std::move(k)), type(Type::integer), number(v) {}
  EventField(std::string k, int v) : key(std::move(k)), type(Type::integer), number(v) {}
  EventField(std::string k, bool v) : key(std::move(k)), type(Type::boolean), number(v ? 1 : 0) {}
};

namespace detail {
// A value made at most once, by the first thread that asks; copies start empty.
template <typename T>
class Once {
 public:
  Once() = default;
  Once(const Once&) {}
  Once& operator=(const Once&) {
    delete value_.exchange(nullptr);
    return *this;
  }
  ~Once() { delete value_.load(); }
  template <typename Make>
  const T& get(Make make) const {
    if (T* v = value_.load(std::memory_order_acquire)) return *v;
    T* fresh = new T(make());
    T* expected = nullptr;
    if (value_.compare_exchange_strong(expected, fresh, std::memory_order_acq_rel)) return *fresh;
    delete fresh;  // another thread made it first
    return *expected;
  }

 private:
  mutable std::atomic<T*> value_{nullptr};
};
}  // namespace detail

class Event {
 public:
  std::string topic;
  std::string body;                // JSON text as published; empty when published as fields
  std::vector<EventField> fields;  // as published; empty when published as JSON text

  Event() = default;
  Event(std::string t, std::string b) : topic(std::move(t)), body(std::move(b)) {}
  Event(std::string t, std::vector<EventField> f) : topic(std::move(t)), fields(std::move(f)) {}

  // The JSON text: `body`, or the fields as one object, written on the first
  // call. Build the event, then read it: later changes are not seen.
  const std::string& json() const {
    if (fields.empty()) return body;
    return json_.get([this] { return write(fields); });
  }
  // The field `key`, from `fields` or from a JSON object body; null if absent.
  const EventField* field(std::string_view key) const {
    for (auto& f : read()) if (f.key == key) return &f;
    return nullptr;
  }
  // A string field; empty when absent or not a string.
  std::string_view text(std::string_view key) const {
    auto* f = field(key);
    return f && f->type == EventField::Type::string ? std::string_view(f->text) : std::string_view();
  }
  // An integer field; `fallback` when absent or not an integer.
  std::int64_t number(std::string_view key, std::int64_t fallback = 0) const {
    auto* f = field(key);
    return f && f->type == EventField::Type::integer ? f->number : fallback;
  }
  // A boolean field; false when absent or not a boolean.
  bool flag(std::string_view key) const {
    auto* f = field(key);
    return f && f->type == EventField::Type::boolean && f->number != 0;
  }

 private:
  const std::vector<EventField>& read() const {
    if (!fields.empty() || body.empty()) return fields;
    return parsed_.get([this] { return parse(body); });
  }
  static std::string write(const std::vector<EventField>& fields) {
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    w.StartObject();
    for (auto& f : fields) {
      w.Key(f.key.c_str(), static_cast<rapidjson::SizeType>(f.key.size()));
      switch (f.type) {
        case EventField::Type::string: w.String(f.text.c_str(), static_cast<rapidjson::SizeType>(f.text.size())); break;
        case EventField::Type::integer: w.Int64(f.number); break;
        case EventField::Type::boolean: w.Bool(f.number != 0); break;
        case EventField::Type::json:
          w.RawValue(f.text.c_str(), f.text.size(), rapidjson::kObjectType);
          break;
      }
    }
    w.EndObject();
    return std::string(sb.GetString(), sb.GetSize());
  }
  static std::vector<EventField> parse(const std::string& text) {
    std::vector<EventField> out;
    rapidjson::Document d;
    d.Parse(text.c_str(), text.size());
    if (d.HasParseError() || !d.IsObject()) return out;
    out.reserve(d.MemberCount());
    for (auto& m : d.GetObject()) {
      std::string key(m.name.GetString(), m.name.GetStringLength());
      auto& v = m.value;
      if (v.IsString()) out.emplace_back(std::move(key), std::string(v.GetString(), v.GetStringLength()));
      else if (v.IsBool()) out.emplace_back(std::move(key), v.GetBool());
      else if (v.IsInt64()) out.emplace_back(std::move(key), v.GetInt64());
      else {
        rapidjson::StringBuffer sb;
        rapidjson::Writer<rapidjson::StringBuffer> w(sb);
        v.Accept(w);
        EventField f;
        f.key = std::move(key);
        f.type = EventField::Type::json;
        f.text.assign(sb.GetString(), sb.GetSize());
        out.push_back(std::move(f));
      }
    }
    return out;
  }

  detail::Once<std::string> json_;
  detail::Once<std::vector<EventField>> parsed_;
};

using EventHandler = std::function<void(const Event&)>;

struct SubscribeOptions {
  std::size_t queue_capacity = 65536;
  std::string name;  // shown in logs and stats; defaults to the plugin id
  // Runs on the delivery thread after the handler has had every event taken
  // from the queue at once (a burst), before the thread waits for more: a
  // subscriber that writes per event (a file, a socket) gathers the burst
  // in its handler and writes it here once.
  std::function<void()> after_batch = nullptr;
};

class Subscription {
 public:
  virtual ~Subscription() = default;
  virtual std::uint64_t delivered() const = 0;
  virtual std::uint64_t dropped() const = 0;
};

class EventBus {
 public:
  virtual ~EventBus() = default;
  virtual void publish(std::shared_ptr<const Event> event) = 0;
  void publish(std::string topic, std::string body) {
    publish(std::make_shared<const Event>(std::move(topic), std::move(body)));
  }
  void publish(std::string topic, std::vector<EventField> fields) {
    publish(std::make_shared<const Event>(std::move(topic), std::move(fields)));
  }
  void publish(std::string topic, std::initializer_list<EventField> fields) {
    publish(std::move(topic), std::vector<EventField>(fields));
  }
  // Several events in their order, each subscriber woken once for all of
  // them (a publisher that gathers what happened in the last moment).
  virtual void publish_batch(std::vector<std::shared_ptr<const Event>> events) {
    for (auto& e : events) publish(std::move(e));
  }
  virtual std::unique_ptr<Subscription> subscribe(std::string pattern, EventHandler handler,
                                                  SubscribeOptions options = {}) = 0;
};

}  // namespace dialtone::sdk
