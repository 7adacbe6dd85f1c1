// Opens N idle authenticated sessions to a running intermediary: TLS
// handshake, HELLO, REGISTER "<prefix><i>" (no prefixes, or with
// --advertise-from one /32 each), wait for ACCEPT,
// then hold them (answering PINGs) for --hold-seconds. Reports the session
// setup rate and, with --pid, the intermediary's RSS growth per session.
//
// --reconnect (storm mode): once every session is ready, a lost session
// comes back instead of failing: after RESTARTING at the hint plus a random
// share of the window (as tund does), after any other loss within 1 s, and a
// failed attempt is retried with a jittered backoff. A reconnect offers the
// newest TLS session ticket its own session received, as each laptop of a
// real fleet does (--shared-ticket: the one ticket the TlsContext keeps for
// all, offered by many handshakes at once). Reports the time from the first loss until every
// session is back ("storm: ..."), then holds for --hold-seconds.
//
//   session_load --intermediary 127.0.0.1:4433 --cert load.crt --key load.key
//                --ca ca.crt [--server-name intermediary] [--sessions 1000]
//                [--name-prefix load-] [--concurrency 64] [--hold-seconds 10]
//                [--pid PID] [--resume] [--timeout-seconds 60]
//                [--setup-timeout-seconds S] [--advertise-from 10.200.0.1]
//                [--reconnect [--storm-wait-seconds 600] [--shared-ticket]]
#include <fmt/core.h>
#include <openssl/ssl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <deque>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "bench/storm_stats.hpp"
#include "netlib/channel.hpp"
#include "netlib/event_loop.hpp"
#include "netlib/socket.hpp"
#include "netlib/tls.hpp"
#include "netlib/tls_transport.hpp"
#include "netlib/wire.hpp"

namespace po = boost::program_options;
using namespace dialout;
using Clock = std::chrono::steady_clock;
using bench::Jitter;
using bench::StormStats;
using namespace std::chrono_literals;

namespace {

struct Options {
  Endpoint intermediary;
  TlsFiles tls;
  std::string server_name = "intermediary";
  unsigned sessions = 1000;
  std::string prefix = "load-";
  unsigned concurrency = 64;
  double hold_seconds = 10;
  double timeout_seconds = 60;
  double setup_timeout_seconds = -1;  // < 0: timeout_seconds
  int pid = 0;
  bool resume = false;
  bool reconnect = false;
  bool shared_ticket = false;
  double storm_wait_seconds = 600;
  // Session i advertises this IPv4 address + i as a /32 (a laptop with one
  // address); none: no prefixes.
  std::optional<IpAddr> advertise_from;
};

// The i-th IPv4 address after `base` (wrapping inside the 32 bits), as a /32.
Prefix host_prefix(const IpAddr& base, uint32_t i) {
  uint32_t v = (uint32_t(base.bytes[0]) << 24 | uint32_t(base.bytes[1]) << 16 | uint32_t(base.bytes[2]) << 8 |
                base.bytes[3]) + i;
  const uint8_t b[4] = {uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)};
  return *Prefix::make(IpAddr::v4(b), 32);
}

// utime + stime of a process in seconds (/proc/PID/stat fields 14, 15).
double cpu_seconds(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto close = stat.rfind(')');  // the command name may hold spaces
  if (close == std::string::npos) return 0;
  std::istringstream rest(stat.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i >= 14) ticks += std::stod(field);
  }
  return ticks / double(::sysconf(_SC_CLK_TCK));
}

