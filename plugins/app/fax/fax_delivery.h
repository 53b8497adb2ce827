// What happens to a received fax (seed 5.14, XiVO's FaxToMail): the TIFF is
// converted to PDF with tiff2pdf (Debian libtiff-tools), saved in a
// directory, and mailed with the document attached through the SMTP relay.
// deliver() blocks (a child process, files, SMTP): it runs on the host's
// executor. A failed step says so in one log line and keeps the document.
#pragma once

#include <filesystem>
#include <string>

#include <dialtone/host.h>

#include "plugins/app/common/smtp_mail.h"

namespace dialtone::plugins::fax {

struct DeliveryConfig {
  // Where documents are kept when the call names no directory (and until
  // mailed when it names only an address).
  std::filesystem::path spool = "/var/spool/dialtone/fax";
  std::filesystem::path tiff2pdf = "/usr/bin/tiff2pdf";
  app::SmtpRelay mail;
  // XiVO's substitutions: %(dstnum)s, %(srcnum)s, plus %(pages)s; %% is %.
  std::string subject = "FAX reception to %(dstnum)s";
  std::string body = "You received a fax of %(pages)s page(s) from %(srcnum)s on %(dstnum)s.\n";
};

struct ReceivedFax {
  std::filesystem::path tiff;  // in the spool
  int pages = 0;
  std::string call_id, srcnum, dstnum;
  std::string email;                 // empty: not mailed
  std::filesystem::path directory;   // empty: the spool
  bool pdf = true;                   // convert (false: the TIFF is the document)
};

// The document's final path, or why it could not be kept.
struct Delivered {
  std::filesystem::path document;
  bool mailed = false;
};

// XiVO's %(name)s substitutions in `text`.
std::string substitute(const std::string& text, const ReceivedFax& fax);

class FaxDelivery {
 public:
  FaxDelivery(DeliveryConfig cfg, sdk::Logger& log) : cfg_(std::move(cfg)), log_(log) {}
  const DeliveryConfig& config() const { return cfg_; }
  // Blocking: converts, saves, mails; logs one line per outcome.
  Delivered deliver(const ReceivedFax& fax) const;

 private:
  // tiff2pdf `tiff` into `pdf`; false (logged) when it fails.
  bool to_pdf(const std::filesystem::path& tiff, const std::filesystem::path& pdf, const std::string& call) const;
  DeliveryConfig cfg_;
  sdk::Logger& log_;
};

}  // namespace dialtone::plugins::fax
