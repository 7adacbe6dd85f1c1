#include "intermediary/deferred_log.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace dialout {
namespace {

TEST(DeferredLog, LinesWaitForFlushAndKeepLevelComponentAndOrder) {
  std::vector<std::string> out;
  Logger real("intermediary", LogLevel::Info, [&](std::string_view l) { out.emplace_back(l); });
  DeferredLog d(real);
  d.logger().warn("refused: {}", "name taken");
  d.logger().debug("filtered out");
  d.logger().info("closed : with a colon");
  d.logger().error("e");
  EXPECT_TRUE(out.empty()) << "nothing is written before flush()";
  d.flush();
  EXPECT_EQ(out, (std::vector<std::string>{"WARN intermediary: refused: name taken\n",
                                           "INFO intermediary: closed : with a colon\n",
                                           "ERROR intermediary: e\n"}));
  d.flush();
  EXPECT_EQ(out.size(), 3u) << "each line once";
}

}  // namespace
}  // namespace dialout
