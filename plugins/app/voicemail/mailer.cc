#include "mailer.h"

#include <sstream>

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
  std::ostringstream body;
  body << "Dear " << job.box_name << ",\n\nyou have a new message of " << job.duration << " seconds from "
       << job.callerid << " in mailbox " << job.mailbox << ".\n";
  app::Mail m{job.to, "New message in mailbox " + job.mailbox, body.str(), {}};
  if (!job.wav.empty()) m.attachments.push_back({"msg.wav", "audio/x-wav", job.wav});
  return app::send_mail(cfg_, m);
}

}  // namespace dialtone::plugins::voicemail
