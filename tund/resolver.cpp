#include "tund/resolver.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <mutex>
#include <optional>
#include <system_error>

#include "netlib/mailbox.hpp"

namespace dialout {

struct Resolver::Answer {
  std::string host;
  Result result;
};

// Lives as long as the resolver or its thread, whichever is longer.
struct Resolver::Shared {
  Shared(Lookup l, EventFd wake) : lookup(std::move(l)), answers(std::move(wake), kAnswers) {}
  // A few: answers carry whole address lists, so a later one supersedes.
  static constexpr size_t kAnswers = 4;
  const Lookup lookup;
  Mailbox<Answer> answers;
  std::mutex mu;
  std::optional<std::string> waiting;  // guarded by mu
  bool running = false;                // guarded by mu: the thread is in its loop
  bool closed = false;                 // guarded by mu: the resolver is gone
  uint64_t lookups = 0;                // guarded by mu
};

Resolver::Result Resolver::system_lookup(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &res);
  if (rc != 0) return unexpected(std::string(::gai_strerror(rc)));
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owned(res, &::freeaddrinfo);
  Addresses out;
  for (const addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    IpAddr ip;
    if (ai->ai_family == AF_INET) {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(ai->ai_addr);
      ip = IpAddr::v4(std::span<const uint8_t, 4>(reinterpret_cast<const uint8_t*>(&sin->sin_addr), 4));
    } else if (ai->ai_family == AF_INET6) {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(ai->ai_addr);
      ip = IpAddr::v6(std::span<const uint8_t, 16>(sin6->sin6_addr.s6_addr, 16));
    } else {
      continue;
    }
    if (std::find(out.begin(), out.end(), ip) == out.end()) out.push_back(ip);
  }
  if (out.empty()) return unexpected(std::string("no IPv4 or IPv6 address"));
  return out;
}

Resolver::Resolver(EventLoop& loop, OnResult on_result, Lookup lookup)
    : loop_(loop),
      on_result_(std::move(on_result)),
      shared_(std::make_shared<Shared>(std::move(lookup), EventFd::create_or_throw())) {
  loop_.add(shared_->answers.fd(), EPOLLIN, [this](uint32_t) { deliver(); });
}

Resolver::~Resolver() {
  bool busy;
  {
    std::lock_guard lock(shared_->mu);
    shared_->closed = true;
    shared_->waiting.reset();
    busy = shared_->running;
  }
  loop_.remove(shared_->answers.fd());
  if (!thread_.joinable()) return;
  // A running getaddrinfo may take seconds: do not hold the loop for it.
  if (busy) {
    thread_.detach();
  } else {
    thread_.join();  // it has left its loop; this returns at once
  }
}

void Resolver::run(std::shared_ptr<Shared> s) {
  std::unique_lock lock(s->mu);
  while (s->waiting && !s->closed) {
    std::string host = std::move(*s->waiting);
    s->waiting.reset();
    ++s->lookups;
    lock.unlock();
    s->answers.post(Answer{host, s->lookup(host)});  // full: dropped and counted
    lock.lock();
  }
  s->running = false;
}

void Resolver::request(const std::string& host) {
  std::lock_guard lock(shared_->mu);
  shared_->waiting = host;
  if (shared_->running) return;  // the running thread takes it next
  // The previous thread has left its loop (running is false): joining is instant.
  if (thread_.joinable()) thread_.join();
  try {
    thread_ = std::thread(run, shared_);
    shared_->running = true;
  } catch (const std::system_error& e) {
    // Out of threads: answer with the failure, the caller retries later.
    shared_->waiting.reset();
    shared_->answers.post(Answer{host, unexpected(std::string("cannot start a resolver thread: ") + e.what())});
  }
}

void Resolver::deliver() {
  shared_->answers.drain([this](Answer&& a) { on_result_(a.host, std::move(a.result)); });
}

uint64_t Resolver::lookups() const {
  std::lock_guard lock(shared_->mu);
  return shared_->lookups;
}

uint64_t Resolver::dropped() const { return shared_->answers.dropped(); }

}  // namespace dialout
