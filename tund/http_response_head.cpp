#include "tund/http_response_head.hpp"

#include <fmt/core.h>

#include "netlib/option_values.hpp"
#include "tund/http_token.hpp"

namespace dialout {

namespace {

constexpr std::string_view kHttpPrefix = "HTTP/";

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// VCHAR, obs-text, SP, HTAB: what a field value or a reason phrase may hold.
bool is_text(char ch) {
  const auto c = static_cast<unsigned char>(ch);
  return c == ' ' || c == '\t' || (c > 0x20 && c != 0x7f);
}

Expected<unsigned, std::string> parse_status_line(std::string_view line) {
  auto bad = [&](const char* why) -> Expected<unsigned, std::string> {
    return unexpected(fmt::format("malformed status line {}: {}", quote(line), why));
  };
  // "HTTP/1.1 200 OK": version (8), SP, three digits, then SP reason or nothing.
  if (line.size() < 12 || !line.starts_with(kHttpPrefix) || !is_digit(line[5]) || line[6] != '.' || !is_digit(line[7])) {
    return bad("expected HTTP/x.y SP status");
  }
  if (line[5] != '1' || (line[7] != '0' && line[7] != '1')) return bad("not HTTP/1.0 or HTTP/1.1");
  if (line[8] != ' ' || !is_digit(line[9]) || !is_digit(line[10]) || !is_digit(line[11])) {
    return bad("expected a three-digit status after the version");
  }
  const unsigned status = static_cast<unsigned>((line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0'));
  if (status < 100 || status > 599) return bad("status out of range 100..599");
  if (line.size() > 12 && line[12] != ' ') return bad("expected a space after the status");
  for (size_t i = 12; i < line.size(); ++i) {
    if (!is_text(line[i])) return bad("control character in the reason");
  }
  return status;
}

}  // namespace

HeadEnd find_head_end(std::string_view bytes, size_t& scanned) {
  HeadEnd r;
  for (size_t i = scanned; i < bytes.size(); ++i) {
    if (bytes[i] == '\n' && (i == 0 || bytes[i - 1] != '\r')) {
      r.kind = HeadEnd::Kind::Malformed;
      r.error = fmt::format("line feed without carriage return at byte {}", i + 1);
      return r;
    }
    if (bytes[i] == '\r' && i + 1 < bytes.size() && bytes[i + 1] != '\n') {
      r.kind = HeadEnd::Kind::Malformed;
      r.error = fmt::format("carriage return without line feed at byte {}", i + 1);
      return r;
    }
    if (bytes[i] == '\n' && i >= 3 && bytes[i - 2] == '\n') {
      r.kind = HeadEnd::Kind::Found;
      r.end = i + 1;
      scanned = i + 1;
      return r;
    }
  }
  // A CR at the very end may still be followed by its LF: look again.
  scanned = bytes.empty() || bytes.back() != '\r' ? bytes.size() : bytes.size() - 1;
  return r;
}

Expected<HttpResponseHead, std::string> parse_http_response_head(std::string_view head) {
  if (!head.ends_with("\r\n\r\n")) return unexpected(std::string("response head does not end in an empty line"));
  head.remove_suffix(2);  // every line, the last included, now ends in CRLF
  HttpResponseHead r;
  size_t eol = head.find("\r\n");
  r.status_line = std::string(head.substr(0, eol));
  auto status = parse_status_line(r.status_line);
  if (!status) return unexpected(status.error());
  r.status = *status;
  for (size_t pos = eol + 2; pos < head.size(); pos = eol + 2) {
    eol = head.find("\r\n", pos);
    const std::string_view line = head.substr(pos, eol - pos);
    if (line.empty()) return unexpected(std::string("empty line inside the response head"));
    if (line.front() == ' ' || line.front() == '\t') {
      return unexpected(fmt::format("folded header line {} (obsolete line folding)", quote(line)));
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return unexpected(fmt::format("header line {} has no field name and colon", quote(line)));
    }
    const std::string_view name = line.substr(0, colon);
    for (char c : name) {
      if (!is_http_tchar(c)) return unexpected(fmt::format("header field name {} is not a token", quote(name)));
    }
    std::string_view value = line.substr(colon + 1);
    for (char c : value) {
      if (!is_text(c)) return unexpected(fmt::format("header field {} has a control character", quote(name)));
    }
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (ascii_iequals(name, "Proxy-Authenticate")) r.proxy_authenticate.emplace_back(value);
  }
  return r;
}

bool could_be_http_response(std::string_view prefix) {
  const size_t n = std::min(prefix.size(), kHttpPrefix.size());
  return prefix.substr(0, n) == kHttpPrefix.substr(0, n);
}

std::string_view first_line(std::string_view bytes) { return bytes.substr(0, bytes.find("\r\n")); }

}  // namespace dialout
