// Small JSON texts (error bodies, bus events, one-object answers) written by
// RapidJSON's writer, so a value holding a quote, a backslash or a control
// character can never break the document.
//
// @code
//   using dialtone::sdk::json::object;
//   host_.bus().publish("hello.greeted", object({{"message", text}}));
//   return HttpResponse::json(201, object({{"line_id", lid}, {"device_id", dev}, {"tags", Raw{array(tags)}}}));
//   object({{"note", nullptr}})         // {"note":null}
//   object({{"raw", Raw{"[1,2]"}}})     // a value already in JSON, inserted as is
// @endcode
//
//   json::to_text(doc)                 // a parsed or built rapidjson::Value, written compact
//
// An object or array whose members are known only at run time is a
// std::vector<Member> (or of Value) given to object() (or array()); a member
// that is itself an object or array goes in as Raw{object(...)}:
//
//   std::vector<json::Member> item{{"row_number", n}, {"user_id", id}};
//   if (line) item.emplace_back("line_id", *line);
//   rows.push_back(json::Raw{json::object(item)});
//   json::object({{"created", json::Raw{json::array(rows)}}})
//
// Keys are string_views: what they point at must outlive the call. For large
// documents built in loops, use rapidjson::Writer directly.
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace dialtone::sdk::json {

// A value that is already JSON text (the output of object(), array(), or a
// stored document); written unchanged.
struct Raw {
  std::string text;
};

class Value {
 public:
  Value(std::nullptr_t) : v_(std::monostate{}) {}
  Value(bool b) : v_(b) {}
  template <typename T>
    requires(std::is_integral_v<T> && !std::is_same_v<T, bool>)
  Value(T i) : v_(static_cast<std::int64_t>(i)) {}
  Value(double d) : v_(d) {}
  Value(std::string_view s) : v_(std::string(s)) {}
  Value(const std::string& s) : v_(s) {}
  Value(const char* s) : v_(std::string(s)) {}
  Value(Raw r) : v_(std::move(r)) {}
  // nullopt is written as null.
  Value(const std::optional<std::string>& s) : v_(s ? Storage(*s) : Storage(std::monostate{})) {}

  template <typename W>
  void write(W& w) const {
    std::visit(
        [&w](const auto& x) {
          using X = std::decay_t<decltype(x)>;
          if constexpr (std::is_same_v<X, std::monostate>) w.Null();
          else if constexpr (std::is_same_v<X, bool>) w.Bool(x);
          else if constexpr (std::is_same_v<X, std::int64_t>) w.Int64(x);
          else if constexpr (std::is_same_v<X, double>) w.Double(x);
          else if constexpr (std::is_same_v<X, std::string>)
            w.String(x.data(), static_cast<rapidjson::SizeType>(x.size()));
          else w.RawValue(x.text.data(), x.text.size(), rapidjson::kObjectType);
        },
        v_);
  }

 private:
  using Storage = std::variant<std::monostate, bool, std::int64_t, double, std::string, Raw>;
  Storage v_;
};

using Member = std::pair<std::string_view, Value>;

// {"key":value,...} in the order given.
template <typename Range>
std::string object(const Range& members) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.StartObject();
  for (const auto& [k, v] : members) {
    w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
    v.write(w);
  }
  w.EndObject();
  return {sb.GetString(), sb.GetSize()};
}

inline std::string object(std::initializer_list<Member> members) {
  return object<std::initializer_list<Member>>(members);
}

// [value,...]; a vector of strings gives an array of JSON strings.
template <typename Range>
std::string array(const Range& values) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.StartArray();
  for (const auto& v : values) Value(v).write(w);
  w.EndArray();
  return {sb.GetString(), sb.GetSize()};
}

inline std::string array(std::initializer_list<Value> values) {
  return array<std::initializer_list<Value>>(values);
}

// One JSON string, quotes included: "a\"b".
inline std::string string(std::string_view s) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  return {sb.GetString(), sb.GetSize()};
}

// A parsed or built document (or any value in it) written as compact JSON.
inline std::string to_text(const rapidjson::Value& v) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  v.Accept(w);
  return {sb.GetString(), sb.GetSize()};
}

}  // namespace dialtone::sdk::json
