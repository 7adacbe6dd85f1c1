// Character rules HTTP/1.1 shares between the CONNECT request and the
// response parser (RFC 9110): header names and auth schemes are tokens,
// compared without regard to ASCII case.
#pragma once

#include <string_view>

namespace dialout {

// tchar, RFC 9110 section 5.6.2.
inline bool is_http_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

inline bool ascii_iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
  for (size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

}  // namespace dialout
