// Counts OpenSSL's heap allocations (CRYPTO_malloc / CRYPTO_realloc), so a
// test can prove that a code path built on OpenSSL allocates nothing.
//
// OpenSSL lets its allocator be replaced only before its first allocation,
// so the counting hook is installed while the test binary's statics are
// initialised, before main. It is process-wide state by necessity (the
// hook is a C function without a context pointer); it only counts.
// installed() is false if something allocated through OpenSSL first: the
// tests that need the count skip then instead of asserting on nothing.
#pragma once

#include <cstdint>

namespace dialout::openssl_allocations {

bool installed();
uint64_t count();

}  // namespace dialout::openssl_allocations