// VmRSS of a process in KiB, 0 when unreadable.
long rss_kib(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

class Load {
 public:
  Load(const Options& o, TlsContext& ctx) : o_(o), ctx_(ctx), sessions_(o.sessions) {}

  void start() {
    t0_ = Clock::now();
    start_more();
  }
  bool settled() const { return ready_ + failed_ == o_.sessions; }
  unsigned ready() const { return ready_; }
  unsigned failed() const { return failed_; }
  unsigned resumed() const { return resumed_; }
  unsigned pings() const { return pings_; }
  Clock::time_point settled_at() const { return settled_at_; }
  Clock::time_point started_at() const { return t0_; }
  const std::map<std::string, unsigned>& errors() const { return errors_; }
  // Fails whatever has not reached Ready by now.
  void expire() {
    for (unsigned i = 0; i < sessions_.size(); ++i) {
      if (sessions_[i].state != State::Ready && sessions_[i].state != State::Failed) fail(i, "timed out");
    }
  }
  void close_all() {
    for (auto& s : sessions_) {
      if (s.fd >= 0) loop_.remove(s.fd);
      s.fd = -1;
      s.channel.reset();
      s.connecting.reset();
    }
  }
  EventLoop& loop() { return loop_; }

  // --reconnect, once every session is ready: from now on a lost session
  // comes back instead of failing; the first loss starts the storm.
  void arm() { phase_ = Phase::Armed; }
  bool storm_started() const { return phase_ == Phase::Storm || phase_ == Phase::After; }
  bool storm_over() const { return phase_ == Phase::After; }
  Clock::time_point storm_ended_at() const { return storm_end_; }
  const StormStats& storm() const { return stats_; }
  const std::map<std::string, unsigned>& lost_why() const { return lost_why_; }
  const std::map<std::string, unsigned>& retry_why() const { return retry_why_; }
  // Gives up on reconnect attempts stuck for kAttemptTimeout (they are retried).
  void tick() {
    if (phase_ == Phase::Setup) return;
    auto now = Clock::now();
    for (unsigned i = 0; i < sessions_.size(); ++i) {
      const Session& s = sessions_[i];
      if (s.fd >= 0 && s.state != State::Ready && now - s.since > kAttemptTimeout) lose(i, "no ACCEPT within 10 s", {});
    }
  }

 private:
  enum class State { Idle, Connecting, Handshaking, AwaitHello, AwaitAccept, Ready, Failed, Waiting, Queued };
  enum class Phase { Setup, Armed, Storm, After };
  struct Session {
    State state = State::Idle;
    UniqueFd connecting;
    std::optional<Channel> channel;
    int fd = -1;
    uint32_t interest = 0;
    Clock::time_point since{};  // this attempt began
    unsigned attempts = 0;      // failed reconnect attempts in a row
    std::unique_ptr<SSL_SESSION, decltype(&SSL_SESSION_free)> ticket{nullptr, SSL_SESSION_free};
  };
  // Reconnects are not held back by --concurrency (a fleet does not
  // coordinate; the relay's window spreads them), only by this cap on
  // attempts under way, so the load generator itself keeps up.
  static constexpr unsigned kMaxConnecting = 1024;
  static constexpr auto kAttemptTimeout = 10s;

  void start_more() {
    while (in_flight_ < o_.concurrency && next_ < o_.sessions) {
      ++in_flight_;
      open(next_++);
    }
  }

  void open(unsigned i) {
    Session& s = sessions_[i];
    s.state = State::Connecting;
    s.since = Clock::now();
    auto fd = tcp_connect_start(o_.intermediary);
    if (!fd) return fail(i, "connect: " + fd.error());
    s.connecting = std::move(*fd);
    s.fd = s.connecting.get();
    s.interest = EPOLLOUT;
    loop_.add(s.fd, EPOLLOUT, [this, i](uint32_t ev) { on_event(i, ev); });
  }

  void set_interest(Session& s, uint32_t ev) {
    if (ev != s.interest) loop_.modify(s.fd, ev);
    s.interest = ev;
  }

  void drop(Session& s) {
    if (s.fd >= 0) loop_.remove(s.fd);
    s.fd = -1;
    s.channel.reset();
    s.connecting.reset();
  }

  void fail(unsigned i, const std::string& why) {
    if (phase_ != Phase::Setup) return lose(i, why, {});
    Session& s = sessions_[i];
    if (s.state == State::Failed) return;
    if (s.state != State::Ready) --in_flight_;
    if (s.state == State::Ready) --ready_;
    drop(s);
    s.state = State::Failed;
    ++failed_;
    ++errors_[why];
    note_progress();
    start_more();
  }

  void note_progress() {
    if (settled() && settled_at_ == Clock::time_point{}) settled_at_ = Clock::now();
  }

  // Storm mode: drops the connection and schedules the next attempt after
  // `delay` (what a RESTARTING asked for) or, without one, within 1 s for a
  // session that was ready and after a backoff for a failed attempt.
  void lose(unsigned i, const std::string& why, std::optional<std::chrono::milliseconds> delay) {
    Session& s = sessions_[i];
    if (s.state == State::Waiting || s.state == State::Queued) return;
    bool was_ready = s.state == State::Ready;
    if (was_ready) keep_ticket(s);
    drop(s);
    if (was_ready) {
      --ready_;
      if (phase_ == Phase::Armed) {
        phase_ = Phase::Storm;
        stats_.start(Clock::now(), sessions_.size());
      }
      stats_.lost(i);
      ++stats_.reconnects;
      ++lost_why_[why];
      s.attempts = 0;
    } else {
      --connecting_;
      ++stats_.retries;
      ++retry_why_[why];
      ++s.attempts;
    }
    auto wait = delay ? *delay : was_ready ? jitter_.uniform(1000ms) : jitter_.backoff(s.attempts);
    s.state = State::Waiting;
    loop_.add_timer(wait, [this, i] {
      sessions_[i].state = State::Queued;
      queue_.push_back(i);
      start_queued();
    });
    start_queued();
  }

  // A copy of the connection's newest session (the connection's own is
  // marked unresumable when it is freed without close_notify).
  void keep_ticket(Session& s) {
    auto* transport = s.channel ? dynamic_cast<TlsTransport*>(&s.channel->transport()) : nullptr;
    TlsConnection* tls = transport ? transport->tls() : nullptr;
    SSL_SESSION* cur = tls ? SSL_get1_session(tls->native()) : nullptr;
    if (cur && SSL_SESSION_is_resumable(cur) == 1) s.ticket.reset(SSL_SESSION_dup(cur));
    if (cur) SSL_SESSION_free(cur);
  }

  void start_queued() {
    if (draining_) return;  // an attempt failing at once must not recurse through the queue
    draining_ = true;
    while (connecting_ < kMaxConnecting && !queue_.empty()) {
      unsigned i = queue_.front();
      queue_.pop_front();
      ++connecting_;
      open(i);
    }
    draining_ = false;
  }

  void back(unsigned i) {
    Session& s = sessions_[i];
    --connecting_;
    s.attempts = 0;
    if (stats_.started()) stats_.back(i, Clock::now(), s.channel->transport().resumed());
    if (phase_ == Phase::Storm && ready_ == sessions_.size()) {
      phase_ = Phase::After;
      storm_end_ = Clock::now();
    }
    start_queued();
  }

  void on_event(unsigned i, uint32_t events) {
    Session& s = sessions_[i];
    switch (s.state) {
      case State::Connecting: {
        if (auto err = socket_error(s.fd); !err) return fail(i, "connect: " + err.error());
        tune_data_socket(s.fd);
        // Every session pays a full handshake; reconnects offer the ticket.
        if (!o_.resume && phase_ == Phase::Setup) ctx_.forget_session();
        auto tls = TlsTransport::over(ctx_, std::move(s.connecting), o_.server_name, false);
        if (!tls) return fail(i, tls.error());
        if (s.ticket && !o_.shared_ticket) {
          // A copy per attempt: an attempt that ends after its handshake
          // without close_notify marks the session it used unresumable.
          SSL_SESSION* copy = SSL_SESSION_dup(s.ticket.get());
          if (copy) SSL_set_session((*tls)->tls()->native(), copy);
          SSL_SESSION_free(copy);  // the connection holds its own reference
        }
        s.channel.emplace(std::move(*tls), SendQueue::Limits{.bulk_bytes = 16384, .urgent_bytes = 65536,
                                                              .batch_bytes = 65536});
        s.state = State::Handshaking;
        return handshake(i);
      }
      case State::Handshaking: return handshake(i);
      case State::Idle:
      case State::Failed:
      case State::Waiting:
      case State::Queued: return;
      default: break;
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
      auto out = s.channel->read_frames([this, i](const FrameView& f) { return on_frame(i, f); }, 256 * 1024);
      using RS = Channel::ReadStatus;
      switch (out.status) {
        case RS::Stopped: return;
        case RS::Closed: return fail(i, "closed by the intermediary");
        case RS::Error: return fail(i, "TLS: " + s.channel->transport().last_error());
        case RS::Malformed: return fail(i, std::string("malformed frame: ") + to_string(out.wire_error));
        default: break;
      }
    }
    flush(i);
  }

  void handshake(unsigned i) {
    Session& s = sessions_[i];
    auto st = s.channel->transport().handshake();
    using TS = IoStatus;
    if (st == TS::WantRead || st == TS::WantWrite) return set_interest(s, st == TS::WantRead ? EPOLLIN : EPOLLOUT);
    if (st != TS::Done) return fail(i, "handshake: " + s.channel->transport().last_error());
    if (s.channel->transport().resumed()) ++resumed_;
    s.state = State::AwaitHello;
    send(s, Hello{kProtocolVersion, kCapAll});  // as tund does: route deltas, restart window
    flush(i);
  }

  template <class M>
  void send(Session& s, const M& message) {
    scratch_.clear();
    if (encode(message, scratch_)) s.channel->queue().push(SendQueue::Lane::Urgent, scratch_);
  }

  void flush(unsigned i) {
    Session& s = sessions_[i];
    if (!s.channel) return;
    if (s.channel->flush() == Channel::FlushStatus::Error) return fail(i, "TLS write: " + s.channel->transport().last_error());
    if (s.state == State::Ready && s.channel->queue().empty()) s.channel->trim();  // keep this tool small too
    set_interest(s, s.channel->epoll_events());
  }

  bool on_frame(unsigned i, const FrameView& f) {
    Session& s = sessions_[i];
    switch (f.type) {
      case MsgType::Refuse: {
        auto r = decode_refuse(f.payload);
        fail(i, "refused: " + (r ? std::string(to_string(r->reason)) + ": " + r->text : "unreadable"));
        return false;
      }
      case MsgType::Restarting: {
        if (phase_ == Phase::Setup) {
          fail(i, "intermediary restarting");
          return false;
        }
        auto r = decode_restarting(f.payload);
        lose(i, "intermediary restarting",
             r ? jitter_.after_restart(r->reconnect_after_ms, r->window_ms) : jitter_.uniform(1000ms));
        return false;
      }
      case MsgType::Ping: {
        auto p = decode_ping(f.payload);
        if (p) send(s, Pong{p->token});
        ++pings_;
        return true;
      }
      case MsgType::Hello:
        if (s.state != State::AwaitHello) break;
        s.state = State::AwaitAccept;
        send(s, Register{o_.prefix + std::to_string(i), 0,
                         o_.advertise_from ? std::vector{host_prefix(*o_.advertise_from, i)} : std::vector<Prefix>{}});
        return true;
      case MsgType::Accept:
        if (s.state != State::AwaitAccept) break;
        s.state = State::Ready;
        ++ready_;
        if (phase_ != Phase::Setup) {
          back(i);
          return true;
        }
        --in_flight_;
        note_progress();
        start_more();
        return true;
      case MsgType::Routes:
      case MsgType::RouteUpdate:
      case MsgType::PeerGone:
      case MsgType::Pong: return true;
      default: break;
    }
    if (s.state == State::Ready) return true;  // tolerate what an idle site may see
    fail(i, fmt::format("unexpected frame type {}", unsigned(f.type)));
    return false;
  }

  const Options& o_;
  TlsContext& ctx_;
  EventLoop loop_;
  std::vector<Session> sessions_;
  std::vector<uint8_t> scratch_;
  std::map<std::string, unsigned> errors_;
  unsigned next_ = 0, in_flight_ = 0, ready_ = 0, failed_ = 0, resumed_ = 0, pings_ = 0;
  Clock::time_point t0_{}, settled_at_{};
  // Storm mode.
  Phase phase_ = Phase::Setup;
  StormStats stats_;
  Jitter jitter_;
  std::deque<unsigned> queue_;  // due to reconnect, waiting for a free attempt
  unsigned connecting_ = 0;     // reconnect attempts under way
  bool draining_ = false;
  Clock::time_point storm_end_{};
  std::map<std::string, unsigned> lost_why_, retry_why_;
};

void raise_fd_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
}

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
Clock::duration after(double s) { return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s)); }

