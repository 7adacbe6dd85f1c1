// Arbitrary first bytes of a connection to the port-sharing peek: it must
// never crash or read past a length, and its answer must be consistent:
// a complete hello is inside the bytes and the bound, a server name is a
// clean lower-case host name, and once a prefix of the input is decided,
// more bytes never change the verdict (the listener may decide early).
#include <cstdint>
#include <cstdlib>
#include <span>

#include "intermediary/client_hello.hpp"

using namespace dialout;

namespace {

void check_one(std::span<const uint8_t> bytes, const HelloPeek& p) {
  const bool tls = p.verdict == HelloVerdict::TlsWithAlpn || p.verdict == HelloVerdict::TlsWithoutAlpn;
  if (tls) {
    if (p.hello_bytes == 0 || p.hello_bytes > bytes.size() || p.hello_bytes > kMaxClientHelloPeek) std::abort();
    if (!p.error.empty() || p.server_name.size() > 255) std::abort();
    for (char c : p.server_name) {
      const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
      if (!ok) std::abort();
    }
  } else {
    if (p.hello_bytes != 0 || !p.server_name.empty()) std::abort();
    if ((p.verdict == HelloVerdict::NeedMore) != p.error.empty()) std::abort();
  }
  if (p.verdict == HelloVerdict::NeedMore && bytes.size() >= kMaxClientHelloPeek) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> all(data, size);
  const HelloPeek full = peek_client_hello(all);
  check_one(all, full);
  // Two prefixes chosen by the input itself.
  for (size_t cut : {size / 2, size > 0 ? size - 1 : 0, size > 0 ? data[0] % (size + 1) : 0}) {
    const HelloPeek part = peek_client_hello(all.first(cut));
    check_one(all.first(cut), part);
    if (part.verdict != HelloVerdict::NeedMore) {
      if (part.verdict != full.verdict || part.server_name != full.server_name ||
          part.hello_bytes != full.hello_bytes) {
        std::abort();
      }
    }
  }
  return 0;
}
