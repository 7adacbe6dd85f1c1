// One TLS 1.3 stream over loopback TCP, two threads (sender, receiver), the
// way a Channel drives it: 256 KiB write batches (retried with the same
// bytes on WantWrite), reads into ~16 KiB of room, poll() when blocked.
// Compares TlsIoMode::PerRecord (one send() per 16 KiB record, no read
// ahead: the old behaviour) with TlsIoMode::Batched.
//
//   tls_throughput [--bytes N] [--mode both|batched|per-record]
//                  [--batch BYTES] [--read-buffer BYTES] [--no-lowat]
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "netlib/socket.hpp"
#include "netlib/tls.hpp"
#include "tests/support/test_pki.hpp"

namespace po = boost::program_options;
using namespace dialout;
using Clock = std::chrono::steady_clock;
using Status = TlsConnection::Status;

namespace {

struct Side {
  TlsIoStats io;
  uint64_t polls = 0;
};

struct Result {
  double seconds = 0;
  double cpu_seconds = 0;  // both threads, user + system
  Side sender, receiver;
};

double cpu_now() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  auto tv = [](timeval t) { return double(t.tv_sec) + double(t.tv_usec) / 1e6; };
  return tv(ru.ru_utime) + tv(ru.ru_stime);
}

void wait_for(int fd, Status st, uint64_t& polls) {
  pollfd p{fd, static_cast<short>(st == Status::WantWrite ? POLLOUT : POLLIN), 0};
  ++polls;
  if (::poll(&p, 1, 5000) != 1) throw std::runtime_error("stalled for 5 s");
}

void handshake(TlsConnection& c, uint64_t& polls) {
  for (int i = 0; i < 1000; ++i) {
    Status st = c.handshake();
    if (st == Status::Done) return;
    if (st != Status::WantRead && st != Status::WantWrite) throw std::runtime_error("handshake: " + c.last_error());
    wait_for(c.fd(), st, polls);
  }
  throw std::runtime_error("handshake did not finish");
}

void receive(TlsConnection& c, uint64_t total, Side& side) {
  std::vector<uint8_t> room(16 * 1024 + 256);  // as much as a Channel offers per read
  uint64_t got = 0;
  while (got < total) {
    auto r = c.read(room);
    if (r) {
      got += *r;
      continue;
    }
    if (r.error() != Status::WantRead && r.error() != Status::WantWrite)
      throw std::runtime_error("read: " + c.last_error());
    wait_for(c.fd(), r.error(), side.polls);
  }
}

void send_all(TlsConnection& c, uint64_t total, size_t batch_size, Side& side) {
  std::vector<uint8_t> batch(batch_size);
  for (size_t i = 0; i < batch.size(); ++i) batch[i] = static_cast<uint8_t>(i * 31 + (i >> 8));
  uint64_t sent = 0;
  size_t off = 0, len = 0;
  while (sent < total) {
    if (off == len) {  // next batch: the bytes stay put until all are taken (retry rule)
      off = 0;
      len = static_cast<size_t>(std::min<uint64_t>(batch.size(), total - sent));
    }
    auto w = c.write(std::span(batch).subspan(off, len - off));
    if (w) {
      off += *w;
      sent += *w;
      continue;
    }
    if (w.error() != Status::WantWrite && w.error() != Status::WantRead)
      throw std::runtime_error("write: " + c.last_error());
    wait_for(c.fd(), w.error(), side.polls);
  }
  // Everything reported is in the socket; nothing may be left behind.
  if (c.has_pending_output()) throw std::runtime_error("ciphertext left unsent");
}

