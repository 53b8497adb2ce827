#include "mailer.h"

#include <fstream>
#include <sstream>

#include <Poco/Exception.h>
#include <Poco/Net/MailMessage.h>
#include <Poco/Net/MailRecipient.h>
#include <Poco/Net/SMTPClientSession.h>
#include <Poco/Net/StringPartSource.h>
#include <Poco/Timespan.h>

namespace dialtone::plugins::voicemail {

void Mailer::send(MailJob job) {
  if (!enabled() || job.to.empty()) return;
  executor_.post([self = shared_from_this(), job = std::move(job)] {
    if (auto s = self->deliver(job); !s)
      self->log_.error("voicemail: e-mail for box " + job.mailbox + " to " + job.to + " not sent: " + s.error().message +
                 " (check voicemail.smtp_host/smtp_port in conf.d; the message is kept in the box)");
    else
      self->log_.info("voicemail: e-mail for box " + job.mailbox + " sent to " + job.to);
  });
}

sdk::Status Mailer::deliver(const MailJob& job) const {
  try {
    Poco::Net::MailMessage m;
    m.setSender(cfg_.from);
    m.addRecipient(Poco::Net::MailRecipient(Poco::Net::MailRecipient::PRIMARY_RECIPIENT, job.to));
    m.setSubject("New message in mailbox " + job.mailbox);
    std::ostringstream body;
    body << "Dear " << job.box_name << ",\n\nyou have a new message of " << job.duration << " seconds from "
         << job.callerid << " in mailbox " << job.mailbox << ".\n";
    if (job.wav.empty()) {
      m.setContent(body.str());
    } else {
      m.addContent(new Poco::Net::StringPartSource(body.str()));
      m.addAttachment("msg.wav", new Poco::Net::StringPartSource(job.wav, "audio/x-wav", "msg.wav"));
    }
    Poco::Net::SMTPClientSession s(cfg_.host, static_cast<Poco::UInt16>(cfg_.port));
    s.setTimeout(Poco::Timespan(static_cast<long>(cfg_.timeout.count() / 1000), 0));
    s.login();
    s.sendMessage(m);
    s.close();
    return {};
  } catch (const Poco::Exception& e) {
    return sdk::Error::unavailable("SMTP " + cfg_.host + ":" + std::to_string(cfg_.port) + ": " + e.displayText());
  } catch (const std::exception& e) {
    return sdk::Error::unavailable("SMTP " + cfg_.host + ":" + std::to_string(cfg_.port) + ": " + e.what());
  }
}

}  // namespace dialtone::plugins::voicemail
