#include "netlib/metrics_text.hpp"

#include <fmt/core.h>

namespace dialout {

std::string escape_label_value(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string escape_help(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

void MetricsText::family(std::string_view name, std::string_view help, bool gauge,
                         const std::vector<Sample>& samples) {
  out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, escape_help(help), name, gauge ? "gauge" : "counter");
  for (const auto& s : samples) {
    out_ += name;
    if (!s.labels.empty()) {
      out_ += "{";
      for (size_t i = 0; i < s.labels.size(); ++i) {
        if (i > 0) out_ += ",";
        out_ += fmt::format("{}=\"{}\"", s.labels[i].first, escape_label_value(s.labels[i].second));
      }
      out_ += "}";
    }
    out_ += fmt::format(" {}\n", s.value);
  }
}

void MetricsText::row(std::string_view prefix, const CounterInfo& info, uint64_t value) {
  std::string name = fmt::format("{}_{}{}", prefix, info.key, info.gauge ? "" : "_total");
  family(name, info.help, info.gauge, {{{}, value}});
}

}  // namespace dialout
