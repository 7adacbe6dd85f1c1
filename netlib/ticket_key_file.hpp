// Reading and writing the ticket key file (format: ticket_key_ring.hpp).
// Written whole to a temporary file in the same directory, mode 0600,
// flushed and renamed over the old one: a crash leaves the old ring or the
// new one, never half of either.
#pragma once

#include <optional>
#include <string>

#include "netlib/expected.hpp"
#include "netlib/ticket_key_ring.hpp"

namespace dialout {

// Nothing when the file does not exist; an error naming the file (and the
// line) when it cannot be read or parsed, or is readable by others.
Expected<std::optional<TicketKeyRing>, std::string> load_ticket_keys(const std::string& path);
Expected<void, std::string> save_ticket_keys(const std::string& path, const TicketKeyRing& ring);

}  // namespace dialout
