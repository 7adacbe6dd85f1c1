// What an HTTP CONNECT or SOCKS5 client does before the tunnel is up, as a
// pure state machine: bytes in, bytes out, a verdict. No socket, no clock,
// no log line; the driver (a transport's handshake()) moves the bytes, times
// the whole dial out with the connect timeout it already has, and logs the
// error text, which names the proxy and what it said and never a credential.
//
// The driver's loop: write pending_output() (partial writes allowed, report
// them with output_written()); once it is empty, read and consume() what
// arrived; on end of stream call peer_closed(). Input that arrives while
// output is still unsent is a protocol violation (no proxy answers a
// request it has not seen), and so are bytes that follow a reply before
// our next request, except after the final one: those belong to the tunnel
// and wait in tunnel_bytes() for the layer above (TLS) to read first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "netlib/expected.hpp"

namespace dialout {

enum class ProxyProgress {
  NeedMore,              // keep writing / reading
  Established,           // the tunnel is up; tunnel_bytes() came with it
  RetryWithCredentials,  // HTTP 407: close, dial again, send the credentials
  Failed,                // error() says why; close the connection
};
const char* to_string(ProxyProgress);

// What a proxy may be asked to reach: an IPv4 or IPv6 literal (no
// brackets), or a host name of letters, digits, '-', '_' and '.' of at most
// 253 bytes (so it fits SOCKS5's one length byte and never needs escaping in
// an HTTP request line).
Expected<void, std::string> check_proxy_target_host(std::string_view host);

class ProxyHandshake {
 public:
  virtual ~ProxyHandshake();
  ProxyHandshake(const ProxyHandshake&) = delete;
  ProxyHandshake& operator=(const ProxyHandshake&) = delete;

  // Bytes to send now; empty while waiting for the proxy.
  std::span<const uint8_t> pending_output() const { return {out_.data() + out_sent_, out_.size() - out_sent_}; }
  // `n` bytes of pending_output() reached the socket (n <= its size).
  void output_written(size_t n);
  // Bytes read from the proxy. After a terminal verdict the bytes are not
  // looked at and the verdict stays.
  ProxyProgress consume(std::span<const uint8_t> bytes);
  // The proxy closed the connection (read returned 0).
  ProxyProgress peer_closed();

  ProxyProgress progress() const { return progress_; }
  // Once Established: what the proxy sent after its final reply (the
  // intermediary's first bytes), to be read before the socket.
  std::span<const uint8_t> tunnel_bytes() const { return tunnel_; }
  // Why Failed or RetryWithCredentials; "" otherwise.
  const std::string& error() const { return error_; }
  // "proxy 192.0.2.7:3128", the prefix of every error text.
  const std::string& proxy_label() const { return label_; }

 protected:
  explicit ProxyHandshake(std::string proxy_label) : label_(std::move(proxy_label)) {}

  // Parses what has arrived (never empty); returns the verdict so far.
  virtual ProxyProgress on_input(std::span<const uint8_t> bytes) = 0;
  // What the proxy's close interrupted: "while waiting for the CONNECT reply".
  virtual std::string closed_while() const = 0;

  // Queues a request for pending_output().
  void send(std::span<const uint8_t> bytes);
  ProxyProgress fail(const std::string& why);
  ProxyProgress retry(const std::string& why);
  ProxyProgress established(std::span<const uint8_t> tunnel_bytes);

 private:
  std::string label_;
  std::vector<uint8_t> out_;
  size_t out_sent_ = 0;
  std::vector<uint8_t> tunnel_;
  std::string error_;
  ProxyProgress progress_ = ProxyProgress::NeedMore;
};

}  // namespace dialout
