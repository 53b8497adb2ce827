// RFC 3863 PIDF with the RPID activities (RFC 4480) phones and softphones
// show: basic open/closed (closed under do-not-disturb or while none of the
// user's lines is registered: nothing would ring), on-the-phone while a call
// is up or ringing, busy under do-not-disturb.
#include "plugins/backend/sip/event_bodies.h"

namespace dialtone::plugins::backend::sip {

std::string pidf_xml(const sdk::PresenceState& s, const std::string& entity) {
  bool active = false;
  for (auto& d : s.dialogs) active = active || d.state != sdk::DialogState::terminated;
  std::string e = xml_escape(entity);
  std::string x = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  x += "<presence xmlns=\"urn:ietf:params:xml:ns:pidf\" "
       "xmlns:dm=\"urn:ietf:params:xml:ns:pidf:data-model\" "
       "xmlns:rpid=\"urn:ietf:params:xml:ns:pidf:rpid\" entity=\"" + e + "\">\n";
  x += "<tuple id=\"dialtone\">\n<status><basic>";
  x += s.dnd || !s.registered ? "closed" : "open";
  x += "</basic></status>\n<contact>" + e + "</contact>\n</tuple>\n";
  x += "<dm:person id=\"p\"><rpid:activities>";
  if (s.dnd) x += "<rpid:busy/>";
  else if (active) x += "<rpid:on-the-phone/>";
  else x += "<rpid:unknown/>";
  x += "</rpid:activities></dm:person>\n";
  if (active) x += "<note>On the phone</note>\n";
  else if (s.dnd) x += "<note>Do not disturb</note>\n";
  else if (!s.registered) x += "<note>Offline</note>\n";
  x += "</presence>\n";
  return x;
}

}  // namespace dialtone::plugins::backend::sip
