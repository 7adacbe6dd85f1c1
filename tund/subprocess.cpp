#include "tund/subprocess.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include <fmt/format.h>

#include "netlib/unique_fd.hpp"

extern char** environ;  // NOLINT: POSIX; read only, handed to the child

namespace dialout {
namespace {

constexpr size_t kMaxOutput = 64 * 1024;
constexpr auto kReapPoll = std::chrono::milliseconds(5);

using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

// Owns the spawn attributes and file actions for one call.
struct SpawnSetup {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  SpawnSetup() {
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
  }
  ~SpawnSetup() {
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
};

// Waits for pid until the deadline, then kills it; returns the wait status.
int reap(pid_t pid, Clock::time_point deadline, bool& timed_out) {
  int status = 0;
  while (true) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0 && errno != EINTR) return 0;
    if (Clock::now() >= deadline) {
      timed_out = true;
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      return status;
    }
    std::this_thread::sleep_for(kReapPoll);
  }
}

}  // namespace

Expected<ProcessResult, std::string> run_process(const std::vector<std::string>& argv, std::string_view input,
                                                 std::chrono::milliseconds timeout,
                                                 const std::vector<std::string>& env) {
  if (argv.empty()) return unexpected(std::string("run: empty argv"));
  const std::string& program = argv.front();
  const auto deadline = Clock::now() + timeout;

  // stdin is a socket so a child that exits without reading gives us EPIPE
  // from send(MSG_NOSIGNAL) instead of a process-killing SIGPIPE.
  int in[2], out[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) != 0) {
    return unexpected(fmt::format("run {}: socketpair: {}", program, std::strerror(errno)));
  }
  UniqueFd in_child(in[0]), in_parent(in[1]);
  if (::pipe2(out, O_CLOEXEC) != 0) return unexpected(fmt::format("run {}: pipe: {}", program, std::strerror(errno)));
  UniqueFd out_parent(out[0]), out_child(out[1]);

  SpawnSetup setup;
  posix_spawn_file_actions_adddup2(&setup.actions, in_child.get(), 0);
  posix_spawn_file_actions_adddup2(&setup.actions, out_child.get(), 1);
  posix_spawn_file_actions_adddup2(&setup.actions, out_child.get(), 2);
  // The daemon blocks signals it takes through signalfd; the child must not
  // inherit that mask.
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigmask(&setup.attr, &none);
  posix_spawnattr_setsigdefault(&setup.attr, &defaults);
  posix_spawnattr_setflags(&setup.attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  // Our environment with `env` laid over it (built before the spawn: no
  // allocation may happen in the child).
  std::vector<char*> envp;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view var(*e);
    auto name = var.substr(0, var.find('=') + 1);
    bool replaced = std::any_of(env.begin(), env.end(), [&](const std::string& x) { return x.starts_with(name); });
    if (!replaced) envp.push_back(*e);
  }
  for (const auto& x : env) envp.push_back(const_cast<char*>(x.c_str()));
  envp.push_back(nullptr);
  pid_t pid = 0;
  int rc = ::posix_spawnp(&pid, program.c_str(), &setup.actions, &setup.attr, args.data(), envp.data());
  if (rc == ENOENT) {
    if (program.find('/') != std::string::npos) return unexpected(fmt::format("{}: no such file", program));
    return unexpected(fmt::format("{}: not found in PATH", program));
  }
  if (rc != 0) return unexpected(fmt::format("run {}: {}", program, std::strerror(rc)));
  in_child.reset();
  out_child.reset();
  (void)::fcntl(in_parent.get(), F_SETFL, O_NONBLOCK);

  ProcessResult result;
  size_t sent = 0;
  if (input.empty()) in_parent.reset();
  bool timed_out = false;
  char chunk[4096];
  while (out_parent.valid()) {
    pollfd fds[2] = {{out_parent.get(), POLLIN, 0}, {in_parent.get(), POLLOUT, 0}};
    int n = ::poll(fds, in_parent.valid() ? 2 : 1, remaining_ms(deadline));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      timed_out = n == 0;
      break;
    }
    if (in_parent.valid() && fds[1].revents != 0) {
      ssize_t w = ::send(in_parent.get(), input.data() + sent, input.size() - sent, MSG_NOSIGNAL);
      if (w > 0) sent += static_cast<size_t>(w);
      // Done, or the child stopped reading: either way it sees EOF now.
      if (sent == input.size() || (w < 0 && errno != EAGAIN && errno != EINTR)) in_parent.reset();
    }
    if (fds[0].revents != 0) {
      ssize_t r = ::read(out_parent.get(), chunk, sizeof chunk);
      if (r > 0) {
        result.output.append(chunk, std::min(static_cast<size_t>(r), kMaxOutput - result.output.size()));
      } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
        out_parent.reset();  // EOF: the child (and anything it forked) closed it
      }
    }
  }
  in_parent.reset();
  int status = reap(pid, timed_out ? Clock::now() : deadline, timed_out);
  if (timed_out) {
    return unexpected(fmt::format("{}: no answer within {} ms, killed", program, timeout.count()));
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace dialout
