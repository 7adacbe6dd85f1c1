// libFuzzer: the control socket's request parser (and the metrics
// endpoint's request-line check) take bytes from any local admin tool; they
// must answer garbage with an error, never crash, and what they accept must
// format back to a request that parses to the same thing. The reply encoder
// must always produce something the client's parser reads back.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "netlib/control_protocol.hpp"
#include "netlib/metrics_http.hpp"

using namespace dialout;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string_view line = in.substr(0, in.find('\n'));
  auto r = parse_control_request(line);
  if (r) {
    std::string again = format_control_request(*r);
    again.pop_back();  // the newline
    auto r2 = parse_control_request(again);
    if (!r2 || !(*r2 == *r)) __builtin_trap();
  }
  ControlReply reply{r.has_value(), r ? std::string(in) : r.error()};
  auto back = parse_control_reply(encode_control_reply(reply));
  if (!back || back->ok != reply.ok) __builtin_trap();
  (void)http_head_length(in);
  (void)classify_metrics_request(in);
  return 0;
}
