#include "netlib/aead_context.hpp"

#include <openssl/evp.h>

#include <climits>

#include "netlib/tls_detail.hpp"

namespace dialout {
namespace {

const char* openssl_name(DatagramCipher c) {
  return c == DatagramCipher::Aes256Gcm ? "AES-256-GCM" : "ChaCha20-Poly1305";
}

bool valid_cipher(DatagramCipher c) {
  return c == DatagramCipher::Aes256Gcm || c == DatagramCipher::ChaCha20Poly1305;
}

struct CipherFree {
  void operator()(EVP_CIPHER* p) const { EVP_CIPHER_free(p); }
};

}  // namespace

void AeadContext::CtxFree::operator()(EVP_CIPHER_CTX* p) const { EVP_CIPHER_CTX_free(p); }

Expected<AeadContext, std::string> AeadContext::make(DatagramCipher cipher,
                                                     std::span<const uint8_t, kDatagramKeySize> key, Mode mode) {
  using tls_detail::with_errors;
  if (!valid_cipher(cipher)) return unexpected(std::string("unknown datagram cipher"));
  // Fetched once here; the context keeps its own reference afterwards.
  std::unique_ptr<EVP_CIPHER, CipherFree> evp(EVP_CIPHER_fetch(nullptr, openssl_name(cipher), nullptr));
  if (!evp) return unexpected(with_errors(std::string("fetch ") + openssl_name(cipher)));
  std::unique_ptr<EVP_CIPHER_CTX, CtxFree> ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return unexpected(with_errors("EVP_CIPHER_CTX_new"));
  int enc = mode == Mode::Seal ? 1 : 0;
  if (EVP_CipherInit_ex2(ctx.get(), evp.get(), nullptr, nullptr, enc, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_IVLEN, int{kDatagramNonceSize}, nullptr) != 1 ||
      EVP_CipherInit_ex2(ctx.get(), nullptr, key.data(), nullptr, enc, nullptr) != 1) {
    return unexpected(with_errors(std::string("key ") + openssl_name(cipher)));
  }
  return AeadContext(std::move(ctx), cipher, mode);
}

bool AeadContext::begin(std::span<const uint8_t, kDatagramNonceSize> nonce, std::span<const uint8_t> aad) {
  int enc = mode_ == Mode::Seal ? 1 : 0;
  int ignored = 0;
  // A nonce alone re-arms the keyed context: no key schedule, no allocation.
  return EVP_CipherInit_ex2(ctx_.get(), nullptr, nullptr, nonce.data(), enc, nullptr) == 1 &&
         aad.size() <= INT_MAX &&
         EVP_CipherUpdate(ctx_.get(), nullptr, &ignored, aad.data(), static_cast<int>(aad.size())) == 1;
}

bool AeadContext::seal(std::span<const uint8_t, kDatagramNonceSize> nonce, std::span<const uint8_t> aad,
                       std::span<const uint8_t> in, std::span<uint8_t> out, std::span<uint8_t, kRecordTagSize> tag) {
  if (mode_ != Mode::Seal || out.size() != in.size() || in.size() > INT_MAX || !begin(nonce, aad)) return false;
  int len = 0, tail = 0;
  if (!in.empty() && EVP_CipherUpdate(ctx_.get(), out.data(), &len, in.data(), static_cast<int>(in.size())) != 1)
    return false;
  // Stream-like modes: everything came out of Update, Final adds nothing.
  if (EVP_CipherFinal_ex(ctx_.get(), out.data() + len, &tail) != 1 || size_t(len + tail) != in.size()) return false;
  return EVP_CIPHER_CTX_ctrl(ctx_.get(), EVP_CTRL_AEAD_GET_TAG, int{kRecordTagSize}, tag.data()) == 1;
}

bool AeadContext::open(std::span<const uint8_t, kDatagramNonceSize> nonce, std::span<const uint8_t> aad,
                       std::span<const uint8_t> in, std::span<uint8_t> out,
                       std::span<const uint8_t, kRecordTagSize> tag) {
  if (mode_ != Mode::Open || out.size() != in.size() || in.size() > INT_MAX || !begin(nonce, aad)) return false;
  int len = 0, tail = 0;
  if (!in.empty() && EVP_CipherUpdate(ctx_.get(), out.data(), &len, in.data(), static_cast<int>(in.size())) != 1)
    return false;
  // OpenSSL takes the expected tag through a non-const pointer; it only reads it.
  if (EVP_CIPHER_CTX_ctrl(ctx_.get(), EVP_CTRL_AEAD_SET_TAG, int{kRecordTagSize},
                          const_cast<uint8_t*>(tag.data())) != 1)
    return false;
  return EVP_CipherFinal_ex(ctx_.get(), out.data() + len, &tail) == 1 && size_t(len + tail) == in.size();
}

}  // namespace dialout
