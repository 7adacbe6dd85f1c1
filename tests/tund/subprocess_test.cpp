#include "tund/subprocess.hpp"

#include <chrono>
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

namespace dialout {
namespace {

using std::chrono::milliseconds;

TEST(RunProcess, PassesInputAndCollectsOutput) {
  auto r = run_process({"cat"}, "table ip x {}\n", milliseconds(5000));
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->exit_code, 0);
  EXPECT_EQ(r->output, "table ip x {}\n");
}

TEST(RunProcess, ExitCodeAndStderrAreResults) {
  auto r = run_process({"sh", "-c", "echo oops >&2; exit 3"}, "", milliseconds(5000));
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->output, "oops\n");
}

TEST(RunProcess, ArgumentsAreNotInterpretedByAShell) {
  auto r = run_process({"echo", "$HOME;", "`id`"}, "", milliseconds(5000));
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->output, "$HOME; `id`\n");
}

TEST(RunProcess, ExtraEnvironmentIsAddedAndReplaces) {
  ::setenv("DIALOUT_TEST_KEEP", "kept", 1);
  ::setenv("DIALOUT_TEST_OVER", "old", 1);
  const std::string script =
      "echo \"$DIALOUT_TEST_KEEP $DIALOUT_TEST_OVER $DIALOUT_TEST_NEW\"; env | grep -c '^DIALOUT_TEST_OVER='";
  auto r = run_process({"sh", "-c", script}, "", milliseconds(5000), {"DIALOUT_TEST_OVER=new", "DIALOUT_TEST_NEW=a b"});
  ::unsetenv("DIALOUT_TEST_KEEP");
  ::unsetenv("DIALOUT_TEST_OVER");
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(r->output, "kept new a b\n1\n");
}

TEST(RunProcess, MissingProgramIsAClearError) {
  auto r = run_process({"dialout-no-such-program"}, "", milliseconds(5000));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), "dialout-no-such-program: not found in PATH");
  EXPECT_FALSE(run_process({}, "", milliseconds(5000)));
}

TEST(RunProcess, TimeoutKillsTheChild) {
  const auto start = std::chrono::steady_clock::now();
  auto r = run_process({"sleep", "10"}, "", milliseconds(200));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), "sleep: no answer within 200 ms, killed");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

TEST(RunProcess, LargeInputAndOutputAreBounded) {
  const std::string big(1 << 20, 'x');
  auto echoed = run_process({"cat"}, big, milliseconds(10000));
  ASSERT_TRUE(echoed) << echoed.error();
  EXPECT_EQ(echoed->exit_code, 0);
  EXPECT_EQ(echoed->output.size(), 64u * 1024);  // capped, and cat was not blocked
  // A child that never reads its input must not kill us with SIGPIPE.
  auto ignored = run_process({"true"}, big, milliseconds(10000));
  ASSERT_TRUE(ignored) << ignored.error();
  EXPECT_EQ(ignored->exit_code, 0);
}

}  // namespace
}  // namespace dialout
