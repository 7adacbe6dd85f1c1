// Daemon settings from the command line layered over an INI config file
// (Boost.Program_options), with errors that say where a bad value was set.
//
// Every setting is both a flag (--mtu 1400) and a key in the file given with
// --config (mtu = 1400). A flag wins over the file; for repeatable keys the
// flags replace the file's whole list. Unknown keys, malformed lines and a
// single-valued key set twice are refused. Errors read
//   "tund: --mtu: 70000 is out of range (576..65535)"              (flag)
//   "site-a.conf:7: advertise: '10.1.0.1/24' has host bits set"    (file line)
// Startup only: the typed getters throw ConfigException, which
// parse_site_config / parse_relay_config turn into an exit code.
#pragma once

#include <boost/program_options/variables_map.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "netlib/config_error.hpp"
#include "netlib/expected.hpp"
#include "netlib/ip_address.hpp"
#include "netlib/log.hpp"

namespace dialout {

constexpr int kExitUsage = 64;  // EX_USAGE from sysexits.h: bad command line or config
constexpr std::string_view kDialoutVersion = "0.1.0";  // keep in step with CMakeLists.txt
constexpr size_t kMaxConfigFileBytes = 1 << 20;

// One setting, as a flag and a config file key.
struct OptionSpec {
  std::string key;          // "mtu": flag --mtu, file key mtu
  std::string value_name;   // shown in --help: "--mtu BYTES"
  std::string help;         // one sentence, ending with the default
  bool repeatable = false;  // may be given several times; values accumulate in order
};

// The outside world, injected so tests and the fuzzer run without real files.
struct ConfigEnvironment {
  // Text of the --config file, or why it cannot be read.
  std::function<Expected<std::string, std::string>(const std::string& path)> read_config;
  // Empty if the file (a certificate, key, policy...) can be read, else why not.
  std::function<std::string(const std::string& path)> check_readable;
};

// read_config reads at most kMaxConfigFileBytes; check_readable opens the file
// and requires a regular file, so a typo fails at start, not at first connect.
ConfigEnvironment system_environment();

class ConfigException : public std::runtime_error {
 public:
  explicit ConfigException(ConfigError e)
      : std::runtime_error(e.to_string()), error_(std::move(e)) {}
  const ConfigError& error() const { return error_; }

 private:
  ConfigError error_;
};

// How reading the command line ended without settings: --help, --version, or
// a refusal. `text` ends with a newline; exit_code 0 or kExitUsage.
struct EarlyExit {
  std::string text;
  int exit_code = 0;
};

class LayeredOptions {
 public:
  // `program` names the daemon in messages ("tund"); `about` heads --help.
  static Expected<LayeredOptions, EarlyExit> parse(std::string program, std::string_view about,
                                                   std::span<const OptionSpec> specs, int argc,
                                                   const char* const* argv,
                                                   const ConfigEnvironment& env);

  // A single-valued key's text: the flag's if given, else the file's.
  std::optional<std::string> value(const std::string& key) const;
  // A repeatable key's texts: the flags' if any were given, else the file's.
  std::vector<std::string> values(const std::string& key) const;
  bool given(const std::string& key) const { return from_flag(key) || from_file(key); }

  // "tund: --mtu" or "site-a.conf:7: mtu" (the line holding `text` when given).
  std::string where(const std::string& key, std::string_view text = {}) const;
  [[noreturn]] void fail(const std::string& key, std::string_view text, std::string message) const;

  // Typed getters: they throw ConfigException naming the key and its source.
  std::string required(const std::string& key) const;
  uint64_t number(const std::string& key, uint64_t min, uint64_t max, uint64_t dflt) const;
  std::chrono::milliseconds millis(const std::string& key, uint64_t min, uint64_t max,
                                   std::chrono::milliseconds dflt) const;
  bool on_off(const std::string& key, bool dflt) const;
  LogLevel log_level(const std::string& key, LogLevel dflt) const;
  // The path if set (required or optional) and readable by the daemon.
  std::string readable_file(const std::string& key, bool required) const;
  // Applies `parse` to one text and throws its message with the location.
  template <class T, class F>
  T check(const std::string& key, std::string_view text, F&& parse) const {
    Expected<T, std::string> r = parse(text);
    if (!r) fail(key, text, r.error());
    return std::move(r).value();
  }

 private:
  struct FileLine {
    unsigned line;
    std::string key, value;
  };
  LayeredOptions() = default;
  bool from_flag(const std::string& key) const { return flags_.count(key) != 0; }
  bool from_file(const std::string& key) const { return file_.count(key) != 0; }

  std::string program_;
  std::string file_name_;
  std::vector<FileLine> file_lines_;  // for locating errors
  boost::program_options::variables_map flags_, file_;
  std::function<std::string(const std::string&)> check_readable_;
};

// The whole of a daemon's configuration step: layered parse, then `build`
// (which throws ConfigException on a bad value). Result is the daemon's
// {optional config, text, exit code} aggregate.
template <class Result, class Build>
Result parse_daemon_config(std::string program, std::string_view about, std::span<const OptionSpec> specs,
                           Build&& build, int argc, const char* const* argv, const ConfigEnvironment& env) {
  auto layered = LayeredOptions::parse(std::move(program), about, specs, argc, argv, env);
  if (!layered) return {std::nullopt, layered.error().text, layered.error().exit_code};
  try {
    return {build(*layered), "", 0};
  } catch (const ConfigException& e) {
    return {std::nullopt, e.error().to_string() + "\n", kExitUsage};
  }
}

}  // namespace dialout
