// The status line below scrolling log lines (status_line.h).
#include "common/status_line.h"

namespace stride {

namespace {
// Carriage return, then erase from the cursor to the end of the line (ANSI EL).
constexpr const char* kEraseLine = "\r\033[K";
}  // namespace

StatusLineSink::StatusLineSink(spdlog::sink_ptr inner, std::FILE* out, bool in_place)
    : inner_(std::move(inner)), out_(out), in_place_(in_place) {}

void StatusLineSink::show(const std::string& text) {
    std::lock_guard<std::mutex> lock(mutex_);
    status_ = text;
    if (in_place_) {
        std::fputs(kEraseLine, out_);
        std::fputs(status_.c_str(), out_);
        shown_ = true;
    } else {
        std::fputs(status_.c_str(), out_);
        std::fputc('\n', out_);
    }
    std::fflush(out_);
}

void StatusLineSink::end() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (shown_) std::fputc('\n', out_);
    shown_ = false;
    status_.clear();
    std::fflush(out_);
}

void StatusLineSink::erase_locked() {
    std::fputs(kEraseLine, out_);
    std::fflush(out_);
}

void StatusLineSink::sink_it_(const spdlog::details::log_msg& msg) {
    if (!shown_) {
        inner_->log(msg);
        return;
    }
    erase_locked();
    inner_->log(msg);
    inner_->flush();
    std::fputs(status_.c_str(), out_);
    std::fflush(out_);
}

void StatusLineSink::flush_() {
    inner_->flush();
}

void StatusLineSink::set_pattern_(const std::string& pattern) {
    inner_->set_pattern(pattern);
}

void StatusLineSink::set_formatter_(std::unique_ptr<spdlog::formatter> formatter) {
    inner_->set_formatter(std::move(formatter));
}

}  // namespace stride
