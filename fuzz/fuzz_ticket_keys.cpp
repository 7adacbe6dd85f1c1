// The ticket key file parser: any text is parsed or refused with a message,
// never crashes; what parses writes back to text that parses to the same ring.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "netlib/ticket_key_ring.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto ring = dialout::TicketKeyRing::parse(text, "fuzz");
  if (!ring) {
    if (ring.error().empty()) std::abort();
    return 0;
  }
  auto again = dialout::TicketKeyRing::parse(ring->to_text(), "fuzz");
  if (!again || !(*again == *ring)) std::abort();
  return 0;
}
