#include "tund/uplink.hpp"

#include <type_traits>
#include <utility>

#include "netlib/session_timing.hpp"

namespace dialout {
namespace {

SiteSessionSettings session_settings(const Uplink::Settings& s, unsigned index, uint64_t seed) {
  SiteSessionSettings out;
  out.registration = s.registration;
  out.capabilities = s.capabilities;
  out.keepalive = s.keepalive;
  out.dead_after = s.dead_after;
  out.handshake_timeout = s.dead_after;  // connect + TLS + HELLO + REGISTER, as a silent peer
  out.reconnect_min = s.reconnect_min;
  out.reconnect_max = s.reconnect_max;
  out.restart_hint_max = s.restart_hint_max;
  out.restart_window_max = s.restart_window_max;
  out.refused_retry = s.refused_retry;
  // Every connection hears the same refusal: the first one says it.
  out.log_refusals = index == 0;
  out.seed = seed;
  return out;
}

}  // namespace

Uplink::Uplink(unsigned index, EventLoop& loop, TlsContext& tls, const Settings& settings, Handler& handler,
               Logger& log, uint64_t seed, Seams seams)
    : index_(index),
      loop_(loop),
      tls_(tls),
      settings_(settings),
      handler_(handler),
      log_(log),
      session_(session_settings(settings, index, seed)),
      own_dialer_(seams.dialer            ? nullptr
                  : settings.proxy        ? std::unique_ptr<Dialer>(std::make_unique<ProxyDialer>(
                                         tls, *settings.proxy, settings.intermediary, log))
                                          : std::make_unique<TlsDialer>(tls)),
      dialer_(seams.dialer ? *seams.dialer : *own_dialer_),
      attempts_(loop, [this](size_t attempt) { on_attempt_event(attempt); }) {
  if (auto ip = IpAddr::parse(dial_target().host)) {
    addresses_.push_back(*ip);
  } else {
    auto on_result = [this](const std::string&, Resolver::Result r) { on_resolved(std::move(r)); };
    resolver_ = seams.lookup ? std::make_unique<Resolver>(loop_, on_result, std::move(seams.lookup))
                             : std::make_unique<Resolver>(loop_, on_result);
  }
}

Uplink::~Uplink() { stop(); }

void Uplink::start() {
  auto period = session_tick_period(settings_.keepalive);
  tick_timer_ = loop_.add_timer(period, [this] { tick(); });
  session_.start(loop_.now());
  pump();
}

void Uplink::stop() {
  if (retire_timer_ != 0) loop_.cancel_timer(std::exchange(retire_timer_, 0));
  if (session_.state() == SiteSession::State::Stopped) return;
  session_.stop();
  close_connection();
  awaiting_addresses_ = false;
  if (retry_timer_ != 0) loop_.cancel_timer(std::exchange(retry_timer_, 0));
  if (tick_timer_ != 0) loop_.cancel_timer(std::exchange(tick_timer_, 0));
}

void Uplink::retire(std::chrono::milliseconds grace) {
  if (retiring_) return;
  if (!channel_ || !session_.ready()) {
    stop();
    return;
  }
  retiring_ = true;
  // No keepalives or reconnects from here on: this connection only drains.
  if (tick_timer_ != 0) loop_.cancel_timer(std::exchange(tick_timer_, 0));
  if (retry_timer_ != 0) loop_.cancel_timer(std::exchange(retry_timer_, 0));
  retire_timer_ = loop_.add_timer(grace, [this] {
    retire_timer_ = 0;
    stop();
  });
  retire_write();
}

void Uplink::retire_write() {
  // What the data path queued before it moved on goes out first, then
  // close_notify: the intermediary reads every frame we sent before it
  // stops using this session.
  auto st = channel_->flush();
  if (st == Channel::FlushStatus::Error) return stop();
  if (st == Channel::FlushStatus::Done && !close_sent_) {
    channel_->transport().close_write();
    close_sent_ = true;
    st = channel_->flush();  // close_notify may not have fitted the socket
    if (st == Channel::FlushStatus::Error) return stop();
  }
  set_interest(st == Channel::FlushStatus::Done ? uint32_t(EPOLLIN) : uint32_t(EPOLLIN | EPOLLOUT));
}

void Uplink::on_retiring_event(uint32_t events) {
  if (events & EPOLLOUT) {
    retire_write();
    if (!channel_) return;
  }
  if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR))) return;
  auto out = channel_->read_frames(
      [this](const FrameView& f) {
        if (f.type == MsgType::Data)
          if (auto d = decode_data(f.payload)) handler_.on_data(*this, *d);
        return true;  // control frames are moot now; on_data never closes us
      },
      512 * 1024);
  bytes_in_ += out.bytes;
  using RS = Channel::ReadStatus;
  if (out.status == RS::Closed || out.status == RS::Error || out.status == RS::Malformed) stop();
}

