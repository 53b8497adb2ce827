#include "plugins/directory/common/rest_util.h"

#include <algorithm>

namespace dialtone::plugins::directory {

sdk::Error import_error(std::vector<std::string> messages) {
  std::string m;
  for (auto& s : messages) m += (m.empty() ? "" : "\n") + s;
  return sdk::Error::invalid(std::move(m));
}

int http_status(const sdk::Error& e) {
  switch (e.code) {
    case sdk::ErrorCode::invalid: return 400;
    case sdk::ErrorCode::not_found: return 404;
    case sdk::ErrorCode::conflict: return 409;
    case sdk::ErrorCode::unauthorized: return 401;
    case sdk::ErrorCode::forbidden: return 403;
    case sdk::ErrorCode::unsupported: return 400;
    case sdk::ErrorCode::timeout: return 504;
    case sdk::ErrorCode::unavailable: return 503;
    default: return 500;
  }
}

sdk::HttpResponse error_response(const sdk::Error& e) {
  std::vector<std::string> messages;
  std::size_t start = 0;
  while (start <= e.message.size()) {
    auto end = e.message.find('\n', start);
    if (end == std::string::npos) end = e.message.size();
    messages.push_back(e.message.substr(start, end - start));
    start = end + 1;
  }
  return sdk::HttpResponse::error(http_status(e), messages);
}

sdk::HttpResponse list_response(std::vector<ListItem> items, const sdk::HttpRequest& req) {
  auto total = items.size();
  if (req.list && !req.list->search.empty()) {
    auto t = fold(req.list->search);
    std::erase_if(items, [&](const ListItem& i) { return fold(i.search_text).find(t) == std::string::npos; });
  }
  for (auto& i : items) i.sort_key = fold(i.sort_key);
  std::stable_sort(items.begin(), items.end(),
                   [](const ListItem& a, const ListItem& b) { return a.sort_key < b.sort_key; });
  if (req.list && req.list->descending) std::reverse(items.begin(), items.end());
  auto filtered = items.size();
  std::size_t from = req.list ? std::min<std::size_t>(static_cast<std::size_t>(req.list->offset), items.size()) : 0;
  std::size_t to = items.size();
  if (req.list && req.list->limit) to = std::min(to, from + static_cast<std::size_t>(*req.list->limit));
  std::vector<sdk::json::Value> page;
  for (auto i = from; i < to; ++i) page.emplace_back(sdk::json::Raw{std::move(items[i].json)});
  return sdk::HttpResponse::json(
      200, sdk::json::object({{"items", sdk::json::Raw{sdk::json::array(page)}}, {"total", total}, {"filtered", filtered}}));
}

std::string import_json(const std::vector<Contact>& created,
                        const std::vector<std::pair<std::size_t, std::vector<std::string>>>& failed) {
  std::vector<sdk::json::Value> made, refused;
  for (auto& c : created) made.emplace_back(sdk::json::Raw{contact_json(c)});
  for (auto& [line, errors] : failed)
    refused.emplace_back(sdk::json::Raw{sdk::json::object({{"line", line}, {"errors", sdk::json::Raw{sdk::json::array(errors)}}})});
  return sdk::json::object({{"created", sdk::json::Raw{sdk::json::array(made)}}, {"failed", sdk::json::Raw{sdk::json::array(refused)}}});
}

sdk::HttpResponse contacts_list_response(const std::vector<Contact>& contacts, const sdk::HttpRequest& req,
                                         const std::string& default_order) {
  auto order = req.list && !req.list->order.empty() ? req.list->order : default_order;
  std::vector<ListItem> items;
  items.reserve(contacts.size());
  for (auto& c : contacts) {
    std::string text;
    for (auto& [_, v] : c.fields) text += v + '\x1f';
    auto it = c.fields.find(order);
    items.push_back({it == c.fields.end() ? std::string() : it->second, std::move(text), contact_json(c)});
  }
  return list_response(std::move(items), req);
}

}  // namespace dialtone::plugins::directory