// Runs the loop until done() or the deadline.
template <class Done>
void run_until(Load& load, Done done, Clock::time_point deadline) {
  while (!done() && Clock::now() < deadline) {
    load.loop().run_once(100ms);
    load.tick();
  }
}

std::string at(double s) { return std::isnan(s) ? std::string("never") : fmt::format("{:.2f} s", s); }

// --reconnect after the setup: waits for the storm, reports it, holds.
int storm(const Options& o, Load& load) {
  if (load.ready() != o.sessions) {
    std::printf("storm: not armed: %u of %u sessions were set up\n", load.ready(), o.sessions);
    return 1;
  }
  load.arm();
  run_until(load, [&] { return load.storm_started(); }, Clock::now() + after(o.storm_wait_seconds));
  if (!load.storm_started()) {
    std::printf("storm: no session was lost within %.0f s\n", o.storm_wait_seconds);
    return 1;
  }
  const StormStats& st = load.storm();
  run_until(load, [&] { return load.storm_over(); }, st.started_at() + after(o.timeout_seconds));
  bool over = load.storm_over();
  double took = seconds((over ? load.storm_ended_at() : Clock::now()) - st.started_at());
  size_t back = st.back_count();
  std::printf("storm: %zu of %zu back in %.2f s (%zu resumed, %zu failed, %u retries)\n", back, st.sessions(), took,
              st.resumed_count(), st.sessions() - back, st.retries);
  std::printf("storm: first back at %s; 50%% at %s, 90%% at %s, 99%% at %s; %u reconnects\n", at(st.first()).c_str(),
              at(st.at(0.5)).c_str(), at(st.at(0.9)).c_str(), at(st.at(0.99)).c_str(), st.reconnects);
  for (const auto& [why, n] : load.lost_why()) std::printf("  lost: %u x %s\n", n, why.c_str());
  for (const auto& [why, n] : load.retry_why()) std::printf("  retried: %u x %s\n", n, why.c_str());
  if (!over) std::printf("storm: timed out after %.0f s: %zu sessions not back\n", o.timeout_seconds, st.sessions() - back);
  std::fflush(stdout);
  run_until(load, [] { return false; }, Clock::now() + after(o.hold_seconds));
  std::printf("held %.0f s: %u still ready, %u PINGs answered\n", o.hold_seconds, load.ready(), load.pings());
  load.close_all();
  return over ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  std::string target, advertise_from;
  po::options_description desc("session_load");
  desc.add_options()("help", "this text")("intermediary", po::value(&target)->required(), "HOST:PORT")(
      "cert", po::value(&o.tls.cert)->required(), "client certificate (PEM)")(
      "key", po::value(&o.tls.key)->required(), "its key")("ca", po::value(&o.tls.ca)->required(), "CA (PEM)")(
      "server-name", po::value(&o.server_name), "expected server name (default intermediary)")(
      "sessions", po::value(&o.sessions), "sessions to open (default 1000)")(
      "advertise-from", po::value(&advertise_from),
      "IPv4 address: session i advertises this address + i as a /32 (default: no prefixes)")(
      "name-prefix", po::value(&o.prefix), "site names are <prefix><i> (default load-)")(
      "concurrency", po::value(&o.concurrency), "sessions being set up at once (default 64)")(
      "hold-seconds", po::value(&o.hold_seconds), "hold the idle sessions this long (default 10)")(
      "timeout-seconds", po::value(&o.timeout_seconds), "give up on sessions not ready by then (default 60)")(
      "pid", po::value(&o.pid), "intermediary pid: report its RSS per session")(
      "resume", po::bool_switch(&o.resume), "offer TLS session tickets (default: full handshakes)")(
      "reconnect", po::bool_switch(&o.reconnect),
      "storm mode: after the setup, bring lost sessions back (tickets offered) and report the time until "
      "all are; --timeout-seconds then counts from the first loss")(
      "setup-timeout-seconds", po::value(&o.setup_timeout_seconds),
      "give up on sessions not ready by then at the setup (default --timeout-seconds)")(
      "storm-wait-seconds", po::value(&o.storm_wait_seconds),
      "--reconnect: how long to wait for the first loss (default 600)")(
      "shared-ticket", po::bool_switch(&o.shared_ticket),
      "--reconnect: every reconnect offers the client context's one last ticket, not its session's own");
  try {
    po::variables_map vm;
    po::store(po::parse_command_line(argc, argv, desc), vm);
    if (vm.count("help")) {
      std::printf("%s", (std::ostringstream() << desc).str().c_str());
      return 0;
    }
    po::notify(vm);
    auto ep = Endpoint::parse(target, 443);
    if (!ep) throw std::runtime_error("--intermediary: " + ep.error());
    o.intermediary = *ep;
    if (!advertise_from.empty()) {
      o.advertise_from = IpAddr::parse(advertise_from);
      if (!o.advertise_from || o.advertise_from->family != Family::V4)
        throw std::runtime_error("--advertise-from: '" + advertise_from + "' is not an IPv4 address");
    }
    if (o.sessions == 0 || o.concurrency == 0) throw std::runtime_error("--sessions and --concurrency must be > 0");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "session_load: %s\n", e.what());
    return 64;
  }
  raise_fd_limit();
  auto ctx = TlsContext::client(o.tls);
  if (!ctx) {
    std::fprintf(stderr, "session_load: %s\n", ctx.error().c_str());
    return 1;
  }
  long rss0 = o.pid > 0 ? rss_kib(o.pid) : 0;
  double cpu0 = o.pid > 0 ? cpu_seconds(o.pid) : 0;
  Load load(o, *ctx);
  load.start();
  if (o.setup_timeout_seconds < 0) o.setup_timeout_seconds = o.timeout_seconds;
  auto deadline = load.started_at() + after(o.setup_timeout_seconds);
  while (!load.settled() && Clock::now() < deadline) load.loop().run_once(std::chrono::milliseconds(100));
  if (!load.settled()) load.expire();
  double setup = seconds(load.settled_at() - load.started_at());
  long rss_ready = o.pid > 0 ? rss_kib(o.pid) : 0;
  double cpu_setup = o.pid > 0 ? cpu_seconds(o.pid) - cpu0 : 0;
  std::printf("sessions: %u ready, %u failed in %.2f s: %.0f sessions/s (%s, concurrency %u, %u resumed)\n",
              load.ready(), load.failed(), setup, load.ready() / std::max(setup, 1e-9),
              o.resume ? "tickets offered" : "full handshakes", o.concurrency, load.resumed());
  for (const auto& [why, n] : load.errors()) std::printf("  %u x %s\n", n, why.c_str());
  if (o.pid > 0 && load.ready() > 0) {
    // CPU per session does not depend on what else runs on the machine.
    std::printf("intermediary CPU: %.2f ms per session set up (%.0f sessions per CPU-second)\n",
                1000 * cpu_setup / load.ready(), load.ready() / std::max(cpu_setup, 1e-9));
  }
  std::fflush(stdout);
  if (o.reconnect) return storm(o, load);

  auto hold_end = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.hold_seconds));
  while (Clock::now() < hold_end) load.loop().run_once(std::chrono::milliseconds(100));
  long rss_held = o.pid > 0 ? rss_kib(o.pid) : 0;
  std::printf("held %.0f s: %u still ready, %u PINGs answered\n", o.hold_seconds, load.ready(), load.pings());
  if (o.pid > 0 && load.ready() > 0) {
    std::printf("intermediary RSS: %ld KiB before, %ld KiB all ready, %ld KiB after the hold\n", rss0, rss_ready,
                rss_held);
    std::printf("RSS per session: %.1f KiB when ready, %.1f KiB after the hold\n",
                double(rss_ready - rss0) / load.ready(), double(rss_held - rss0) / load.ready());
  }
  load.close_all();
  return load.failed() == 0 ? 0 : 1;
}