void Uplink::reconnect_now(const std::string& why) {
  session_.reconnect_now(loop_.now(), why);
  pump();
}

void Uplink::pump() {
  while (auto action = session_.next_action()) {
    std::visit(
        [this](auto& a) {
          using A = std::decay_t<decltype(a)>;
          using S = SiteSession;
          if constexpr (std::is_same_v<A, S::Dial>) {
            dial();
          } else if constexpr (std::is_same_v<A, S::Send>) {
            if (channel_ && !channel_->queue().push(SendQueue::Lane::Urgent, a.frame).ok)
              session_.transport_failed(loop_.now(), "control frames pile up: the intermediary does not read");
          } else if constexpr (std::is_same_v<A, S::Accepted>) {
            ready_since_ = std::chrono::system_clock::now();
            handler_.on_accepted(*this, a.accept);
          } else if constexpr (std::is_same_v<A, S::RoutesChanged>) {
            handler_.on_routes(*this, a.routes);
          } else if constexpr (std::is_same_v<A, S::Refused>) {
            handler_.on_refused(*this, a.refuse, a.permanent);  // may stop this uplink (pending actions are dropped)
          } else if constexpr (std::is_same_v<A, S::Gone>) {
            handler_.on_peer_gone(*this, a.gone);
          } else if constexpr (std::is_same_v<A, S::DnsChanged>) {
            handler_.on_dns(*this, a.dns);
          } else if constexpr (std::is_same_v<A, S::Close>) {
            close_connection();
            awaiting_addresses_ = false;
            if (a.was_ready) handler_.on_down(*this);
          } else if constexpr (std::is_same_v<A, S::ReconnectAfter>) {
            if (retry_timer_ != 0) loop_.cancel_timer(retry_timer_);
            retry_timer_ = loop_.add_timer(a.delay, [this] {
              retry_timer_ = 0;
              session_.retry_due(loop_.now());
              pump();
            });
          } else if constexpr (std::is_same_v<A, S::Note>) {
            log_.log(a.level, "uplink {}: {}", index_, a.text);
          }
        },
        *action);
  }
}

void Uplink::dial() {
  if (retry_timer_ != 0) loop_.cancel_timer(std::exchange(retry_timer_, 0));
  close_connection();
  // A fresh answer for the next attempt; this one does not wait for it.
  if (resolver_) resolver_->request(dial_target().host);
  if (addresses_.empty()) {
    awaiting_addresses_ = true;  // the first answer dials
    return;
  }
  start_race();
}

void Uplink::start_race() {
  close_attempts();
  race_error_.clear();
  bytes_in_ = 0;
  race_.emplace(interleave_families(addresses_), loop_.now());
  advance_race();
}

void Uplink::advance_race() {
  if (!race_) return;
  auto now = loop_.now();
  while (auto start = race_->next(now)) {
    Endpoint to{start->address.to_string(), dial_target().port};
    if (attempts_.empty()) remote_ = to.to_string();
    auto transport = dialer_.dial(to, settings_.server_name);
    if (!transport) {
      race_error_ = transport.error();
      race_->failed(start->attempt, now);
      continue;  // the next address is due at once
    }
    attempts_.add(start->attempt, std::move(to), std::move(*transport));
  }
  if (race_->lost()) {
    close_attempts();
    std::string via = settings_.proxy ? " via " + settings_.proxy->server.to_string() : "";
    session_.transport_failed(now, "connection to " + settings_.intermediary.to_string() + via +
                                       " failed: " + race_error_);
    pump();
    return;
  }
  if (race_timer_ != 0) loop_.cancel_timer(std::exchange(race_timer_, 0));
  if (auto due = race_->next_due()) {
    race_timer_ = loop_.add_timer(*due, [this] {
      race_timer_ = 0;
      advance_race();
    });
  }
}

void Uplink::on_attempt_event(size_t attempt) {
  switch (attempts_.drive(attempt)) {
    case ConnectAttempts::Step::Pending: return;
    case ConnectAttempts::Step::Done: return win_race(attempt);
    case ConnectAttempts::Step::Failed:  // this address failed: the race goes on without it
      race_error_ = attempts_.last_failure();
      race_->failed(attempt, loop_.now());
      advance_race();
      return;
  }
}

void Uplink::win_race(size_t attempt) {
  remote_ = attempts_.target(attempt)->to_string();
  auto transport = attempts_.take(attempt);
  if (!attempts_.empty())
    log_.debug("uplink {}: {} answered first; {} other attempt(s) closed", index_, remote_, attempts_.size());
  close_attempts();  // the losers
  channel_.emplace(std::move(transport), Channel::limits_for(settings_.queue_bytes));
  bytes_in_ = 0;
  session_.transport_up(loop_.now(), channel_->transport().resumed());
  pump();
  flush();
}

void Uplink::close_attempts() {
  if (race_timer_ != 0) loop_.cancel_timer(std::exchange(race_timer_, 0));
  attempts_.clear();
  race_.reset();
}

