// A startup configuration error: where it is and what is wrong with it.
#pragma once

#include <string>

namespace dialout {

struct ConfigError {
  std::string where;    // "file:line", or the option/key name when there is no file
  std::string message;  // what is wrong, naming the offending text

  std::string to_string() const { return where.empty() ? message : where + ": " + message; }
};

}  // namespace dialout
