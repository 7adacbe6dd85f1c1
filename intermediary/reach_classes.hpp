// One route push's policy answers, shared by the sessions whose identities
// the same policy sections apply to (Policy::sections_of). Pure.
//
// Why: asking the policy per session made a push cost sessions × changed
// sites, and a new session's first table cost one question per live site;
// in a reconnect storm of 10,000 laptops that is 10^8 questions. Laptops
// usually share a group or the default section, so they share one class:
// the class asks once per changed site, a class that sees none of the
// changes is skipped whole (its sessions' views cannot have changed), and a
// class's table of visible sites is built once per push.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "intermediary/peer_identity.hpp"
#include "intermediary/policy.hpp"
#include "intermediary/registry.hpp"
#include "netlib/wire.hpp"

namespace dialout {

// A site registered, changed or gone since the last push.
struct SiteChange {
  SiteId id = 0;
  std::optional<RouteEntry> now;  // none: gone
  std::string old_name;           // empty: new since the last push
};

class ReachClasses {
 public:
  struct Class {
    Policy::SectionList sections;
    // Per change (same index): the class may reach the site as it is now;
    // and it may reach its old or its new name, so its sessions' views may
    // hold it and must be told.
    std::vector<bool> reaches_now, concerned;
    bool concerned_by_any = false;
    // Every live site the class may reach (its own included: callers drop
    // their own site), built on first use.
    std::optional<std::vector<RouteEntry>> visible;
  };

  // The policy, registry and changes must outlive this object (one push).
  ReachClasses(const Policy& policy, const Registry& registry, std::span<const SiteChange> changes)
      : policy_(policy), registry_(registry), changes_(changes) {}

  Class& of(const PeerIdentity& who) { return of(policy_.sections_of(who)); }
  // With the peer's sections already known (the relay keeps them per session).
  Class& of(const Policy::SectionList& sections);
  const std::vector<RouteEntry>& visible(Class& c);
  size_t size() const { return classes_.size(); }

 private:
  const Policy& policy_;
  const Registry& registry_;
  std::span<const SiteChange> changes_;
  std::unordered_map<Policy::SectionList, std::unique_ptr<Class>, Policy::SectionListHash> classes_;
};

}  // namespace dialout
