#include "intermediary/peer_identity.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <vector>

namespace dialout {
namespace {

struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

struct Entry {
  const char* field;  // "CN", "OU", "O"
  std::string value;  // bytes in `type`'s encoding
  int type = MBSTRING_UTF8;  // a V_ASN1_* type stores the bytes as is (no length table check)
};

// A self-signed EC certificate whose subject holds `entries` in order.
X509Ptr make_cert(const std::vector<Entry>& entries) {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return nullptr;
  X509Ptr cert(X509_new());
  if (!cert || !X509_set_version(cert.get(), 2) || !ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1) ||
      !X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0) ||
      !X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600)) {
    return nullptr;
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  for (const auto& e : entries) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(e.value.data());
    if (!X509_NAME_add_entry_by_txt(name, e.field, e.type, bytes, static_cast<int>(e.value.size()), -1, 0)) {
      return nullptr;
    }
  }
  if (!X509_set_issuer_name(cert.get(), name) || !X509_set_pubkey(cert.get(), key.get()) ||
      !X509_sign(cert.get(), key.get(), EVP_sha256())) {
    return nullptr;
  }
  return cert;
}

struct Case {
  const char* label;
  std::vector<Entry> subject;
  bool ok;
  std::string name;                 // when ok
  std::vector<std::string> groups;  // when ok
  const char* error = "";           // substring when not ok
};

TEST(PeerIdentity, FromCertificateTable) {
  const std::string u_umlaut = "j\xc3\xb6rg";  // "jörg" in UTF-8
  const std::string bmp_jorg{"\0j\0\xf6\0r\0g", 8};  // the same as UCS-2BE (BMPString)
  const Case cases[] = {
      {"CN only", {{"CN", "alice"}}, true, "alice", {}},
      {"CN and two OUs", {{"O", "Example"}, {"OU", "eng"}, {"OU", "vpn-users"}, {"CN", "alice"}}, true, "alice",
       {"eng", "vpn-users"}},
      {"OU order kept, duplicates dropped", {{"OU", "ops"}, {"CN", "bob"}, {"OU", "eng"}, {"OU", "ops"}}, true, "bob",
       {"ops", "eng"}},
      {"spaces and @ are fine", {{"CN", "Alice Smith@example.com"}, {"OU", "HQ Staff"}}, true,
       "Alice Smith@example.com", {"HQ Staff"}},
      {"non-ASCII UTF-8", {{"CN", u_umlaut}}, true, u_umlaut, {}},
      {"BMPString converted to UTF-8", {{"CN", bmp_jorg, V_ASN1_BMPSTRING}}, true, u_umlaut, {}},
      {"64 bytes is the limit", {{"CN", std::string(64, 'a')}}, true, std::string(64, 'a'), {}},
      {"no CN", {{"O", "Example"}, {"OU", "eng"}}, false, "", {}, "CN: missing"},
      {"empty subject", {}, false, "", {}, "CN: missing"},
      {"two CNs", {{"CN", "alice"}, {"CN", "bob"}}, false, "", {}, "more than one"},
      {"CN too long", {{"CN", std::string(65, 'a'), V_ASN1_UTF8STRING}}, false, "", {}, "longer than 64"},
      {"CN with newline", {{"CN", "alice\nroot"}}, false, "", {}, "CN: contains a control"},
      {"CN with NUL", {{"CN", std::string("alice\0x", 7), V_ASN1_UTF8STRING}}, false, "", {}, "control"},
      {"CN with DEL", {{"CN", "alice\x7f"}}, false, "", {}, "control"},
      {"CN with C1 control", {{"CN", "alice\xc2\x9b"}}, false, "", {}, "control"},
      {"CN with escape", {{"CN", "\x1b[31malice"}}, false, "", {}, "control"},
      {"empty CN", {{"CN", "", V_ASN1_UTF8STRING}}, false, "", {}, "CN: empty"},
      {"OU with tab", {{"CN", "alice"}, {"OU", "eng\tops"}}, false, "", {}, "OU: contains a control"},
      {"OU too long", {{"CN", "alice"}, {"OU", std::string(65, 'g'), V_ASN1_UTF8STRING}}, false, "", {},
       "OU: 65 bytes"},
  };
  for (const auto& c : cases) {
    auto cert = make_cert(c.subject);
    ASSERT_TRUE(cert) << c.label << ": could not build the certificate";
    auto id = peer_identity_from_certificate(cert.get());
    if (c.ok) {
      ASSERT_TRUE(id) << c.label << ": " << id.error();
      EXPECT_EQ(id->name, c.name) << c.label;
      EXPECT_EQ(id->groups, c.groups) << c.label;
    } else {
      ASSERT_FALSE(id) << c.label << ": accepted as " << id->name;
      EXPECT_NE(id.error().find(c.error), std::string::npos) << c.label << " -> " << id.error();
    }
  }
}

TEST(PeerIdentity, GroupLimit) {
  std::vector<Entry> subject{{"CN", "alice"}};
  for (int i = 0; i < 16; ++i) subject.push_back({"OU", "g" + std::to_string(i)});
  subject.push_back({"OU", "g3"});  // a duplicate does not count
  auto cert = make_cert(subject);
  ASSERT_TRUE(cert);
  auto id = peer_identity_from_certificate(cert.get());
  ASSERT_TRUE(id) << id.error();
  EXPECT_EQ(id->groups.size(), 16u);
  EXPECT_TRUE(id->in_group("g15"));
  EXPECT_FALSE(id->in_group("g16"));

  subject.push_back({"OU", "g16"});
  cert = make_cert(subject);
  ASSERT_TRUE(cert);
  id = peer_identity_from_certificate(cert.get());
  ASSERT_FALSE(id);
  EXPECT_NE(id.error().find("more than 16"), std::string::npos) << id.error();
}

TEST(PeerIdentity, NullCertificate) {
  auto id = peer_identity_from_certificate(nullptr);
  ASSERT_FALSE(id);
  EXPECT_EQ(id.error(), "no certificate");
}

}  // namespace
}  // namespace dialout
