// One e-mail through an SMTP relay (Poco::Net::SMTPClientSession), with
// attachments: what voicemail notifications and received faxes are sent
// with. send_mail() blocks for the SMTP exchange, so it runs on the host's
// executor, never on the SIP, media or dialplan threads.
//
// @code
//   app::SmtpRelay relay{"127.0.0.1", 25};
//   app::Mail m{"alice@example.com", "FAX reception to 5551234", "3 pages from 0123456789"};
//   m.attachments.push_back({"fax.pdf", "application/pdf", pdf_bytes});
//   executor.post([=] { if (auto s = app::send_mail(relay, m); !s) log.error(s.error().message); });
// @endcode
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <dialtone/result.h>

namespace dialtone::plugins::app {

struct SmtpRelay {
  std::string host;  // empty: no e-mail
  int port = 25;
  std::string from = "dialtone@localhost";
  std::chrono::milliseconds timeout{10000};
  std::string from_name;  // the sender's real name ("Service Fax"); empty: the address alone
};

struct MailAttachment {
  std::string name, mime_type, data;
};

struct Mail {
  std::string to, subject, body;
  std::vector<MailAttachment> attachments;
};

// The SMTP exchange; an error names the relay and what it said.
sdk::Status send_mail(const SmtpRelay& relay, const Mail& mail);

}  // namespace dialtone::plugins::app
