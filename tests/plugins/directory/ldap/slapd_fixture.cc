#include "tests/plugins/directory/ldap/slapd_fixture.h"

#include "tests/support/eventually.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include <dialtone/base64.h>

namespace dialtone::testing {

namespace fs = std::filesystem;

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

std::string ldif_value(const std::string& attr, const std::string& value) {
  bool safe = !value.empty() && value[0] != ' ' && value[0] != ':' && value[0] != '<';
  for (unsigned char c : value)
    if (c >= 0x80 || c < 0x20) safe = false;
  if (safe) return attr + ": " + value + "\n";
  return attr + ":: " + dialtone::sdk::base64_encode(value) + "\n";
}

Slapd::Slapd() {
  dir_ = fs::temp_directory_path() / ("dialtone_slapd_" + std::to_string(::getpid()) + "_" +
                                      std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
  fs::create_directories(dir_ / "db");
  {
    std::ofstream c(dir_ / "slapd.conf");
    c << "include /etc/ldap/schema/core.schema\n"
         "include /etc/ldap/schema/cosine.schema\n"
         "include /etc/ldap/schema/inetorgperson.schema\n"
         "modulepath /usr/lib/ldap\n"
         "moduleload back_mdb\n"
         "pidfile " << (dir_ / "slapd.pid").string() << "\n"
         "sizelimit unlimited\n"
         "database mdb\n"
         "maxsize 268435456\n"
         "dbnosync\n"
         "suffix \"" << kSuffix << "\"\n"
         "rootdn \"" << kRootDn << "\"\n"
         "rootpw " << kRootPw << "\n"
         "directory " << (dir_ / "db").string() << "\n"
         "index objectClass eq\n"
         "index cn,sn,givenName sub,eq\n"
         "index telephoneNumber,mobile eq\n"
         "index entryUUID eq\n";
  }
  for (int attempt = 0; attempt < 3 && pid_ == 0; ++attempt) {
    int port = free_port();
    uri_ = "ldap://127.0.0.1:" + std::to_string(port) + "/";
    std::string cmd = "/usr/sbin/slapd -h " + uri_ + " -f " + (dir_ / "slapd.conf").string() +
                      " > " + (dir_ / "slapd.log").string() + " 2>&1";
    if (std::system(cmd.c_str()) != 0) {
      error_ = "slapd did not start; see " + (dir_ / "slapd.log").string();
      continue;
    }
    std::string probe = "ldapsearch -x -H " + uri_ + " -b '' -s base >/dev/null 2>&1";
    if (eventually([&] { return std::system(probe.c_str()) == 0; })) {
      std::ifstream p(dir_ / "slapd.pid");
      p >> pid_;
    }
  }
  if (pid_ == 0) return;
  add(std::string("dn: ") + kSuffix + "\nobjectClass: dcObject\nobjectClass: organization\no: dialtone\ndc: dialtone\n\n"
      "dn: ou=people," + kSuffix + "\nobjectClass: organizationalUnit\nou: people\n\n");
}

Slapd::~Slapd() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    eventually([&] { return ::kill(pid_, 0) != 0; }, std::chrono::seconds(5));
    if (::kill(pid_, 0) == 0) ::kill(pid_, SIGKILL);
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

bool Slapd::run_tool(const char* tool, const std::string& ldif) {
  auto file = dir_ / "input.ldif";
  std::ofstream(file, std::ios::trunc) << ldif;
  std::string cmd = std::string(tool) + " -x -H " + uri_ + " -D " + kRootDn + " -w " + kRootPw +
                    " -f " + file.string() + " > " + (dir_ / "tool.log").string() + " 2>&1";
  return std::system(cmd.c_str()) == 0;
}

bool Slapd::add(const std::string& ldif) { return run_tool("ldapadd", ldif); }
bool Slapd::modify(const std::string& ldif) { return run_tool("ldapmodify", ldif); }

}  // namespace dialtone::testing
