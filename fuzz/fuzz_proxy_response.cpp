// Arbitrary proxy answers, in arbitrary pieces, to both proxy clients (HTTP
// CONNECT and SOCKS5). The first input byte picks the client and its
// settings, the second seeds the piece sizes, the rest is what the proxy
// says. Checked: no crash; a verdict is final; the tunnel bytes handed over
// on success are the last bytes fed (never more than were fed, never
// invented); a failure has a reason and never quotes the credentials; no
// output is left queued after a failure; a close while undecided fails.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "tund/http_connect.hpp"
#include "tund/socks5_client.hpp"

using namespace dialout;

namespace {

const ProxyCredentials kCredentials{"fuzz-user", "fuzz-secret-pw"};

std::unique_ptr<ProxyHandshake> make(uint8_t config) {
  static constexpr const char* kTargets[] = {"relay.example.net", "203.0.113.5", "2001:db8::1", "relay"};
  const Endpoint proxy{"192.0.2.7", 3128};
  const Endpoint target{kTargets[(config >> 3) & 3], 443};
  const ProxyCredentials* credentials = (config & 2) ? &kCredentials : nullptr;
  if (config & 1) {
    auto h = Socks5Client::start({proxy, target, credentials});
    if (!h) std::abort();
    return std::move(*h);
  }
  auto h = HttpConnect::start({proxy, target, credentials, credentials != nullptr && (config & 4)});
  if (!h) std::abort();
  return std::move(*h);
}

void check_error(const ProxyHandshake& h) {
  const std::string& e = h.error();
  if (e.empty()) std::abort();
  if (e.find(kCredentials.password) != std::string::npos || e.find(kCredentials.user) != std::string::npos) {
    std::abort();
  }
  if (!h.pending_output().empty()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  std::unique_ptr<ProxyHandshake> h = make(data[0]);
  uint32_t rng = data[1] * 2654435761u + 1;
  const std::span<const uint8_t> stream(data + 2, size - 2);
  size_t fed = 0;
  ProxyProgress progress = ProxyProgress::NeedMore;
  while (fed < stream.size() && progress == ProxyProgress::NeedMore) {
    rng = rng * 1103515245u + 12345u;
    // Drain what the client wants written, sometimes in partial writes.
    for (auto out = h->pending_output(); !out.empty(); out = h->pending_output()) {
      h->output_written((rng >> 16) % 2 ? out.size() : (out.size() + 1) / 2);
    }
    const size_t piece = std::min<size_t>(stream.size() - fed, 1 + (rng >> 8) % 64);
    progress = h->consume(stream.subspan(fed, piece));
    fed += piece;
    if (progress != h->progress()) std::abort();
  }
  if (progress == ProxyProgress::NeedMore) {
    progress = h->peer_closed();
    if (progress != ProxyProgress::Failed) std::abort();
  }
  const auto tunnel = h->tunnel_bytes();
  switch (progress) {
    case ProxyProgress::Established:
      if (!h->error().empty() || tunnel.size() > fed) std::abort();
      if (!std::equal(tunnel.begin(), tunnel.end(), stream.begin() + static_cast<std::ptrdiff_t>(fed - tunnel.size()))) {
        std::abort();
      }
      break;
    case ProxyProgress::RetryWithCredentials:
      if ((data[0] & 1) || !(data[0] & 2) || (data[0] & 4)) std::abort();  // HTTP, credentials held, not yet sent
      [[fallthrough]];
    case ProxyProgress::Failed:
      if (!tunnel.empty()) std::abort();
      check_error(*h);
      break;
    case ProxyProgress::NeedMore: std::abort();
  }
  // Final: more bytes or a close change nothing.
  const uint8_t more[] = {'H', 'T', 'T', 'P', 0x05, 0x00};
  if (h->consume(more) != progress || h->peer_closed() != progress) std::abort();
  return 0;
}
