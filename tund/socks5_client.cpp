#include "tund/socks5_client.hpp"

#include <fmt/core.h>
#include <openssl/crypto.h>

#include <array>

#include "netlib/ip_address.hpp"

namespace dialout {

namespace {

constexpr uint8_t kVersion = 0x05;
constexpr uint8_t kMethodNone = 0x00;
constexpr uint8_t kMethodPassword = 0x02;
constexpr uint8_t kMethodRefused = 0xff;
constexpr uint8_t kPasswordVersion = 0x01;  // RFC 1929's own version byte
constexpr uint8_t kCmdConnect = 0x01;
constexpr uint8_t kAtypIpv4 = 0x01;
constexpr uint8_t kAtypName = 0x03;
constexpr uint8_t kAtypIpv6 = 0x04;
constexpr size_t kReplyHead = 4;  // VER REP RSV ATYP

void append_port(std::vector<uint8_t>& out, uint16_t port) {
  out.push_back(static_cast<uint8_t>(port >> 8));
  out.push_back(static_cast<uint8_t>(port & 0xff));
}

void append_counted(std::vector<uint8_t>& out, std::string_view s) {
  out.push_back(static_cast<uint8_t>(s.size()));
  out.insert(out.end(), s.begin(), s.end());
}

}  // namespace

std::string Socks5Client::reply_name(uint8_t rep) {
  static constexpr std::array<const char*, 9> kNames = {
      "succeeded",          "general SOCKS server failure", "connection not allowed by ruleset",
      "network unreachable", "host unreachable",            "connection refused",
      "TTL expired",        "command not supported",        "address type not supported"};
  if (rep < kNames.size()) return kNames[rep];
  return fmt::format("unassigned reply code 0x{:02x}", rep);
}

Expected<std::unique_ptr<Socks5Client>, std::string> Socks5Client::start(const Request& request) {
  if (auto ok = check_proxy_target_host(request.target.host); !ok) return unexpected(ok.error());
  if (request.target.port == 0) return unexpected(std::string("target port 0"));
  if (const ProxyCredentials* c = request.credentials) {
    auto fits = [](const std::string& s) { return !s.empty() && s.size() <= kMaxProxyCredentialLength; };
    if (!fits(c->user) || !fits(c->password)) {
      return unexpected(fmt::format("SOCKS5 user name and password must be 1..{} bytes each", kMaxProxyCredentialLength));
    }
  }
  return std::make_unique<Socks5Client>(Key{}, request);
}

Socks5Client::Socks5Client(Key, const Request& request)
    : ProxyHandshake("SOCKS5 proxy " + request.proxy.to_string()),
      target_(request.target.to_string()),
      offer_password_(request.credentials != nullptr) {
  if (offer_password_) {
    user_ = request.credentials->user;
    password_ = request.credentials->password;
    const std::array<uint8_t, 4> greeting = {kVersion, 2, kMethodNone, kMethodPassword};
    send(greeting);
  } else {
    const std::array<uint8_t, 3> greeting = {kVersion, 1, kMethodNone};
    send(greeting);
  }
  connect_request_ = {kVersion, kCmdConnect, 0x00};
  if (auto addr = IpAddr::parse(request.target.host)) {
    connect_request_.push_back(addr->family == Family::V4 ? kAtypIpv4 : kAtypIpv6);
    connect_request_.insert(connect_request_.end(), addr->bytes.begin(), addr->bytes.begin() + addr->size());
  } else {
    connect_request_.push_back(kAtypName);
    append_counted(connect_request_, request.target.host);
  }
  append_port(connect_request_, request.target.port);
}

Socks5Client::~Socks5Client() {
  OPENSSL_cleanse(user_.data(), user_.size());
  OPENSSL_cleanse(password_.data(), password_.size());
}

ProxyProgress Socks5Client::on_input(std::span<const uint8_t> bytes) {
  in_.insert(in_.end(), bytes.begin(), bytes.end());
  switch (stage_) {
    case Stage::Method: return on_method();
    case Stage::Auth: return on_auth_status();
    case Stage::Reply: return on_reply();
  }
  return fail("internal error: unknown stage");
}

ProxyProgress Socks5Client::next_stage(Stage stage, size_t size, const char* after) {
  if (in_.size() > size) return fail(fmt::format("sent {} unexpected bytes after its {}", in_.size() - size, after));
  in_.clear();
  stage_ = stage;
  return ProxyProgress::NeedMore;
}

ProxyProgress Socks5Client::on_method() {
  if (in_[0] != kVersion) {
    return fail(fmt::format("answered with version {} instead of 5: not a SOCKS5 proxy", in_[0]));
  }
  if (in_.size() < 2) return ProxyProgress::NeedMore;
  const uint8_t method = in_[1];
  const char* offered = offer_password_ ? "no authentication, username/password" : "no authentication";
  if (method == kMethodRefused) {
    return fail(fmt::format("accepts none of the authentication methods we offered ({}){}", offered,
                            offer_password_ ? "" : "; does it need proxy-credentials?"));
  }
  if (method == kMethodNone) {
    send(connect_request_);
    return next_stage(Stage::Reply, 2, "method selection");
  }
  if (method == kMethodPassword && offer_password_) {
    std::vector<uint8_t> auth = {kPasswordVersion};
    append_counted(auth, user_);
    append_counted(auth, password_);
    send(auth);
    OPENSSL_cleanse(auth.data(), auth.size());
    OPENSSL_cleanse(password_.data(), password_.size());
    password_.clear();
    return next_stage(Stage::Auth, 2, "method selection");
  }
  return fail(fmt::format("chose authentication method 0x{:02x}, which we did not offer ({})", method, offered));
}

ProxyProgress Socks5Client::on_auth_status() {
  if (in_[0] != kPasswordVersion) {
    return fail(fmt::format("answered the username/password step with version {} instead of 1", in_[0]));
  }
  if (in_.size() < 2) return ProxyProgress::NeedMore;
  if (in_[1] != 0) return fail(fmt::format("refused our proxy-credentials (status 0x{:02x})", in_[1]));
  send(connect_request_);
  return next_stage(Stage::Reply, 2, "username/password status");
}

ProxyProgress Socks5Client::on_reply() {
  if (in_[0] != kVersion) return fail(fmt::format("answered the CONNECT with version {} instead of 5", in_[0]));
  if (in_.size() < 2) return ProxyProgress::NeedMore;
  if (in_[1] != 0) {
    return fail(fmt::format("refused CONNECT to {}: {} (reply 0x{:02x})", target_, reply_name(in_[1]), in_[1]));
  }
  if (in_.size() < 3) return ProxyProgress::NeedMore;
  if (in_[2] != 0) return fail(fmt::format("CONNECT reply has reserved byte 0x{:02x}, not 0", in_[2]));
  if (in_.size() < kReplyHead) return ProxyProgress::NeedMore;
  size_t size = 0;
  switch (in_[3]) {
    case kAtypIpv4: size = kReplyHead + 4 + 2; break;
    case kAtypIpv6: size = kReplyHead + 16 + 2; break;
    case kAtypName:
      if (in_.size() < kReplyHead + 1) return ProxyProgress::NeedMore;
      if (in_[kReplyHead] == 0) return fail("CONNECT reply has an empty bound host name");
      size = kReplyHead + 1 + in_[kReplyHead] + 2;
      break;
    default: return fail(fmt::format("CONNECT reply has unknown address type 0x{:02x}", in_[3]));
  }
  if (in_.size() < size) return ProxyProgress::NeedMore;
  return established(std::span<const uint8_t>(in_).subspan(size));
}

std::string Socks5Client::closed_while() const {
  switch (stage_) {
    case Stage::Method: return "before choosing an authentication method";
    case Stage::Auth: return "before answering our username/password";
    case Stage::Reply: return "before answering the CONNECT";
  }
  return "";
}

}  // namespace dialout
