#include "tests/support/test_pki.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include <filesystem>
#include <stdexcept>

namespace dialout {

namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct CrlFree {
  void operator()(X509_CRL* p) const { X509_CRL_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
struct ExtFree {
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
};
struct RevokedFree {
  void operator()(X509_REVOKED* p) const { X509_REVOKED_free(p); }
};
struct IntFree {
  void operator()(ASN1_INTEGER* p) const { ASN1_INTEGER_free(p); }
};
struct TimeFree {
  void operator()(ASN1_TIME* p) const { ASN1_TIME_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("test PKI: ") + what);
}

PkeyPtr new_key() {
  PkeyPtr k(EVP_EC_gen("P-256"));  // fast to generate, unlike RSA
  check(k != nullptr, "EVP_EC_gen");
  return k;
}

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  std::unique_ptr<X509_EXTENSION, ExtFree> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  check(ext != nullptr, "X509V3_EXT_conf_nid");
  check(X509_add_ext(cert, ext.get(), -1) == 1, "X509_add_ext");
}

struct CertSpec {
  std::string cn;
  uint64_t serial = 1;
  long not_before_s = -3600;
  long not_after_s = 86400;
  bool is_ca = false;
  const char* eku = nullptr;  // "serverAuth" / "clientAuth"
  const char* san = nullptr;
};

// issuer == nullptr: self-signed with `key`.
X509Ptr make_cert(const CertSpec& s, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key) {
  X509Ptr cert(X509_new());
  check(cert != nullptr, "X509_new");
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert.get()), s.serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), s.not_before_s);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), s.not_after_s);
  X509_NAME* name = X509_get_subject_name(cert.get());
  check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>(s.cn.c_str()), -1, -1, 0) == 1,
        "subject CN");
  X509* signer = issuer != nullptr ? issuer : cert.get();
  check(X509_set_issuer_name(cert.get(), X509_get_subject_name(signer)) == 1, "issuer");
  check(X509_set_pubkey(cert.get(), key) == 1, "pubkey");
  add_ext(cert.get(), signer, NID_subject_key_identifier, "hash");
  add_ext(cert.get(), signer, NID_authority_key_identifier, "keyid:always");
  if (s.is_ca) {
    add_ext(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_ext(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(cert.get(), signer, NID_key_usage, "critical,digitalSignature");
  }
  if (s.eku != nullptr) add_ext(cert.get(), signer, NID_ext_key_usage, s.eku);
  if (s.san != nullptr) add_ext(cert.get(), signer, NID_subject_alt_name, s.san);
  check(X509_sign(cert.get(), issuer_key != nullptr ? issuer_key : key, EVP_sha256()) > 0, "X509_sign");
  return cert;
}

void write_cert(const std::string& path, X509* cert) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_file(path.c_str(), "w"));
  check(bio && PEM_write_bio_X509(bio.get(), cert) == 1, "write certificate");
}

void write_key(const std::string& path, EVP_PKEY* key) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_file(path.c_str(), "w"));
  check(bio && PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) == 1,
        "write key");
}

struct Authority {
  PkeyPtr key;
  X509Ptr cert;
  uint64_t next_serial = 2;
};

Authority make_authority(const std::string& cn) {
  Authority a;
  a.key = new_key();
  CertSpec s;
  s.cn = cn;
  s.serial = 1;
  s.is_ca = true;
  s.not_after_s = 30L * 86400;
  a.cert = make_cert(s, a.key.get(), nullptr, nullptr);
  return a;
}

}  // namespace

struct TestPki::Impl {
  Authority ca;
  std::unique_ptr<Authority> other;  // made on first use
};

TestPki::TestPki() : impl_(std::make_unique<Impl>()) {
  char tmpl[] = "/tmp/dialout-pki-XXXXXX";
  check(::mkdtemp(tmpl) != nullptr, "mkdtemp");
  dir_ = tmpl;
  impl_->ca = make_authority("dialout test CA");
  write_cert(ca_path(), impl_->ca.cert.get());

  PkeyPtr key = new_key();
  CertSpec s;
  s.cn = "intermediary";
  s.serial = impl_->ca.next_serial++;
  s.eku = "serverAuth";
  s.san = "DNS:intermediary,IP:127.0.0.1";
  X509Ptr cert = make_cert(s, key.get(), impl_->ca.cert.get(), impl_->ca.key.get());
  write_cert(dir_ + "/server.crt", cert.get());
  write_key(dir_ + "/server.key", key.get());
  write_crl();
}

