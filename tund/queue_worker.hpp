// One worker per TUN queue (one with queues = 1): a thread with its own
// event loop that owns one TUN queue and its share of the uplinks, and runs
// the data path (router and proxy client) between them. TLS for those
// uplinks is sealed and opened on this thread, so K workers use K cores.
//
// Control stays with the engine on the main thread: the worker reads the
// route table and served prefixes from a snapshot the engine publishes, and
// posts what its uplinks hear (ACCEPT, ROUTES, REFUSE, PEER_GONE, DNS_CONFIG, down) to
// the engine's mailbox. Its counters are atomics any thread may read.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "netlib/event_fd.hpp"
#include "netlib/event_loop.hpp"
#include "netlib/log.hpp"
#include "netlib/mailbox.hpp"
#include "netlib/shared_snapshot.hpp"
#include "netlib/tls.hpp"
#include "router/route_table.hpp"
#include "tund/uplink.hpp"
#include "tund/data_path.hpp"
#include "tund/site_config.hpp"
#include "tund/tun.hpp"

namespace dialout {

// What the engine publishes for the workers' data paths.
struct WorkerView {
  RouteTable routes;
  std::vector<Prefix> served;
};

struct UplinkDown {};
// A worker finished moving its uplinks to a new certificate (ok), or gave
// up (the intermediary did not take the new one; `why` says what happened).
struct RenewalDone {
  bool ok = false;
  std::string why;
};
// An uplink's control event, for the engine (uplink = its index in the pool).
struct ControlEvent {
  unsigned uplink = 0;
  std::variant<Accept, Routes, Refuse, PeerGone, UplinkDown, RenewalDone, DnsConfig> what;
};

// A client context like `like` (same files and I/O mode) for one worker:
// a client context caches session tickets, so workers do not share one.
Expected<TlsContext, std::string> worker_tls_context(const TlsContext& like);

// A worker's move of its uplinks to a renewed certificate (QueueWorker::renew).
struct UplinkRenewal {
  std::unique_ptr<TlsContext> tls;
  size_t next = 0;                    // the position in the worker's uplinks being moved
  std::unique_ptr<Uplink> candidate;  // its replacement, until ready
  EventLoop::TimerId deadline = 0;
};

class QueueWorker final : public Uplink::Handler {
 public:
  // Read by the engine from any thread; written by the worker.
  struct Stats {
    // The data path's counters, with Reconnects and Connected (ready uplinks) filled in.
    SiteCounterValues counters{};
    size_t ready = 0;
  };
  struct Shared {
    const SiteConfig& config;
    const Uplink::Settings& settings;
    const SharedSnapshot<WorkerView>& view;
    Mailbox<ControlEvent>& control;
    Logger& log;
  };

  // `uplinks`: the pool indexes this worker owns. Throws (startup) when its
  // TLS context or wake-up eventfd cannot be made. Nothing runs until start().
  QueueWorker(Tun& queue, TlsContext tls, const Shared& shared, const std::vector<unsigned>& uplinks,
              uint64_t seed);
  ~QueueWorker() override;
  QueueWorker(const QueueWorker&) = delete;
  QueueWorker& operator=(const QueueWorker&) = delete;

  void start();  // spawns the thread, which dials its uplinks
  // Any thread: asks the thread to stop its uplinks and return.
  void request_stop();
  // Main thread: request_stop() and wait for the thread.
  void join();
  // Any thread: redial every uplink now (the path to the intermediary changed).
  void reconnect_all();
  // Any thread: move every uplink to `fresh` (a renewed certificate), make
  // before break, one at a time: a new connection registers, takes over the
  // old one's flows, and the old one drains and closes (Uplink::retire).
  // An uplink that is not ready is replaced at once. A renewal already
  // under way restarts with the newer context. Ends with RenewalDone.
  void renew(TlsContext fresh);

  Stats stats() const;
  // Any thread: each of its uplinks as of the last stats period (100 ms).
  std::vector<Uplink::Status> uplink_status() const;

  // Uplink::Handler (worker thread)
  void on_accepted(Uplink& up, const Accept& accept) override;
  void on_routes(Uplink& up, const Routes& routes) override;
  void on_data(Uplink& up, const DataView& data) override;
  void on_refused(Uplink& up, const Refuse& refuse, bool gave_up) override;
  void on_down(Uplink& up) override;
  void on_peer_gone(Uplink& up, const PeerGone& gone) override;
  void on_dns(Uplink& up, const DnsConfig& dns) override;

 private:
  void run();
  void on_wake();
  void refresh_view();
  void publish_uplink_stats();
  void arm_stats_timer();
  std::unique_ptr<Uplink> make_uplink(unsigned index, TlsContext& tls);
  void set_data_uplinks();
  // Certificate renewal, on the worker thread.
  void start_renewal(std::unique_ptr<TlsContext> tls);
  void step_renewal();
  void promote_candidate();
  void abandon_renewal(const std::string& why);
  void sweep_retired();
  bool is_candidate(const Uplink& up) const { return renewal_ && renewal_->candidate.get() == &up; }

  Tun& queue_;
  std::unique_ptr<TlsContext> tls_;  // its own: a client context caches session tickets
  Shared shared_;
  uint64_t seed_;
  uint64_t renewals_ = 0;
  EventLoop loop_;
  EventFd wake_;
  // Declared before the uplinks that use them (destroyed after them).
  std::vector<std::unique_ptr<TlsContext>> old_tls_;  // freed once no uplink uses them
  std::vector<std::unique_ptr<Uplink>> uplinks_;
  std::optional<UplinkRenewal> renewal_;
  std::vector<std::unique_ptr<Uplink>> retiring_;      // draining or stopped; freed by sweep_retired
  std::mutex renew_mu_;
  std::unique_ptr<TlsContext> renew_request_;  // guarded by renew_mu_
  uint64_t reconnects_before_ = 0;  // of uplinks replaced by a renewal
  DataPath data_;
  std::shared_ptr<const WorkerView> view_;
  uint64_t view_generation_ = 0;
  std::atomic<bool> stop_requested_{false};
  std::atomic<uint64_t> reconnect_requests_{0};
  uint64_t reconnects_done_ = 0;
  // The uplinks' own counts, mirrored for other threads (the data path's
  // counters need no mirror: they are atomics already).
  std::atomic<uint64_t> reconnects_{0}, ready_{0};
  // Copied by publish_uplink_stats for dialoutctl; a short lock, off the data path.
  mutable std::mutex status_mu_;
  std::vector<Uplink::Status> status_;
  std::thread thread_;
};

}  // namespace dialout
