#include "intermediary/registration_recheck.hpp"

#include <algorithm>

namespace dialout {

std::vector<Withdrawn> withdrawn_registrations(const Policy& policy, std::span<const LiveRegistration> live) {
  std::vector<Withdrawn> out;
  for (const auto& r : live) {
    if (r.who == nullptr) continue;
    if (auto refusal = check_rights(policy, *r.who, r.name, r.advertised)) out.push_back({r.session, std::move(*refusal)});
  }
  return out;
}

std::vector<Prefix> advertised_prefixes(const Site& site) {
  std::vector<Prefix> out;
  for (const auto& p : site.prefixes)
    if (std::find(site.assigned.begin(), site.assigned.end(), p) == site.assigned.end()) out.push_back(p);
  return out;
}

}  // namespace dialout
