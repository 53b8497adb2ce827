#include "plugins/directory/csv_ws/csv_ws_source.h"

#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

#include <algorithm>
#include <memory>

namespace dialtone::plugins::directory {

CsvWsSource::CsvWsSource(CsvWsConfig config, sdk::Logger& log) : config_(std::move(config)), log_(log) {}

sdk::Result<std::vector<std::vector<std::string>>> CsvWsSource::fetch(
    const std::string& url, const std::vector<std::pair<std::string, std::string>>& params,
    std::chrono::steady_clock::time_point deadline) {
  auto where = "directory source " + config_.source.name + ": " + url;
  auto timeout = config_.timeout;
  if (deadline != std::chrono::steady_clock::time_point::max()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    timeout = std::min(timeout, std::max(left, std::chrono::milliseconds(1)));
  }
  try {
    Poco::URI uri(url);
    for (auto& [k, v] : params) uri.addQueryParameter(k, v);
    std::unique_ptr<Poco::Net::HTTPClientSession> session;
    if (uri.getScheme() == "https") {
      auto mode = config_.verify_certificate ? Poco::Net::Context::VERIFY_RELAXED : Poco::Net::Context::VERIFY_NONE;
      Poco::Net::Context::Ptr ctx = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, "", "",
                                                           config_.ca_file, mode, 9, config_.ca_file.empty());
      session = std::make_unique<Poco::Net::HTTPSClientSession>(uri.getHost(), uri.getPort(), ctx);
    } else if (uri.getScheme() == "http") {
      session = std::make_unique<Poco::Net::HTTPClientSession>(uri.getHost(), uri.getPort());
    } else {
      return sdk::Error::invalid(where + ": only http:// and https:// URLs are supported");
    }
    Poco::Timespan ts(static_cast<long>(timeout.count() / 1000), static_cast<long>(timeout.count() % 1000) * 1000);
    session->setTimeout(ts, ts, ts);
    Poco::Net::HTTPRequest req(Poco::Net::HTTPRequest::HTTP_GET, uri.getPathAndQuery(),
                               Poco::Net::HTTPMessage::HTTP_1_1);
    req.set("Accept", "text/csv");
    session->sendRequest(req);
    Poco::Net::HTTPResponse resp;
    auto& in = session->receiveResponse(resp);
    std::string body;
    Poco::StreamCopier::copyToString(in, body);
    if (resp.getStatus() != Poco::Net::HTTPResponse::HTTP_OK) {
      auto msg = where + " answered HTTP " + std::to_string(static_cast<int>(resp.getStatus()));
      failures_.failed(log_, msg);
      return sdk::Error::unavailable(msg);
    }
    failures_.succeeded(log_, config_.source.name);
    return common::csv::read_rows(body, config_.delimiter);
  } catch (const Poco::TimeoutException&) {
    auto msg = where + " did not answer within " + std::to_string(timeout.count()) + " ms";
    failures_.failed(log_, msg);
    return sdk::Error::timeout(msg);
  } catch (const Poco::Exception& e) {
    auto msg = where + ": " + e.displayText();
    failures_.failed(log_, msg);
    return sdk::Error::unavailable(msg);
  } catch (const std::exception& e) {
    auto msg = where + ": " + e.what();
    failures_.failed(log_, msg);
    return sdk::Error::unavailable(msg);
  }
}

sdk::Result<std::vector<sdk::DirectoryEntry>> CsvWsSource::search(const sdk::DirectoryQuery& q) {
  std::vector<sdk::DirectoryEntry> out;
  if (config_.source.searched_columns.empty()) return out;
  std::vector<std::pair<std::string, std::string>> params;
  for (auto& c : config_.source.searched_columns) params.emplace_back(c, q.term);
  auto rows = fetch(config_.lookup_url, params, q.deadline);
  if (!rows) return rows.error();
  // The web service did the matching: every row it returns is a result.
  if (rows->empty()) return out;
  std::vector<std::string> header = (*rows)[0];
  for (std::size_t r = 1; r < rows->size(); ++r) {
    std::map<std::string, std::string> row;
    for (std::size_t c = 0; c < header.size(); ++c) row[header[c]] = c < (*rows)[r].size() ? (*rows)[r][c] : "";
    out.push_back(make_entry(config_.source, std::move(row)));
  }
  return out;
}

sdk::Result<std::optional<sdk::DirectoryEntry>> CsvWsSource::first_match(const sdk::DirectoryQuery& q) {
  if (config_.source.first_matched_columns.empty() || q.term.empty()) return std::optional<sdk::DirectoryEntry>{};
  std::vector<std::pair<std::string, std::string>> params;
  for (auto& c : config_.source.first_matched_columns) params.emplace_back(c, q.term);
  auto rows = fetch(config_.lookup_url, params, q.deadline);
  if (!rows) return rows.error();
  return RowTable(std::move(*rows), config_.source).first_match(config_.source, q.term);
}

sdk::Result<std::vector<sdk::DirectoryEntry>> CsvWsSource::list(const std::vector<std::string>& ids,
                                                                const sdk::DirectoryQuery& q) {
  if (config_.list_url.empty() || config_.source.unique_column.empty())
    return sdk::Error::unsupported("directory source " + config_.source.name +
                                   " needs list_url and unique_column to use favorites");
  auto rows = fetch(config_.list_url, {}, q.deadline);
  if (!rows) return rows.error();
  return RowTable(std::move(*rows), config_.source).list(config_.source, ids);
}

}  // namespace dialtone::plugins::directory
