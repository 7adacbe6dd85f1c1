// CPU cost of the datagram path's record layer against TLS's, on one core:
// each round seals (encrypts) a payload and opens (decrypts) it again, so
// the figure is payload bytes per CPU-second for sending plus receiving
// once. TLS is measured the same way: an in-memory TLS 1.3 pair (no
// sockets, no kernel) on this thread, SSL_write on one end, SSL_read on the
// other, with the TLS suite of the same AEAD (so this compares record
// layers and crypto, not sockets: bench/tls_throughput.cpp measures the
// socket side). Sizes: 1400-byte payloads (a
// record per packet on a 1500-byte path) and the largest record body
// (65475 bytes, about 64 KiB; TLS cuts that into 16 KiB records).
//
// Also counts OpenSSL heap allocations per record (the datagram path must
// make none). Prints ratios datagram / TLS.
//
//   record_throughput [--bytes N] [--rounds R]
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <time.h>

#include <atomic>
#include <boost/program_options.hpp>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "netlib/datagram_record.hpp"
#include "netlib/tls.hpp"
#include "tests/support/test_pki.hpp"

namespace po = boost::program_options;
using namespace dialout;

namespace {

// OpenSSL takes a replacement allocator only before its first allocation,
// so this is installed first thing in main(); a benchmark's own counter.
std::atomic<uint64_t> openssl_allocations{0};
void* counting_malloc(size_t n, const char*, int) {
  openssl_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n);
}
void* counting_realloc(void* p, size_t n, const char*, int) {
  openssl_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::realloc(p, n);
}
void plain_free(void* p, const char*, int) { std::free(p); }

double thread_cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

struct Figure {
  double gbit = 0;               // payload Gbit per CPU-second
  double allocs_per_record = 0;  // OpenSSL allocations
};

Figure datagram_run(DatagramCipher cipher, size_t payload, uint64_t total) {
  DirectionKey key;
  for (size_t i = 0; i < key.key.size(); ++i) key.key[i] = uint8_t(i * 7 + 1);
  auto sealer = RecordSealer::make(cipher, key, 0, 1);
  auto opener = RecordOpener::make(cipher, key, 0);
  if (!sealer || !opener) throw std::runtime_error("datagram keys");
  std::vector<uint8_t> record(kRecordOverhead + payload);
  for (size_t i = 0; i < payload; ++i) record[kRecordHeaderSize + i] = uint8_t(i);
  record[kRecordHeaderSize + kDataHeaderSize - 1] = 0;  // a valid DATA header: reserved byte zero
  uint64_t records = (total + payload - 1) / payload;
  uint64_t allocs0 = openssl_allocations.load();
  double t0 = thread_cpu_seconds();
  for (uint64_t i = 0; i < records; ++i) {
    auto n = sealer->seal(RecordType::Data, record, payload);
    if (!n) throw std::runtime_error(std::string("seal: ") + to_string(n.error()));
    auto v = decode_record(std::span<const uint8_t>(record.data(), *n));
    if (!v) throw std::runtime_error(std::string("decode: ") + to_string(v.error()));
    if (!opener->open(*v, std::span(record).subspan(kRecordHeaderSize, payload)))
      throw std::runtime_error("open failed");
  }
  double cpu = thread_cpu_seconds() - t0;
  return Figure{double(records * payload) * 8 / cpu / 1e9,
                double(openssl_allocations.load() - allocs0) / double(records)};
}

struct SslFree {
  void operator()(SSL* p) const { SSL_free(p); }
};
using SslPtr = std::unique_ptr<SSL, SslFree>;

