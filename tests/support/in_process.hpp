// Configuration shared by the in-process tests (a relay and sites on one
// loop over loopback TLS): the relay listens on a free loopback port, a
// site dials it with a certificate of the test PKI and reconnects quickly.
// Each test sets the rest (connections, keepalive, timeouts) itself.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "intermediary/relay_config.hpp"
#include "netlib/event_loop.hpp"
#include "tests/support/test_pki.hpp"
#include "tund/site_config.hpp"

namespace dialout {

RelayConfig in_process_relay_config(const TestPki& pki, bool with_crl = false);

// prefix nullptr: the site advertises nothing (a laptop).
SiteConfig in_process_site_config(TestPki& pki, uint16_t relay_port, const std::string& identity,
                                  const std::string& name, const char* prefix);

// Runs the loop in `step` turns until pred() holds; false once `limit` has
// passed (every wait in these tests is bounded).
template <class Pred>
bool run_loop_until(EventLoop& loop, Pred pred, std::chrono::milliseconds limit, std::chrono::milliseconds step) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    loop.run_once(step);
  }
  return true;
}

}  // namespace dialout
