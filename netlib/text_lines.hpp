// Line-by-line reading of a configuration text held in memory (policy,
// ticket key file): each call takes the next line off the front, without
// its '\n'; the last line need not end with one.
#pragma once

#include <string_view>

namespace dialout {

inline std::string_view take_line(std::string_view& text) {
  auto nl = text.find('\n');
  std::string_view line = text.substr(0, nl);
  text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
  return line;
}

}  // namespace dialout
