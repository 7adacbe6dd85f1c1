#include "intermediary/peer_identity.hpp"

#include "netlib/certificate_expiry.hpp"

#include <fmt/format.h>
#include <openssl/asn1.h>
#include <openssl/crypto.h>
#include <openssl/objects.h>

#include <algorithm>
#include <memory>

namespace dialout {

namespace {

struct OpensslFree {
  void operator()(unsigned char* p) const { OPENSSL_free(p); }
};

// C0 controls and DEL as single bytes; C1 controls (U+0080..U+009F) as their
// UTF-8 encoding 0xC2 0x80..0x9F. ASN1_STRING_to_UTF8 only produces valid
// UTF-8, so a 0xC2 lead byte is always followed by a continuation byte.
bool has_control(const std::string& s) {
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) return true;
    if (c == 0xc2 && i + 1 < s.size()) {
      auto n = static_cast<unsigned char>(s[i + 1]);
      if (n >= 0x80 && n <= 0x9f) return true;
    }
  }
  return false;
}

// Value of the entry at `index`, as checked UTF-8.
Expected<std::string, std::string> entry_text(const X509_NAME* subject, int index, const char* field) {
  const X509_NAME_ENTRY* entry = X509_NAME_get_entry(subject, index);
  const ASN1_STRING* data = entry ? X509_NAME_ENTRY_get_data(entry) : nullptr;
  if (!data) return unexpected(fmt::format("{}: unreadable entry", field));
  unsigned char* raw = nullptr;
  int len = ASN1_STRING_to_UTF8(&raw, data);
  std::unique_ptr<unsigned char, OpensslFree> owned(raw);
  if (len < 0) return unexpected(fmt::format("{}: not convertible to UTF-8", field));
  if (len == 0) return unexpected(fmt::format("{}: empty", field));
  if (static_cast<size_t>(len) > kMaxIdentityFieldBytes) {
    return unexpected(fmt::format("{}: {} bytes, longer than {}", field, len, kMaxIdentityFieldBytes));
  }
  std::string text(reinterpret_cast<const char*>(raw), static_cast<size_t>(len));
  if (has_control(text)) return unexpected(fmt::format("{}: contains a control character", field));
  return text;
}

}  // namespace

Expected<PeerIdentity, std::string> peer_identity_from_certificate(const X509* cert) {
  if (!cert) return unexpected(std::string("no certificate"));
  const X509_NAME* subject = X509_get_subject_name(cert);
  if (!subject) return unexpected(std::string("certificate has no subject"));

  PeerIdentity id;
  int cn = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (cn < 0) return unexpected(std::string("CN: missing from the subject"));
  if (X509_NAME_get_index_by_NID(subject, NID_commonName, cn) >= 0) {
    return unexpected(std::string("CN: more than one in the subject"));
  }
  auto name = entry_text(subject, cn, "CN");
  if (!name) return unexpected(name.error());
  id.name = std::move(*name);

  // Bounded by the subject's entry count, which the certificate parser bounds.
  for (int i = X509_NAME_get_index_by_NID(subject, NID_organizationalUnitName, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(subject, NID_organizationalUnitName, i)) {
    auto group = entry_text(subject, i, "OU");
    if (!group) return unexpected(group.error());
    if (id.in_group(*group)) continue;
    if (id.groups.size() == kMaxPeerGroups) {
      return unexpected(fmt::format("OU: more than {} distinct values", kMaxPeerGroups));
    }
    id.groups.push_back(std::move(*group));
  }
  // Shown by `dialoutctl status`; an unreadable date is not a reason to refuse.
  if (auto t = certificate_not_after(cert)) id.not_after = *t;
  return id;
}

}  // namespace dialout
