// TlsConnection: handshake, reads and (batched) writes over our own BIO.
#include <fmt/core.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "netlib/tls.hpp"
#include "netlib/tls_detail.hpp"

namespace dialout {

using tls_detail::cn_of;
using tls_detail::drain_errors;
using tls_detail::is_ip_literal;
using tls_detail::with_errors;

Expected<TlsConnection, std::string> TlsConnection::make(TlsContext& ctx, UniqueFd fd) {
  ERR_clear_error();
  TlsConnection c;
  c.fd_ = std::move(fd);
  c.bio_method_ = ctx.bio_method();
  c.io_ = std::make_unique<tls_detail::Io>();
  c.io_->fd = c.fd_.get();
  c.io_->batched = ctx.io_mode() == TlsIoMode::Batched;
  c.ssl_.reset(SSL_new(ctx.native()));
  if (!c.ssl_) return unexpected(with_errors("SSL_new"));
  BIO* bio = tls_detail::new_bio(c.bio_method_.get(), c.io_.get());
  if (bio == nullptr) return unexpected(with_errors("BIO_new"));
  SSL_set_bio(c.ssl_.get(), bio, bio);  // the SSL owns the BIO now
  if (c.io_->batched) {
    // Idle sessions must stay small: OpenSSL frees its record buffers
    // whenever they are empty. The read buffer is big so one recv() takes
    // many records once read ahead is on (after the handshake).
    SSL_set_mode(c.ssl_.get(), SSL_MODE_RELEASE_BUFFERS);
    // Our BIO never blocks a write, so a write takes the whole batch (in
    // partial mode OpenSSL would stop after every record).
    SSL_clear_mode(c.ssl_.get(), SSL_MODE_ENABLE_PARTIAL_WRITE);
    SSL_set_default_read_buffer_len(c.ssl_.get(), ctx.read_buffer());
  }
  return c;
}

Expected<TlsConnection, std::string> TlsConnection::accept(TlsContext& ctx, UniqueFd fd) {
  auto c = make(ctx, std::move(fd));
  if (c) SSL_set_accept_state(c->ssl_.get());
  return c;
}

Expected<TlsConnection, std::string> TlsConnection::connect(TlsContext& ctx, UniqueFd fd,
                                                             std::string_view server_name) {
  auto made = make(ctx, std::move(fd));
  if (!made) return made;
  TlsConnection c = std::move(*made);
  SSL* ssl = c.ssl_.get();
  SSL_set_connect_state(ssl);
  if (!server_name.empty()) {
    std::string name(server_name);
    if (is_ip_literal(name)) {
      // No SNI for addresses (RFC 6066); match the certificate's IP SAN.
      if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str()) != 1) {
        return unexpected(with_errors(fmt::format("bad server address {}", name)));
      }
    } else {
      if (SSL_set_tlsext_host_name(ssl, name.c_str()) != 1 || SSL_set1_host(ssl, name.c_str()) != 1) {
        return unexpected(with_errors(fmt::format("bad server name {}", name)));
      }
    }
  }
  // Offer the last ticket. It is only accepted by a server holding the
  // ticket key (ours, or a peer intermediary sharing it), so it is not
  // tied to the name used the first time. Each connection gets its own
  // copy: OpenSSL marks the session a connection holds unresumable when
  // that connection is freed uncleanly, and that must not spoil the one we
  // keep for the next (a site's other uplinks, its next attempt).
  auto* cache = static_cast<tls_detail::SessionCache*>(SSL_CTX_get_app_data(ctx.native()));
  if (cache != nullptr && cache->last && SSL_SESSION_is_resumable(cache->last.get()) == 1) {
    std::unique_ptr<SSL_SESSION, tls_detail::SessionFree> copy(SSL_SESSION_dup(cache->last.get()));
    if (copy) SSL_set_session(ssl, copy.get());  // takes its own reference
  }
  return c;
}

