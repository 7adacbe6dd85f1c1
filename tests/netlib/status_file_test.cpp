#include "netlib/status_file.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace dialout {
namespace {

namespace fs = std::filesystem;
using Counters = std::vector<std::pair<std::string_view, uint64_t>>;

class StatusFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "status_file_test.XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  static std::string slurp(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  fs::path dir_;
};

TEST_F(StatusFileTest, WritesKeyValueLinesAndReplacesThem) {
  const fs::path p = dir_ / "status";
  StatusFile f(p.string());
  EXPECT_TRUE(f.enabled());
  Counters first{{"registered", 1}, {"rx_packets", 18446744073709551615ull}, {"drop_queue", 0}};
  ASSERT_TRUE(f.write(first));
  EXPECT_EQ(slurp(p), "registered 1\nrx_packets 18446744073709551615\ndrop_queue 0\n");
  EXPECT_FALSE(fs::exists(dir_ / "status.tmp"));

  Counters second{{"registered", 0}};
  ASSERT_TRUE(f.write(second));
  EXPECT_EQ(slurp(p), "registered 0\n");  // replaced, not appended
  EXPECT_TRUE(f.write(Counters{}));
  EXPECT_EQ(slurp(p), "");
}

TEST_F(StatusFileTest, TextLinesFollowTheCounters) {
  const fs::path p = dir_ / "status";
  StatusFile f(p.string());
  const std::vector<std::pair<std::string_view, std::string>> text{{"dns_method", "hook"},
                                                                   {"dns_servers", "10.2.0.53 fd00::53"}};
  ASSERT_TRUE(f.write(Counters{{"registered", 1}}, text));
  EXPECT_EQ(slurp(p), "registered 1\ndns_method hook\ndns_servers 10.2.0.53 fd00::53\n");
}

TEST_F(StatusFileTest, ReplacesAtomicallyKeepingAnOpenReadersView) {
  const fs::path p = dir_ / "status";
  StatusFile f(p.string());
  ASSERT_TRUE(f.write(Counters{{"a", 1}}));
  std::ifstream reader(p);  // opened before the rewrite: must still see the old file whole
  ASSERT_TRUE(f.write(Counters{{"b", 2}}));
  std::string line;
  std::getline(reader, line);
  EXPECT_EQ(line, "a 1");
  EXPECT_EQ(slurp(p), "b 2\n");
}

TEST_F(StatusFileTest, EmptyPathIsANoOp) {
  StatusFile f("");
  EXPECT_FALSE(f.enabled());
  EXPECT_TRUE(f.write(Counters{{"a", 1}}));
  EXPECT_TRUE(fs::is_empty(dir_));
}

TEST_F(StatusFileTest, FailuresNameTheFileAndStep) {
  const std::string in_missing_dir = (dir_ / "no" / "status").string();
  auto r = StatusFile(in_missing_dir).write(Counters{{"a", 1}});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find(in_missing_dir + ".tmp: open: No such file or directory"),
            std::string::npos)
      << r.error();

  // The target is a directory: the rename fails and the temp file is removed.
  fs::create_directory(dir_ / "busy");
  r = StatusFile((dir_ / "busy").string()).write(Counters{{"a", 1}});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find((dir_ / "busy").string() + ": rename:"), std::string::npos)
      << r.error();
  EXPECT_FALSE(fs::exists(dir_ / "busy.tmp"));
}

}  // namespace
}  // namespace dialout
