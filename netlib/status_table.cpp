#include "netlib/status_table.hpp"

#include <fmt/core.h>

#include <algorithm>

namespace dialout {

namespace {

std::string cell(const StatusField::Value& v) {
  if (std::holds_alternative<uint64_t>(v)) return std::to_string(std::get<uint64_t>(v));
  if (std::holds_alternative<std::string>(v)) {
    const auto& s = std::get<std::string>(v);
    return s.empty() ? "-" : s;
  }
  if (std::holds_alternative<bool>(v)) return std::get<bool>(v) ? "yes" : "no";
  return "-";
}

std::string json_value(const StatusField::Value& v) {
  if (std::holds_alternative<uint64_t>(v)) return std::to_string(std::get<uint64_t>(v));
  if (std::holds_alternative<std::string>(v)) return json_string(std::get<std::string>(v));
  if (std::holds_alternative<bool>(v)) return std::get<bool>(v) ? "true" : "false";
  return "null";
}

}  // namespace

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"') out += "\\\"";
    else if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (u < 0x20 || u == 0x7f) out += fmt::format("\\u{:04x}", u);
    else out += c;
  }
  return out + "\"";
}

std::string render_text(std::span<const StatusTable> tables) {
  std::string out;
  for (size_t t = 0; t < tables.size(); ++t) {
    const auto& table = tables[t];
    if (t > 0) out += "\n";
    out += fmt::format("{} ({})\n", table.name, table.rows.size());
    std::vector<std::vector<std::string>> cells;
    std::vector<size_t> width;
    for (const auto& c : table.columns) width.push_back(c.size());
    for (const auto& row : table.rows) {
      std::vector<std::string> line;
      for (size_t i = 0; i < table.columns.size(); ++i) {
        line.push_back(i < row.size() ? cell(row[i].value) : "-");
        width[i] = std::max(width[i], line.back().size());
      }
      cells.push_back(std::move(line));
    }
    auto emit = [&](const std::vector<std::string>& line) {
      std::string text;
      for (size_t i = 0; i < line.size(); ++i) {
        text += line[i];
        if (i + 1 < line.size()) text += std::string(width[i] - line[i].size() + 2, ' ');
      }
      out += text + "\n";
    };
    emit(table.columns);
    for (const auto& line : cells) emit(line);
  }
  return out;
}

std::string render_json(std::span<const StatusTable> tables) {
  std::string out = "{";
  for (size_t t = 0; t < tables.size(); ++t) {
    if (t > 0) out += ",";
    out += json_string(tables[t].name) + ":[";
    for (size_t r = 0; r < tables[t].rows.size(); ++r) {
      if (r > 0) out += ",";
      out += "{";
      const auto& row = tables[t].rows[r];
      for (size_t f = 0; f < row.size(); ++f) {
        if (f > 0) out += ",";
        out += json_string(row[f].key) + ":" + json_value(row[f].value);
      }
      out += "}";
    }
    out += "]";
  }
  return out + "}\n";
}

}  // namespace dialout