Result run(TestPki& pki, TlsIoMode mode, uint64_t total, size_t batch, size_t read_buffer, bool lowat) {
  auto sctx = TlsContext::server(pki.server_files());
  auto cctx = TlsContext::client(pki.client_files("bench"));
  if (!sctx || !cctx) throw std::runtime_error("TLS contexts");
  sctx->set_io_mode(mode, read_buffer);
  cctx->set_io_mode(mode, read_buffer);

  auto lfd = tcp_listen(Endpoint{"127.0.0.1", 0}, 4);
  if (!lfd) throw std::runtime_error(lfd.error());
  auto cfd = tcp_connect_start(*local_endpoint(lfd->get()));
  if (!cfd) throw std::runtime_error(cfd.error());
  pollfd p{lfd->get(), POLLIN, 0};
  ::poll(&p, 1, 2000);
  auto sfd = tcp_accept(lfd->get());
  if (!sfd || !sfd->valid()) throw std::runtime_error("accept");
  tune_data_socket(sfd->get());  // as the daemons do
  tune_data_socket(cfd->get());
  if (!lowat) {  // for comparison: the kernel's default (unlimited) unsent queue
    int big = -1;
    for (int fd : {sfd->get(), cfd->get()}) ::setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &big, sizeof big);
  }
  auto server = TlsConnection::accept(*sctx, std::move(*sfd));
  auto client = TlsConnection::connect(*cctx, std::move(*cfd), "intermediary");
  if (!server || !client) throw std::runtime_error("TLS connection setup");

  Result res;
  Side hs_sender, hs_receiver;
  std::optional<std::string> receiver_error;
  std::thread rx([&] {
    try {
      handshake(*server, hs_receiver.polls);
      receive(*server, total, res.receiver);
    } catch (const std::exception& e) {
      receiver_error = e.what();
    }
  });
  handshake(*client, hs_sender.polls);
  TlsIoStats tx0 = client->io_stats();
  double cpu0 = cpu_now();
  auto t0 = Clock::now();
  send_all(*client, total, batch, res.sender);
  rx.join();
  res.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  res.cpu_seconds = cpu_now() - cpu0;
  if (receiver_error) throw std::runtime_error("receiver: " + *receiver_error);
  TlsIoStats tx1 = client->io_stats();
  res.sender.io.send_calls = tx1.send_calls - tx0.send_calls;
  res.sender.io.bytes_sent = tx1.bytes_sent - tx0.bytes_sent;
  res.receiver.io = server->io_stats();  // the handshake's few recv()s are noise at this size
  return res;
}

struct Figures {
  double gbit, sys_per_mib, sends_per_mib, recvs_per_mib, polls_per_mib, cpu_per_gib;
};

Figures report(const char* name, const Result& r, uint64_t total) {
  double mib = double(total) / (1 << 20);
  Figures f;
  f.gbit = double(total) * 8 / r.seconds / 1e9;
  f.sends_per_mib = double(r.sender.io.send_calls) / mib;
  f.recvs_per_mib = double(r.receiver.io.recv_calls) / mib;
  f.polls_per_mib = double(r.sender.polls + r.receiver.polls) / mib;
  f.sys_per_mib = f.sends_per_mib + f.recvs_per_mib + f.polls_per_mib;
  f.cpu_per_gib = r.cpu_seconds / (mib / 1024);
  std::printf("%-10s %7.2f Gbit/s  %6.2f syscalls/MiB (send %.2f, recv %.2f, poll %.2f)  %.2f CPU-s/GiB\n", name,
              f.gbit, f.sys_per_mib, f.sends_per_mib, f.recvs_per_mib, f.polls_per_mib, f.cpu_per_gib);
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t bytes = 2ull << 30;
  size_t batch = 256 * 1024, read_buffer = TlsContext::kDefaultReadBuffer;
  std::string mode = "both";
  bool no_lowat = false;
  po::options_description opts("tls_throughput");
  opts.add_options()("help", "this text")("bytes", po::value(&bytes), "bytes per run (default 2 GiB)")(
      "mode", po::value(&mode), "both | batched | per-record")("batch", po::value(&batch), "bytes per write() call")(
      "read-buffer", po::value(&read_buffer), "batched mode: TLS read-ahead buffer")(
      "no-lowat", po::bool_switch(&no_lowat), "leave TCP_NOTSENT_LOWAT unset (default: 128 KiB as in the daemons)");
  try {
    po::variables_map vm;
    po::store(po::parse_command_line(argc, argv, opts), vm);
    po::notify(vm);
    if (vm.count("help")) {
      std::printf("%s", (std::ostringstream() << opts).str().c_str());
      return 0;
    }
    if (mode != "both" && mode != "batched" && mode != "per-record") throw std::runtime_error("bad --mode");
    TestPki pki;
    std::printf("%.2f GiB per run, %zu KiB batches, read-ahead buffer %zu KiB, TCP_NOTSENT_LOWAT %s\n",
                double(bytes) / (1 << 30), batch / 1024, read_buffer / 1024, no_lowat ? "unset" : "128 KiB");
    std::optional<Figures> old_f, new_f;
    if (mode != "batched") old_f = report("per-record", run(pki, TlsIoMode::PerRecord, bytes, batch, read_buffer, !no_lowat), bytes);
    if (mode != "per-record") new_f = report("batched", run(pki, TlsIoMode::Batched, bytes, batch, read_buffer, !no_lowat), bytes);
    if (old_f && new_f) {
      std::printf("batched / per-record: throughput x%.2f, syscalls per MiB x%.2f, CPU per GiB x%.2f\n",
                  new_f->gbit / old_f->gbit, new_f->sys_per_mib / old_f->sys_per_mib,
                  new_f->cpu_per_gib / old_f->cpu_per_gib);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tls_throughput: %s\n", e.what());
    return 1;
  }
  return 0;
}