Figure tls_run(TestPki& pki, const char* suite, size_t payload, uint64_t total) {
  auto sctx = TlsContext::server(pki.server_files());
  auto cctx = TlsContext::client(pki.client_files("bench"));
  if (!sctx || !cctx) throw std::runtime_error("TLS contexts");
  SslPtr client(SSL_new(cctx->native())), server(SSL_new(sctx->native()));
  BIO *cb = nullptr, *sb = nullptr;
  // Room for a whole 64 KiB write's records, so SSL_write never waits.
  if (!client || !server || BIO_new_bio_pair(&cb, 1 << 20, &sb, 1 << 20) != 1)
    throw std::runtime_error("SSL objects");
  SSL_set_bio(client.get(), cb, cb);
  SSL_set_bio(server.get(), sb, sb);
  SSL_set_ciphersuites(client.get(), suite);
  SSL_set_ciphersuites(server.get(), suite);
  // Whole writes, as the daemons' batched mode does. No SSL_MODE_RELEASE_BUFFERS
  // (the daemons set it to keep idle sessions small): buffers stay, which
  // favours TLS here.
  SSL_clear_mode(client.get(), SSL_MODE_ENABLE_PARTIAL_WRITE);
  SSL_set_connect_state(client.get());
  SSL_set_accept_state(server.get());
  for (int i = 0; i < 32 && !(SSL_is_init_finished(client.get()) && SSL_is_init_finished(server.get())); ++i) {
    SSL_do_handshake(client.get());
    SSL_do_handshake(server.get());
  }
  if (!SSL_is_init_finished(client.get()) || !SSL_is_init_finished(server.get()))
    throw std::runtime_error("TLS handshake");
  std::vector<uint8_t> out(payload), in(64 * 1024);
  for (size_t i = 0; i < payload; ++i) out[i] = uint8_t(i);
  // Let the client take the session tickets first, so they are not timed.
  size_t got = 0;
  (void)SSL_read_ex(client.get(), in.data(), 1, &got);
  ERR_clear_error();
  uint64_t writes = (total + payload - 1) / payload;
  uint64_t allocs0 = openssl_allocations.load();
  double t0 = thread_cpu_seconds();
  for (uint64_t i = 0; i < writes; ++i) {
    size_t written = 0;
    if (SSL_write_ex(client.get(), out.data(), payload, &written) != 1 || written != payload)
      throw std::runtime_error("SSL_write");
    for (size_t read = 0; read < payload;) {
      size_t n = 0;
      if (SSL_read_ex(server.get(), in.data(), in.size(), &n) != 1) throw std::runtime_error("SSL_read");
      read += n;
    }
  }
  double cpu = thread_cpu_seconds() - t0;
  uint64_t records = writes * ((payload + 16383) / 16384);
  return Figure{double(writes * payload) * 8 / cpu / 1e9,
                double(openssl_allocations.load() - allocs0) / double(records)};
}

}  // namespace

int main(int argc, char** argv) {
  bool hooked = CRYPTO_set_mem_functions(counting_malloc, counting_realloc, plain_free) == 1;
  uint64_t bytes = 256ull << 20;
  int rounds = 3;
  po::options_description opts("record_throughput");
  opts.add_options()("help", "this text")("bytes", po::value(&bytes), "payload bytes per run (default 256 MiB)")(
      "rounds", po::value(&rounds), "runs per case; the best is reported (default 3)");
  try {
    po::variables_map vm;
    po::store(po::parse_command_line(argc, argv, opts), vm);
    po::notify(vm);
    if (vm.count("help")) {
      std::printf("%s", (std::ostringstream() << opts).str().c_str());
      return 0;
    }
    TestPki pki;
    struct Pair {
      DatagramCipher cipher;
      const char* tls_suite;
    };
    const Pair pairs[] = {{DatagramCipher::Aes256Gcm, "TLS_AES_256_GCM_SHA384"},
                          {DatagramCipher::ChaCha20Poly1305, "TLS_CHACHA20_POLY1305_SHA256"}};
    std::printf("seal+open on one core, %.0f MiB per run, best of %d; AES instructions: %s\n",
                double(bytes) / (1 << 20), rounds, cpu_has_aes_acceleration() ? "yes" : "no");
    std::printf("%-18s %7s  %12s  %12s  %8s  %s\n", "cipher", "payload", "datagram", "TLS", "ratio",
                hooked ? "OpenSSL allocs/record (datagram, TLS)" : "(allocation counting unavailable)");
    for (const auto& p : pairs) {
      for (size_t payload : {size_t{1400}, kMaxRecordBody}) {
        Figure d, t;
        for (int r = 0; r < rounds; ++r) {
          auto dr = datagram_run(p.cipher, payload, bytes);
          auto tr = tls_run(pki, p.tls_suite, payload, bytes);
          if (dr.gbit > d.gbit) d = dr;
          if (tr.gbit > t.gbit) t = tr;
        }
        std::printf("%-18s %7zu  %7.2f Gbit/s  %7.2f Gbit/s  x%6.2f", to_string(p.cipher), payload, d.gbit, t.gbit,
                    d.gbit / t.gbit);
        if (hooked) std::printf("  %.3f, %.3f", d.allocs_per_record, t.allocs_per_record);
        std::printf("\n");
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "record_throughput: %s\n", e.what());
    return 1;
  }
  return 0;
}
