#include "netlib/datagram_keys.hpp"

#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include <algorithm>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#elif defined(__aarch64__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

#include "netlib/tls_detail.hpp"

namespace dialout {

namespace {

template <size_t N>
void copy_into(std::span<const uint8_t, N> from, std::array<uint8_t, N>& to) {
  std::copy(from.begin(), from.end(), to.begin());
}

}  // namespace

DirectionKey::~DirectionKey() {
  OPENSSL_cleanse(key.data(), key.size());
  OPENSSL_cleanse(iv.data(), iv.size());
}

std::array<uint8_t, kDatagramContextSize> datagram_exporter_context(uint32_t epoch, DatagramCipher cipher) {
  return {uint8_t(epoch >> 24), uint8_t(epoch >> 16), uint8_t(epoch >> 8), uint8_t(epoch), uint8_t(cipher)};
}

DatagramKeys datagram_keys_from_export(std::span<const uint8_t, kDatagramExportSize> material, TlsRole role,
                                       uint32_t epoch, DatagramCipher cipher) {
  // client->server key | server->client key | client->server IV | server->client IV
  auto c2s_key = material.subspan<0, kDatagramKeySize>();
  auto s2c_key = material.subspan<kDatagramKeySize, kDatagramKeySize>();
  auto c2s_iv = material.subspan<2 * kDatagramKeySize, kDatagramNonceSize>();
  auto s2c_iv = material.subspan<2 * kDatagramKeySize + kDatagramNonceSize, kDatagramNonceSize>();
  DatagramKeys k;
  k.cipher = cipher;
  k.epoch = epoch;
  bool client = role == TlsRole::Client;
  copy_into(client ? c2s_key : s2c_key, k.send.key);
  copy_into(client ? c2s_iv : s2c_iv, k.send.iv);
  copy_into(client ? s2c_key : c2s_key, k.receive.key);
  copy_into(client ? s2c_iv : c2s_iv, k.receive.iv);
  return k;
}

Expected<DatagramKeys, std::string> export_datagram_keys(SSL* ssl, uint32_t epoch, DatagramCipher cipher) {
  if (ssl == nullptr || SSL_is_init_finished(ssl) != 1) return unexpected(std::string("TLS handshake not finished"));
  if (SSL_version(ssl) != TLS1_3_VERSION) return unexpected(std::string("datagram keys need TLS 1.3"));
  std::array<uint8_t, kDatagramExportSize> material{};
  auto context = datagram_exporter_context(epoch, cipher);
  if (SSL_export_keying_material(ssl, material.data(), material.size(), kDatagramExporterLabel.data(),
                                 kDatagramExporterLabel.size(), context.data(), context.size(), 1) != 1) {
    return unexpected(tls_detail::with_errors("SSL_export_keying_material"));
  }
  auto keys = datagram_keys_from_export(material, SSL_is_server(ssl) == 1 ? TlsRole::Server : TlsRole::Client,
                                        epoch, cipher);
  OPENSSL_cleanse(material.data(), material.size());
  return keys;
}

std::optional<DatagramCipher> choose_datagram_cipher(CipherOffer a, CipherOffer b) {
  uint8_t common = a.ciphers & b.ciphers;
  bool aes = common & cipher_bit(DatagramCipher::Aes256Gcm);
  bool chacha = common & cipher_bit(DatagramCipher::ChaCha20Poly1305);
  if (aes && a.aes_accelerated && b.aes_accelerated) return DatagramCipher::Aes256Gcm;
  if (chacha) return DatagramCipher::ChaCha20Poly1305;
  if (aes) return DatagramCipher::Aes256Gcm;
  return std::nullopt;
}

bool cpu_has_aes_acceleration() {
#if defined(__x86_64__) || defined(__i386__)
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0) return false;
  return (ecx & bit_AES) != 0 && (ecx & bit_PCLMUL) != 0;
#elif defined(__aarch64__)
  unsigned long caps = getauxval(AT_HWCAP);
  return (caps & HWCAP_AES) != 0 && (caps & HWCAP_PMULL) != 0;
#else
  return false;
#endif
}

CipherOffer local_cipher_offer() { return CipherOffer{kCipherBitsAll, cpu_has_aes_acceleration()}; }

std::optional<uint32_t> epoch_from_wire(uint8_t wire, uint32_t current) {
  if (wire == epoch_on_wire(current)) return current;
  if (current > 0 && wire == epoch_on_wire(current - 1)) return current - 1;
  if (current < UINT32_MAX && wire == epoch_on_wire(current + 1)) return current + 1;
  return std::nullopt;
}

}  // namespace dialout
