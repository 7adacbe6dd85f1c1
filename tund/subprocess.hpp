// Runs a helper program (nft) without a shell: posix_spawnp with an argv,
// text on its stdin, its stdout and stderr collected, a hard deadline.
// Only for setup and teardown, never the data path: it blocks the caller.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "netlib/expected.hpp"

namespace dialout {

struct ProcessResult {
  int exit_code = -1;  // -1 when killed by a signal
  std::string output;  // stdout and stderr interleaved, at most 64 KiB
};

// A program name without '/' is looked up in PATH (posix_spawnp); callers
// that run something with privileges pass an absolute path.
// Errors: the program cannot be found or started ("nft: not found in PATH",
// "/usr/sbin/nft: no such file"),
// or it ran past the timeout (then it is killed). A non-zero exit is a
// result, not an error: the caller knows what it means.
// `env`: "NAME=value" entries the child gets on top of ours (replacing a
// variable of the same name), e.g. what a hook script is told.
Expected<ProcessResult, std::string> run_process(const std::vector<std::string>& argv, std::string_view input,
                                                 std::chrono::milliseconds timeout,
                                                 const std::vector<std::string>& env = {});

}  // namespace dialout
