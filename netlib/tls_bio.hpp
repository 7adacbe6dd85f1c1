// The BIO under every TlsConnection: our own socket I/O, so we decide how
// many syscalls a byte costs.
//
// Batched mode: OpenSSL's records are appended to an output buffer that the
// connection sends with one send() per batch (a 256 KiB write is ~16
// records, and one syscall instead of 16). Reads go straight into
// OpenSSL's read buffer with one recv() of whatever it asks for (with read
// ahead, up to its whole buffer). PerRecord mode is OpenSSL's socket BIO
// behaviour (one send() per record), kept for benchmarks and as a fallback.
#pragma once

#include <openssl/bio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace dialout {

enum class TlsIoMode { Batched, PerRecord };

struct TlsIoStats {
  uint64_t send_calls = 0;  // send() syscalls, including ones that hit EAGAIN
  uint64_t recv_calls = 0;  // recv() syscalls, including ones that hit EAGAIN
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
};

namespace tls_detail {

// The method table outlives every BIO made from it: each connection holds
// a reference.
using BioMethodPtr = std::shared_ptr<BIO_METHOD>;
BioMethodPtr make_bio_method();  // nullptr on allocation failure

// Per-connection I/O state, at a stable address (the BIO points at it).
struct Io {
  enum class Flush { Done, Blocked, Failed };

  int fd = -1;
  bool batched = true;
  bool eof = false;
  bool maybe_drained = false;  // the last recv() was short: skip the next one (see bio_read)
  std::vector<uint8_t> out;  // ciphertext (batched mode); out[sent..] is unsent
  size_t sent = 0;
  TlsIoStats stats;

  size_t pending() const { return out.size() - sent; }
  // Sends the unsent ciphertext; a partial send means the socket is full, so
  // it stops there instead of spending a syscall on the EAGAIN. On Failed,
  // `err` holds errno.
  Flush flush(int& err);
  // Gives the buffer's memory back when nothing is waiting.
  void release();
};

// A new BIO doing `io`'s socket I/O; the caller hands it to SSL_set_bio.
BIO* new_bio(BIO_METHOD* method, Io* io);

}  // namespace tls_detail
}  // namespace dialout
