// Logging: role prefix, levels, JSON lines that parse.
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "common/base/error.h"
#include "common/log.h"

namespace stride {
namespace {

std::string log_one(bool json, const std::string& role, const std::string& msg) {
    std::ostringstream out;
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
    sink->set_formatter(make_log_formatter(json));
    spdlog::logger logger(role, sink);
    logger.warn("{}", msg);
    return out.str();
}

TEST(Log, TextLinesCarryTheRolePrefix) {
    std::string line = log_one(false, "rollout-0", "generated 256 samples");
    EXPECT_NE(line.find("[rollout-0] [warning] generated 256 samples"), std::string::npos) << line;
}

TEST(Log, JsonLinesParseAndEscape) {
    std::string line = log_one(true, "trainer", "quote \" and\nnewline");
    ASSERT_FALSE(line.empty());
    EXPECT_EQ(line.back(), '\n');
    auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["role"], "trainer");
    EXPECT_EQ(j["level"], "warning");
    EXPECT_EQ(j["msg"], "quote \" and\nnewline");
    std::string ts = j["ts"];
    EXPECT_EQ(ts.size(), 24u) << ts;  // 2025-01-01T12:00:00.123Z
    EXPECT_EQ(ts.back(), 'Z');
    // Invalid UTF-8 must not make logging throw.
    EXPECT_NO_THROW(nlohmann::json::parse(log_one(true, "r", std::string("bad \xff byte"))));
}

TEST(Log, LevelsParseAndUnknownOnesNameTheKey) {
    EXPECT_EQ(parse_log_level("debug"), spdlog::level::debug);
    EXPECT_EQ(parse_log_level("warn"), spdlog::level::warn);
    EXPECT_EQ(parse_log_level("off"), spdlog::level::off);
    try {
        parse_log_level("loud");
        ADD_FAILURE();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("log.level"), std::string::npos);
    }
}

TEST(Log, InitSetsTheDefaultLoggerAndRoleLoggersShareItsSettings) {
    init_logging("scheduler", "error", false);
    EXPECT_EQ(spdlog::default_logger()->name(), "scheduler");
    EXPECT_EQ(spdlog::default_logger()->level(), spdlog::level::err);
    auto r = role_logger("rollout-1");
    EXPECT_EQ(r->name(), "rollout-1");
    EXPECT_EQ(r->level(), spdlog::level::err);
    EXPECT_EQ(r->sinks(), spdlog::default_logger()->sinks());
    EXPECT_EQ(role_logger("rollout-1"), r);  // one logger per role
    init_logging("scheduler", "info", true);
    EXPECT_NE(role_logger("rollout-1"), r);  // re-init drops loggers bound to the old sink
}

}  // namespace
}  // namespace stride
