// Arbitrary bytes as tund's --config file: parsing must never crash, and
// must either yield a config (exit 0, no text) or a refusal (exit 64, text).
// The file system is injected, so no file I/O happens per input.
#include <cstddef>
#include <cstdint>
#include <string>

#include "tund/site_config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  dialout::ConfigEnvironment env;
  env.read_config = [&](const std::string&) -> dialout::Expected<std::string, std::string> {
    return text;
  };
  env.check_readable = [](const std::string&) { return std::string(); };
  const char* argv[] = {"tund", "--config", "fuzz.conf"};
  dialout::SiteConfigResult r = dialout::parse_site_config(3, argv, env);
  if (r.config.has_value() != (r.exit_code == 0)) __builtin_trap();
  if (!r.config && (r.text.empty() || r.text.back() != '\n')) __builtin_trap();
  if (r.config) {
    // What the daemon relies on: validated names and ordered timers.
    if (r.config->name.empty() || r.config->tun_name.empty() || r.config->tun_name.size() > 15)
      __builtin_trap();
    if (r.config->dead_after <= r.config->keepalive) __builtin_trap();
    if (r.config->reconnect_max < r.config->reconnect_min) __builtin_trap();
  }
  return 0;
}