TestPki::~TestPki() {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

TlsFiles TestPki::server_files(bool with_crl) const {
  return TlsFiles{dir_ + "/server.crt", dir_ + "/server.key", ca_path(), with_crl ? crl_path() : ""};
}

TlsFiles TestPki::client_files(const std::string& cn, ClientOpts opts) {
  Authority* issuer = &impl_->ca;
  if (opts.other_ca) {
    if (!impl_->other) impl_->other = std::make_unique<Authority>(make_authority("other test CA"));
    issuer = impl_->other.get();
  }
  PkeyPtr key = new_key();
  CertSpec s;
  s.cn = cn;
  s.serial = issuer->next_serial++;
  s.eku = opts.eku;
  s.san = opts.san;
  if (opts.valid_days > 0) s.not_after_s = opts.valid_days * 86400;
  if (opts.expired) {
    s.not_before_s = -2L * 86400;
    s.not_after_s = -86400;
  }
  X509Ptr cert = make_cert(s, key.get(), issuer->cert.get(), issuer->key.get());
  std::string base = dir_ + "/client-" + std::to_string(++files_issued_);
  write_cert(base + ".crt", cert.get());
  write_key(base + ".key", key.get());
  if (!opts.other_ca) last_serial_[cn] = s.serial;
  if (opts.revoked && !opts.other_ca) revoke(cn);
  return TlsFiles{base + ".crt", base + ".key", ca_path(), ""};
}

void TestPki::revoke(const std::string& cn) {
  auto it = last_serial_.find(cn);
  check(it != last_serial_.end(), "revoke: unknown CN");
  revoked_.push_back(it->second);
  write_crl();
}

void TestPki::write_crl() {
  std::unique_ptr<X509_CRL, CrlFree> crl(X509_CRL_new());
  check(crl != nullptr, "X509_CRL_new");
  X509_CRL_set_version(crl.get(), 1);
  check(X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(impl_->ca.cert.get())) == 1,
        "CRL issuer");
  std::unique_ptr<ASN1_TIME, TimeFree> last(X509_gmtime_adj(nullptr, -60));
  std::unique_ptr<ASN1_TIME, TimeFree> next(X509_gmtime_adj(nullptr, 86400));
  X509_CRL_set1_lastUpdate(crl.get(), last.get());
  X509_CRL_set1_nextUpdate(crl.get(), next.get());
  for (uint64_t serial : revoked_) {
    std::unique_ptr<X509_REVOKED, RevokedFree> r(X509_REVOKED_new());
    std::unique_ptr<ASN1_INTEGER, IntFree> sn(ASN1_INTEGER_new());
    check(r && sn, "X509_REVOKED_new");
    ASN1_INTEGER_set_uint64(sn.get(), serial);
    X509_REVOKED_set_serialNumber(r.get(), sn.get());
    X509_REVOKED_set_revocationDate(r.get(), last.get());
    check(X509_CRL_add0_revoked(crl.get(), r.get()) == 1, "CRL add revoked");
    r.release();  // add0: the CRL owns it now
  }
  X509_CRL_sort(crl.get());
  check(X509_CRL_sign(crl.get(), impl_->ca.key.get(), EVP_sha256()) > 0, "X509_CRL_sign");
  // Written to a temp name and renamed, so a reload never sees half a file.
  std::string tmp = crl_path() + ".tmp";
  {
    std::unique_ptr<BIO, BioFree> bio(BIO_new_file(tmp.c_str(), "w"));
    check(bio && PEM_write_bio_X509_CRL(bio.get(), crl.get()) == 1, "write CRL");
  }
  std::filesystem::rename(tmp, crl_path());
}

}  // namespace dialout
