// libFuzzer: the policy parser reads operator-written text at startup; it must
// reject garbage with an error, never crash, and answer queries on what it accepts.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "netlib/ip_address.hpp"
#include "netlib/policy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace dialout;
  if (size > 64 * 1024) return 0;  // load() caps real files; big inputs only slow the search
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto p = Policy::parse(text, "fuzz");
  if (!p) {
    if (p.error().where.rfind("fuzz:", 0) != 0 || p.error().message.empty()) __builtin_trap();
    (void)p.error().to_string();
    return 0;
  }
  for (std::string_view id : {"gw-a", "gw-b", "*", "alice@example.com", ""}) {
    (void)p->may_register(id, "office-a");
    (void)p->may_reach(id, "office-b");
    (void)p->may_advertise(id, *Prefix::parse("10.1.0.0/24"));
    (void)p->may_advertise(id, *Prefix::parse("::/0"));
  }
  return 0;
}
