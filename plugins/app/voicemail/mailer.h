// E-mail notification of a new voicemail message through an SMTP relay
// (app::send_mail), with the WAV attached when the box asks
// for it. send() queues: the SMTP exchange runs on the host's executor (a
// worker thread), never on the SIP, media or dialplan threads. A relay that
// is down or refuses gives one log line; the message stays in the spool.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include <dialtone/host.h>
#include <dialtone/result.h>

#include "plugins/app/common/smtp_mail.h"

namespace dialtone::plugins::voicemail {

using MailConfig = app::SmtpRelay;

struct MailJob {
  std::string to, box_name, mailbox, callerid;
  int duration = 0;
  std::int64_t origtime = 0;
  // The WAV's bytes, read when the message was filed (a later move or
  // delete cannot take them away); empty: no attachment.
  std::string wav;
};

class Mailer : public std::enable_shared_from_this<Mailer> {
 public:
  Mailer(MailConfig cfg, sdk::Executor& executor, sdk::Logger& log) : cfg_(std::move(cfg)), executor_(executor), log_(log) {}
  bool enabled() const { return !cfg_.host.empty(); }
  void send(MailJob job);
  // The SMTP exchange itself (blocking): what send() runs on the executor.
  sdk::Status deliver(const MailJob& job) const;

 private:
  MailConfig cfg_;
  sdk::Executor& executor_;
  sdk::Logger& log_;
};

}  // namespace dialtone::plugins::voicemail
