#include "kernel/http/self_signed_cert.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace dialtone::kernel {
namespace {

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
  void operator()(std::FILE* f) const { std::fclose(f); }
};

sdk::Error failed(const std::string& what, const std::filesystem::path& dir) {
  return sdk::Error::unavailable("cannot create the self-signed certificate in " + dir.string() + " (" + what +
                                 "); make the data directory writable or set tls_cert/tls_key");
}

bool add_ext(X509* x, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
  std::unique_ptr<X509_EXTENSION, Free> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  return ext && X509_add_ext(x, ext.get(), -1) == 1;
}

}  // namespace

sdk::Result<CertificatePair> ensure_self_signed(const std::filesystem::path& dir) {
  CertificatePair out{dir / "server.crt", dir / "server.key", false};
  std::error_code ec;
  if (std::filesystem::exists(out.cert, ec) && std::filesystem::exists(out.key, ec)) return out;
  std::filesystem::create_directories(dir, ec);
  if (ec) return failed(ec.message(), dir);

  std::unique_ptr<EVP_PKEY, Free> key(EVP_EC_gen("P-256"));
  if (!key) return failed("key generation failed", dir);
  std::unique_ptr<X509, Free> x(X509_new());
  unsigned char serial[16];
  if (!x || RAND_bytes(serial, sizeof serial) != 1) return failed("no random serial", dir);
  serial[0] &= 0x7f;  // a positive serial
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x.get()));
  BN_free(bn);
  X509_set_version(x.get(), 2);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), 10L * 365 * 24 * 3600);
  X509_set_pubkey(x.get(), key.get());
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) != 0 || !host[0]) std::snprintf(host, sizeof host, "localhost");
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("Dialtone"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(host), -1, -1, 0);
  X509_set_issuer_name(x.get(), name);
  std::string san = "DNS:localhost,IP:127.0.0.1,IP:::1";
  if (std::string(host) != "localhost") san = "DNS:" + std::string(host) + "," + san;
  if (!add_ext(x.get(), NID_subject_alt_name, san) || !add_ext(x.get(), NID_basic_constraints, "critical,CA:TRUE") ||
      !add_ext(x.get(), NID_subject_key_identifier, "hash"))
    return failed("certificate extensions refused", dir);
  if (X509_sign(x.get(), key.get(), EVP_sha256()) <= 0) return failed("signing failed", dir);

  // The key is written aside with mode 0600 and renamed, so a crash never
  // leaves a readable or half-written key.
  auto key_tmp = out.key;
  key_tmp += ".new";
  int fd = ::open(key_tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return failed("cannot write " + key_tmp.string(), dir);
  std::unique_ptr<std::FILE, Free> kf(::fdopen(fd, "w"));
  if (!kf || PEM_write_PrivateKey(kf.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1 ||
      std::fflush(kf.get()) != 0)
    return failed("cannot write " + key_tmp.string(), dir);
  kf.reset();
  auto cert_tmp = out.cert;
  cert_tmp += ".new";
  std::unique_ptr<std::FILE, Free> cf(std::fopen(cert_tmp.c_str(), "w"));
  if (!cf || PEM_write_X509(cf.get(), x.get()) != 1 || std::fflush(cf.get()) != 0)
    return failed("cannot write " + cert_tmp.string(), dir);
  cf.reset();
  std::filesystem::rename(key_tmp, out.key, ec);
  if (!ec) std::filesystem::rename(cert_tmp, out.cert, ec);
  if (ec) return failed(ec.message(), dir);
  out.created = true;
  return out;
}

}  // namespace dialtone::kernel
