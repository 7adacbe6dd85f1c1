// TLS 1.3 over a non-blocking TCP socket (OpenSSL 3), mutual X.509 auth.
//
// Threading: a TlsContext and its connections are driven from one thread.
// reload_crl() swaps the context's certificate store; call it on the thread
// that runs the handshakes (with worker threads, give each its own context
// or post the reload to each worker).
#pragma once

#include <openssl/ssl.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "netlib/expected.hpp"
#include "netlib/ticket_key_ring.hpp"
#include "netlib/stream_transport.hpp"
#include "netlib/tls_bio.hpp"
#include "netlib/unique_fd.hpp"

namespace dialout {

struct TlsFiles {
  std::string cert;  // PEM certificate chain (leaf first)
  std::string key;   // PEM private key
  std::string ca;    // PEM CA certificate(s) the peer must chain to
  std::string crl;   // optional PEM CRL(s) of that CA; empty = no revocation check
};

namespace tls_detail {
struct SslCtxFree {
  void operator()(SSL_CTX* p) const;
};
struct SslFree {
  void operator()(SSL* p) const;
};
struct SessionFree {
  void operator()(SSL_SESSION* p) const;
};
// Owned by TlsContext at a stable address; reached from OpenSSL's
// new-session callback through the SSL_CTX app data.
struct SessionCache {
  std::unique_ptr<SSL_SESSION, SessionFree> last;
};
}  // namespace tls_detail

class TlsContext {
 public:
  // Server: presents cert/key, requires a client certificate chained to ca
  // (and not revoked when crl is set) whose extended key usage includes
  // clientAuth (a certificate without the extension is refused).
  static Expected<TlsContext, std::string> server(const TlsFiles& files);
  // Client: presents cert/key when given (both empty = no client cert),
  // verifies the server against ca and requires extended key usage
  // serverAuth on its certificate (present, as on the server side).
  // Remembers the last session ticket and offers it on the next connect
  // (resumption without a full handshake).
  static Expected<TlsContext, std::string> client(const TlsFiles& files);

  TlsContext(TlsContext&&) noexcept = default;
  TlsContext& operator=(TlsContext&&) noexcept;
  ~TlsContext();

  // Re-reads ca and crl into a fresh store and swaps it in; live
  // connections are unaffected, the next handshakes use the new CRL. On a
  // server it also rotates the session-ticket keys, so a revoked client
  // cannot skip the check by resuming. On failure the old store stays.
  Expected<void, std::string> try_reload_crl();
  // Server session-ticket keys: new tickets are sealed with ring.current;
  // a ticket sealed with ring.previous still resumes (and is replaced by a
  // fresh one), any other means a full handshake. Server contexts given the
  // same ring resume each other's tickets (the intermediary's workers each
  // have their own context; a key file carries the ring across restarts).
  static Expected<TicketKey, std::string> random_ticket_key();
  Expected<void, std::string> set_ticket_keys(const TicketKeyRing& ring);
  // try_reload_crl() with the new ticket keys given instead of drawn, so
  // contexts sharing keys keep sharing them.
  Expected<void, std::string> try_reload_crl(const TicketKeyRing& keys);
  // Re-reads our own certificate (chain) and key from the same paths for
  // connections made from now on. They are checked in a scratch context
  // first: on failure (unreadable, a key that does not match) the old pair
  // stays. Same threading rule as try_reload_crl().
  Expected<void, std::string> try_reload_certificate();
  // Best effort form of try_reload_crl() (keeps the old CRL on failure).
  void reload_crl() { (void)try_reload_crl(); }

  bool is_server() const { return server_; }
  const TlsFiles& files() const { return files_; }
  // Our own certificate's notAfter (Unix seconds) as loaded; 0 without one.
  // Each connection reports the context it was made with, so status shows
  // which certificate a connection really uses while a renewal moves them.
  int64_t certificate_not_after() const { return not_after_; }
  bool has_cached_session() const { return cache_ && cache_->last != nullptr; }
  void forget_session() {
    if (cache_) cache_->last.reset();
  }
  SSL_CTX* native() const { return ctx_.get(); }

  // How connections made from now on do their socket I/O (see tls_bio.hpp).
  // Batched (the default): one send() per write() batch, read ahead into a
  // `read_buffer`-byte buffer. PerRecord: one send() per TLS record, no read
  // ahead (the behaviour before batching; benchmarks compare the two).
  static constexpr size_t kDefaultReadBuffer = 128 * 1024;
  void set_io_mode(TlsIoMode mode, size_t read_buffer = kDefaultReadBuffer) {
    io_mode_ = mode;
    read_buffer_ = read_buffer;
  }
  TlsIoMode io_mode() const { return io_mode_; }
  size_t read_buffer() const { return read_buffer_; }
  const tls_detail::BioMethodPtr& bio_method() const { return bio_method_; }

