#include "netlib/option_parsing.hpp"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <cerrno>
#include <cstring>
#include <set>
#include <sstream>

#include "netlib/option_values.hpp"
#include "netlib/text_lines.hpp"
#include "netlib/unique_fd.hpp"

namespace dialout {

namespace po = boost::program_options;

namespace {

constexpr unsigned kHelpWidth = 100;

// Same rules as Boost's config file parser, which reads the file after this
// scan: '#' starts a comment anywhere, names and values are trimmed. The scan
// exists because Boost reports neither line numbers nor which line is bad.
std::string_view trim(std::string_view s) { return dialout::trim(s, " \t\r\n"); }

const OptionSpec* find_spec(std::span<const OptionSpec> specs, std::string_view key) {
  for (const auto& s : specs) {
    if (s.key == key) return &s;
  }
  return nullptr;
}

struct ScannedLine {
  unsigned line;
  std::string key, value;
};

std::vector<ScannedLine> scan_config_text(std::string_view text, const std::string& file_name,
                                          std::span<const OptionSpec> specs) {
  std::vector<ScannedLine> out;
  unsigned line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view raw = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    auto where = [&] { return fmt::format("{}:{}", file_name, line_no); };
    std::string_view line = trim(raw.substr(0, raw.find('#')));
    if (line.empty()) continue;
    if (line.front() == '[') {
      throw ConfigException(
          {where(), fmt::format("sections such as {} are not used in this file", quote(line))});
    }
    size_t eq = line.find('=');
    std::string_view key =
        eq == std::string_view::npos ? std::string_view{} : trim(line.substr(0, eq));
    if (key.empty()) {
      throw ConfigException({where(), fmt::format("expected 'key = value', got {}", quote(line))});
    }
    const OptionSpec* spec = find_spec(specs, key);
    if (spec == nullptr) {
      std::string hint = key == "config" ? " (--config works on the command line only)" : "";
      throw ConfigException({where(), fmt::format("unknown key {}{}", quote(key), hint)});
    }
    if (!spec->repeatable) {
      for (const auto& seen : out) {
        if (seen.key == key) {
          throw ConfigException(
              {where(), fmt::format("{}: set twice (first on line {})", spec->key, seen.line)});
        }
      }
    }
    out.push_back({line_no, std::string(key), std::string(trim(line.substr(eq + 1)))});
  }
  return out;
}

po::options_description settings_description(std::span<const OptionSpec> specs) {
  po::options_description desc("Settings (flag --KEY VALUE, or KEY = VALUE in the --config file)",
                               kHelpWidth, kHelpWidth / 2);
  for (const auto& s : specs) {
    if (s.repeatable) {
      desc.add_options()(s.key.c_str(),
                         po::value<std::vector<std::string>>()->value_name(s.value_name),
                         s.help.c_str());
    } else {
      desc.add_options()(s.key.c_str(), po::value<std::string>()->value_name(s.value_name),
                         s.help.c_str());
    }
  }
  return desc;
}

std::string command_line_message(const po::error& e) {
  if (const auto* u = dynamic_cast<const po::unknown_option*>(&e)) {
    return fmt::format("unknown option {}", quote(u->get_option_name()));
  }
  if (const auto* m = dynamic_cast<const po::multiple_occurrences*>(&e)) {
    return fmt::format("{}: given more than once", m->get_option_name());
  }
  if (dynamic_cast<const po::too_many_positional_options_error*>(&e) != nullptr) {
    return "unexpected argument (settings are given as --key value)";
  }
  return e.what();
}

std::string errno_text(int err) { return std::strerror(err); }

}  // namespace

