#include "tests/support/proxy_script.hpp"

#include <algorithm>

namespace dialout {

namespace {

std::string drain(ProxyHandshake& h) {
  std::string out;
  for (auto pending = h.pending_output(); !pending.empty(); pending = h.pending_output()) {
    // Two partial writes per flush, as a full socket would cause.
    const size_t n = pending.size() > 1 ? pending.size() / 2 : 1;
    out.append(reinterpret_cast<const char*>(pending.data()), n);
    h.output_written(n);
  }
  return out;
}

std::span<const uint8_t> as_bytes(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

}  // namespace

std::vector<std::string_view> whole(size_t, std::string_view reply) { return {reply}; }

std::vector<std::string_view> bytewise(size_t, std::string_view reply) {
  std::vector<std::string_view> pieces;
  for (size_t i = 0; i < reply.size(); ++i) pieces.push_back(reply.substr(i, 1));
  return pieces;
}

ReplyCutter split_one(size_t which, size_t at) {
  return [which, at](size_t index, std::string_view reply) -> std::vector<std::string_view> {
    if (index != which) return {reply};
    const size_t cut = std::min(at, reply.size());
    return {reply.substr(0, cut), reply.substr(cut)};
  };
}

ProxyRun play(ProxyHandshake& h, const std::vector<std::string>& replies, const ReplyCutter& cut, bool close_after) {
  ProxyRun run;
  for (size_t i = 0; i < replies.size() && run.progress == ProxyProgress::NeedMore; ++i) {
    run.sent += drain(h);
    for (std::string_view piece : cut(i, replies[i])) {
      run.sent += drain(h);
      run.progress = h.consume(as_bytes(piece));
      if (run.progress != ProxyProgress::NeedMore) break;
    }
  }
  run.sent += drain(h);
  if (close_after && run.progress == ProxyProgress::NeedMore) run.progress = h.peer_closed();
  const auto tunnel = h.tunnel_bytes();
  run.tunnel.assign(reinterpret_cast<const char*>(tunnel.data()), tunnel.size());
  run.error = h.error();
  return run;
}

}  // namespace dialout
