#include "tund/prefix_mapping.hpp"

#include <fmt/core.h>

#include "netlib/option_values.hpp"
#include "netlib/text_lines.hpp"

namespace dialout {
namespace {

const char* family_name(const Prefix& p) { return p.addr.family == Family::V4 ? "IPv4" : "IPv6"; }

}  // namespace

Expected<PrefixMapping, std::string> parse_prefix_mapping(std::string_view text) {
  const size_t as = text.find(" as ");
  if (as == std::string_view::npos) {
    auto p = parse_canonical_prefix(text);
    if (!p) return unexpected(p.error());
    return PrefixMapping{*p, *p};
  }
  auto inside = parse_canonical_prefix(trim(text.substr(0, as), " "));
  if (!inside) return unexpected(inside.error());
  auto outside = parse_canonical_prefix(trim(text.substr(as + 4), " "));
  if (!outside) return unexpected(outside.error());
  if (inside->addr.family != outside->addr.family) {
    return unexpected(fmt::format("{}: {} is {} but {} is {} (a translation keeps the family)", quote(text),
                                  inside->to_string(), family_name(*inside), outside->to_string(),
                                  family_name(*outside)));
  }
  if (inside->len != outside->len) {
    return unexpected(fmt::format("{}: /{} and /{} differ (a 1:1 translation needs prefixes of the same length)",
                                  quote(text), inside->len, outside->len));
  }
  if (*inside == *outside)
    return unexpected(fmt::format("{}: translates the prefix to itself (drop the 'as' part)", quote(text)));
  return PrefixMapping{*inside, *outside};
}

}  // namespace dialout
