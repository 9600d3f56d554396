// The /metrics HTTP endpoint over a real loopback socket (cpp-httplib's client), the port rule, and
// the process gauges read from /proc/self.
#include <gtest/gtest.h>
#include <httplib.h>

#include "common/base/error.h"
#include "common/metrics.h"
#include "common/metrics_server.h"
#include "common/process_metrics.h"

using namespace stride;

TEST(MetricsServer, ServesTheRegistryOverHttp) {
    MetricsRegistry r;
    Counter& c = r.counter("stride_test_served", "Served", kRoleLabels).with({"j", "trainer", "0"});
    MetricsServer server(r, "127.0.0.1", 0);  // ephemeral port
    ASSERT_GT(server.port(), 0);
    EXPECT_EQ(server.url(), "http://127.0.0.1:" + std::to_string(server.port()) + "/metrics");

    httplib::Client client("127.0.0.1", server.port());
    client.set_connection_timeout(5);
    c.inc(7);
    auto res = client.Get("/metrics");
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    EXPECT_EQ(res->status, 200);
    EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
    EXPECT_NE(res->body.find("stride_test_served_total{job=\"j\",role=\"trainer\",worker=\"0\"} 7\n"),
              std::string::npos)
        << res->body;
    c.inc();  // every scrape renders afresh
    res = client.Get("/metrics");
    ASSERT_TRUE(res);
    EXPECT_NE(res->body.find("} 8\n"), std::string::npos) << res->body;
    EXPECT_EQ(client.Get("/nope")->status, 404);
}

TEST(MetricsServer, BusyPortIsAnError) {
    MetricsRegistry r;
    MetricsServer first(r, "127.0.0.1", 0);
    EXPECT_THROW(MetricsServer(r, "127.0.0.1", first.port()), Error);
}

TEST(MetricsServer, PortRuleGivesEveryProcessItsOwnPort) {
    EXPECT_EQ(metrics_port_for(9400, ""), 9400);
    EXPECT_EQ(metrics_port_for(9400, "buffer"), 9401);
    EXPECT_EQ(metrics_port_for(9400, "trainer"), 9402);
    EXPECT_EQ(metrics_port_for(9400, "scheduler"), 9403);
    EXPECT_EQ(metrics_port_for(9400, "rollout", 0), 9404);
    EXPECT_EQ(metrics_port_for(9400, "rollout", 5), 9409);
    EXPECT_THROW(metrics_port_for(9400, "nobody"), Error);
}

TEST(ProcessMetrics, ReadsCpuAndResidentMemory) {
    volatile double x = 0;
    for (int i = 0; i < 20000000; ++i) x = x + i * 1e-9;  // burn some CPU so it is above zero
    const ProcessSample s = read_process_sample();
    EXPECT_GT(s.cpu_seconds, 0.0);
    EXPECT_GT(s.resident_bytes, 1e6);  // a gtest binary is bigger than 1 MB
    EXPECT_LT(s.resident_bytes, 64e9);
}
