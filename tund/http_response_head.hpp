// The head of an HTTP/1.x response (RFC 9112 sections 2-5): status line and
// header fields up to the empty line, as a proxy answers a CONNECT.
//
// Strict: lines end in CRLF (a bare CR or LF is refused, so no two parsers
// can disagree on where a line ends); the version is HTTP/1.0 or HTTP/1.1;
// the status is three digits 100..599 followed by a space and a reason (or
// nothing: "HTTP/1.1 200" is taken); field names are tokens with no space
// before the colon; values hold visible characters, spaces and tabs only;
// obsolete line folding is refused. A client may not be stricter than
// that without refusing real proxies, nor laxer without guessing.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "netlib/expected.hpp"

namespace dialout {

struct HttpResponseHead {
  std::string status_line;  // without its CRLF
  unsigned status = 0;      // 100..599
  // The value of each Proxy-Authenticate field, in order (the only field a
  // CONNECT client acts on; RFC 9110 tells it to ignore the framing fields
  // of a 2xx answer and it never reads a body).
  std::vector<std::string> proxy_authenticate;
};

// Where the head in `bytes` ends (just past its CRLFCRLF). `scanned` is how
// far an earlier call got; it is updated so each byte is looked at once.
struct HeadEnd {
  enum class Kind { NeedMore, Found, Malformed };
  Kind kind = Kind::NeedMore;
  size_t end = 0;     // Found: the head's length including CRLFCRLF
  std::string error;  // Malformed
};
HeadEnd find_head_end(std::string_view bytes, size_t& scanned);

// `head`: exactly what find_head_end found, CRLFCRLF included.
Expected<HttpResponseHead, std::string> parse_http_response_head(std::string_view head);

// Whether a prefix of a response could still begin "HTTP/": a proxy that
// speaks something else is refused on its first bytes.
bool could_be_http_response(std::string_view prefix);

// The first line of `bytes` if it has ended, else what there is; for error
// texts (callers quote() it).
std::string_view first_line(std::string_view bytes);

}  // namespace dialout
