// spdlog setup: role prefix, level, text or JSON lines.
#include "common/log.h"

#include <fmt/chrono.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "common/base/error.h"
#include "common/status_line.h"

namespace stride {

namespace {

// One JSON object per line. nlohmann does the escaping; invalid UTF-8 in a message is replaced
// rather than thrown, because a log call must never fail.
class JsonLineFormatter : public spdlog::formatter {
   public:
    void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
        using namespace std::chrono;
        auto ms = duration_cast<milliseconds>(msg.time.time_since_epoch()).count() % 1000;
        std::time_t secs = system_clock::to_time_t(msg.time);
        nlohmann::json line = {
            {"ts", fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03d}Z", fmt::gmtime(secs), static_cast<int>(ms))},
            {"role", std::string(msg.logger_name.data(), msg.logger_name.size())},
            {"level", std::string(spdlog::level::to_string_view(msg.level).data(),
                                  spdlog::level::to_string_view(msg.level).size())},
            {"msg", std::string(msg.payload.data(), msg.payload.size())},
        };
        std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        text += '\n';
        dest.append(text.data(), text.data() + text.size());
    }
    std::unique_ptr<spdlog::formatter> clone() const override {
        return std::make_unique<JsonLineFormatter>();
    }
};

}  // namespace

spdlog::level::level_enum parse_log_level(const std::string& level) {
    if (level == "trace") return spdlog::level::trace;
    if (level == "debug") return spdlog::level::debug;
    if (level == "info") return spdlog::level::info;
    if (level == "warn") return spdlog::level::warn;
    if (level == "error") return spdlog::level::err;
    if (level == "off") return spdlog::level::off;
    throw Error("log.level: expected one of trace, debug, info, warn, error, off, got \"" + level + "\"");
}

std::unique_ptr<spdlog::formatter> make_log_formatter(bool json) {
    if (json) return std::make_unique<JsonLineFormatter>();
    return std::make_unique<spdlog::pattern_formatter>("[%Y-%m-%d %H:%M:%S.%e] [%n] [%^%l%$] %v");
}

void init_logging(const std::string& role, const std::string& level, bool json, const std::string& file) {
    auto lvl = parse_log_level(level);
    // Colours only in text mode: escape codes would corrupt JSON lines.
    spdlog::sink_ptr sink;
    if (json)
        sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    else
        sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    sink->set_formatter(make_log_formatter(json));
    // The progress line and the log lines share stderr: the wrapper keeps them on separate lines.
    std::vector<spdlog::sink_ptr> sinks{
        std::make_shared<StatusLineSink>(sink, stderr, isatty(STDERR_FILENO) == 1)};
    if (!file.empty()) {
        try {
            auto f = std::make_shared<spdlog::sinks::basic_file_sink_mt>(file, /*truncate=*/false);
            f->set_formatter(make_log_formatter(json));
            sinks.push_back(f);
        } catch (const spdlog::spdlog_ex& e) {
            throw Error("log file " + file + ": " + e.what());
        }
    }
    auto logger = std::make_shared<spdlog::logger>(role, sinks.begin(), sinks.end());
    logger->set_level(lvl);
    logger->flush_on(spdlog::level::warn);
    spdlog::drop_all();  // role loggers of an earlier init would keep the old sink
    spdlog::set_default_logger(logger);
}

namespace {

// The status line sink of the default logger; null before init_logging.
std::shared_ptr<StatusLineSink> status_sink() {
    for (const spdlog::sink_ptr& s : spdlog::default_logger()->sinks())
        if (auto status = std::dynamic_pointer_cast<StatusLineSink>(s)) return status;
    return nullptr;
}

}  // namespace

void show_status_line(const std::string& text) {
    if (auto sink = status_sink()) return sink->show(text);
    std::fprintf(stderr, "%s\n", text.c_str());  // logging not set up: a line of its own
}

void end_status_line() {
    if (auto sink = status_sink()) sink->end();
}

std::shared_ptr<spdlog::logger> role_logger(const std::string& role) {
    if (auto existing = spdlog::get(role)) return existing;
    auto base = spdlog::default_logger();
    auto logger = std::make_shared<spdlog::logger>(role, base->sinks().begin(), base->sinks().end());
    logger->set_level(base->level());
    logger->flush_on(spdlog::level::warn);
    try {
        spdlog::register_logger(logger);
    } catch (const spdlog::spdlog_ex&) {
        return spdlog::get(role);  // another thread registered it first
    }
    return logger;
}

}  // namespace stride
