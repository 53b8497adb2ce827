#pragma once

#include <mutex>
#include <string>

#include <dialtone/host.h>
#include <dialtone/plugin.h>

namespace hello {

class Hello final : public dialtone::sdk::Plugin {
 public:
  explicit Hello(dialtone::sdk::Host& host);
  dialtone::sdk::Status configure(const dialtone::sdk::Options& options) override;
  dialtone::sdk::Status start() override;
  void stop() override;
  bool supports_reload() const override { return true; }
  dialtone::sdk::Status reload(const dialtone::sdk::Options& options) override;

  // "<greeting>, <name>!" ("world" when name is empty); published as hello.greeted.
  std::string greet(const std::string& name);

 private:
  dialtone::sdk::Host& host_;
  std::mutex mutex_;
  std::string greeting_;
  std::string listener_;
};

}  // namespace hello
