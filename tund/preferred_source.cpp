#include "tund/preferred_source.hpp"

#include <algorithm>

namespace dialout {

PreferredSources choose_preferred_sources(const std::vector<Prefix>& advertised, const std::vector<Prefix>& tun_addresses,
                                          const std::vector<IpAddr>& lan_sources) {
  auto advertised_here = [&](const IpAddr& a) {
    return std::any_of(advertised.begin(), advertised.end(), [&](const Prefix& p) { return p.contains(a); });
  };
  PreferredSources out;
  auto consider = [&](const IpAddr& a) {
    auto& slot = a.family == Family::V4 ? out.v4 : out.v6;
    if (!slot && advertised_here(a)) slot = a;
  };
  for (const auto& t : tun_addresses) consider(t.addr);
  for (const auto& a : lan_sources) consider(a);
  return out;
}

}  // namespace dialout
