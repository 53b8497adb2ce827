// directory.csv_ws against a Poco HTTP server on 127.0.0.1 that answers CSV.
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/URI.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "plugins/directory/csv_ws/csv_ws_source.h"
#include "tests/support/test_logger.h"

namespace {

using namespace dialtone::plugins::directory;
namespace sdk = dialtone::sdk;

sdk::DirectoryQuery q(std::string term, std::string user = {}) {
  sdk::DirectoryQuery d;
  d.term = std::move(term);
  d.user_uuid = std::move(user);
  return d;
}


constexpr const char* kCsv =
    "id|firstname|lastname|exten\n"
    "1|Alice|Abrams|1001\n"
    "2|Bob|Benito|555 1002\n";

// Records each request's path and query; /slow sleeps before answering.
struct Server {
  std::mutex mu;
  std::vector<std::string> requests;
  std::atomic<bool> stop{false};

  class Handler : public Poco::Net::HTTPRequestHandler {
   public:
    explicit Handler(Server& s) : s_(s) {}
    void handleRequest(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) override {
      Poco::URI uri(req.getURI());
      {
        std::lock_guard lock(s_.mu);
        s_.requests.push_back(req.getURI());
      }
      if (uri.getPath() == "/slow")
        for (int i = 0; i < 100 && !s_.stop; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      if (uri.getPath() == "/missing") {
        resp.setStatus(Poco::Net::HTTPResponse::HTTP_NOT_FOUND);
        resp.send() << "no";
        return;
      }
      resp.setContentType("text/csv");
      resp.send() << kCsv;
    }

   private:
    Server& s_;
  };
  class Factory : public Poco::Net::HTTPRequestHandlerFactory {
   public:
    explicit Factory(Server& s) : s_(s) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
      return new Handler(s_);
    }

   private:
    Server& s_;
  };

  Server() : socket(Poco::Net::SocketAddress("127.0.0.1", 0)) {
    auto* params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(4);
    http = std::make_unique<Poco::Net::HTTPServer>(new Factory(*this), socket, params);
    http->start();
  }
  ~Server() {
    stop = true;
    http->stopAll(true);
  }
  std::string url(const std::string& path) {
    return "http://127.0.0.1:" + std::to_string(socket.address().port()) + path;
  }
  std::string last() {
    std::lock_guard lock(mu);
    return requests.empty() ? "" : requests.back();
  }

  Poco::Net::ServerSocket socket;
  std::unique_ptr<Poco::Net::HTTPServer> http;
};

class CsvWsTest : public ::testing::Test {
 protected:
  CsvWsConfig config(const std::string& path) {
    CsvWsConfig c;
    c.source.name = "ws";
    c.source.searched_columns = {"firstname", "lastname"};
    c.source.first_matched_columns = {"exten"};
    c.source.format_columns = {{"name", "{firstname} {lastname}"}, {"number", "{exten}"}};
    c.source.unique_column = "id";
    c.lookup_url = server_.url(path);
    c.list_url = server_.url("/list");
    c.delimiter = '|';
    c.timeout = std::chrono::milliseconds(5000);
    return c;
  }
  Server server_;
  dialtone::testing::TestLogger log_;
};

TEST_F(CsvWsTest, SearchSendsTheTermAsOneParameterPerSearchedColumn) {
  CsvWsSource src(config("/ws-phonebook"), log_);
  auto r = src.search(q("ali ce"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(server_.last(), "/ws-phonebook?firstname=ali%20ce&lastname=ali%20ce");
  // The web service did the matching: its rows are returned as they are.
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].field("name"), "Alice Abrams");
  EXPECT_EQ((*r)[0].unique_id, "1");
}

TEST_F(CsvWsTest, FirstMatchSendsTheNumberAndFiltersTheRows) {
  CsvWsSource src(config("/ws-phonebook"), log_);
  auto m = src.first_match(q("5551002"));
  ASSERT_TRUE(m) << m.error().message;
  EXPECT_EQ(server_.last(), "/ws-phonebook?exten=5551002");
  ASSERT_TRUE(*m);
  EXPECT_EQ((*m)->field("name"), "Bob Benito");
  EXPECT_FALSE(*src.first_match(q("1003")));
}

TEST_F(CsvWsTest, ListReadsListUrl) {
  CsvWsSource src(config("/ws-phonebook"), log_);
  auto l = src.list({"2"}, {});
  ASSERT_TRUE(l) << l.error().message;
  EXPECT_EQ(server_.last(), "/list");
  ASSERT_EQ(l->size(), 1u);
  EXPECT_EQ((*l)[0].field("firstname"), "Bob");
}

TEST_F(CsvWsTest, SlowServerIsATimeoutWithinTheConfiguredDelay) {
  auto c = config("/slow");
  c.timeout = std::chrono::milliseconds(300);
  CsvWsSource src(c, log_);
  // The server answers after 5 s: a source that waited would have succeeded.
  auto r = src.search(q("alice"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, sdk::ErrorCode::timeout);
  EXPECT_NE(r.error().message.find("did not answer within 300 ms"), std::string::npos) << r.error().message;
}

TEST_F(CsvWsTest, HttpErrorAndDeadServerAreUnavailableAndLoggedOnce) {
  CsvWsSource src(config("/missing"), log_);
  for (int i = 0; i < 3; ++i) {
    auto r = src.search(q("a"));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, sdk::ErrorCode::unavailable);
    EXPECT_NE(r.error().message.find("answered HTTP 404"), std::string::npos);
  }
  int logged = 0;
  for (auto& l : log_.lines()) logged += l.find("answered HTTP 404") != std::string::npos;
  EXPECT_EQ(logged, 1);
  auto c = config("/x");
  Poco::Net::ServerSocket closed(Poco::Net::SocketAddress("127.0.0.1", 0));
  c.lookup_url = "http://127.0.0.1:" + std::to_string(closed.address().port()) + "/x";
  closed.close();
  CsvWsSource dead(c, log_);
  auto r = dead.search(q("a"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, sdk::ErrorCode::unavailable);
}

}  // namespace
