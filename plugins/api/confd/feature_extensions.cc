// Feature codes (XiVO's extensions of context xivo-features; wazo-confd's
// /extensions/features): the list, one code, and PUT to change its `exten`
// or turn it off (`enabled`). The dialplan, the presence service and provd's
// function keys read the new code from the next configuration snapshot: no
// restart. There is no POST nor DELETE: the features are XiVO's fixed set.
#include <regex>

#include "plugins/api/confd/confd_api.h"

namespace dialtone::plugins::api::confd {

using sdk::HttpRequest;
using sdk::HttpResponse;

void ConfdApi::feature_extension_routes(const AddListRoute& add) {
  static const Resource kFeatures{
      .path = "extensions/features",
      .table = "confd_feature_extensions",
      .singular = "ExtensionFeature",
      .event = "extension_feature",
      .fields = {{.name = "exten",
                  .nullable = false,
                  .check = [](const rapidjson::Value& v) -> std::optional<std::string> {
                    static const std::regex re("_?[0-9*#]{1,40}|_[0-9*#]{1,40}[.]");
                    if (std::regex_match(v.GetString(), re)) return std::nullopt;
                    return "Must be digits, * or # (\"*25\"), or a pattern \"_<digits>.\" for a code followed "
                           "by a number (\"_*21.\").";
                  }},
                 {.name = "enabled", .type = FieldType::boolean, .nullable = false}},
      .searchable = {"feature", "exten"},
      .sortable = {"exten", "id", "feature", "enabled"},
      .uniques = {{"exten"}},
      .embed = [](const std::string& b) {
        return "jsonb_build_object('context', 'xivo-features', 'links', jsonb_build_array(" +
               sql_link(b, "extensions_features", "extensions/features", "t.id") + "))";
      }};
  const std::string acl = "confd.extensions.features";
  add("GET", "/extensions/features", acl + ".read", "List the feature codes (XiVO's feature extensions)",
      [this](const HttpRequest& req) { return engine_->list(kFeatures, req); }, kFeatures.sortable);
  add("POST", "/extensions/features", acl + ".create", "Feature codes cannot be created (405)",
      [](const HttpRequest&) {
        return HttpResponse::error(405, {"Method Not Allowed - the feature codes are a fixed set: change one with "
                                         "PUT /1.1/extensions/features/{id}"});
      },
      {});
  add("GET", "/extensions/features/{id}", acl + ".{id}.read", "Read a feature code",
      [this](const HttpRequest& req) {
        return engine_->get(kFeatures, parse_id(kFeatures.singular, req.params.at("id")), base_url(req));
      },
      {});
  add("PUT", "/extensions/features/{id}", acl + ".{id}.update", "Change a feature code's exten or turn it on or off",
      [this](const HttpRequest& req) {
        return engine_->update(kFeatures, parse_id(kFeatures.singular, req.params.at("id")), req.body);
      },
      {});
}

}  // namespace dialtone::plugins::api::confd
