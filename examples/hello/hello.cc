// A minimal out-of-tree Dialtone plugin: a reloadable greeting served on
// `GET /0.1/hello` (listener confd, ACL hello.read) and as the Lua function
// `hello.greet(name)`. Each greeting is also published on the bus as
// `hello.greeted`.
#include "hello.h"

#include <dialtone/bus.h>
#include <dialtone/http.h>
#include <dialtone/json.h>
#include <dialtone/lua.h>

namespace hello {

namespace sdk = dialtone::sdk;

static constexpr sdk::OptionSpec kOptions[] = {
    {"hello.greeting", sdk::OptionType::string, "Hello", "word put before the name",
     sdk::kReloadable},
    {"hello.listener", sdk::OptionType::string, "confd", "HTTP listener serving GET /0.1/hello"},
    {}};

Hello::Hello(sdk::Host& host) : host_(host) {}

sdk::Status Hello::configure(const sdk::Options& options) {
  if (options.get("hello.greeting").empty())
    return sdk::Error::invalid("hello.greeting is empty: set a word such as Hello");
  std::lock_guard lock(mutex_);
  greeting_ = options.get("hello.greeting");
  listener_ = options.get("hello.listener");
  return {};
}

sdk::Status Hello::reload(const sdk::Options& options) {
  if (options.get("hello.greeting").empty())
    return sdk::Error::invalid("hello.greeting is empty: set a word such as Hello");
  std::lock_guard lock(mutex_);
  greeting_ = options.get("hello.greeting");
  return {};
}

std::string Hello::greet(const std::string& name) {
  std::string text;
  {
    std::lock_guard lock(mutex_);
    text = greeting_ + ", " + (name.empty() ? std::string("world") : name) + "!";
  }
  host_.bus().publish("hello.greeted", sdk::json::object({{"message", text}}));
  return text;
}

sdk::Status Hello::start() {
  if (auto* http = host_.http()) {
    auto s = http->mount(listener_, {.method = "GET",
                                     .path = "/0.1/hello",
                                     .acl = "hello.read",
                                     .summary = "A greeting for ?name=",
                                     .handler = [this](const sdk::HttpRequest& req) {
                                       auto it = req.query.find("name");
                                       auto text = greet(it == req.query.end() ? "" : it->second);
                                       return sdk::HttpResponse::json(
                                           200, sdk::json::object({{"message", text}}));
                                     }});
    if (!s) return s;
  }
  if (auto* lua = host_.lua()) {
    auto s = lua->export_module(
        // The host checks the declared types before the function runs.
        "hello", {{"greet", "name?: string", "greeting: string", "A greeting for `name`.",
                   [this](const sdk::LuaValues& args) -> sdk::LuaReply {
                     const std::string* name = args.empty() ? nullptr : args[0].as_string();
                     return sdk::LuaValues{greet(name ? *name : "")};
                   }}});
    if (!s) return s;
  }
  host_.log().info("started; greeting on GET /0.1/hello (" + listener_ + ") and hello.greet()");
  return {};
}

void Hello::stop() {
  if (auto* http = host_.http()) http->unmount_all(host_.plugin_id());
  host_.log().info("stopped");
}

}  // namespace hello

DIALTONE_PLUGIN(hello::Hello, "example.hello", "example", "1.0.0",
                "greets on GET /0.1/hello and from Lua hello.greet()", "", "", hello::kOptions)
