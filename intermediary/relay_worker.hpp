// One of the threads the intermediary's sessions are sharded over.
//
// A session belongs to one worker for its whole life: only that worker's
// thread drives its TLS (handshake, decrypt, encrypt, send) and its fd, and
// only it closes and destroys them. DATA from other workers' sessions comes
// through its inbox, and only it queues that into its sessions. Other
// threads still reach a session under the relay mutex for control frames
// (route snapshots, PEER_GONE) and to retire it; they then leave work in
// these lists and wake the owner.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "intermediary/registry.hpp"
#include "intermediary/relay_inbox.hpp"
#include "intermediary/session.hpp"
#include "netlib/event_loop.hpp"
#include "netlib/loop_thread.hpp"
#include "netlib/event_fd.hpp"
#include "netlib/tls.hpp"
#include "netlib/unique_fd.hpp"

namespace dialout {

// A connection the listener accepted, for a worker to start TLS on.
struct Accepted {
  UniqueFd fd;
  std::string peer, peer_host;
};

struct RelayWorker {
  explicit RelayWorker(unsigned index) : index(index) {}

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
  // Other workers' DATA for its sessions: they post, only it drains and
  // touches the sessions' SendQueues.
  RelayInbox inbox{kInboxBytes, kInboxFrames};

  // Under the relay mutex.
  std::thread::id thread_id;
  bool wake_pending = false;  // the EventFd was written and not drained yet
  size_t sessions = 0;        // live sessions owned or handed over (the listener balances on it)
  // Its live sessions (also in the relay's map): its tick visits only these.
  std::unordered_map<SessionId, Session*> owned;
  std::vector<Accepted> adopt;                     // accepted, to start TLS on and add to `loop`
  // A CRL reload for `tls`, with the ticket keys every worker switches to.
  std::optional<TlsContext::TicketKeys> reload_crl;
  std::vector<SessionId> dirty;                    // have queued frames to send
  std::vector<SessionId> flushing;                 // the owner's copy of `dirty` while it flushes (kept for its capacity)
  std::vector<std::unique_ptr<Session>> closing;   // retired: fd and TLS to close

  // The worker's own thread only.
  std::vector<std::unique_ptr<Session>> graveyard;  // closed; freed at the next tick
  EventLoop::TimerId tick_timer = 0;
};

}  // namespace dialout
