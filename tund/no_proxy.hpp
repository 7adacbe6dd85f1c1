// The `no_proxy` / `NO_PROXY` list, read the way curl reads it, so a site
// behaves like the shell tools beside it:
//   - entries separated by commas, spaces and tabs around them ignored;
//   - `*` alone matches every host;
//   - a name matches itself and every name below it: `example.net`,
//     `.example.net` and `*.example.net` all match `example.net` and
//     `relay.example.net` (case-insensitive, a trailing dot ignored);
//   - an IP address or CIDR prefix (`10.0.0.0/8`, `::1`, `[fd00::1]`,
//     `fd00::/16`) matches addresses inside it; host bits are ignored as
//     curl ignores them. Addresses match numeric hosts only and names match
//     names only: nothing is resolved.
// Unlike curl, an entry that is none of these (a typo, `<local>`, a port)
// is refused at start rather than silently never matching.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "netlib/expected.hpp"
#include "netlib/ip_address.hpp"

namespace dialout {

class NoProxyList {
 public:
  static Expected<NoProxyList, std::string> parse(std::string_view text);

  // The entry that matches `host` (a name or an IP literal, brackets
  // allowed), as written in the list; nullopt if none does.
  std::optional<std::string> match(std::string_view host) const;
  bool empty() const { return !match_all_ && domains_.empty() && prefixes_.empty(); }

 private:
  struct Domain {
    std::string suffix;   // lower case, no leading or trailing dot
    std::string written;  // the entry as given, for the log line
  };
  struct Network {
    Prefix prefix;
    std::string written;
  };
  bool match_all_ = false;
  std::vector<Domain> domains_;
  std::vector<Network> prefixes_;
};

}  // namespace dialout
