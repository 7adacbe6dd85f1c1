// Small OpenSSL helpers shared by tls.cpp and tls_connection.cpp.
#pragma once

#include <openssl/x509.h>

#include <string>
#include <string_view>

namespace dialout::tls_detail {

// Drains OpenSSL's thread-local error queue into one line.
std::string drain_errors();
// `what`, followed by the drained error queue when it held anything.
std::string with_errors(std::string_view what);
bool is_ip_literal(const std::string& s);
// Subject CN as UTF-8, "" when absent.
std::string cn_of(X509* cert);

}  // namespace dialout::tls_detail
