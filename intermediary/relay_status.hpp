// What the relay reports about itself to `dialoutctl` and the metrics
// endpoint: one row per live session, one per registered site. Copied out
// under the relay lock by Relay::session_rows()/site_rows() (relay_status.cpp),
// rendered elsewhere (intermediary/relay_control.cpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "intermediary/registry.hpp"
#include "netlib/ip_address.hpp"

namespace dialout {

struct SessionRow {
  SessionId id = 0;
  std::string site;      // empty until registered
  std::string identity;  // certificate CN
  std::string remote;    // host:port
  std::string state;     // handshake, authenticated (HELLO/REGISTER not done yet), ready
  std::chrono::system_clock::time_point since{};
  unsigned worker = 0;
  std::string path = "tls";
  uint64_t bytes_in = 0, bytes_out = 0, frames_in = 0, frames_out = 0, queue_drops = 0;
  bool resumed = false;
  int64_t cert_not_after = 0;  // Unix seconds, 0 unknown
  uint32_t rtt_us = 0;         // TCP's smoothed RTT to the site, 0 unknown
};

struct SiteRow {
  SiteId id = 0;
  std::string name, identity;
  std::vector<Prefix> prefixes;
  size_t sessions = 0;
};

}  // namespace dialout