TlsConnection::Status TlsConnection::map_error(int ret, const char* op) {
  int err = SSL_get_error(ssl_.get(), ret);
  want_write_ = false;
  switch (err) {
    case SSL_ERROR_WANT_READ:
      return Status::WantRead;
    case SSL_ERROR_WANT_WRITE:
      want_write_ = true;
      return Status::WantWrite;
    case SSL_ERROR_ZERO_RETURN:
      last_error_ = "peer closed the connection";
      return Status::Closed;
    case SSL_ERROR_SYSCALL: {
      int e = errno;
      std::string queued = drain_errors();
      if (!queued.empty()) {
        last_error_ = fmt::format("{}: {}", op, queued);
      } else if (e != 0 && e != EAGAIN) {
        last_error_ = fmt::format("{}: {}", op, std::strerror(e));
      } else {
        last_error_ = fmt::format("{}: connection closed", op);
        return Status::Closed;
      }
      return Status::Error;
    }
    default:
      break;
  }
  unsigned long first = ERR_peek_error();
  long verify = SSL_get_verify_result(ssl_.get());
  std::string queued = drain_errors();
  if (verify != X509_V_OK && !handshake_done()) {
    last_error_ = fmt::format("certificate verify failed: {}", X509_verify_cert_error_string(verify));
    if (verify == X509_V_ERR_INVALID_PURPOSE) {
      last_error_ += SSL_is_server(ssl_.get())
                         ? " (a site's certificate must carry extended key usage clientAuth)"
                         : " (the intermediary's certificate must carry extended key usage serverAuth)";
    }
    return Status::Error;
  }
  if (ERR_GET_LIB(first) == ERR_LIB_SSL && ERR_GET_REASON(first) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
    // A peer that died; for the caller this is the end of the stream.
    last_error_ = fmt::format("{}: peer closed without close_notify", op);
    return Status::Closed;
  }
  last_error_ = fmt::format("{}: {}", op, queued.empty() ? "TLS error" : queued);
  return Status::Error;
}

TlsConnection::Status TlsConnection::send_output() {
  int err = 0;
  switch (io_->flush(err)) {
    case tls_detail::Io::Flush::Done: return Status::Done;
    case tls_detail::Io::Flush::Blocked: want_write_ = true; return Status::WantWrite;
    case tls_detail::Io::Flush::Failed: break;
  }
  last_error_ = fmt::format("send: {}", std::strerror(err));
  return Status::Error;
}

void TlsConnection::after_handshake() {
  if (read_ahead_ || !io_->batched || !handshake_done()) return;
  // Only now: reading ahead during the handshake could swallow the first
  // application bytes behind the peer's Finished, and a caller that got
  // Done would wait on epoll for bytes that already arrived.
  SSL_set_read_ahead(ssl_.get(), 1);
  read_ahead_ = true;
  io_->release();  // the handshake flight's buffer; bulk writers grow it again
}

TlsConnection::Status TlsConnection::handshake() {
  ERR_clear_error();
  if (io_->batched && io_->pending() > 0) {
    // Our last flight first; the peer cannot answer what it has not seen.
    if (Status st = send_output(); st != Status::Done) return st;
  }
  errno = 0;
  int r = SSL_do_handshake(ssl_.get());
  int saved_errno = errno;
  Status sent = io_->batched && io_->pending() > 0 ? send_output() : Status::Done;
  if (r == 1) {
    if (sent != Status::Done) return sent;
    want_write_ = false;
    after_handshake();
    return Status::Done;
  }
  errno = saved_errno;
  Status st = map_error(r, "handshake");
  if (st == Status::WantRead && sent == Status::WantWrite) {
    want_write_ = true;
    return Status::WantWrite;
  }
  return st;
}

