// RFC 4235 dialog-info as BLF keys read it. What vendors look at:
//  - Yealink, Snom, Polycom, Cisco: <state> of each <dialog>; no dialog,
//    or only terminated ones, is idle. early + direction="recipient" is
//    ringing (keys flash), confirmed or trying is busy.
//  - Snom presses on a ringing key INVITE the remote target: it is the
//    directed pickup code followed by the watched extension.
//  - Yealink and Polycom pick up with Replaces built from call-id,
//    local-tag and remote-tag: written when the backend knows them.
//  - Every vendor ignores a NOTIFY whose version does not grow.
#include "plugins/backend/sip/event_bodies.h"

namespace dialtone::plugins::backend::sip {

namespace {

void identity(std::string& x, const std::string& display, const std::string& uri) {
  x += "<identity";
  if (!display.empty()) x += " display=\"" + xml_escape(display) + "\"";
  x += ">" + xml_escape(uri) + "</identity>";
}

std::string sip_uri(const std::string& user, const std::string& domain) {
  return "sip:" + user + "@" + domain;
}

}  // namespace

std::string dialog_info_xml(const sdk::PresenceState& s, const DialogInfoParams& p) {
  std::string x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  x += "<dialog-info xmlns=\"urn:ietf:params:xml:ns:dialog-info\" version=\"" + std::to_string(p.version) +
       "\" state=\"full\" entity=\"" + xml_escape(p.entity) + "\">\n";
  for (auto& d : s.dialogs) {
    x += "<dialog id=\"" + xml_escape(d.id) + "\"";
    if (!d.call_id.empty()) x += " call-id=\"" + xml_escape(d.call_id) + "\"";
    if (!d.local_tag.empty()) x += " local-tag=\"" + xml_escape(d.local_tag) + "\"";
    if (!d.remote_tag.empty()) x += " remote-tag=\"" + xml_escape(d.remote_tag) + "\"";
    x += std::string(" direction=\"") + (d.initiator ? "initiator" : "recipient") + "\">\n";
    x += std::string("<state>") + sdk::to_string(d.state) + "</state>\n";
    std::string local = sip_uri(d.local_number, p.domain);
    x += "<local>";
    identity(x, {}, local);
    x += "<target uri=\"" + xml_escape(local) + "\"/></local>\n";
    if (!d.remote_number.empty()) {
      std::string remote = sip_uri(d.remote_number, p.domain);
      bool pickable = d.state == sdk::DialogState::early && !d.initiator && !p.pickup_code.empty();
      std::string target = pickable ? sip_uri(p.pickup_code + d.local_number, p.domain) : remote;
      x += "<remote>";
      identity(x, d.remote_name, remote);
      x += "<target uri=\"" + xml_escape(target) + "\"/></remote>\n";
    }
    x += "</dialog>\n";
  }
  x += "</dialog-info>\n";
  return x;
}

}  // namespace dialtone::plugins::backend::sip
