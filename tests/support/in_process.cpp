#include "tests/support/in_process.hpp"

#include <chrono>

namespace dialout {

using namespace std::chrono_literals;

RelayConfig in_process_relay_config(const TestPki& pki, bool with_crl) {
  RelayConfig c;
  c.listen = *Endpoint::parse("127.0.0.1:0", 0);
  c.tls = pki.server_files(with_crl);
  return c;
}

SiteConfig in_process_site_config(TestPki& pki, uint16_t relay_port, const std::string& identity,
                                  const std::string& name, const char* prefix) {
  SiteConfig c;
  c.name = name;
  c.intermediary = Endpoint{"127.0.0.1", relay_port};
  c.server_name = "intermediary";
  c.tls = pki.client_files(identity);
  if (prefix != nullptr) c.advertise = {*Prefix::parse(prefix)};
  c.reconnect_min = 20ms;
  c.reconnect_max = 200ms;
  return c;
}

}  // namespace dialout
