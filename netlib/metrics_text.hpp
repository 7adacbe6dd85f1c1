// Prometheus text exposition format (version 0.0.4), rendered from the same
// counter tables the status file uses (netlib/counter_set.hpp): a counter
// row "drop_policy" becomes dialout_relay_drop_policy_total, a gauge row
// "connected" becomes dialout_site_connected. Label values are escaped;
// callers only pass bounded label sets (site names, never addresses or
// session ids). Pure: builds a string.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "netlib/counter_set.hpp"

namespace dialout {

class MetricsText {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;
  struct Sample {
    Labels labels;
    uint64_t value = 0;
  };

  // One family: "# HELP", "# TYPE" and its samples. `name` must be a valid
  // metric name; a counter's should end in _total.
  void family(std::string_view name, std::string_view help, bool gauge, const std::vector<Sample>& samples);
  void counter(std::string_view name, std::string_view help, uint64_t value) {
    family(name, help, false, {{{}, value}});
  }
  void gauge(std::string_view name, std::string_view help, uint64_t value) { family(name, help, true, {{{}, value}}); }

  // Every row of a counter table, named prefix + "_" + key (+ "_total").
  template <size_t N>
  void table(std::string_view prefix, const std::array<CounterInfo, N>& rows, const std::array<uint64_t, N>& values) {
    for (size_t i = 0; i < N; ++i) row(prefix, rows[i], values[i]);
  }

  const std::string& text() const { return out_; }

 private:
  void row(std::string_view prefix, const CounterInfo& info, uint64_t value);
  std::string out_;
};

// `\`, `"` and newline escaped as the format wants inside a label value.
std::string escape_label_value(std::string_view v);
// HELP text escaping (`\` and newline).
std::string escape_help(std::string_view v);

}  // namespace dialout
