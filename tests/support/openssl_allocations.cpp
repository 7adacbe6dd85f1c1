#include "tests/support/openssl_allocations.hpp"

#include <openssl/crypto.h>

#include <atomic>
#include <cstdlib>

namespace dialout::openssl_allocations {
namespace {

std::atomic<uint64_t> allocations{0};

void* counting_malloc(size_t n, const char*, int) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n);
}
void* counting_realloc(void* p, size_t n, const char*, int) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  return std::realloc(p, n);
}
void plain_free(void* p, const char*, int) { std::free(p); }

const bool hook_installed = CRYPTO_set_mem_functions(counting_malloc, counting_realloc, plain_free) == 1;

}  // namespace

bool installed() { return hook_installed; }
uint64_t count() { return allocations.load(std::memory_order_relaxed); }

}  // namespace dialout::openssl_allocations
