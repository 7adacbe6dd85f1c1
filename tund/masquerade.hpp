// Source NAT for the one-armed proxy client (seed 001: the proxy client
// "masquerades as the sender"): datagrams that arrive from the tunnel on
// the TUN device and leave on any other interface get this host's address
// on that interface, so the LAN host's replies come back here and conntrack
// maps them back into the tunnel. IPv4 and IPv6.
//
// How: nftables, by running `NFT -f -` (NFT an absolute path, never looked
// up through PATH; posix_spawn, no shell) with one
// table per family named after the device, `dialout_<dev>`, holding one
// postrouting nat chain:  iifname "<dev>" oifname != "<dev>" masquerade
// Why nft and not hand-built nf_tables messages over libmnl: libnftnl is not
// a dependency, and encoding the batch (table, base chain with hook, meta
// and cmp expressions, masq) by hand is a lot of unchecked binary layout
// for three rules installed once; the nft parser validates it and its
// errors are readable. The price is a runtime dependency on the nft binary
// (package nftables), reported clearly when it is missing.
//
// The table is created atomically and idempotently: the script first adds
// and deletes any stale table of the same name (left by a crash), in the
// same transaction. Removal uses the same idiom, so it never fails because
// the table is already gone.
#pragma once

#include <string>

#include "netlib/expected.hpp"

namespace dialout {

inline constexpr const char* kDefaultNftPath = "/usr/sbin/nft";

class Masquerade {
 public:
  // Runs in the calling thread's network namespace. Device names must be
  // [A-Za-z0-9_.-] (anything else could not be named safely in nft). `nft`
  // must be an absolute path; remove() runs the same program.
  static Expected<Masquerade, std::string> install(const std::string& tun_device,
                                                   const std::string& nft = kDefaultNftPath);

  Masquerade(Masquerade&& other) noexcept;
  Masquerade& operator=(Masquerade&& other) noexcept;
  Masquerade(const Masquerade&) = delete;
  Masquerade& operator=(const Masquerade&) = delete;
  // Removes the tables; errors are swallowed (call remove() to see them).
  ~Masquerade();

  // Idempotent; afterwards the destructor does nothing.
  Expected<void, std::string> remove();

  const std::string& table_name() const { return table_; }

  // The nft scripts, exposed for tests; pure.
  static std::string install_script(const std::string& tun_device);
  static std::string remove_script(const std::string& tun_device);
  static bool valid_device_name(const std::string& name);

 private:
  Masquerade(std::string device, std::string table, std::string nft)
      : device_(std::move(device)), nft_(std::move(nft)), table_(std::move(table)) {}

  std::string device_;
  std::string nft_;
  std::string table_;
  bool installed_ = true;
};

}  // namespace dialout
