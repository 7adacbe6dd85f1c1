// Reading configuration text held in memory (policy, ticket key file, the
// option files' scan): take_line takes the next line off the front, without
// its '\n' (the last line need not end with one); trim drops the given
// characters from both ends (each parser says which blanks it allows).
#pragma once

#include <string_view>

namespace dialout {

inline std::string_view trim(std::string_view s, std::string_view blanks) {
  const size_t b = s.find_first_not_of(blanks);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(blanks) - b + 1);
}

inline std::string_view take_line(std::string_view& text) {
  auto nl = text.find('\n');
  std::string_view line = text.substr(0, nl);
  text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
  return line;
}

}  // namespace dialout
