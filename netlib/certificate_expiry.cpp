#include "netlib/certificate_expiry.hpp"

#include <fmt/core.h>
#include <openssl/asn1.h>
#include <openssl/pem.h>

#include <cstdio>
#include <ctime>
#include <memory>

namespace dialout {

Expected<int64_t, std::string> certificate_not_after(const X509* cert) {
  if (cert == nullptr) return unexpected(std::string("no certificate"));
  const ASN1_TIME* t = X509_get0_notAfter(cert);
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return unexpected(std::string("unreadable notAfter"));
  return static_cast<int64_t>(::timegm(&tm));
}

Expected<int64_t, std::string> certificate_file_not_after(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "r"), &std::fclose);
  if (!f) return unexpected(fmt::format("{}: cannot open", path));
  std::unique_ptr<X509, void (*)(X509*)> cert(PEM_read_X509(f.get(), nullptr, nullptr, nullptr), &X509_free);
  if (!cert) return unexpected(fmt::format("{}: no PEM certificate", path));
  auto t = certificate_not_after(cert.get());
  if (!t) return unexpected(fmt::format("{}: {}", path, t.error()));
  return t;
}

std::string format_utc(int64_t unix_seconds) {
  if (unix_seconds == 0) return "";
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  if (::gmtime_r(&t, &tm) == nullptr) return "";
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec);
}

}  // namespace dialout
