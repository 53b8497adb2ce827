// REST helpers shared by the phonebook and personal routes.
#pragma once

#include <dialtone/http.h>

#include <string>
#include <vector>

#include "plugins/directory/common/contact_table.h"

namespace dialtone::plugins::directory {

// Several messages in one Error (ErrorCode::invalid), one per line;
// error_response() returns them as XiVO's list of messages.
sdk::Error import_error(std::vector<std::string> messages);
int http_status(const sdk::Error& e);
sdk::HttpResponse error_response(const sdk::Error& e);

struct ListItem {
  std::string sort_key;
  std::string search_text;
  std::string json;
};
// {"items": [...], "total": N, "filtered": M} after the XiVO list
// parameters (search, order, direction, offset, limit) of `req.list`.
sdk::HttpResponse list_response(std::vector<ListItem> items, const sdk::HttpRequest& req);
// An import's answer: {"created": [contact, ...], "failed": [{"line": n, "errors": [...]}, ...]}.
std::string import_json(const std::vector<Contact>& created,
                        const std::vector<std::pair<std::size_t, std::vector<std::string>>>& failed);
sdk::HttpResponse contacts_list_response(const std::vector<Contact>& contacts, const sdk::HttpRequest& req,
                                         const std::string& default_order);

}  // namespace dialtone::plugins::directory
