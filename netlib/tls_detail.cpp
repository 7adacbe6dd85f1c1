#include "netlib/tls_detail.hpp"

#include <arpa/inet.h>
#include <fmt/core.h>
#include <openssl/err.h>
#include <openssl/x509.h>

namespace dialout::tls_detail {

// Drains OpenSSL's thread-local error queue into one line; the queue must
// not leak into the next, unrelated operation.
std::string drain_errors() {
  std::string out;
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    const char* reason = ERR_reason_error_string(e);
    std::string item = reason ? reason : fmt::format("error {:#x}", e);
    if (out.find(item) != std::string::npos) continue;
    if (!out.empty()) out += "; ";
    out += item;
  }
  return out;
}

std::string with_errors(std::string_view what) {
  std::string e = drain_errors();
  return e.empty() ? std::string(what) : fmt::format("{}: {}", what, e);
}

bool is_ip_literal(const std::string& s) {
  unsigned char buf[16];
  return ::inet_pton(AF_INET, s.c_str(), buf) == 1 || ::inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

std::string cn_of(X509* cert) {
  if (cert == nullptr) return {};
  X509_NAME* name = X509_get_subject_name(cert);
  int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (idx < 0) return {};
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
  unsigned char* utf8 = nullptr;
  int len = ASN1_STRING_to_UTF8(&utf8, data);
  if (len < 0) return {};
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
  OPENSSL_free(utf8);
  return out;
}

}  // namespace dialout::tls_detail
