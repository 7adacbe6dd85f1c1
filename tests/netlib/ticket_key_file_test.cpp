#include "netlib/ticket_key_file.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace dialout {
namespace {

namespace fs = std::filesystem;

struct TicketKeyFile : ::testing::Test {
  void SetUp() override {
    dir = fs::temp_directory_path() / ("ticket-keys-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    path = (dir / "keys").string();
  }
  void TearDown() override { fs::remove_all(dir); }
  TicketKeyRing ring() {
    std::array<uint8_t, TicketKey::kBytes> a{}, b{};
    a.fill(1);
    b.fill(2);
    return TicketKeyRing{TicketKey::from_bytes(a), TicketKey::from_bytes(b), 1234};
  }
  fs::path dir;
  std::string path;
};

TEST_F(TicketKeyFile, MissingIsNothing) {
  auto r = load_ticket_keys(path);
  ASSERT_TRUE(r.has_value()) << r.error();
  EXPECT_FALSE(r->has_value());
}

TEST_F(TicketKeyFile, SavedWithMode0600AndLoadsBack) {
  ASSERT_TRUE(save_ticket_keys(path, ring()).has_value());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_FALSE(fs::exists(path + ".new"));
  auto r = load_ticket_keys(path);
  ASSERT_TRUE(r.has_value()) << r.error();
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ(**r, ring());
  // Saving again replaces it whole.
  auto next = ring().rotated(ring().previous.value(), 99);
  ASSERT_TRUE(save_ticket_keys(path, next).has_value());
  EXPECT_EQ(**load_ticket_keys(path), next);
}

TEST_F(TicketKeyFile, ReadableByOthersIsRefused) {
  ASSERT_TRUE(save_ticket_keys(path, ring()).has_value());
  ::chmod(path.c_str(), 0640);
  auto r = load_ticket_keys(path);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().find("mode 640"), std::string::npos) << r.error();
}

TEST_F(TicketKeyFile, GarbageNamesTheFileAndLine) {
  { std::ofstream(path) << "created 1\ncurrent nothex\n"; }
  ::chmod(path.c_str(), 0600);
  auto r = load_ticket_keys(path);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().find(path + ":2:"), std::string::npos) << r.error();
}

TEST_F(TicketKeyFile, OversizedIsRefusedBeforeReading) {
  { std::ofstream(path) << std::string(5000, '#'); }
  ::chmod(path.c_str(), 0600);
  auto r = load_ticket_keys(path);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().find("not a key file"), std::string::npos) << r.error();
}

}  // namespace
}  // namespace dialout