ConfigEnvironment system_environment() {
  ConfigEnvironment env;
  env.read_config = [](const std::string& path) -> Expected<std::string, std::string> {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (!fd.valid()) return unexpected(errno_text(errno));
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return unexpected(errno_text(errno));
    if (!S_ISREG(st.st_mode)) return unexpected(std::string("not a regular file"));
    if (static_cast<uint64_t>(st.st_size) > kMaxConfigFileBytes) {
      return unexpected(fmt::format("larger than {} bytes", kMaxConfigFileBytes));
    }
    std::string text(static_cast<size_t>(st.st_size), '\0');
    size_t got = 0;
    while (got < text.size()) {
      ssize_t n = ::read(fd.get(), text.data() + got, text.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return unexpected(errno_text(errno));
      if (n == 0) break;  // shrank while reading: use what is there
      got += static_cast<size_t>(n);
    }
    text.resize(got);
    return text;
  };
  env.check_readable = [](const std::string& path) -> std::string {
    // O_NONBLOCK: a FIFO given by mistake must not hang the start.
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (!fd.valid()) return errno_text(errno);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return errno_text(errno);
    if (!S_ISREG(st.st_mode)) return "not a regular file";
    return {};
  };
  return env;
}

Expected<LayeredOptions, EarlyExit> LayeredOptions::parse(std::string program,
                                                          std::string_view about,
                                                          std::span<const OptionSpec> specs,
                                                          int argc, const char* const* argv,
                                                          const ConfigEnvironment& env) {
  LayeredOptions out;
  out.program_ = std::move(program);
  out.check_readable_ = env.check_readable;
  auto refuse = [&](std::string where, const std::string& message) {
    return unexpected(
        EarlyExit{ConfigError{std::move(where), message}.to_string() + "\n", kExitUsage});
  };

  po::options_description settings = settings_description(specs);
  po::options_description general("Command line only", kHelpWidth, kHelpWidth / 2);
  general.add_options()("help,h", "Print this help and exit.")("version",
                                                               "Print the version and exit.")(
      "config,c", po::value<std::string>()->value_name("FILE"),
      "Read settings from FILE (INI: one 'key = value' per line, '#' comments).");
  po::options_description all(kHelpWidth, kHelpWidth / 2);
  all.add(general).add(settings);

  try {
    // No abbreviations: "--conn" must not silently mean "--connections".
    int style = po::command_line_style::default_style & ~po::command_line_style::allow_guessing;
    // An empty positional description makes a stray word an error, not ignored.
    po::positional_options_description no_positionals;
    po::store(po::command_line_parser(argc > 0 ? argc : 1, argv)
                  .options(all)
                  .positional(no_positionals)
                  .style(style)
                  .run(),
              out.flags_);
  } catch (const po::error& e) {
    return refuse(out.program_, command_line_message(e) + " (see --help)");
  }

  if (out.flags_.count("help") != 0) {
    std::ostringstream help;
    help << about << "\n\n"
         << general << "\n"
         << settings << "\n"
         << "A flag overrides the same key in the config file; flags for a repeatable key\n"
            "replace the file's list. A bad value stops the daemon with exit status 64.\n";
    return unexpected(EarlyExit{help.str(), 0});
  }
  if (out.flags_.count("version") != 0) {
    return unexpected(
        EarlyExit{fmt::format("{} (dialout) {}\n", out.program_, kDialoutVersion), 0});
  }
  if (out.flags_.count("config") == 0) return out;

  const auto path = out.flags_["config"].as<std::string>();
  out.file_name_ = path;
  auto text = env.read_config(path);
  if (!text)
    return refuse(out.program_ + ": --config", "cannot read " + quote(path) + ": " + text.error());
  try {
    for (auto& l : scan_config_text(*text, path, specs)) {
      out.file_lines_.push_back({l.line, std::move(l.key), std::move(l.value)});
    }
    std::istringstream in(*text);
    po::store(po::parse_config_file(in, settings, false), out.file_);
  } catch (const ConfigException& e) {
    return unexpected(EarlyExit{e.error().to_string() + "\n", kExitUsage});
  } catch (const po::error& e) {
    // The scan above mirrors Boost's rules, so this is a safety net.
    return refuse(path, e.what());
  }
  return out;
}

std::optional<std::string> LayeredOptions::value(const std::string& key) const {
  if (from_flag(key)) return flags_[key].as<std::string>();
  if (from_file(key)) return file_[key].as<std::string>();
  return std::nullopt;
}

std::vector<std::string> LayeredOptions::values(const std::string& key) const {
  if (from_flag(key)) return flags_[key].as<std::vector<std::string>>();
  if (from_file(key)) return file_[key].as<std::vector<std::string>>();
  return {};
}

std::string LayeredOptions::where(const std::string& key, std::string_view text) const {
  if (!from_flag(key) && from_file(key)) {
    const FileLine* found = nullptr;
    for (const auto& l : file_lines_) {
      if (l.key != key) continue;
      if (found == nullptr || l.value == text) found = &l;
      if (l.value == text) break;
    }
    if (found != nullptr) return fmt::format("{}:{}: {}", file_name_, found->line, key);
    return fmt::format("{}: {}", file_name_, key);
  }
  return fmt::format("{}: --{}", program_, key);
}

void LayeredOptions::fail(const std::string& key, std::string_view text,
                          std::string message) const {
  throw ConfigException({where(key, text), std::move(message)});
}

std::string LayeredOptions::required(const std::string& key) const {
  auto v = value(key);
  if (!v)
    fail(key, {},
         fmt::format("missing (required: --{} or '{} = ...' in the config file)", key, key));
  if (v->empty()) fail(key, *v, "is empty");
  return *v;
}

uint64_t LayeredOptions::number(const std::string& key, uint64_t min, uint64_t max,
                                uint64_t dflt) const {
  auto v = value(key);
  if (!v) return dflt;
  return check<uint64_t>(key, *v,
                         [&](std::string_view t) { return parse_bounded_uint(t, min, max); });
}

std::chrono::milliseconds LayeredOptions::millis(const std::string& key, uint64_t min, uint64_t max,
                                                 std::chrono::milliseconds dflt) const {
  return std::chrono::milliseconds(number(key, min, max, static_cast<uint64_t>(dflt.count())));
}

bool LayeredOptions::on_off(const std::string& key, bool dflt) const {
  auto v = value(key);
  if (!v) return dflt;
  return check<bool>(key, *v, parse_on_off);
}

LogLevel LayeredOptions::log_level(const std::string& key, LogLevel dflt) const {
  auto v = value(key);
  if (!v) return dflt;
  auto level = parse_log_level(*v);
  if (!level) fail(key, *v, quote(*v) + " is not a log level (debug, info, warn, error)");
  return *level;
}

std::string LayeredOptions::readable_file(const std::string& key, bool is_required) const {
  if (!given(key)) {
    if (is_required) required(key);  // throws the "missing" message
    return {};
  }
  std::string path = *value(key);
  if (path.empty()) {
    if (is_required) fail(key, path, "is empty");
    return {};
  }
  if (check_readable_) {
    std::string why = check_readable_(path);
    if (!why.empty()) fail(key, path, fmt::format("cannot read {}: {}", quote(path), why));
  }
  return path;
}

}  // namespace dialout
