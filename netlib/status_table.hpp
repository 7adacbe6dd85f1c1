// What `status` and `routes` answer, independent of how it is shown: named
// tables of rows, each row (key, value) fields in column order. One table
// renders as aligned text for people or as JSON for scripts, so the daemons
// build their data once and the two forms cannot drift apart. Pure.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

namespace dialout {

struct StatusField {
  // monostate: unknown or not applicable ("-" in text, null in JSON).
  using Value = std::variant<std::monostate, uint64_t, std::string, bool>;
  std::string key;
  Value value;
};
using StatusRow = std::vector<StatusField>;

struct StatusTable {
  std::string name;  // "sessions", "routes": the JSON key and the text heading
  std::vector<std::string> columns;  // every row has these keys in this order
  std::vector<StatusRow> rows;
};

// Per table: "NAME (n)" then a header of the column keys and one line per
// row, columns padded to their widest cell; a blank line between tables.
std::string render_text(std::span<const StatusTable> tables);
// {"NAME": [{"key": value, ...}, ...], ...}, one line, newline-terminated.
std::string render_json(std::span<const StatusTable> tables);
// A JSON string literal (quotes included) with control characters escaped.
std::string json_string(std::string_view s);

}  // namespace dialout
