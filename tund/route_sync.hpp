// The site's side of ROUTE_UPDATE (issue 17; format in netlib/wire.hpp):
// collects the parts of each update, applies whole updates in sequence
// order, and says when to ask for a fresh snapshot. Pure: the session feeds
// it decoded frames and installs table() when an update completes.
//
// Rules, so that the installed table is always one the relay meant:
//   - an update is applied only once its last part is in (never half a
//     snapshot or half a delta);
//   - a snapshot replaces everything and sets the seq; a delta must carry
//     seq + 1, else it is a gap;
//   - a gap, a part out of order, or a delta before any snapshot drops what
//     is held of the update and answers Resync (the caller sends
//     ROUTE_RESYNC once); deltas are then ignored until the next snapshot,
//     so one gap costs one request, not one per frame;
//   - more than kMaxEntries routes held (table plus parts) is an Error: the
//     relay is broken or hostile and the caller closes the connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "netlib/wire.hpp"

namespace dialout {

class RouteSync {
 public:
  enum class Outcome {
    Pending,    // part taken, the update is not complete yet
    Installed,  // an update completed: table() changed
    Resync,     // send ROUTE_RESYNC{seq()} now
    Ignored,    // waiting for the snapshot already asked for
    Error,      // over the bound: close the connection
  };
  static constexpr size_t kMaxEntries = 1u << 18;

  Outcome apply(RouteUpdate update);

  // Installed routes by site id; empty before the first snapshot.
  const std::map<SiteId, RouteEntry>& table() const { return table_; }
  bool has_snapshot() const { return have_snapshot_; }
  uint32_t seq() const { return seq_; }
  bool awaiting_resync() const { return awaiting_resync_; }
  // Counted for status: gaps seen (each asked for one resync).
  uint64_t gaps() const { return gaps_; }

 private:
  Outcome gap();
  Outcome take(RouteUpdate& update);
  void install();

  std::map<SiteId, RouteEntry> table_;
  bool have_snapshot_ = false;
  uint32_t seq_ = 0;
  bool awaiting_resync_ = false;
  uint64_t gaps_ = 0;

  // The update being collected, and how many parts are in.
  std::optional<RouteUpdate> building_;
  uint16_t next_part_ = 0;
};

}  // namespace dialout
