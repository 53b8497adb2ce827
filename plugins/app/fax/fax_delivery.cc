#include "fax_delivery.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include <dialtone/files.h>

namespace dialtone::plugins::fax {

namespace fs = std::filesystem;

std::string substitute(const std::string& text, const ReceivedFax& fax) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 1 < text.size() && text[i + 1] == '%') {
      out += '%';
      ++i;
      continue;
    }
    auto close = text.find(")s", i);
    if (i + 1 < text.size() && text[i + 1] == '(' && close != std::string::npos) {
      std::string name = text.substr(i + 2, close - i - 2);
      if (name == "dstnum") out += fax.dstnum;
      else if (name == "srcnum") out += fax.srcnum;
      else if (name == "pages") out += std::to_string(fax.pages);
      else out += text.substr(i, close + 2 - i);  // unknown: left as written
      i = close + 1;
      continue;
    }
    out += '%';
  }
  return out;
}

bool FaxDelivery::to_pdf(const fs::path& tiff, const fs::path& pdf, const std::string& call) const {
  std::string tool = cfg_.tiff2pdf.string(), out = pdf.string(), in = tiff.string();
  std::string o = "-o";
  char* argv[] = {tool.data(), o.data(), out.data(), in.data(), nullptr};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, tool.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  int status = 0;
  if (rc == 0) waitpid(pid, &status, 0);
  std::error_code ec;
  if (rc != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0 || fs::file_size(pdf, ec) == 0) {
    fs::remove(pdf, ec);
    log_.error("fax: call " + call + ": cannot convert " + in + " to PDF: " +
               (rc != 0 ? tool + ": " + std::strerror(rc)
                        : tool + " exited with " + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1)) +
               "; the TIFF is delivered instead - install libtiff-tools or set fax.tiff2pdf");
    return false;
  }
  return true;
}

Delivered FaxDelivery::deliver(const ReceivedFax& fax) const {
  Delivered d;
  std::error_code ec;
  fs::path doc = fax.tiff;
  if (fax.pdf) {
    fs::path pdf = fax.tiff;
    pdf.replace_extension(".pdf");
    if (to_pdf(fax.tiff, pdf, fax.call_id)) {
      fs::remove(fax.tiff, ec);
      doc = pdf;
    }
  }
  if (!fax.directory.empty()) {
    fs::path to = fax.directory / doc.filename();
    fs::create_directories(fax.directory, ec);
    fs::rename(doc, to, ec);
    if (ec) {  // another file system: copy then remove
      ec.clear();
      fs::copy_file(doc, to, fs::copy_options::overwrite_existing, ec);
      if (!ec) fs::remove(doc, ec);
    }
    if (ec)
      log_.error("fax: call " + fax.call_id + ": cannot save the fax in " + fax.directory.string() + ": " +
                 ec.message() + "; it is kept in " + doc.string());
    else
      doc = to;
  }
  d.document = doc;
  if (fax.email.empty()) {
    log_.info("fax: call " + fax.call_id + ": fax of " + std::to_string(fax.pages) + " page(s) from " + fax.srcnum +
              " saved as " + doc.string());
    return d;
  }
  if (cfg_.mail.host.empty()) {
    log_.error("fax: call " + fax.call_id + ": fax for " + fax.email + " not mailed: no SMTP relay (set "
               "fax.smtp_host in conf.d); it is kept in " + doc.string());
    return d;
  }
  auto bytes = sdk::read_file(doc);
  if (!bytes) {
    log_.error("fax: call " + fax.call_id + ": fax for " + fax.email + " not mailed: cannot read " + doc.string());
    return d;
  }
  app::Mail m{fax.email, substitute(cfg_.subject, fax), substitute(cfg_.body, fax), {}};
  m.attachments.push_back(
      {doc.filename().string(), doc.extension() == ".pdf" ? "application/pdf" : "image/tiff", std::move(*bytes)});
  if (auto s = app::send_mail(cfg_.mail, m); !s) {
    log_.error("fax: call " + fax.call_id + ": fax for " + fax.email + " not mailed: " + s.error().message +
               "; it is kept in " + doc.string() + " (check fax.smtp_host and fax.smtp_port)");
    return d;
  }
  d.mailed = true;
  // Mailed and no directory asked for: the mail is the delivery, as XiVO's.
  if (fax.directory.empty()) fs::remove(doc, ec);
  log_.info("fax: call " + fax.call_id + ": fax of " + std::to_string(fax.pages) + " page(s) from " + fax.srcnum +
            " mailed to " + fax.email + (fax.directory.empty() ? "" : ", saved as " + doc.string()));
  return d;
}

}  // namespace dialtone::plugins::fax
