// provd_bench [devices=10000] [seconds=10] [clients=4]
// Starts provd on a fresh PostgreSQL database with N Yealink devices, each
// with its own line, then: (1) HTTP keep-alive clients fetch <mac>.cfg,
// rotating over every device, for the given time; (2) a template change
// followed by regenerate_all() is timed.
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/NullStream.h>
#include <Poco/StreamCopier.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include <dialtone/testing/fake_host.h>

#include "kernel/http/http_server.h"
#include "kernel/store/pg_store.h"
#include "plugins/provisioning/provd/provd.h"
#include "plugins/provisioning/yealink/yealink_description.h"
#include "tests/support/pg_fixture.h"

extern "C" const dialtone_plugin_manifest dialtone_plugin_manifest_v1 = {};

using namespace dialtone;
using namespace dialtone::plugins::provisioning;
using Clock = std::chrono::steady_clock;

static std::string mac_of(int i) {
  char b[32];
  std::snprintf(b, sizeof b, "00:15:65:%02x:%02x:%02x", (i >> 16) & 255, (i >> 8) & 255, i & 255);
  return b;
}

int main(int argc, char** argv) {
  int devices = argc > 1 ? std::atoi(argv[1]) : 10000;
  int seconds = argc > 2 ? std::atoi(argv[2]) : 10;
  int clients = argc > 3 ? std::atoi(argv[3]) : 4;
  testing::FakeHost host("provisioning.provd");
  host.log().set_level(sdk::LogLevel::warn);
  auto st = kernel::PgStore::open({.dsn = testing::test_dsn()}, host.bus(), host.log());
  if (!st) {
    std::fprintf(stderr, "%s\n", st.error().message.c_str());
    return 1;
  }
  auto store = std::move(*st);
  host.set_store(store.get());
  (void)host.services().provide<sdk::ProvisioningVendor>("yealink", std::make_shared<DescribedVendor>(yealink_description()));
  kernel::HttpServerImpl http({{.name = "provd"}, {.name = "provd_phones", .max_threads = 16}}, host.log());
  ProvdSettings s;
  s.phones_host = "10.0.0.1";
  s.nat = true;  // every device behind one address: 127.0.0.1
  s.tftp_enabled = false;
  s.template_check = std::chrono::milliseconds(0);
  Provd provd(host, *store, &http, s);
  if (auto r = provd.start(); !r) {
    std::fprintf(stderr, "%s\n", r.error().message.c_str());
    return 1;
  }
  if (auto r = http.start(); !r) return 1;

  auto t0 = Clock::now();
  for (int i = 0; i < devices; ++i) {
    Provd::Config c;
    c.id = "line" + std::to_string(i);
    c.parent_ids = {"base"};
    c.raw_config = R"({"sip_lines":{"1":{"username":"u)" + std::to_string(i) +
                   R"(","password":"p)" + std::to_string(i) + R"(","display_name":"User )" +
                   std::to_string(i) + R"("}},"funckeys":{"1":{"type":"blf","value":"1001","label":"B"}}})";
    (void)provd.add_config(c);
    Device d;
    d.mac = mac_of(i);
    d.vendor = "Yealink";
    d.model = "T46S";
    d.plugin = "provisioning.yealink";
    d.config = c.id;
    (void)provd.add_device(d);
  }
  double setup = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("devices: %d (created in %.1f s)\n", devices, setup);

  t0 = Clock::now();
  provd.regenerate_all();
  double first = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("initial render of all devices: %.2f s\n", first);

  int port = http.port("provd_phones");
  std::atomic<long> ok{0}, bad{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> th;
  for (int c = 0; c < clients; ++c)
    th.emplace_back([&, c] {
      Poco::Net::HTTPClientSession sess("127.0.0.1", static_cast<Poco::UInt16>(port));
      sess.setKeepAlive(true);
      int i = c;
      while (!stop) {
        auto mac = sdk::mac_plain(mac_of(i % devices));
        Poco::Net::HTTPRequest req("GET", "/" + mac + ".cfg", Poco::Net::HTTPMessage::HTTP_1_1);
        req.set("User-Agent", "Yealink SIP-T46S 66.86.0.15 " + mac_of(i % devices));
        req.setKeepAlive(true);
        try {
          sess.sendRequest(req);
          Poco::Net::HTTPResponse resp;
          auto& is = sess.receiveResponse(resp);
          Poco::NullOutputStream null;
          Poco::StreamCopier::copyStream(is, null);
          (resp.getStatus() == 200 ? ok : bad)++;
        } catch (...) {
          bad++;
          sess.reset();
        }
        i += clients;
      }
    });
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  stop = true;
  for (auto& t : th) t.join();
  std::printf("HTTP: %ld files in %d s = %.0f files/s (%d keep-alive clients), %ld errors\n", ok.load(),
              seconds, ok.load() / double(seconds), clients, bad.load());

  auto dir = provd.templates().root() / "vendor" / "provisioning.yealink";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "yealink-custom-device") << "features.bench = 1\n";
  t0 = Clock::now();
  provd.check_templates();
  auto n = provd.regenerate_all();
  double regen = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("template change -> regenerate %zu devices: %.2f s (%.0f devices/s)\n", n, regen, n / regen);
  provd.stop();
  http.stop();
  store->close();
  return bad.load() == 0 ? 0 : 2;
}
