// An in-memory test PKI written as PEM files into a private temp directory:
// a CA, the intermediary's server certificate and client certificates on
// demand (optionally expired, from another CA, or revoked through a CRL).
// The directory is removed in the destructor. Throws std::runtime_error on
// OpenSSL failures (test setup only).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "netlib/tls.hpp"

namespace dialout {

struct ClientOpts {
  bool expired = false;   // validity ended yesterday
  bool other_ca = false;  // signed by a CA the intermediary does not trust
  bool revoked = false;   // listed in the CRL (see server_files(true))
  // Extended key usage ("clientAuth", "serverAuth", "clientAuth,serverAuth");
  // nullptr: no extension at all.
  const char* eku = "clientAuth";
  const char* san = nullptr;  // e.g. "DNS:intermediary": a leaf that could pose as the server
  long valid_days = 0;        // from now; 0: the default
};

class TestPki {
 public:
  TestPki();
  ~TestPki();
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  // CN "intermediary", SAN DNS:intermediary and IP:127.0.0.1. With
  // with_crl, files.crl names the CA's CRL (always present, maybe empty).
  TlsFiles server_files(bool with_crl = false) const;
  // A fresh certificate for `cn` each call; ca is the trusted CA. Any leaf
  // can be handed to either end (a site's certificate as a server's).
  TlsFiles client_files(const std::string& cn, ClientOpts opts = {});
  // Adds the most recent certificate issued for `cn` to the CRL file.
  void revoke(const std::string& cn);

  const std::string& dir() const { return dir_; }
  std::string ca_path() const { return dir_ + "/ca.crt"; }
  std::string crl_path() const { return dir_ + "/ca.crl"; }

  struct Impl;  // OpenSSL objects, kept out of the header

 private:
  void write_crl();

  std::string dir_;
  std::unique_ptr<Impl> impl_;
  std::map<std::string, uint64_t> last_serial_;  // cn -> serial (trusted CA)
  std::vector<uint64_t> revoked_;
  int files_issued_ = 0;
};

}  // namespace dialout
