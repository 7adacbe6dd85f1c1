#include "tund/proxy_handshake.hpp"

#include <openssl/crypto.h>

#include <cassert>

#include "netlib/ip_address.hpp"
#include "netlib/option_values.hpp"

namespace dialout {

const char* to_string(ProxyProgress p) {
  switch (p) {
    case ProxyProgress::NeedMore: return "need more";
    case ProxyProgress::Established: return "established";
    case ProxyProgress::RetryWithCredentials: return "retry with credentials";
    case ProxyProgress::Failed: return "failed";
  }
  return "?";
}

Expected<void, std::string> check_proxy_target_host(std::string_view host) {
  if (IpAddr::parse(host)) return {};
  auto bad = [&](const char* why) -> Expected<void, std::string> {
    return unexpected("target host " + quote(host) + " " + why);
  };
  if (host.empty()) return bad("is empty");
  if (host.size() > 253) return bad("is longer than 253 bytes");
  for (char c : host) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '_' || c == '.';
    if (!ok) return bad("is neither an IP address nor a host name");
  }
  return {};
}

ProxyHandshake::~ProxyHandshake() { OPENSSL_cleanse(out_.data(), out_.size()); }

void ProxyHandshake::output_written(size_t n) {
  assert(n <= out_.size() - out_sent_);
  out_sent_ += n;
  if (out_sent_ == out_.size()) {
    // It may have held credentials (Basic, RFC 1929): do not leave them in freed memory.
    OPENSSL_cleanse(out_.data(), out_.size());
    out_.clear();
    out_sent_ = 0;
  }
}

ProxyProgress ProxyHandshake::consume(std::span<const uint8_t> bytes) {
  if (progress_ != ProxyProgress::NeedMore || bytes.empty()) return progress_;
  if (out_sent_ < out_.size()) {
    return fail("sent " + std::to_string(bytes.size()) + " bytes before our request was complete");
  }
  return on_input(bytes);
}

ProxyProgress ProxyHandshake::peer_closed() {
  if (progress_ != ProxyProgress::NeedMore) return progress_;
  return fail("closed the connection " + closed_while());
}

void ProxyHandshake::send(std::span<const uint8_t> bytes) { out_.insert(out_.end(), bytes.begin(), bytes.end()); }

ProxyProgress ProxyHandshake::fail(const std::string& why) {
  error_ = label_ + ": " + why;
  OPENSSL_cleanse(out_.data(), out_.size());
  out_.clear();
  out_sent_ = 0;
  return progress_ = ProxyProgress::Failed;
}

ProxyProgress ProxyHandshake::retry(const std::string& why) {
  error_ = label_ + ": " + why;
  OPENSSL_cleanse(out_.data(), out_.size());
  out_.clear();
  out_sent_ = 0;
  return progress_ = ProxyProgress::RetryWithCredentials;
}

ProxyProgress ProxyHandshake::established(std::span<const uint8_t> tunnel_bytes) {
  tunnel_.assign(tunnel_bytes.begin(), tunnel_bytes.end());
  return progress_ = ProxyProgress::Established;
}

}  // namespace dialout
