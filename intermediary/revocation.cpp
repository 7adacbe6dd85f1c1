#include "intermediary/revocation.hpp"

#include <openssl/x509_vfy.h>

namespace dialout {

bool certificate_revoked(SSL_CTX* ctx, X509* cert) {
  if (ctx == nullptr || cert == nullptr) return false;
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  if (store == nullptr) return false;
  STACK_OF(X509_OBJECT)* objects = X509_STORE_get0_objects(store);
  for (int i = 0; i < sk_X509_OBJECT_num(objects); ++i) {
    X509_OBJECT* o = sk_X509_OBJECT_value(objects, i);
    if (X509_OBJECT_get_type(o) != X509_LU_CRL) continue;
    X509_CRL* crl = X509_OBJECT_get0_X509_CRL(o);
    if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_issuer_name(cert)) != 0) continue;
    X509_REVOKED* entry = nullptr;
    if (X509_CRL_get0_by_cert(crl, &entry, cert) == 1) return true;
  }
  return false;
}

}  // namespace dialout