Expected<size_t, TlsConnection::Status> TlsConnection::read(std::span<uint8_t> buf) {
  if (buf.empty()) {
    last_error_ = "read into an empty buffer";
    return unexpected(Status::Error);
  }
  ERR_clear_error();
  after_handshake();
  // Waiting ciphertext is not pushed here: with a full socket that would
  // cost a futile send() per record read.
  size_t out_before = io_->out.size();
  errno = 0;
  size_t n = 0;
  int r = SSL_read_ex(ssl_.get(), buf.data(), buf.size(), &n);
  int saved_errno = errno;
  // Reading can produce output (a key-update reply, a post-handshake
  // message); send it now, as the socket BIO used to.
  Status sent = Status::Done;
  if (io_->batched && io_->out.size() > out_before) sent = send_output();
  if (r == 1 && n > 0) {
    want_write_ = false;
    return n;
  }
  errno = saved_errno;
  Status st = map_error(r, "read");
  if (st == Status::WantRead && sent == Status::WantWrite) {
    want_write_ = true;
    return unexpected(Status::WantWrite);
  }
  return unexpected(st);
}

Expected<size_t, TlsConnection::Status> TlsConnection::write(std::span<const uint8_t> buf) {
  if (io_->batched) return write_batched(buf);
  if (buf.empty()) return size_t{0};
  ERR_clear_error();
  errno = 0;
  size_t n = 0;
  int r = SSL_write_ex(ssl_.get(), buf.data(), buf.size(), &n);
  if (r == 1) {
    want_write_ = false;
    return n;
  }
  return unexpected(map_error(r, "write"));
}

// The caller's plaintext is encrypted into io_->out only when that buffer
// is empty, so it holds at most one batch (plus a handshake or key-update
// message). The count is reported once all of its ciphertext is in the
// socket; until then the caller retries with the same bytes, which keeps
// OpenSSL's retry contract (and the Channel) unchanged.
Expected<size_t, TlsConnection::Status> TlsConnection::write_batched(std::span<const uint8_t> buf) {
  ERR_clear_error();
  after_handshake();
  Status sent = io_->pending() > 0 ? send_output() : Status::Done;
  if (sent == Status::Error) return unexpected(sent);
  if (committed_ > 0) {
    if (sent == Status::WantWrite) return unexpected(sent);
    if (buf.empty()) return size_t{0};  // drained; the retry with the bytes reports them
    if (buf.size() < committed_) {
      last_error_ = "write retried with fewer bytes than it was given";
      return unexpected(Status::Error);
    }
    want_write_ = false;
    return std::exchange(committed_, 0);
  }
  if (sent == Status::WantWrite) return unexpected(sent);
  if (buf.empty()) {
    want_write_ = false;
    return size_t{0};
  }
  size_t take = std::min(buf.size(), kMaxWriteBatch);
  io_->out.reserve(take + take / 512 + 1024);  // records add ~22 bytes per 16 KiB
  errno = 0;
  size_t n = 0;
  int r = SSL_write_ex(ssl_.get(), buf.data(), take, &n);
  int saved_errno = errno;
  Status after = io_->pending() > 0 ? send_output() : Status::Done;
  if (r != 1) {
    // Before the handshake is done a write drives it and may wait to read.
    errno = saved_errno;
    Status st = map_error(r, "write");
    if (st == Status::WantRead && after == Status::WantWrite) {
      want_write_ = true;
      return unexpected(Status::WantWrite);
    }
    return unexpected(st);
  }
  if (after == Status::Error) return unexpected(after);
  if (after == Status::WantWrite) {
    committed_ = n;
    return unexpected(after);
  }
  want_write_ = false;
  return n;
}

void TlsConnection::shutdown() {
  if (!ssl_ || !handshake_done()) return;
  ERR_clear_error();
  SSL_shutdown(ssl_.get());
  if (io_->batched) (void)send_output();
  ERR_clear_error();
}

void TlsConnection::trim() {
  if (!ssl_) return;
  if (io_->pending() == 0 && committed_ == 0) io_->release();
  SSL_free_buffers(ssl_.get());  // refuses (harmlessly) while a record is half read or written
}

std::string TlsConnection::peer_identity() const {
  if (!ssl_ || SSL_get_verify_result(ssl_.get()) != X509_V_OK) return {};
  return cn_of(SSL_get0_peer_certificate(ssl_.get()));
}

}  // namespace dialout
