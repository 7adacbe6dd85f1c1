#include "netlib/policy.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>

#include "netlib/site_name.hpp"

namespace dialout {

namespace {

// A policy is a handful of lines; anything bigger is the wrong file.
constexpr size_t kMaxPolicyBytes = 1 << 20;
// X.509 caps a CN at 64 characters.
constexpr size_t kMaxIdentityLength = 64;

std::string_view trim(std::string_view s) {
  constexpr std::string_view ws = " \t\r\f\v";
  auto b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

// Explains why Prefix::parse refused `text`, for the error message.
std::string prefix_problem(std::string_view text) {
  auto slash = text.find('/');
  auto addr = IpAddr::parse(text.substr(0, slash));
  if (!addr) return "not an IP address";
  if (slash != std::string_view::npos) {
    auto digits = text.substr(slash + 1);
    unsigned len = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), len);
    if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size() ||
        len > addr->max_prefix_len()) {
      return "bad prefix length";
    }
  }
  return "host bits set";
}

bool valid_identity(std::string_view id) {
  if (id.empty() || id.size() > kMaxIdentityLength) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u != 0x7f && c != '[' && c != ']' && c != '#';
  });
}

}  // namespace

class PolicyParser {
 public:
  explicit PolicyParser(std::string_view source) : source_(source) {}

  Expected<Policy, ConfigError> run(std::string_view text) {
    size_t line_no = 0;
    while (!text.empty()) {
      ++line_no;
      auto nl = text.find('\n');
      std::string_view line = text.substr(0, nl);
      text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
      line_ = line_no;
      if (auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
      line = trim(line);
      if (line.empty()) continue;
      auto r = line.front() == '[' ? section(line) : key_value(line);
      if (!r) return unexpected(r.error());
    }
    return std::move(policy_);
  }

 private:
  ConfigError error(std::string message) const {
    return {fmt::format("{}:{}", source_, line_), std::move(message)};
  }

  Expected<void, ConfigError> section(std::string_view line) {
    if (line.back() != ']') return unexpected(error("malformed section header (missing ']')"));
    auto inner = trim(line.substr(1, line.size() - 2));
    auto space = inner.find_first_of(" \t");
    auto kind = inner.substr(0, space);
    if (kind != "identity") return unexpected(error(fmt::format("unknown section kind '{}'", kind)));
    auto id = space == std::string_view::npos ? std::string_view{} : trim(inner.substr(space));
    if (!valid_identity(id)) {
      return unexpected(error(fmt::format("bad identity '{}' in section header", id)));
    }
    if (id == "*") {
      if (policy_.has_default_) return unexpected(error("duplicate section [identity *]"));
      policy_.has_default_ = true;
      current_ = &policy_.default_;
      return {};
    }
    auto [it, inserted] = policy_.rules_.try_emplace(std::string(id));
    if (!inserted) return unexpected(error(fmt::format("duplicate section [identity {}]", id)));
    current_ = &it->second;
    return {};
  }

  Expected<void, ConfigError> key_value(std::string_view line) {
    auto eq = line.find('=');
    if (eq == std::string_view::npos) return unexpected(error("expected 'key = value' or '[identity NAME]'"));
    auto key = trim(line.substr(0, eq));
    auto value = trim(line.substr(eq + 1));
    if (key != "register" && key != "advertise" && key != "reach") {
      return unexpected(error(fmt::format("unknown key '{}'", key)));
    }
    if (!current_) return unexpected(error(fmt::format("key '{}' outside any [identity ...] section", key)));
    if (value.empty()) return unexpected(error(fmt::format("empty value for '{}'", key)));
    while (true) {
      auto comma = value.find(',');
      auto item = trim(value.substr(0, comma));
      if (item.empty()) return unexpected(error(fmt::format("empty item in list for '{}'", key)));
      auto r = add(key, item);
      if (!r) return r;
      if (comma == std::string_view::npos) break;
      value = value.substr(comma + 1);
    }
    return {};
  }

  Expected<void, ConfigError> add(std::string_view key, std::string_view item) {
    if (key == "advertise") {
      auto p = Prefix::parse(item);
      if (!p) return unexpected(error(fmt::format("bad prefix '{}': {}", item, prefix_problem(item))));
      current_->prefixes.push_back(*p);
      return {};
    }
    if (key == "reach" && item == "*") {
      current_->reach_any = true;
      return {};
    }
    if (!valid_site_name(item)) {
      return unexpected(error(fmt::format(
          "bad name '{}' in '{}': want 1..63 chars of [a-z0-9._-] starting with [a-z0-9]", item, key)));
    }
    (key == "register" ? current_->names : current_->reach).emplace_back(item);
    return {};
  }

  std::string_view source_;
  size_t line_ = 0;
  Policy policy_;
  Policy::Rules* current_ = nullptr;
};

Expected<Policy, ConfigError> Policy::parse(std::string_view text, std::string_view source) {
  return PolicyParser(source).run(text);
}

Expected<Policy, ConfigError> Policy::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return unexpected(ConfigError{path, fmt::format("cannot open: {}", std::strerror(errno))});
  std::string text;
  text.resize(kMaxPolicyBytes + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) return unexpected(ConfigError{path, "read error"});
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxPolicyBytes) {
    return unexpected(ConfigError{path, fmt::format("larger than {} bytes", kMaxPolicyBytes)});
  }
  return parse(text, path);
}

const Policy::Rules* Policy::own(std::string_view identity) const {
  auto it = rules_.find(identity);
  return it == rules_.end() ? nullptr : &it->second;
}

namespace {
bool has(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}
}  // namespace

bool Policy::may_register(std::string_view identity, std::string_view name) const {
  for (const Rules* r : {own(identity), fallback()}) {
    if (r && has(r->names, name)) return true;
  }
  return false;
}

bool Policy::may_advertise(std::string_view identity, const Prefix& prefix) const {
  for (const Rules* r : {own(identity), fallback()}) {
    if (!r) continue;
    for (const auto& allowed : r->prefixes) {
      if (allowed.contains(prefix)) return true;
    }
  }
  return false;
}

bool Policy::may_reach(std::string_view identity, std::string_view dst_name) const {
  for (const Rules* r : {own(identity), fallback()}) {
    if (r && (r->reach_any || has(r->reach, dst_name))) return true;
  }
  return false;
}

}  // namespace dialout
