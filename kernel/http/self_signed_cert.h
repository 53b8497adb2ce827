// The server certificate of `http.tls_self_signed = true` (seed 5.1.3: XiVO
// generates a self-signed certificate at install for its REST APIs): created
// once in <dir>/server.crt and server.key (0600), then reused, so clients
// can trust that one file.
//
// @code
//   auto pair = ensure_self_signed(data_dir / "tls");
//   if (!pair) return pair.error();
//   listener.tls_cert = pair->cert.string();
// @endcode
#pragma once

#include <filesystem>

#include <dialtone/result.h>

namespace dialtone::kernel {

struct CertificatePair {
  std::filesystem::path cert, key;
  bool created = false;  // false: the files were already there
};

// ECDSA P-256, SHA-256, valid 10 years, CN = host name, subjectAltName
// localhost, the host name, 127.0.0.1 and ::1.
sdk::Result<CertificatePair> ensure_self_signed(const std::filesystem::path& dir);

}  // namespace dialtone::kernel
