// A stand-in intermediary for session_load: TLS accept (client certificate
// required), HELLO → HELLO, REGISTER → ACCEPT, PING every --keepalive-ms,
// nothing else (no policy, no registry, no forwarding). It measures what
// the shared layers (TlsConnection, Channel, SendQueue) cost per idle
// session, the floor under the real intermediary's figure. Accepts the
// intermediary's other flags and ignores them, so session_load.sh can run
// either binary.
//
//   mini_intermediary --listen 127.0.0.1:4433 --cert C --key K --ca CA
//                     [--no-trim] [--per-record-io]   (to see what those save)
#include <sys/resource.h>

#include <csignal>

#include <boost/program_options.hpp>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "netlib/channel.hpp"
#include "netlib/event_loop.hpp"
#include "netlib/socket.hpp"
#include "netlib/tls.hpp"
#include "netlib/tls_transport.hpp"
#include "netlib/wire.hpp"

namespace po = boost::program_options;
using namespace dialout;

namespace {

class Mini {
 public:
  Mini(TlsContext& ctx, UniqueFd listener, std::chrono::milliseconds keepalive, bool trim)
      : ctx_(ctx), listener_(std::move(listener)), keepalive_(keepalive), trim_(trim) {}

  void start() {
    loop_.add(listener_.get(), EPOLLIN, [this](uint32_t) { accept_all(); });
    loop_.add_signals({SIGTERM, SIGINT}, [this](int) { loop_.stop(); });
    loop_.add_timer(keepalive_, [this] { ping_all(); });
    loop_.run();
  }

 private:
  struct Conn {
    Channel channel;
    bool handshake_done = false;
    bool ready = false;
    uint32_t interest = 0;
  };

  void accept_all() {
    for (int i = 0; i < 64; ++i) {
      auto fd = tcp_accept(listener_.get());
      if (!fd || !fd->valid()) return;
      tune_data_socket(fd->get());
      auto tls = TlsTransport::accept(ctx_, std::move(*fd));
      if (!tls) continue;
      int cfd = (*tls)->fd();
      auto [it, ok] = conns_.emplace(
          cfd, std::make_unique<Conn>(Conn{Channel(std::move(*tls), SendQueue::Limits{}), false, false, EPOLLIN}));
      if (!ok) continue;
      loop_.add(cfd, EPOLLIN, [this, cfd](uint32_t) { on_event(cfd); });
    }
  }

  void close(int fd) {
    loop_.remove(fd);
    conns_.erase(fd);
  }

  void on_event(int fd) {
    auto it = conns_.find(fd);
    if (it == conns_.end()) return;
    Conn& c = *it->second;
    if (!c.handshake_done) {
      auto st = c.channel.transport().handshake();
      if (st == IoStatus::WantRead || st == IoStatus::WantWrite) {
        return set_interest(fd, c, st == IoStatus::WantRead ? EPOLLIN : EPOLLOUT);
      }
      if (st != IoStatus::Done) return close(fd);
      c.handshake_done = true;
    }
    bool closed = false;
    auto out = c.channel.read_frames([&](const FrameView& f) { return on_frame(c, f); }, 256 * 1024);
    if (out.status == Channel::ReadStatus::Closed || out.status == Channel::ReadStatus::Error ||
        out.status == Channel::ReadStatus::Malformed || out.status == Channel::ReadStatus::Stopped) {
      closed = true;
    }
    if (closed) return close(fd);
    flush(fd, c);
  }

  bool on_frame(Conn& c, const FrameView& f) {
    scratch_.clear();
    if (f.type == MsgType::Hello) {
      (void)encode(Hello{kProtocolVersion, 0}, scratch_);
    } else if (f.type == MsgType::Register) {
      if (!decode_register(f.payload)) return false;
      (void)encode(Accept{++next_id_, {}}, scratch_);
      c.ready = true;
    }
    if (!scratch_.empty()) c.channel.queue().push(SendQueue::Lane::Urgent, scratch_);
    return true;
  }

  void flush(int fd, Conn& c) {
    if (c.channel.flush() == Channel::FlushStatus::Error) return close(fd);
    if (trim_ && c.ready && c.channel.queue().empty() && !c.channel.transport().has_pending_output()) c.channel.trim();
    set_interest(fd, c, c.channel.epoll_events());
  }

  void set_interest(int fd, Conn& c, uint32_t ev) {
    if (ev != c.interest) loop_.modify(fd, ev);
    c.interest = ev;
  }

  void ping_all() {
    std::vector<int> fds;
    for (auto& [fd, c] : conns_) {
      if (!c->ready) continue;
      scratch_.clear();
      (void)encode(Ping{++token_}, scratch_);
      c->channel.queue().push(SendQueue::Lane::Urgent, scratch_);
      fds.push_back(fd);
    }
    for (int fd : fds) {
      auto it = conns_.find(fd);
      if (it != conns_.end()) flush(fd, *it->second);
    }
    loop_.add_timer(keepalive_, [this] { ping_all(); });
  }

  TlsContext& ctx_;
  UniqueFd listener_;
  std::chrono::milliseconds keepalive_;
  bool trim_;
  EventLoop loop_;
  std::map<int, std::unique_ptr<Conn>> conns_;
  std::vector<uint8_t> scratch_;
  uint32_t next_id_ = 0;
  uint64_t token_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  std::string listen;
  TlsFiles files;
  unsigned keepalive_ms = 5000;
  bool no_trim = false, per_record = false;
  po::options_description desc("mini_intermediary");
  desc.add_options()("listen", po::value(&listen)->required(), "HOST:PORT")("cert", po::value(&files.cert)->required(),
                                                                            "server certificate")(
      "key", po::value(&files.key)->required(), "its key")("ca", po::value(&files.ca)->required(), "client CA")(
      "keepalive-ms", po::value(&keepalive_ms), "PING interval (default 5000)")(
      "no-trim", po::bool_switch(&no_trim), "never Channel::trim() idle sessions")(
      "per-record-io", po::bool_switch(&per_record), "TlsIoMode::PerRecord (no SSL_MODE_RELEASE_BUFFERS)");
  try {
    po::variables_map vm;
    po::store(po::command_line_parser(argc, argv).options(desc).allow_unregistered().run(), vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mini_intermediary: %s\n", e.what());
    return 64;
  }
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
  auto ep = Endpoint::parse(listen, 443);
  auto ctx = TlsContext::server(files);
  if (!ep || !ctx) {
    std::fprintf(stderr, "mini_intermediary: %s\n", !ep ? ep.error().c_str() : ctx.error().c_str());
    return 1;
  }
  if (per_record) ctx->set_io_mode(TlsIoMode::PerRecord);
  auto lfd = tcp_listen(*ep, 1024);
  if (!lfd) {
    std::fprintf(stderr, "mini_intermediary: %s\n", lfd.error().c_str());
    return 1;
  }
  Mini mini(*ctx, std::move(*lfd), std::chrono::milliseconds(keepalive_ms), !no_trim);
  mini.start();
  return 0;
}
