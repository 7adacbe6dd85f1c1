// Site (virtual-address) names: the one rule shared by policy, registry and wire.
#pragma once

#include <string_view>

namespace dialout {

// 1..63 chars of [a-z0-9._-], starting with [a-z0-9]. Lower case only so two
// spellings can never name the same site; 63 fits a DNS label.
bool valid_site_name(std::string_view name);

}  // namespace dialout
