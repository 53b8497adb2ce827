#include "plugins/backend/sip/auto_answer.h"

#include <dialtone/text.h>

#include <algorithm>
#include <cctype>

namespace dialtone::plugins::backend::sip {
namespace {

// How each vendor's firmware asks to be told (the forms XiVO's and Wazo's
// paging dialplans send): Call-Info answer-after (RFC 5373 style, Yealink,
// Snom, Cisco SPA, Grandstream, Fanvil, Gigaset, softphones), or an
// Alert-Info the phone maps to auto-answer (Aastra/Mitel, Polycom with
// XiVO's provisioned alert class, Thomson/Technicolor).
enum class Form { call_info, alert_aastra, alert_polycom, alert_snom, every };

struct Vendor {
  const char* ua_prefix;  // lower case, matched anywhere in the User-Agent
  Form form;
};
constexpr Vendor kVendors[] = {
    {"yealink", Form::call_info},    {"snom", Form::alert_snom},      {"cisco", Form::call_info},
    {"linksys", Form::call_info},    {"grandstream", Form::call_info}, {"fanvil", Form::call_info},
    {"gigaset", Form::call_info},    {"aastra", Form::alert_aastra},  {"mitel", Form::alert_aastra},
    {"polycom", Form::alert_polycom}, {"thomson", Form::alert_aastra}, {"technicolor", Form::alert_aastra},
};

}  // namespace

bool auto_answer_requested(std::string_view value) {
  return sdk::text::is_true(value);
}

std::string auto_answer_headers(std::string_view user_agent, std::string_view host) {
  const std::string call_info = "Call-Info: <sip:" + std::string(host) + ">;answer-after=0";
  const std::string aastra = "Alert-Info: info=alert-autoanswer";
  const std::string polycom = "Alert-Info: xivo-autoanswer";
  const std::string snom = "Alert-Info: <http://www.notused.com>;info=alert-autoanswer;delay=0";
  Form form = Form::every;
  const std::string ua = sdk::text::to_lower(user_agent);
  for (const auto& v : kVendors)
    if (!ua.empty() && ua.find(v.ua_prefix) != std::string::npos) {
      form = v.form;
      break;
    }
  switch (form) {
    case Form::call_info: return call_info;
    case Form::alert_aastra: return aastra;
    case Form::alert_polycom: return polycom;
    case Form::alert_snom: return call_info + "\r\n" + snom;
    case Form::every: break;
  }
  return call_info + "\r\n" + snom;
}

}  // namespace dialtone::plugins::backend::sip
