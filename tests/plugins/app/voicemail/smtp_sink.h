// A minimal SMTP server for tests: accepts connections on 127.0.0.1 (a free
// port), answers EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP and QUIT, and keeps
// each message's DATA. One thread, one connection at a time. MailAttachments
// reads a message's attachments back (Poco::Net::MailMessage::read).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <Poco/Net/MailMessage.h>
#include <Poco/Net/MessageHeader.h>
#include <Poco/Net/PartHandler.h>
#include <Poco/StreamCopier.h>

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace dialtone::testing {

class SmtpSink {
 public:
  SmtpSink() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    ::listen(fd_, 4);
    thread_ = std::thread([this] { run(); });
  }
  ~SmtpSink() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }
  int port() const { return port_; }
  std::vector<std::string> messages() const {
    std::lock_guard lk(m_);
    return messages_;
  }

 private:
  void run() {
    while (!stop_) {
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      serve(c);
      ::close(c);
    }
  }
  static void say(int c, const std::string& s) { (void)!::write(c, s.data(), s.size()); }
  void serve(int c) {
    say(c, "220 sink ESMTP\r\n");
    std::string buf, data;
    bool in_data = false;
    char chunk[4096];
    for (;;) {
      ssize_t n = ::read(c, chunk, sizeof chunk);
      if (n <= 0) return;
      buf.append(chunk, static_cast<std::size_t>(n));
      std::size_t eol;
      while ((eol = buf.find("\r\n")) != std::string::npos) {
        std::string line = buf.substr(0, eol);
        buf.erase(0, eol + 2);
        if (in_data) {
          if (line == ".") {
            in_data = false;
            {
              std::lock_guard lk(m_);
              messages_.push_back(data);
            }
            data.clear();
            say(c, "250 queued\r\n");
          } else {
            data += (line.rfind("..", 0) == 0 ? line.substr(1) : line) + "\r\n";
          }
          continue;
        }
        std::string verb = line.substr(0, 4);
        for (auto& ch : verb) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        if (verb == "EHLO" || verb == "HELO") say(c, "250 sink\r\n");
        else if (verb == "DATA") { in_data = true; say(c, "354 go on\r\n"); }
        else if (verb == "QUIT") { say(c, "221 bye\r\n"); return; }
        else say(c, "250 ok\r\n");
      }
    }
  }
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex m_;
  std::vector<std::string> messages_;
};

// The attachments of a MIME message, by file name.
struct MailAttachments : Poco::Net::PartHandler {
  std::map<std::string, std::string> parts;
  void handlePart(const Poco::Net::MessageHeader& header, std::istream& stream) override {
    std::string name = "part" + std::to_string(parts.size());
    if (header.has("Content-Disposition")) {
      std::string disp;
      Poco::Net::NameValueCollection params;
      Poco::Net::MessageHeader::splitParameters(header["Content-Disposition"], disp, params);
      name = params.get("filename", name);
    }
    std::string data;
    Poco::StreamCopier::copyToString(stream, data);
    parts[name] = data;
  }
};

}  // namespace dialtone::testing
