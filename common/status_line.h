// The status line: one line of progress kept at the bottom of a terminal while log lines scroll
// above it. StatusLineSink is an spdlog sink wrapped around the real one (stderr): before a log line
// it erases the status line ("\r" + "\033[K", erase to end of line), lets the log line through, and
// draws the status line again after it, so no log line ever lands in the middle of the progress.
// On a file or pipe (not a terminal) nothing is erased: each status update is its own line.
//
// init_logging installs it; show_status_line / end_status_line (common/log.h) find it in the
// default logger. Tested by tests/common/test_status_line.cpp (the bytes) and
// tests/e2e/test_run_outputs.cpp (a run on a pseudo-terminal).
#pragma once
#include <spdlog/sinks/base_sink.h>

#include <cstdio>
#include <mutex>
#include <string>

namespace stride {

class StatusLineSink : public spdlog::sinks::base_sink<std::mutex> {
   public:
    // `inner` writes the log lines to the same stream as `out` (the status line's); `in_place`: out is a
    // terminal, so the status line is redrawn in place instead of appended.
    StatusLineSink(spdlog::sink_ptr inner, std::FILE* out, bool in_place);
    // Draws `text` as the status line (in place: replaces the one shown; otherwise: a line of its own).
    void show(const std::string& text);
    // In place: leaves the shown status line as it is and moves below it (a newline), so what follows
    // starts on a line of its own; nothing is redrawn until the next show().
    void end();

   protected:
    void sink_it_(const spdlog::details::log_msg& msg) override;
    void flush_() override;
    void set_pattern_(const std::string& pattern) override;
    void set_formatter_(std::unique_ptr<spdlog::formatter> formatter) override;

   private:
    void erase_locked();
    spdlog::sink_ptr inner_;
    std::FILE* out_;
    bool in_place_;
    std::string status_;
    bool shown_ = false;  // the status line is on the screen's last line (in place only)
};

}  // namespace stride
