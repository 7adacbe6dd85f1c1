#include "netlib/metrics_http.hpp"

#include <gtest/gtest.h>

namespace dialout {
namespace {

TEST(MetricsHttp, HeadLength) {
  EXPECT_EQ(http_head_length("GET /metrics HTTP/1.1\r\nHost: x\r\n"), 0u);
  EXPECT_EQ(http_head_length("GET /metrics HTTP/1.1\r\n\r\nextra"), 25u);
  EXPECT_EQ(http_head_length("GET /metrics HTTP/1.0\n\n"), 23u);
}

TEST(MetricsHttp, Classify) {
  struct Case {
    std::string head;
    int status;
  } cases[] = {
      {"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 200},
      {"GET /metrics?x=1 HTTP/1.0\r\n\r\n", 200},
      {"GET / HTTP/1.1\r\n\r\n", 404},
      {"GET /metricsx HTTP/1.1\r\n\r\n", 404},
      {"POST /metrics HTTP/1.1\r\n\r\n", 405},
      {"HEAD /metrics HTTP/1.1\r\n\r\n", 405},
      {"GET /metrics\r\n\r\n", 400},
      {"GET /metrics SPDY/3\r\n\r\n", 400},
      {"\r\n\r\n", 400},
  };
  for (const auto& c : cases) EXPECT_EQ(classify_metrics_request(c.head).first, c.status) << c.head;
}

TEST(MetricsHttp, ResponseCarriesLengthAndCloses) {
  int calls = 0;
  auto ok = metrics_http_response("GET /metrics HTTP/1.1\r\n\r\n", [&] {
    ++calls;
    return std::string("a 1\n");
  });
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(ok,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: 4\r\n"
            "Connection: close\r\n\r\na 1\n");
  auto nf = metrics_http_response("GET /x HTTP/1.1\r\n\r\n", [&] {
    ++calls;
    return std::string();
  });
  EXPECT_EQ(calls, 1);  // not rendered for an error
  EXPECT_TRUE(nf.starts_with("HTTP/1.1 404 Not Found\r\n"));
}

}  // namespace
}  // namespace dialout
