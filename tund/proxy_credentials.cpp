#include "tund/proxy_credentials.hpp"

#include <fmt/core.h>
#include <sys/stat.h>

namespace dialout {

namespace {

bool is_control(unsigned char c) { return c < 0x20 || c == 0x7f; }

Expected<void, std::string> check_part(std::string_view part, const char* what, size_t offset) {
  if (part.empty()) return unexpected(fmt::format("the {} is empty", what));
  if (part.size() > kMaxProxyCredentialLength) {
    return unexpected(fmt::format("the {} is longer than {} bytes", what, kMaxProxyCredentialLength));
  }
  for (size_t i = 0; i < part.size(); ++i) {
    const auto c = static_cast<unsigned char>(part[i]);
    if (c == '\r') return unexpected(fmt::format("byte {} is a carriage return (save the file with Unix line ends)", offset + i + 1));
    if (is_control(c)) return unexpected(fmt::format("byte {} is a control character (0x{:02x})", offset + i + 1, c));
  }
  return {};
}

}  // namespace

Expected<ProxyCredentials, std::string> parse_proxy_credentials(std::string_view text) {
  if (text.size() > kMaxProxyCredentialsFileBytes) {
    return unexpected(fmt::format("longer than {} bytes; expected one line user:password", kMaxProxyCredentialsFileBytes));
  }
  if (text.empty()) return unexpected(std::string("is empty; expected one line user:password"));
  std::string_view line = text;
  if (line.back() == '\n') line.remove_suffix(1);
  if (line.find('\n') != std::string_view::npos) {
    return unexpected(std::string("has more than one line; expected one line user:password"));
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) {
    return unexpected(std::string("has no ':' between the user name and the password"));
  }
  ProxyCredentials c;
  if (auto ok = check_part(line.substr(0, colon), "user name", 0); !ok) return unexpected(ok.error());
  if (auto ok = check_part(line.substr(colon + 1), "password", colon + 1); !ok) return unexpected(ok.error());
  c.user = std::string(line.substr(0, colon));
  c.password = std::string(line.substr(colon + 1));
  return c;
}

Expected<void, std::string> check_proxy_credentials_mode(uint32_t st_mode) {
  if (!S_ISREG(st_mode)) return unexpected(std::string("is not a regular file"));
  if ((st_mode & S_IRWXO) != 0) {
    return unexpected(fmt::format("is open to other users (mode {:04o}); chmod o-rwx it", st_mode & 07777));
  }
  return {};
}

}  // namespace dialout
