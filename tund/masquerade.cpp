#include "tund/masquerade.hpp"

#include <net/if.h>

#include <chrono>
#include <utility>

#include <fmt/format.h>

#include "tund/subprocess.hpp"

namespace dialout {
namespace {

// nft talks to the kernel once per script; seconds mean something is wrong.
constexpr std::chrono::milliseconds kNftTimeout{10000};

std::string table_for(const std::string& device) { return "dialout_" + device; }

Expected<void, std::string> run_nft(const std::string& nft, const std::string& script, std::string_view what) {
  if (nft.empty() || nft.front() != '/')
    return unexpected(fmt::format("{}: nft path \"{}\" is not absolute", what, nft));
  auto r = run_process({nft, "-f", "-"}, script, kNftTimeout);
  if (!r) return unexpected(fmt::format("{}: {} (is the nftables package installed, at nft-path?)", what, r.error()));
  if (r->exit_code != 0) {
    std::string out = r->output;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return unexpected(fmt::format("{}: nft exited with {}: {}", what, r->exit_code, out));
  }
  return {};
}

}  // namespace

bool Masquerade::valid_device_name(const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
              c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string Masquerade::install_script(const std::string& dev) {
  const std::string table = table_for(dev);
  std::string script;
  for (const char* family : {"ip", "ip6"}) {
    script += fmt::format(
        "table {0} {1} {{}}\n"
        "delete table {0} {1}\n"
        "table {0} {1} {{\n"
        "  chain postrouting {{\n"
        "    type nat hook postrouting priority srcnat; policy accept;\n"
        "    iifname \"{2}\" oifname != \"{2}\" masquerade\n"
        "  }}\n"
        "}}\n",
        family, table, dev);
  }
  return script;
}

std::string Masquerade::remove_script(const std::string& dev) {
  const std::string table = table_for(dev);
  std::string script;
  for (const char* family : {"ip", "ip6"}) {
    script += fmt::format("table {0} {1} {{}}\ndelete table {0} {1}\n", family, table);
  }
  return script;
}

Expected<Masquerade, std::string> Masquerade::install(const std::string& tun_device, const std::string& nft) {
  if (!valid_device_name(tun_device)) {
    return unexpected(fmt::format("masquerade: device name \"{}\" must be 1..{} of [A-Za-z0-9_.-]", tun_device,
                                  IFNAMSIZ - 1));
  }
  auto r = run_nft(nft, install_script(tun_device), fmt::format("masquerade {}: install", tun_device));
  if (!r) return unexpected(r.error());
  return Masquerade(tun_device, table_for(tun_device), nft);
}

Masquerade::Masquerade(Masquerade&& other) noexcept
    : device_(std::move(other.device_)),
      nft_(std::move(other.nft_)),
      table_(std::move(other.table_)),
      installed_(std::exchange(other.installed_, false)) {}

Masquerade& Masquerade::operator=(Masquerade&& other) noexcept {
  if (this != &other) {
    (void)remove();
    device_ = std::move(other.device_);
    nft_ = std::move(other.nft_);
    table_ = std::move(other.table_);
    installed_ = std::exchange(other.installed_, false);
  }
  return *this;
}

Masquerade::~Masquerade() { (void)remove(); }

Expected<void, std::string> Masquerade::remove() {
  if (!installed_) return {};
  installed_ = false;
  return run_nft(nft_, remove_script(device_), fmt::format("masquerade {}: remove", device_));
}

}  // namespace dialout
