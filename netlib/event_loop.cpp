#include "netlib/event_loop.hpp"

#include <signal.h>
#include <sys/signalfd.h>

#include <cerrno>
#include <limits>
#include <system_error>

namespace dialout {

namespace {

constexpr size_t kMaxEventsPerTurn = 128;

// The epoll data carries fd and a registration generation, so an event for
// an fd that was removed and re-added (same number) within one turn is not
// delivered to the new owner.
uint64_t pack(int fd, uint32_t gen) {
  return (static_cast<uint64_t>(gen) << 32) | static_cast<uint32_t>(fd);
}
int unpack_fd(uint64_t v) { return static_cast<int>(static_cast<uint32_t>(v)); }
uint32_t unpack_gen(uint64_t v) { return static_cast<uint32_t>(v >> 32); }

[[noreturn]] void throw_errno(const char* what) {
  throw std::system_error(errno, std::generic_category(), what);
}

}  // namespace

EventLoop::EventLoop() : epoll_(::epoll_create1(EPOLL_CLOEXEC)), events_(kMaxEventsPerTurn) {
  if (!epoll_.valid()) throw_errno("epoll_create1");
}

EventLoop::~EventLoop() = default;

void EventLoop::add(int fd, uint32_t events, Callback cb) {
  uint32_t gen = next_generation_++;
  if (next_generation_ == 0) next_generation_ = 1;
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = pack(fd, gen);
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) throw_errno("epoll_ctl(ADD)");
  fds_[fd] = std::make_shared<FdEntry>(FdEntry{std::move(cb), events, gen});
}

void EventLoop::modify(int fd, uint32_t events) {
  auto it = fds_.find(fd);
  if (it == fds_.end()) return;
  if (it->second->events == events) return;  // saves a syscall on the hot path
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = pack(fd, it->second->generation);
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev) != 0) throw_errno("epoll_ctl(MOD)");
  it->second->events = events;
}

void EventLoop::remove(int fd) {
  auto it = fds_.find(fd);
  if (it == fds_.end()) return;
  // Failure is fine here: the caller may already have closed the fd, which
  // removed it from the epoll set.
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
  fds_.erase(it);
}

EventLoop::TimerId EventLoop::add_timer(Clock::time_point when, std::function<void()> fn) {
  TimerId id = next_timer_++;
  timers_.emplace(id, std::move(fn));
  heap_.push(HeapItem{when, id});
  return id;
}

void EventLoop::cancel_timer(TimerId id) { timers_.erase(id); }

void EventLoop::add_signals(std::initializer_list<int> signals, std::function<void(int)> fn) {
  sigset_t set;
  sigemptyset(&set);
  for (int s : signals) sigaddset(&set, s);
  // Blocked first: otherwise the default action (terminate) could win the race.
  int rc = ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
  if (rc != 0) throw std::system_error(rc, std::generic_category(), "pthread_sigmask");
  UniqueFd sfd(::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!sfd.valid()) throw_errno("signalfd");
  int raw = sfd.get();
  signal_fds_.push_back(std::move(sfd));
  add(raw, EPOLLIN, [raw, fn = std::move(fn)](uint32_t) {
    // Bounded: a signal storm cannot starve the other fds for long.
    for (int i = 0; i < 64; ++i) {
      signalfd_siginfo info{};
      ssize_t n = ::read(raw, &info, sizeof info);
      if (n != static_cast<ssize_t>(sizeof info)) return;
      fn(static_cast<int>(info.ssi_signo));
    }
  });
}

int EventLoop::wait_timeout_ms(std::chrono::milliseconds max_wait) {
  using std::chrono::milliseconds;
  milliseconds wait = max_wait < milliseconds(0) ? milliseconds(0) : max_wait;
  // Cancelled timers at the top only shorten the wait; they are dropped in
  // run_due_timers.
  if (!heap_.empty()) {
    auto until = heap_.top().when - now();
    // Round up so we do not wake 1 ms early and spin.
    auto ms = std::chrono::ceil<milliseconds>(until);
    if (ms < milliseconds(0)) ms = milliseconds(0);
    if (ms < wait) wait = ms;
  }
  auto count = wait.count();
  if (count > std::numeric_limits<int>::max()) count = std::numeric_limits<int>::max();
  return static_cast<int>(count);
}

void EventLoop::run_once(std::chrono::milliseconds max_wait) {
  ++turn_;
  int timeout = wait_timeout_ms(max_wait);
  int n = ::epoll_wait(epoll_.get(), events_.data(), static_cast<int>(events_.size()), timeout);
  if (n < 0) {
    if (errno != EINTR) throw_errno("epoll_wait");
    n = 0;
  }
  for (int i = 0; i < n; ++i) {
    uint64_t data = events_[static_cast<size_t>(i)].data.u64;
    auto it = fds_.find(unpack_fd(data));
    // Removed (or removed and re-added) earlier in this batch: skip.
    if (it == fds_.end() || it->second->generation != unpack_gen(data)) continue;
    std::shared_ptr<FdEntry> keep = it->second;
    keep->cb(events_[static_cast<size_t>(i)].events);
  }
  run_due_timers();
}

void EventLoop::run_due_timers() {
  // Timers added while running are left for the next turn, so a timer that
  // re-arms itself for "now" cannot starve the fds.
  const TimerId limit = next_timer_;
  const Clock::time_point t = now();
  while (!heap_.empty()) {
    HeapItem top = heap_.top();
    if (top.when > t || top.id >= limit) break;
    heap_.pop();
    auto it = timers_.find(top.id);
    if (it == timers_.end()) continue;  // cancelled
    std::function<void()> fn = std::move(it->second);
    timers_.erase(it);
    fn();
  }
  // Keep the heap from growing without bound under heavy cancel/re-arm.
  if (heap_.size() > 64 && heap_.size() > 4 * timers_.size()) {
    std::priority_queue<HeapItem, std::vector<HeapItem>, std::greater<>> fresh;
    while (!heap_.empty()) {
      if (timers_.count(heap_.top().id) != 0) fresh.push(heap_.top());
      heap_.pop();
    }
    heap_ = std::move(fresh);
  }
}

void EventLoop::run() {
  stopped_ = false;
  while (!stopped_) run_once(std::chrono::milliseconds(1000));
}

}  // namespace dialout
