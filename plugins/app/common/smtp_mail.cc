#include "smtp_mail.h"

#include <Poco/Exception.h>
#include <Poco/Net/MailMessage.h>
#include <Poco/Net/MailRecipient.h>
#include <Poco/Net/SMTPClientSession.h>
#include <Poco/Net/StringPartSource.h>
#include <Poco/Timespan.h>

namespace dialtone::plugins::app {

sdk::Status send_mail(const SmtpRelay& relay, const Mail& mail) {
  auto failed = [&](const std::string& why) {
    return sdk::Error::unavailable("SMTP " + relay.host + ":" + std::to_string(relay.port) + ": " + why);
  };
  try {
    Poco::Net::MailMessage m;
    m.setSender(relay.from_name.empty() ? relay.from : "\"" + relay.from_name + "\" <" + relay.from + ">");
    m.addRecipient(Poco::Net::MailRecipient(Poco::Net::MailRecipient::PRIMARY_RECIPIENT, mail.to));
    m.setSubject(Poco::Net::MailMessage::encodeWord(mail.subject, "UTF-8"));
    if (mail.attachments.empty()) {
      m.setContent(mail.body);
    } else {
      m.addContent(new Poco::Net::StringPartSource(mail.body));
      for (auto& a : mail.attachments)
        m.addAttachment(a.name, new Poco::Net::StringPartSource(a.data, a.mime_type, a.name));
    }
    Poco::Net::SMTPClientSession s(relay.host, static_cast<Poco::UInt16>(relay.port));
    s.setTimeout(Poco::Timespan(static_cast<long>(relay.timeout.count() / 1000), 0));
    s.login();
    s.sendMessage(m);
    s.close();
    return {};
  } catch (const Poco::Exception& e) {
    return failed(e.displayText());
  } catch (const std::exception& e) {
    return failed(e.what());
  }
}

}  // namespace dialtone::plugins::app
