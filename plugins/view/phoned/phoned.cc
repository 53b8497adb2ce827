#include "plugins/view/phoned/phoned.h"

#include <dialtone/text.h>

#include <algorithm>
#include <set>

#include <dialtone/mustache.h>
#include <dialtone/url.h>
#include <dialtone/services.h>

namespace dialtone::plugins::view {
extern const char* const kPhonedApiSpec;  // api.yml, embedded at build time

const sdk::OptionSpec kPhonedOptions[] = {
    {"phoned.authorized_subnets", sdk::OptionType::subnets, "127.0.0.0/8",
     "subnets whose phones may query the directory; others get 403", sdk::kReloadable},
    {"phoned.public_url", sdk::OptionType::string, "",
     "base URL phones use to reach this listener (e.g. https://pbx.example.com:9499); "
     "empty: http:// and the request's Host header",
     sdk::kReloadable},
    {}};

namespace {

constexpr std::string_view kInputPrefix = "/0.1/directories/input/";
constexpr std::string_view kLookupPrefix = "/0.1/directories/lookup/";

std::string param(const sdk::HttpRequest& r, const char* name) {
  auto it = r.params.find(name);
  return it == r.params.end() ? std::string() : it->second;
}

std::string query(const sdk::HttpRequest& r, const char* name) {
  auto it = r.query.find(name);
  return it == r.query.end() ? std::string() : it->second;
}

struct Installed {
  std::shared_ptr<sdk::PhoneView> view;
  std::set<std::string> vendors;
};

// xivo-dird-phoned's autodetection for phones provisioned without a vendor
// in their directory URL: the vendor is read off the User-Agent.
std::string vendor_from_user_agent(std::string ua) {
  ua = sdk::text::to_lower(ua);
  struct Mark {
    const char* needle;
    const char* vendor;
  };
  static constexpr Mark kMarks[] = {{"aastra", "aastra"},   {"cisco", "cisco"},     {"allegro", "cisco"},
                                    {"snom", "snom"},       {"thomson", "thomson"}, {"yealink", "yealink"},
                                    {"polycom", "polycom"}};
  for (const auto& m : kMarks)
    if (ua.find(m.needle) != std::string::npos) return m.vendor;
  return {};
}

Installed find_view(sdk::ServiceRegistry& services, const std::string& vendor) {
  Installed out;
  for (auto& [name, view] : services.all<sdk::PhoneView>()) {
    if (!view) continue;
    std::string v(view->vendor());
    out.vendors.insert(v);
    if (v == vendor && !out.view) out.view = view;
  }
  return out;
}

}  // namespace

sdk::Status PhonedPlugin::configure(const sdk::Options& options) {
  auto subnets = SubnetList::parse(options.get("phoned.authorized_subnets", "127.0.0.0/8"));
  if (!subnets)
    return sdk::Error::invalid("phoned.authorized_subnets: " + subnets.error().message);
  auto s = std::make_shared<Settings>();
  s->subnets = std::move(*subnets);
  s->public_url = options.get("phoned.public_url");
  while (!s->public_url.empty() && s->public_url.back() == '/') s->public_url.pop_back();
  std::lock_guard lock(mutex_);
  settings_ = std::move(s);
  return {};
}

std::shared_ptr<const PhonedPlugin::Settings> PhonedPlugin::settings() const {
  std::lock_guard lock(mutex_);
  return settings_;
}

sdk::Status PhonedPlugin::start() {
  if (!settings()) {
    auto s = configure(sdk::Options{});
    if (!s) return s;
  }
  auto* http = host_.http();
  if (!http) return sdk::Error::unavailable("view.phoned needs the kernel's HTTP server");
  struct Spec {
    std::string path;
    Page page;
    const char* summary;
  };
  const Spec specs[] = {
      {"/0.1/directories/menu/{profile}/{vendor}", Page::menu,
       "Directory menu of a Cisco phone (one item opening the search form)"},
      {"/0.1/directories/input/{profile}/{vendor}", Page::input, "Directory search form for a phone"},
      {"/0.1/directories/lookup/{profile}/{vendor}", Page::lookup,
       "Directory search results for a phone (?term=&offset=)"},
      {"/0.1/directories/menu/{profile}/{xivo_user_uuid}/{vendor}", Page::menu,
       "Directory menu of a user's Cisco phone"},
      {"/0.1/directories/input/{profile}/{xivo_user_uuid}/{vendor}", Page::input,
       "Directory search form for a user's phone (vendor and uuid may be swapped)"},
      {"/0.1/directories/lookup/{profile}/{xivo_user_uuid}/{vendor}", Page::lookup,
       "Directory search results for a user's phone, personal contacts included"},
      {"/0.1/directories/menu", Page::menu,
       "Cisco directory menu, vendor from ?vendor= or the User-Agent (xivo-dird-phoned's form)"},
      {"/0.1/directories/lookup", Page::lookup,
       "Directory form or results, vendor from ?vendor= or the User-Agent (xivo-dird-phoned's form)"},
  };
  for (const auto& spec : specs) {
    sdk::Route route;
    route.method = "GET";
    route.path = spec.path;
    route.auth = sdk::RouteAuth::none;
    route.summary = spec.summary;
    Page page = spec.page;
    route.handler = [this, page](const sdk::HttpRequest& r) { return handle(r, page); };
    auto s = http->mount(kListener, std::move(route));
    if (!s) {
      http->unmount_all(host_.plugin_id());
      return sdk::Error::unavailable("view.phoned could not mount " + spec.path + " on listener '" +
                                     std::string(kListener) + "': " + s.error().message);
    }
  }
  sdk::Route api;
  api.method = "GET";
  api.path = "/0.1/api/api.yml";
  api.auth = sdk::RouteAuth::none;
  api.summary = "OpenAPI description of this API";
  api.handler = [](const sdk::HttpRequest&) {
    return sdk::HttpResponse::text(200, kPhonedApiSpec, "application/x-yaml");
  };
  if (auto s = http->mount(kListener, std::move(api)); !s) {
    http->unmount_all(host_.plugin_id());
    return sdk::Error::unavailable("view.phoned could not mount /0.1/api/api.yml on listener '" +
                                   std::string(kListener) + "': " + s.error().message);
  }
  return {};
}

void PhonedPlugin::stop() {
  if (auto* http = host_.http()) http->unmount_all(host_.plugin_id());
}

sdk::HttpResponse PhonedPlugin::unknown_vendor(const std::string& vendor, const std::string& why) const {
  auto installed = find_view(host_.services(), "");
  std::string list;
  for (const auto& v : installed.vendors) list += (list.empty() ? "" : ", ") + v;
  if (list.empty()) list = "none (load a view.<vendor> plugin)";
  std::string what = why.empty() ? "Unknown phone vendor '" + vendor + "'" : "No phone vendor: " + why;
  return sdk::HttpResponse::error(404, {what + "; installed vendors: " + list});
}

sdk::HttpResponse PhonedPlugin::handle(const sdk::HttpRequest& request, Page page) const {
  bool input = page == Page::input;
  auto cfg = settings();
  if (!cfg || !cfg->subnets.contains(request.remote_address)) {
    return sdk::HttpResponse::error(
        403, {"Address " + request.remote_address +
              " is not allowed to query the directory; add its subnet to "
              "phoned.authorized_subnets"});
  }

  std::string profile = param(request, "profile");
  std::string vendor = param(request, "vendor");
  std::string user_uuid = param(request, "xivo_user_uuid");
  // The routes without profile and vendor in the path: ?profile= (else
  // "default"), ?vendor= (else the User-Agent's).
  bool autodetect = profile.empty();
  if (autodetect) {
    profile = query(request, "profile");
    if (profile.empty()) profile = "default";
    vendor = query(request, "vendor");
    if (vendor.empty()) vendor = vendor_from_user_agent(request.header("user-agent", ""));
    if (vendor.empty())
      return unknown_vendor("", "no ?vendor= and none recognised in User-Agent '" +
                                    request.header("user-agent", "") + "'");
  }
  // xivo-phoned's form: the user in the query (?xivo_user_uuid=), where the
  // all-zero uuid its provisioning writes for a phone without user means none.
  if (user_uuid.empty()) user_uuid = query(request, "xivo_user_uuid");
  if (user_uuid == "00000000-0000-0000-0000-000000000000") user_uuid.clear();
  auto found = find_view(host_.services(), vendor);
  if (!found.view && !user_uuid.empty()) {
    // Also accept .../{vendor}/{xivo_user_uuid}.
    auto swapped = find_view(host_.services(), user_uuid);
    if (swapped.view) {
      std::swap(vendor, user_uuid);
      found = std::move(swapped);
    }
  }
  if (!found.view) return unknown_vendor(vendor, "");

  std::string base = cfg->public_url;
  if (base.empty()) base = "http://" + request.header("host", "127.0.0.1");
  if (page == Page::menu) {
    // Cisco phones open their directory URL as a menu (CiscoIPPhoneMenu, as
    // xivo-phoned serves it); the other vendors' phones open the form itself.
    if (vendor != "cisco")
      return sdk::HttpResponse::error(
          404, {"phones of vendor '" + vendor + "' have no directory menu; point them at " +
                std::string(kInputPrefix) + "<profile>/" + vendor});
    // The user stays in the path, so the form's links keep it.
    std::string url = base + std::string(kInputPrefix) + sdk::percent_encode(profile) + "/" +
                      (user_uuid.empty() ? "" : sdk::percent_encode(user_uuid) + "/") + "cisco";
    return sdk::HttpResponse::text(200,
                                   "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CiscoIPPhoneMenu>\n<MenuItem>\n"
                                   "<Name>Directory</Name>\n<URL>" +
                                       mustache::escape_xml(url) + "</URL>\n</MenuItem>\n</CiscoIPPhoneMenu>\n",
                                   "text/xml");
  }

  std::size_t offset = 0;
  std::string offset_text = query(request, "offset");
  if (!offset_text.empty()) {
    bool digits = offset_text.size() <= 9 &&
                  offset_text.find_first_not_of("0123456789") == std::string::npos;
    if (!digits)
      return sdk::HttpResponse::error(
          400, {"offset must be a whole number of entries (0 or more), got '" + offset_text + "'"});
    offset = std::stoul(offset_text);
  }

  // Links on the page point at the lookup resource; the input form submits there.
  // The phone drops the query when it submits the form, so a user given as
  // ?xivo_user_uuid= goes into the path of the links.
  std::string path = request.path.substr(0, request.path.find('?'));
  if (path.compare(0, kInputPrefix.size(), kInputPrefix) == 0)
    path = std::string(kLookupPrefix) + path.substr(kInputPrefix.size());
  if (autodetect || (!user_uuid.empty() && param(request, "xivo_user_uuid").empty()))
    path = std::string(kLookupPrefix) + sdk::percent_encode(profile) + "/" +
           (user_uuid.empty() ? "" : sdk::percent_encode(user_uuid) + "/") + vendor;

  sdk::PhoneViewRequest view_request;
  view_request.profile = profile;
  view_request.term = input ? std::string() : query(request, "term");
  view_request.offset = offset;
  view_request.self_url = base + path;
  view_request.user_uuid = user_uuid;

  auto respond = [](const sdk::PhoneViewPage& page) {
    return sdk::HttpResponse::text(200, page.body, page.content_type);
  };
  if (view_request.term.empty()) return respond(found.view->render_input(view_request));

  auto lookup = host_.services().find<sdk::DirectoryLookup>();
  if (!lookup) {
    return sdk::HttpResponse::error(
        503, {"The directory lookup service is not running; enable the directory.dird plugin"});
  }
  sdk::LookupRequest lookup_request;
  lookup_request.profile = profile;
  lookup_request.term = view_request.term;
  lookup_request.user_uuid = user_uuid;
  auto entries = lookup->phone_lookup(lookup_request);
  if (!entries) {
    const auto& e = entries.error();
    int status = e.code == sdk::ErrorCode::not_found ? 404
                 : e.code == sdk::ErrorCode::invalid ? 400
                                                     : 503;
    return sdk::HttpResponse::error(status, {"Directory lookup failed: " + e.message});
  }
  return respond(found.view->render_results(view_request, *entries));
}

}  // namespace dialtone::plugins::view
