// A read-only TFTP server (RFC 1350, blksize option RFC 2348, tsize RFC 2349)
// on its own threads: the receive loop and one thread per transfer, bounded.
#pragma once

#include <atomic>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <dialtone/host.h>
#include <dialtone/provisioning.h>
#include <dialtone/result.h>

namespace dialtone::plugins::provisioning {

struct PhoneAnswer;

class TftpServer {
 public:
  using Handler = std::function<PhoneAnswer(const sdk::DeviceRequest&)>;
  TftpServer(sdk::Logger& log, Handler handler, int max_transfers);
  ~TftpServer();

  // Binds host:port (port 0: ephemeral) and starts serving.
  sdk::Status start(const std::string& host, int port);
  void stop();
  int port() const { return port_; }

 private:
  void loop();
  void transfer(std::string peer_ip, int peer_port, std::string request);

  sdk::Logger& log_;
  Handler handler_;
  int max_transfers_;
  int fd_ = -1;
  int port_ = 0;
  std::string host_;
  std::atomic<bool> running_{false};
  std::atomic<int> active_{0};
  std::thread thread_;
  std::mutex mutex_;
  struct Transfer {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::list<Transfer> transfers_;
};

}  // namespace dialtone::plugins::provisioning
