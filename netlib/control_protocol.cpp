#include "netlib/control_protocol.hpp"

#include <fmt/core.h>

#include <vector>

namespace dialout {

namespace {

constexpr std::string_view kTruncated = "\n(reply cut at the size limit)\n";

bool printable(char c) { return c >= 0x20 && c < 0x7f; }

// Names and session ids only: no quoting rules to get wrong.
bool argument_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.';
}

std::string shown(std::string_view word) {
  return word.size() > 40 ? std::string(word.substr(0, 40)) + "..." : std::string(word);
}

}  // namespace

const char* to_string(ControlVerb v) {
  switch (v) {
    case ControlVerb::Status: return "status";
    case ControlVerb::Routes: return "routes";
    case ControlVerb::Kill: return "kill";
    case ControlVerb::Reload: return "reload";
  }
  return "?";
}

Expected<ControlRequest, std::string> parse_control_request(std::string_view line) {
  if (line.size() >= kMaxControlRequest)
    return unexpected(fmt::format("request of {} bytes is over the limit of {}", line.size(), kMaxControlRequest - 1));
  for (size_t i = 0; i < line.size(); ++i) {
    if (!printable(line[i]))
      return unexpected(fmt::format("byte {} of the request is not printable ASCII (0x{:02x})", i,
                                    static_cast<unsigned char>(line[i])));
  }
  std::vector<std::string_view> words;
  size_t pos = 0;
  while (pos < line.size()) {
    if (line[pos] == ' ') {
      ++pos;
      continue;
    }
    size_t end = line.find(' ', pos);
    if (end == std::string_view::npos) end = line.size();
    words.push_back(line.substr(pos, end - pos));
    pos = end;
  }
  if (words.empty()) return unexpected(std::string("empty request (expected status, routes, kill NAME or reload)"));
  ControlRequest r;
  std::vector<std::string_view> args;
  for (size_t i = 1; i < words.size(); ++i) {
    if (words[i] == "--json") {
      if (r.json) return unexpected(std::string("--json given twice"));
      r.json = true;
    } else if (words[i].starts_with("-")) {
      return unexpected(fmt::format("unknown option '{}' (only --json)", shown(words[i])));
    } else {
      args.push_back(words[i]);
    }
  }
  std::string_view verb = words[0];
  if (verb == "status") r.verb = ControlVerb::Status;
  else if (verb == "routes") r.verb = ControlVerb::Routes;
  else if (verb == "kill") r.verb = ControlVerb::Kill;
  else if (verb == "reload") r.verb = ControlVerb::Reload;
  else return unexpected(fmt::format("unknown command '{}' (expected status, routes, kill or reload)", shown(verb)));
  size_t wanted = r.verb == ControlVerb::Kill ? 1 : 0;
  if (args.size() != wanted) {
    if (wanted == 0) return unexpected(fmt::format("{} takes no argument, got '{}'", verb, shown(args[0])));
    return unexpected(args.empty() ? std::string("kill needs a site name or a session id")
                                   : fmt::format("kill takes one argument, got {}", args.size()));
  }
  if (wanted == 1) {
    std::string_view a = args[0];
    if (a.size() > kMaxControlArgument)
      return unexpected(fmt::format("argument of {} bytes is over the limit of {}", a.size(), kMaxControlArgument));
    for (char c : a) {
      if (!argument_char(c))
        return unexpected(fmt::format("argument '{}' has '{}': only letters, digits, '-', '_' and '.'", shown(a), c));
    }
    r.argument = std::string(a);
  }
  return r;
}

std::string format_control_request(const ControlRequest& r) {
  std::string out = to_string(r.verb);
  if (!r.argument.empty()) out += " " + r.argument;
  if (r.json) out += " --json";
  out += "\n";
  return out;
}

std::string encode_control_reply(const ControlReply& r) {
  if (!r.ok) {
    std::string msg = r.body.substr(0, 1024);
    for (char& c : msg)
      if (c == '\n' || c == '\r') c = ' ';
    return "error " + msg + "\n";
  }
  if (r.body.size() <= kMaxControlReply) return "ok\n" + r.body;
  return "ok\n" + r.body.substr(0, kMaxControlReply) + std::string(kTruncated);
}

Expected<ControlReply, std::string> parse_control_reply(std::string_view bytes) {
  if (bytes.starts_with("ok\n")) return ControlReply{true, std::string(bytes.substr(3))};
  if (bytes.starts_with("error ")) {
    auto msg = bytes.substr(6);
    if (auto nl = msg.find('\n'); nl != std::string_view::npos) msg = msg.substr(0, nl);
    return ControlReply{false, std::string(msg)};
  }
  if (bytes.empty()) return unexpected(std::string("the daemon closed without a reply"));
  return unexpected(fmt::format("unreadable reply starting with '{}'", shown(bytes.substr(0, bytes.find('\n')))));
}

}  // namespace dialout
