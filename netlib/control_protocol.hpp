// The control socket's protocol (docs/protocol.md, "Control socket"): one
// request per connection, one reply, then the daemon closes.
//
//   request  = verb [" " argument] [" --json"] "\n"      at most 4 KiB
//   verb     = "status" | "routes" | "kill" | "reload"   (kill takes the argument)
//   reply    = "ok\n" body            or   "error " message "\n"
//
// The body is a human table, or one JSON object with --json. Requests are
// parsed strictly (printable ASCII, known verbs, exact argument counts) so a
// typo is an error reply naming what is wrong, never a guess. Pure: no I/O.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "netlib/expected.hpp"

namespace dialout {

inline constexpr size_t kMaxControlRequest = 4096;  // bytes, newline included
inline constexpr size_t kMaxControlReply = 1 << 20; // bodies are cut here (with a note)
inline constexpr size_t kMaxControlArgument = 255;

enum class ControlVerb { Status, Routes, Kill, Reload };
const char* to_string(ControlVerb v);

struct ControlRequest {
  ControlVerb verb = ControlVerb::Status;
  std::string argument;  // kill: a site name or a session id
  bool json = false;
  bool operator==(const ControlRequest&) const = default;
};

// `line` is the request without its newline. The error says what is wrong
// and where (the offending word).
Expected<ControlRequest, std::string> parse_control_request(std::string_view line);
// The line a client sends, newline included.
std::string format_control_request(const ControlRequest& r);

struct ControlReply {
  bool ok = true;
  std::string body;  // ok: the output; error: the message (one line)
  bool operator==(const ControlReply&) const = default;
};
// Bounded: a body over kMaxControlReply is cut and says so; an error
// message is kept to one line.
std::string encode_control_reply(const ControlReply& r);
// For the client: the whole reply as read until the daemon closed.
Expected<ControlReply, std::string> parse_control_reply(std::string_view bytes);

}  // namespace dialout
