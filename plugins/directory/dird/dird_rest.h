// The dird REST API (seed 4.1.1 default_json/headers/favorites views) on the
// "dird" listener, and the favorites kept in PostgreSQL.
#pragma once

#include <dialtone/http.h>
#include <dialtone/store.h>

#include "plugins/directory/dird/lookup_service.h"

namespace dialtone::plugins::directory {

class Favorites {
 public:
  explicit Favorites(sdk::Store& store) : store_(store) {}
  sdk::Status migrate();
  sdk::Status add(const std::string& user, const std::string& source, const std::string& id);
  sdk::Status remove(const std::string& user, const std::string& source, const std::string& id);
  sdk::Result<std::map<std::string, std::vector<std::string>>> of(const std::string& user);

 private:
  sdk::Store& store_;
};

// JSON of one lookup result in the default_json shape.
std::string lookup_json(const sdk::LookupResult& r, std::string_view term, LookupService& svc,
                        const std::map<std::string, std::vector<std::string>>& favorites);

class DirdRest {
 public:
  DirdRest(LookupService& lookup, Favorites* favorites) : lookup_(lookup), favorites_(favorites) {}
  std::vector<sdk::Route> routes();

  sdk::HttpResponse get_lookup(const sdk::HttpRequest& req);
  sdk::HttpResponse get_headers(const sdk::HttpRequest& req);
  sdk::HttpResponse get_reverse(const sdk::HttpRequest& req);
  sdk::HttpResponse get_favorites(const sdk::HttpRequest& req);
  sdk::HttpResponse get_personal(const sdk::HttpRequest& req);
  sdk::HttpResponse put_favorite(const sdk::HttpRequest& req);
  sdk::HttpResponse delete_favorite(const sdk::HttpRequest& req);

 private:
  std::string user_of(const sdk::HttpRequest& req) const;
  std::map<std::string, std::vector<std::string>> favorites_of(const std::string& user);
  LookupService& lookup_;
  Favorites* favorites_;
};

}  // namespace dialtone::plugins::directory
