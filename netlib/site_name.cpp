#include "netlib/site_name.hpp"

namespace dialout {

namespace {
bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
}  // namespace

bool valid_site_name(std::string_view name) {
  if (name.empty() || name.size() > 63 || !lower_alnum(name.front())) return false;
  for (char c : name) {
    if (!lower_alnum(c) && c != '.' && c != '_' && c != '-') return false;
  }
  return true;
}

}  // namespace dialout
