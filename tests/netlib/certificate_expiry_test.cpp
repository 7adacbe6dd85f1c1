#include "netlib/certificate_expiry.hpp"

#include <gtest/gtest.h>

namespace dialout {
namespace {

TEST(CertificateExpiry, FormatsUtc) {
  EXPECT_EQ(format_utc(0), "");
  EXPECT_EQ(format_utc(1), "1970-01-01T00:00:01Z");
  EXPECT_EQ(format_utc(1798761600), "2027-01-01T00:00:00Z");
}

TEST(CertificateExpiry, UnreadableFilesAreErrors) {
  EXPECT_FALSE(certificate_file_not_after("/nonexistent/cert.pem"));
  EXPECT_FALSE(certificate_not_after(nullptr));
}

}  // namespace
}  // namespace dialout
