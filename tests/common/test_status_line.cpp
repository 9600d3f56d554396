// The progress line and log lines on one stream: what a terminal shows (log lines never share a line
// with the progress), what a file gets (plain lines, no escape codes), and the progress line's
// numbers (end-to-end tokens/s over wall time, elapsed, ETA).
#include <gtest/gtest.h>
#include <spdlog/sinks/base_sink.h>

#include <cstdio>
#include <mutex>
#include <string>

#include "common/log.h"
#include "common/progress_meter.h"
#include "common/status_line.h"
#include "tests/terminal_test_util.h"

namespace stride {
namespace {

// The log lines' own sink: formatted lines written to a FILE*, as spdlog's stderr sinks do.
class FileSink : public spdlog::sinks::base_sink<std::mutex> {
   public:
    explicit FileSink(std::FILE* f) : f_(f) {}

   protected:
    void sink_it_(const spdlog::details::log_msg& msg) override {
        spdlog::memory_buf_t buf;
        formatter_->format(msg, buf);
        std::fwrite(buf.data(), 1, buf.size(), f_);
    }
    void flush_() override { std::fflush(f_); }

   private:
    std::FILE* f_;
};

std::string read_all(std::FILE* f) {
    std::fflush(f);
    std::rewind(f);
    std::string s;
    char buf[4096];
    while (size_t n = std::fread(buf, 1, sizeof buf, f)) s.append(buf, n);
    return s;
}

// Progress updates with log lines between them, through a StatusLineSink on a tmpfile.
std::string write_progress_and_logs(bool in_place) {
    std::FILE* f = std::tmpfile();
    auto inner = std::make_shared<FileSink>(f);
    auto status = std::make_shared<StatusLineSink>(inner, f, in_place);
    status->set_formatter(make_log_formatter(false));
    spdlog::logger log("trainer", status);
    status->show("[step 1/3] reward 0.100");
    log.info("checkpoint one");
    log.warn("a warning");
    status->show("[step 2/3] reward 0.200");
    status->show("[step 3/3] reward 0.300");
    log.info("checkpoint two");
    status->end();
    log.info("after the end");
    const std::string bytes = read_all(f);
    std::fclose(f);
    return bytes;
}

TEST(StatusLine, OnATerminalLogLinesNeverShareALineWithTheProgress) {
    const std::string bytes = write_progress_and_logs(true);
    const std::vector<std::string> shown = test::terminal_lines(bytes);
    ASSERT_EQ(shown.size(), 5u) << bytes;
    EXPECT_NE(shown[0].find("] [trainer] [info] checkpoint one"), std::string::npos) << shown[0];
    EXPECT_EQ(shown[0].find("[step"), std::string::npos) << shown[0];
    EXPECT_NE(shown[1].find("[warning] a warning"), std::string::npos) << shown[1];
    EXPECT_NE(shown[2].find("[info] checkpoint two"), std::string::npos) << shown[2];
    EXPECT_EQ(shown[2].find("[step"), std::string::npos) << shown[2];
    // The progress line stays below the log lines, redrawn with the latest step, and end() keeps it.
    EXPECT_EQ(shown[3], "[step 3/3] reward 0.300");
    EXPECT_NE(shown[4].find("[info] after the end"), std::string::npos) << shown[4];
    EXPECT_EQ(shown[4].find("[step"), std::string::npos) << shown[4];
    // The erase comes before each log line written while the progress was shown.
    EXPECT_NE(bytes.find("[step 1/3] reward 0.100\r\033[K["), std::string::npos) << bytes;
}

TEST(StatusLine, OnAFileEveryUpdateIsALineAndNothingIsErased) {
    const std::string bytes = write_progress_and_logs(false);
    EXPECT_EQ(bytes.find('\r'), std::string::npos) << bytes;
    EXPECT_EQ(bytes.find('\033'), std::string::npos) << bytes;
    const std::vector<std::string> lines = test::terminal_lines(bytes);
    ASSERT_EQ(lines.size(), 7u) << bytes;
    EXPECT_EQ(lines[0], "[step 1/3] reward 0.100");
    EXPECT_EQ(lines[3], "[step 2/3] reward 0.200");
    EXPECT_EQ(lines[4], "[step 3/3] reward 0.300");
}

using Clock = ProgressMeter::Clock;
Clock::time_point at(Clock::time_point t0, double s) {
    return t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

// End to end: the tokens of every step over the wall time since the start, waits included.
TEST(ProgressMeter, TokensPerSecondCountsTheWaitsBetweenSteps) {
    const Clock::time_point t0{};
    ProgressMeter p("step", 10, 0, t0);
    p.update(1, 1000, "", at(t0, 1.0));
    EXPECT_DOUBLE_EQ(p.tokens_per_s(at(t0, 1.0)), 1000.0);
    // Step 2 trained 1000 tokens after a 3 s wait for rollouts: 2000 tokens in 4 s, not 1000/s.
    const std::string line = p.update(2, 1000, "reward 0.5", at(t0, 4.0));
    EXPECT_DOUBLE_EQ(p.tokens_per_s(at(t0, 4.0)), 500.0);
    EXPECT_EQ(line, "[step 2/10] reward 0.5 | 500 tokens/s | 4s elapsed, ETA 16s");
}

TEST(ProgressMeter, EtaCountsOnlyTheStepsOfThisRun) {
    const Clock::time_point t0{};
    ProgressMeter p("sft", 100, 40, t0);  // resumed at step 40
    EXPECT_LT(p.eta_s(40, t0), 0);        // unknown before a step
    EXPECT_NE(p.update(40, 0, "", t0).find("ETA ?"), std::string::npos);
    p.update(50, 0, "", at(t0, 20.0));
    EXPECT_DOUBLE_EQ(p.eta_s(50, at(t0, 20.0)), 100.0);  // 2 s per step, 50 left
    EXPECT_DOUBLE_EQ(p.eta_s(100, at(t0, 30.0)), 0.0);
}

TEST(ProgressMeter, DurationsAndRatesReadAsAPersonWritesThem) {
    EXPECT_EQ(human_duration(0.4), "0s");
    EXPECT_EQ(human_duration(59.4), "59s");
    EXPECT_EQ(human_duration(185), "3m05s");
    EXPECT_EQ(human_duration(7380), "2h03m");
    EXPECT_EQ(human_duration(-1), "?");
    EXPECT_EQ(human_count(950), "950");
    EXPECT_EQ(human_count(3249), "3.2k");
    EXPECT_EQ(human_count(45100), "45k");
    EXPECT_EQ(human_count(1.5e6), "1.5M");
}

}  // namespace
}  // namespace stride
