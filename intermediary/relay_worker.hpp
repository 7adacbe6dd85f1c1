// One of the threads the intermediary's sessions are sharded over.
//
// A session belongs to one worker for its whole life: only that worker's
// thread touches it (TLS, fd, SendQueue, protocol core, timers), and only
// it closes and destroys it. Everything other threads have for its
// sessions (DATA, control frames, requests to close) comes through its
// inbox. It forwards DATA from its own sessions with no lock, against its
// copy of the relay's ForwardingView; only registrations, departures and
// handshakes take the relay mutex, for the shared tables.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "intermediary/forwarding_view.hpp"
#include "intermediary/handshake_gate.hpp"
#include "intermediary/registry.hpp"
#include "intermediary/relay_counters.hpp"
#include "intermediary/relay_inbox.hpp"
#include "intermediary/session.hpp"
#include "netlib/event_loop.hpp"
#include "netlib/loop_thread.hpp"
#include "netlib/event_fd.hpp"
#include "netlib/log.hpp"
#include "netlib/tls.hpp"
#include "netlib/unique_fd.hpp"

namespace dialout {

// A connection the listener accepted, for a worker to start TLS on.
struct Accepted {
  SessionId id = 0;  // given at accept: the pending limits know it by this
  UniqueFd fd;
  std::string peer, peer_host;
};

struct RelayWorker {
  // Per reason, and per session: one flooding peer gets 2 of a reason's 5
  // lines per 10 s and leaves the rest to others.
  RelayWorker(unsigned index, Logger& log) : index(index), drop_log(log, 5, std::chrono::seconds(10), 2) {}

  // Connections accepted but not yet adopted by a worker: beyond this the
  // listener refuses new ones (a worker that far behind is stuck).
  static constexpr size_t kMaxHandoff = 256;
  // DATA frames other workers forward to its sessions may wait this much
  // (bytes, frames) until it drains them; beyond, they drop (drop_inbox_full).
  static constexpr size_t kInboxBytes = 2 * 1024 * 1024;
  static constexpr size_t kInboxFrames = 8192;

  const unsigned index;
  EventLoop* loop = nullptr;            // worker 0: the caller's loop
  std::unique_ptr<LoopThread> thread;   // none for worker 0
  std::unique_ptr<EventFd> wake;         // none when there is only one worker
  // The server context its sessions' TLS uses, on its thread only: one per
  // worker, so handshakes never share an SSL_CTX across threads (OpenSSL
  // 3.0 caches a shared certificate's extensions lazily, which TSan reports
  // as a race between concurrent verifications). All of them hold the same
  // ticket keys, so a site resumes on whichever worker it lands.
  TlsContext* tls = nullptr;             // worker 0: the relay's context
  std::unique_ptr<TlsContext> own_tls;   // the others
  // What other threads have for its sessions: they post, only it drains.
  RelayInbox inbox{kInboxBytes, kInboxFrames};
  // Written by this worker's thread only; Relay::counter() sums the workers'.
  RelayCounterSet counters;
  // The EventFd was written and the worker has not woken yet: one write
  // per wake, whoever asks.
  std::atomic<bool> wake_pending{false};

  // Under the relay mutex.
  std::thread::id thread_id;  // fixed once the threads run
  size_t sessions = 0;        // live sessions owned or handed over (the listener balances on it)
  std::vector<Accepted> adopt;  // accepted, to start TLS on and add to `loop`
  // A CRL reload for `tls`, with the ticket keys every worker switches to.
  std::optional<TicketKeyRing> reload_crl;
  std::optional<TicketKeyRing> new_ticket_keys;  // a rotation: the ring only
  bool reload_certificate = false;  // with reload_crl: our own certificate and key too

  // The worker's own thread only.
  // Its live sessions: its tick visits only these.
  std::unordered_map<SessionId, std::unique_ptr<Session>> owned;
  std::vector<SessionId> dirty;                    // have queued frames to send
  std::vector<SessionId> flushing;                 // `dirty` while it flushes (swapped: both keep their capacity)
  std::vector<std::unique_ptr<Session>> closing;   // retired: last bytes out, fd out of the loop
  std::vector<std::unique_ptr<Session>> graveyard;  // closed; freed at the next tick
  std::shared_ptr<const ForwardingView> view;      // the newest it has seen
  uint64_t view_generation = 0;
  std::vector<uint8_t> scratch;                    // frames the session cores write
  RateLimitedLog drop_log;                          // data-path warnings
  EventLoop::TimerId tick_timer = 0;
  // Handshake steps per loop turn; the ones over it wait, muted, for the
  // timer that releases them at the end of a later turn.
  HandshakeGate gate;
  EventLoop::TimerId gate_timer = 0;
  std::vector<SessionId> released;  // scratch for gate.release
  std::chrono::steady_clock::time_point rtt_sampled_at{};  // the last TCP RTT sample of its sessions
  std::chrono::steady_clock::time_point view_forced_at{};  // the last forced view refresh (Relay::on_data)
};

}  // namespace dialout