void Uplink::on_resolved(Resolver::Result result) {
  if (!result || result->empty()) {
    std::string why = result ? std::string("no addresses") : std::move(result.error());
    if (std::exchange(awaiting_addresses_, false)) {
      session_.transport_failed(loop_.now(), "resolve " + dial_target().host + ": " + why);
      pump();
    } else {
      log_.debug("uplink {}: resolve {}: {}; dialling the last known addresses", index_, dial_target().host,
                 why);
    }
    return;
  }
  if (*result != addresses_) {
    std::string list;
    for (const auto& a : *result) list += (list.empty() ? "" : ", ") + a.to_string();
    log_.log(index_ == 0 ? LogLevel::Info : LogLevel::Debug, "uplink {}: {} is {}", index_,
             dial_target().host, list);
    addresses_ = std::move(*result);
  }
  if (std::exchange(awaiting_addresses_, false) && session_.state() == SiteSession::State::Connecting && !channel_ &&
      !race_)
    start_race();
}

void Uplink::set_interest(uint32_t events) {
  int fd = channel_ ? channel_->fd() : -1;
  if (fd < 0) return;
  if (registered_fd_ != fd) {
    if (registered_fd_ >= 0) loop_.remove(registered_fd_);
    loop_.add(fd, events, [this](uint32_t ev) { on_event(ev); });
    registered_fd_ = fd;
    interest_ = events;
  } else if (events != interest_) {
    loop_.modify(fd, events);
    interest_ = events;
  }
}

void Uplink::on_event(uint32_t events) {
  if (!channel_) return;
  if (retiring_) return on_retiring_event(events);
  if (!session_.connected()) return;
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
    auto out = channel_->read_frames([this](const FrameView& f) { return on_frame(f); }, 512 * 1024);
    if (out.status != Channel::ReadStatus::Stopped) bytes_in_ += out.bytes;
    using RS = Channel::ReadStatus;
    auto now = loop_.now();
    switch (out.status) {
      case RS::Stopped: return;  // the connection (or more) is gone: touch nothing
      case RS::Closed: session_.transport_failed(now, "closed by the intermediary"); break;
      case RS::Error: session_.transport_failed(now, "TLS: " + channel_->transport().last_error()); break;
      case RS::Malformed:
        session_.transport_failed(now, std::string("malformed frame from the intermediary: ") +
                                           to_string(out.wire_error));
        break;
      default:
        if (out.bytes > 0) session_.received(now);
        break;
    }
    pump();
  }
  flush();
}

bool Uplink::on_frame(const FrameView& f) {
  uint64_t generation = generation_;
  if (f.type == MsgType::Data && session_.ready()) {
    auto d = decode_data(f.payload);
    if (!d) {
      log_.warn("uplink {}: dropped malformed DATA: {}", index_, to_string(d.error()));
      return true;
    }
    handler_.on_data(*this, *d);
  } else {
    session_.on_frame(loop_.now(), f);
    pump();
  }
  // A handler or the session may have closed this channel (or opened another).
  return generation == generation_ && session_.connected();
}

void Uplink::flush() {
  if (!channel_ || !session_.connected() || retiring_) return;
  if (channel_->flush() == Channel::FlushStatus::Error) {
    session_.transport_failed(loop_.now(), "TLS write: " + channel_->transport().last_error());
    pump();
    return;
  }
  set_interest(channel_->epoll_events());
}

void Uplink::close_connection() {
  close_attempts();
  if (registered_fd_ >= 0) loop_.remove(std::exchange(registered_fd_, -1));
  interest_ = 0;
  if (channel_) {
    channel_.reset();
    ++generation_;
  }
}

void Uplink::tick() {
  tick_timer_ = 0;
  session_.tick(loop_.now());
  pump();
  if (session_.state() == SiteSession::State::Stopped) return;
  if (channel_ && session_.ready() && channel_->queue().empty()) channel_->trim();
  flush();
  auto period = session_tick_period(settings_.keepalive);
  tick_timer_ = loop_.add_timer(period, [this] { tick(); });
}

Uplink::Status Uplink::status() const {
  Status st;
  st.index = index_;
  st.state = to_string(session_.state());
  st.remote = remote_;
  st.path = settings_.proxy ? "tls via proxy" : "tls";
  if (session_.ready()) st.since = ready_since_;
  st.resumed = session_.resumed();
  st.bytes_in = bytes_in_;
  st.bytes_out = channel_ ? channel_->bytes_flushed() : 0;
  st.rtt = session_.rtt();
  st.cert_not_after = tls_.certificate_not_after();
  // Waiting out a refusal only a change elsewhere heals: say so, not just "waiting".
  if (session_.state() == SiteSession::State::Waiting && session_.refused()) st.state = "refused";
  if (retiring_) st.state = "retiring";
  return st;
}

}  // namespace dialout