  // Subject CN of the first certificate in a PEM file (for log lines).
  static Expected<std::string, std::string> certificate_cn(const std::string& path);

 private:
  TlsContext() = default;
  static Expected<TlsContext, std::string> make(const TlsFiles& files, bool server);

  std::unique_ptr<SSL_CTX, tls_detail::SslCtxFree> ctx_;
  std::unique_ptr<tls_detail::SessionCache> cache_;        // client: the SSL_CTX app data
  std::unique_ptr<TicketKeyRing> ticket_keys_;             // server: the SSL_CTX app data
  tls_detail::BioMethodPtr bio_method_;
  TlsFiles files_;
  int64_t not_after_ = 0;
  bool server_ = false;
  TlsIoMode io_mode_ = TlsIoMode::Batched;
  size_t read_buffer_ = kDefaultReadBuffer;
};

class TlsConnection {
 public:
  using Status = IoStatus;

  static Expected<TlsConnection, std::string> accept(TlsContext& ctx, UniqueFd fd);
  // server_name non-empty: sets SNI (for names) and requires the server
  // certificate to match it (DNS name, or IP address for an IP literal).
  static Expected<TlsConnection, std::string> connect(TlsContext& ctx, UniqueFd fd,
                                                      std::string_view server_name);

  TlsConnection(TlsConnection&&) noexcept = default;
  TlsConnection& operator=(TlsConnection&&) noexcept = default;
  ~TlsConnection() = default;

  // Drive until Done; WantRead/WantWrite say which readiness to wait for.
  Status handshake();
  bool handshake_done() const { return SSL_is_init_finished(ssl_.get()) == 1; }

  // As much as one SSL_read_ex gives (at most one record); never 0
  // (WantRead/Closed instead). `buf` must not be empty. After the handshake
  // TLS reads ahead: bytes can wait inside TLS that epoll does not report,
  // so read until WantRead, or come back while has_buffered_input().
  Expected<size_t, Status> read(std::span<uint8_t> buf);
  // Partial writes allowed; at most kMaxWriteBatch bytes are taken per call.
  // A returned count means its ciphertext is all in the socket. After
  // WantWrite/WantRead, the next call must start with the same bytes
  // (OpenSSL retry rule; the buffer may move). In batched mode an empty
  // `buf` only sends ciphertext still waiting (0 when none is left,
  // WantWrite while some is).
  Expected<size_t, Status> write(std::span<const uint8_t> buf);
  // Sends close_notify, best effort (does not wait for the peer's).
  void shutdown();

  // Batched mode: plaintext taken per write() (one batch plus one record);
  // its ciphertext goes out in one send() when the socket has room.
  static constexpr size_t kMaxWriteBatch = 256 * 1024 + 16 * 1024;
  // Ciphertext made but not yet in the socket (a batch, a handshake flight,
  // a key-update reply). Keep EPOLLOUT interest while true and call
  // write() (an empty span will do) when writable.
  bool has_pending_output() const { return io_ && io_->pending() > 0; }
  // Received bytes buffered inside TLS (see read()).
  bool has_buffered_input() const { return ssl_ && SSL_has_pending(ssl_.get()) == 1; }
  // Gives idle buffers back (ours and OpenSSL's); no-op while in use.
  void trim();
  const TlsIoStats& io_stats() const { return io_->stats; }

  std::string peer_identity() const;  // subject CN of the verified peer cert, "" if none
  std::string last_error() const { return last_error_; }
  int fd() const { return fd_.get(); }
  // The last operation stopped because the socket was not writable.
  bool wants_write() const { return want_write_; }
  bool session_reused() const { return SSL_session_reused(ssl_.get()) == 1; }
  SSL* native() const { return ssl_.get(); }

 private:
  TlsConnection() = default;
  static Expected<TlsConnection, std::string> make(TlsContext& ctx, UniqueFd fd);
  Status map_error(int ret, const char* op);
  // Sends waiting ciphertext: Done (all out), WantWrite, or Error.
  Status send_output();
  void after_handshake();
  Expected<size_t, Status> write_batched(std::span<const uint8_t> buf);

  // Declared before ssl_ so the SSL (whose BIO uses them) goes first.
  UniqueFd fd_;
  tls_detail::BioMethodPtr bio_method_;
  std::unique_ptr<tls_detail::Io> io_;
  std::unique_ptr<SSL, tls_detail::SslFree> ssl_;
  std::string last_error_;
  size_t committed_ = 0;  // plaintext taken into ciphertext still waiting in io_->out
  bool want_write_ = false;
  bool read_ahead_ = false;
};


}  // namespace dialout
