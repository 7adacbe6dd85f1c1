// Hand-built IP datagrams for tests (valid checksums).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace dialout::test {

// An IPv4/UDP datagram from src:sport to dst:dport carrying `payload`.
std::vector<uint8_t> ipv4_udp(std::string_view src, std::string_view dst, uint16_t sport, uint16_t dport,
                              std::string_view payload);

}  // namespace dialout::test
