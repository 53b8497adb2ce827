// Directory sources (LDAP, CSV, phonebook...), the lookup service that fans a
// query out to a profile's sources, and phone views that render results in
// each vendor's format.
//
// @code
//   class CsvSource final : public dialtone::sdk::DirectorySource {
//     std::string_view name() const override { return name_; }
//     std::string_view type() const override { return "csv"; }
//     dialtone::sdk::Result<std::vector<dialtone::sdk::DirectoryEntry>> search(
//         const dialtone::sdk::DirectoryQuery& q) override { ... }
//     ...
//   };
//   host_.services().provide<dialtone::sdk::DirectorySource>("my_csv", source);
//
//   auto lookup = host_.services().find<dialtone::sdk::DirectoryLookup>();
//   auto r = lookup->lookup({.profile = "default", .term = "ali"});
// @endcode
//
// Sources are called from the lookup service's worker threads and may block up
// to the query's deadline; they must be thread-safe. Views are pure functions
// of their input.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dialtone/result.h"

namespace dialtone::sdk {

// One result: the source's columns after `format_columns` were applied.
struct DirectoryEntry {
  std::string source;     // source instance name
  std::string unique_id;  // value of the source's unique_column; empty if none
  std::map<std::string, std::string> fields;

  std::string field(const std::string& name) const {
    auto it = fields.find(name);
    return it == fields.end() ? std::string() : it->second;
  }
};

struct DirectoryQuery {
  std::string term{};       // search term (search) or number (first_match)
  std::string user_uuid{};  // the asking user; personal/favorite sources need it
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
};

class DirectorySource {
 public:
  static constexpr std::string_view kServiceName = "directory.source";
  static constexpr int kServiceVersion = 1;
  virtual ~DirectorySource() = default;

  virtual std::string_view name() const = 0;  // instance name from conf.d
  virtual std::string_view type() const = 0;  // "ldap", "csv", ...
  // Entries whose searched_columns contain the term.
  virtual Result<std::vector<DirectoryEntry>> search(const DirectoryQuery& query) = 0;
  // The first entry whose first_matched_columns equals the number, if any.
  virtual Result<std::optional<DirectoryEntry>> first_match(const DirectoryQuery& query) = 0;
  // Entries by unique id (favorites). Unsupported without a unique_column.
  virtual Result<std::vector<DirectoryEntry>> list(const std::vector<std::string>& unique_ids,
                                                   const DirectoryQuery& query) = 0;
};

// A display column (seed 4.1.1 "displays").
struct DisplayColumn {
  std::string title;
  std::string field;
  std::string type;           // "name", "number", "mobile", "favorite", "personal", ...
  std::string default_value;
};

struct LookupRequest {
  std::string profile = "default";
  std::string term;
  std::string user_uuid;
};

struct LookupResult {
  std::vector<DisplayColumn> columns;
  std::vector<DirectoryEntry> entries;   // ordered by relevance, then name
  std::vector<std::string> failed_sources;  // dropped after error or timeout
};

// One line on a phone: seed 4.1.1 "displays_phone" (one per number field).
struct PhoneEntry {
  std::string name;
  std::string number;
};

// The lookup service (provided by the directory.dird plugin).
class DirectoryLookup {
 public:
  static constexpr std::string_view kServiceName = "directory.lookup";
  static constexpr int kServiceVersion = 1;
  virtual ~DirectoryLookup() = default;

  virtual Result<LookupResult> lookup(const LookupRequest& request) = 0;
  // Lookup rendered through the profile's phone display: one PhoneEntry per number.
  virtual Result<std::vector<PhoneEntry>> phone_lookup(const LookupRequest& request) = 0;
  // First match for a number across the profile's sources (request.term = number).
  virtual Result<std::optional<DirectoryEntry>> reverse(const LookupRequest& request) = 0;
  virtual Result<std::vector<DisplayColumn>> headers(std::string_view profile) = 0;
};

// What a phone asked for: the view pages from `offset`.
struct PhoneViewRequest {
  std::string profile;
  std::string term;      // empty: render the input page
  std::size_t offset = 0;
  std::string self_url;  // absolute URL of this resource without query, for links
  std::string user_uuid;
};

struct PhoneViewPage {
  std::string content_type;  // "text/xml", "text/html"
  std::string body;
};

class PhoneView {
 public:
  static constexpr std::string_view kServiceName = "directory.phone_view";
  static constexpr int kServiceVersion = 1;
  virtual ~PhoneView() = default;

  virtual std::string_view vendor() const = 0;  // "cisco", "yealink", ...
  // The search form (CiscoIPPhoneInput, SnomIPPhoneInput, ...).
  virtual PhoneViewPage render_input(const PhoneViewRequest& request) const = 0;
  // Results from request.offset on, as many as fit the vendor's limits, with a
  // link to the next page when more remain.
  virtual PhoneViewPage render_results(const PhoneViewRequest& request,
                                       const std::vector<PhoneEntry>& entries) const = 0;
};

}  // namespace dialtone::sdk
