#include "netlib/loop_thread.hpp"

#include <pthread.h>
#include <signal.h>

namespace dialout {

LoopThread::LoopThread() : stop_wake_(EventFd::create_or_throw()) {
  loop_.add(stop_wake_.fd(), EPOLLIN, [this](uint32_t) {
    stop_wake_.drain();
    if (stopping_.load()) loop_.stop();
  });
}

LoopThread::~LoopThread() {
  stop();
  loop_.remove(stop_wake_.fd());
}

void LoopThread::start() {
  if (thread_.joinable()) return;
  // The new thread inherits the creator's mask: block everything for the
  // moment of creation only.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  thread_ = std::thread([this] { loop_.run(); });
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

void LoopThread::stop() {
  if (!thread_.joinable()) return;
  stopping_.store(true);
  stop_wake_.signal();
  thread_.join();
}

}  // namespace dialout
