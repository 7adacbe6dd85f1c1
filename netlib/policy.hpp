// Who may do what: which names an identity may register, which prefixes it
// may advertise, which names it may send to.
//
// File format (INI-like, '#' starts a comment anywhere on a line):
//
//   [identity gw-a]                      # a certificate identity (subject CN)
//   register  = office-a                 # names it may register (comma list, repeatable)
//   advertise = 10.1.0.0/24, fd00:1::/64 # an advertised prefix must lie inside one of these
//   reach     = office-b                 # names it may send to; "*" = any registered name
//
//   [identity *]                         # default: applies to every identity
//   reach = hq
//
// The `[identity *]` section is added to (unioned with) each identity's own
// section, and applies alone to identities that have no section. Union rather
// than fallback so an operator can give everyone a common grant ("all laptops
// may reach hq") without repeating it in every section; nothing is ever
// taken away by it. Everything not granted is denied.
//
// Strict: unknown section kinds, unknown keys, keys outside a section, bad
// names or prefixes, empty list items and duplicate sections are errors that
// name "file:line".
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "netlib/config_error.hpp"
#include "netlib/expected.hpp"
#include "netlib/ip_address.hpp"

namespace dialout {

class Policy {
 public:
  // `source` names the text in errors (usually the file path).
  static Expected<Policy, ConfigError> parse(std::string_view text, std::string_view source);
  static Expected<Policy, ConfigError> load(const std::string& path);

  bool may_register(std::string_view identity, std::string_view name) const;
  bool may_advertise(std::string_view identity, const Prefix& prefix) const;
  bool may_reach(std::string_view identity, std::string_view dst_name) const;

  // Number of sections, the default included (for startup logging).
  size_t section_count() const { return rules_.size() + (has_default_ ? 1 : 0); }

 private:
  struct Rules {
    std::vector<std::string> names;
    std::vector<Prefix> prefixes;
    std::vector<std::string> reach;
    bool reach_any = false;
  };

  // Own section (or nullptr) and the default (or nullptr).
  const Rules* own(std::string_view identity) const;
  const Rules* fallback() const { return has_default_ ? &default_ : nullptr; }

  std::map<std::string, Rules, std::less<>> rules_;
  Rules default_;
  bool has_default_ = false;

  friend class PolicyParser;
};

}  // namespace dialout
