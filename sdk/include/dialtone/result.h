// Result values used at every SDK boundary: no exception crosses a plugin's edge.
//
// @code
//   dialtone::sdk::Result<int> parse_port(std::string_view s) {
//     if (s.empty()) return dialtone::sdk::Error::invalid("port is empty");
//     return 5060;
//   }
//   auto r = parse_port("5060");
//   if (!r) log.error(r.error().message); else use(*r);
// @endcode
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace dialtone::sdk {

enum class ErrorCode {
  invalid,       // bad input from a user or a file
  not_found,
  conflict,      // duplicate, or a state that forbids the action
  unavailable,   // a dependency (database, LDAP, peer) cannot be reached
  timeout,
  unauthorized,
  forbidden,
  unsupported,   // the plugin does not implement this (e.g. reload)
  internal,
};

inline const char* to_string(ErrorCode c) {
  switch (c) {
    case ErrorCode::invalid: return "invalid";
    case ErrorCode::not_found: return "not_found";
    case ErrorCode::conflict: return "conflict";
    case ErrorCode::unavailable: return "unavailable";
    case ErrorCode::timeout: return "timeout";
    case ErrorCode::unauthorized: return "unauthorized";
    case ErrorCode::forbidden: return "forbidden";
    case ErrorCode::unsupported: return "unsupported";
    case ErrorCode::internal: return "internal";
  }
  return "internal";
}

struct Error {
  ErrorCode code = ErrorCode::internal;
  std::string message;

  static Error invalid(std::string m) { return {ErrorCode::invalid, std::move(m)}; }
  static Error not_found(std::string m) { return {ErrorCode::not_found, std::move(m)}; }
  static Error conflict(std::string m) { return {ErrorCode::conflict, std::move(m)}; }
  static Error unavailable(std::string m) { return {ErrorCode::unavailable, std::move(m)}; }
  static Error timeout(std::string m) { return {ErrorCode::timeout, std::move(m)}; }
  static Error unsupported(std::string m) { return {ErrorCode::unsupported, std::move(m)}; }
  static Error internal(std::string m) { return {ErrorCode::internal, std::move(m)}; }
};

// A value or an Error. Result<void> (alias Status) carries only success or an Error.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  Result(Error e) : v_(std::in_place_index<1>, std::move(e)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error e) : err_(std::move(e)), ok_(false) {}
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return err_; }

 private:
  Error err_;
  bool ok_ = true;
};

using Status = Result<void>;
inline Status ok() { return {}; }

}  // namespace dialtone::sdk
