#include "tund/http_connect.hpp"

#include <fmt/core.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "netlib/option_parsing.hpp"
#include "netlib/option_values.hpp"
#include "tund/http_response_head.hpp"
#include "tund/http_token.hpp"

namespace dialout {

namespace {

constexpr size_t kMaxSchemesShown = 8;

// The scheme of each challenge in Proxy-Authenticate values (RFC 9110
// section 11.6.1), e.g. `Basic realm="x", charset="UTF-8", Negotiate`: at
// the start of a comma-separated element, a token not followed by '=' opens
// a challenge; a token followed by '=' is a parameter of the one before.
// Quoted strings are skipped whole, so a realm cannot fake a scheme.
std::vector<std::string> challenge_schemes(const std::vector<std::string>& values) {
  std::vector<std::string> schemes;
  for (std::string_view v : values) {
    size_t i = 0;
    while (i < v.size()) {
      while (i < v.size() && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) ++i;
      const size_t start = i;
      while (i < v.size() && is_http_tchar(v[i])) ++i;
      const std::string_view token = v.substr(start, i - start);
      size_t after = i;
      while (after < v.size() && (v[after] == ' ' || v[after] == '\t')) ++after;
      if (!token.empty() && (after == v.size() || v[after] != '=')) schemes.emplace_back(token);
      // Skip the rest of the element: up to a comma outside a quoted string.
      bool quoted = false;
      for (; i < v.size() && (quoted || v[i] != ','); ++i) {
        if (v[i] == '"') quoted = !quoted;
        if (quoted && v[i] == '\\' && i + 1 < v.size()) ++i;
      }
    }
  }
  return schemes;
}

std::string basic_credentials(const ProxyCredentials& c) {
  std::string plain = c.user + ":" + c.password;
  std::string encoded(4 * ((plain.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(encoded.data()),
                                reinterpret_cast<const unsigned char*>(plain.data()), static_cast<int>(plain.size()));
  OPENSSL_cleanse(plain.data(), plain.size());
  encoded.resize(static_cast<size_t>(n));
  return encoded;
}

}  // namespace

Expected<std::unique_ptr<HttpConnect>, std::string> HttpConnect::start(const Request& request) {
  if (auto ok = check_proxy_target_host(request.target.host); !ok) return unexpected(ok.error());
  if (request.target.port == 0) return unexpected(std::string("target port 0"));
  if (request.send_credentials && request.credentials == nullptr) {
    return unexpected(std::string("asked to send proxy credentials but none are configured"));
  }
  return std::make_unique<HttpConnect>(Key{}, request);
}

HttpConnect::HttpConnect(Key, const Request& request)
    : ProxyHandshake("HTTP proxy " + request.proxy.to_string()),
      target_(request.target.to_string()),
      have_credentials_(request.credentials != nullptr),
      sent_credentials_(request.send_credentials) {
  std::string text = fmt::format("CONNECT {0} HTTP/1.1\r\nHost: {0}\r\nUser-Agent: dialout/{1}\r\n", target_,
                                 kDialoutVersion);
  if (sent_credentials_) {
    std::string token = basic_credentials(*request.credentials);
    text += "Proxy-Authorization: Basic " + token + "\r\n";
    OPENSSL_cleanse(token.data(), token.size());
  }
  text += "\r\n";
  send({reinterpret_cast<const uint8_t*>(text.data()), text.size()});
  OPENSSL_cleanse(text.data(), text.size());
}

ProxyProgress HttpConnect::on_input(std::span<const uint8_t> bytes) {
  head_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  for (;;) {
    if (!could_be_http_response(head_)) {
      return fail("answered with something that is not HTTP: " + quote(first_line(head_)));
    }
    HeadEnd end = find_head_end(head_, scanned_);
    if (end.kind == HeadEnd::Kind::Malformed) return fail("malformed response: " + end.error);
    const size_t head_size = end.kind == HeadEnd::Kind::Found ? end.end : head_.size();
    if (head_bytes_ + head_size > kMaxResponseHead) {
      return fail(fmt::format("response head longer than {} bytes, starting {}", kMaxResponseHead,
                              quote(first_line(head_))));
    }
    if (end.kind == HeadEnd::Kind::NeedMore) return ProxyProgress::NeedMore;
    auto head = parse_http_response_head(std::string_view(head_).substr(0, end.end));
    if (!head) return fail("malformed response: " + head.error());
    const std::string shown = quote(head->status_line);
    if (head->status >= 200 && head->status < 300) {
      return established({reinterpret_cast<const uint8_t*>(head_.data()) + end.end, head_.size() - end.end});
    }
    if (head->status == 101) return fail("switched protocols, which a CONNECT never asks for: " + shown);
    if (head->status < 200) {  // interim: the final answer follows
      head_bytes_ += end.end;
      head_.erase(0, end.end);
      scanned_ = 0;
      continue;
    }
    if (head->status == 407) return on_auth_required(shown, head->proxy_authenticate);
    return fail(fmt::format("refused CONNECT to {}: {}", target_, shown));
  }
}

ProxyProgress HttpConnect::on_auth_required(const std::string& shown, const std::vector<std::string>& challenges) {
  if (sent_credentials_) return fail("refused our proxy-credentials: " + shown);
  if (!have_credentials_) return fail("requires authentication and no proxy-credentials are configured: " + shown);
  const std::vector<std::string> schemes = challenge_schemes(challenges);
  bool basic = schemes.empty();  // RFC 9110 requires a challenge; without one, Basic is worth one try
  std::string offered;
  for (size_t i = 0; i < schemes.size(); ++i) {
    basic = basic || ascii_iequals(schemes[i], "Basic");
    if (i < kMaxSchemesShown) offered += (i == 0 ? "" : ", ") + schemes[i];
  }
  if (!basic) return fail(fmt::format("requires authentication by {}, and only Basic is supported: {}", offered, shown));
  return retry("requires authentication, sending proxy-credentials on a new connection: " + shown);
}

std::string HttpConnect::closed_while() const {
  if (head_bytes_ == 0 && head_.empty()) return "without answering the CONNECT";
  if (head_.empty()) return "after an interim (1xx) response, before the final one";
  return fmt::format("in the middle of its response, which starts {}", quote(first_line(head_)));
}

}  // namespace dialout
